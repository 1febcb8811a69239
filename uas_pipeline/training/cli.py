"""``uas-pipeline train`` and ``uas-pipeline generate`` (registered by :func:`add_subcommands`).

Heavy imports (torch, transformers) happen inside the commands, so ``uas-pipeline --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_INVALID = 2


def _err(msg: str) -> None:
    print(f"uas-pipeline: error: {msg}", file=sys.stderr)


def run_evaluation(recipe: Any, checkpoint: str, say=print) -> dict[str, dict[str, Any]]:
    """Score the checkpoint on every split of ``recipe.eval.splits``; print one metrics block each."""
    from .checkpoint import load_checkpoint
    from .data import iter_split_records
    from .evaluate import evaluate_records, format_metrics, write_eval
    from .trainer import autocast_dtype, resolve_device

    device = resolve_device(recipe.trainer.device)
    loaded = load_checkpoint(checkpoint, device)
    dtype = autocast_dtype(recipe.trainer.precision, device)
    ev = recipe.eval
    results = {}
    for split in ev.splits:
        run = evaluate_records(
            loaded, iter_split_records(recipe.data, split), ev.view, recipe.data.prompt(ev.view),
            audio_root=recipe.data.audio_root, max_audio_s=recipe.data.max_audio_s, max_records=ev.max_records,
            max_new_tokens=ev.max_new_tokens, batch_size=ev.batch_size, device=device, autocast_dtype=dtype,
            split=split,
        )
        path = write_eval(run, Path(recipe.trainer.output_dir))
        if run.metrics["records"] == 0:
            say(f"eval {split}: no records to score ({run.skipped} without a usable {ev.view} view or audio)")
        else:
            say(f"eval {split}: {run.metrics['records']} records, view {ev.view} (outputs: {path})")
            for line in format_metrics(run.metrics):
                say(f"  {line}")
        results[split] = run.metrics
    return results


def cmd_train(args: argparse.Namespace) -> int:
    from ..recipe import RecipeError
    from .data import DataError
    from .recipe import load_train_recipe

    try:
        recipe = load_train_recipe(args.recipe, list(args.set or []))
    except RecipeError as exc:
        _err(str(exc))
        return EXIT_INVALID
    if args.output:
        recipe.trainer.output_dir = args.output
    from .trainer import TrainError, train

    try:
        result = train(recipe)
    except (DataError, TrainError, RecipeError) as exc:
        _err(str(exc))
        return EXIT_INVALID
    first = result.losses[0][1] if result.losses else float("nan")
    last = result.losses[-1][1] if result.losses else float("nan")
    print(f"output: {Path(result.output_dir)}")
    print(f"checkpoint: {result.checkpoint}")
    print(f"steps: {result.start_step} -> {result.steps} in {result.wall_s:.1f} s")
    if result.losses:
        print(f"loss: {first:.4f} (step {result.losses[0][0]}) -> {last:.4f} (step {result.losses[-1][0]})")
    if result.parameters:
        p = result.parameters
        print(f"parameters: {p['total']:,} ({p['trainable']:,} trainable; LM {p['lm']:,}, encoder {p['encoder']:,}, "
              f"projector {p['projector']:,})")
    if result.audio_s:
        print(f"throughput: {result.audio_s / max(result.wall_s, 1e-9):.1f} audio s/s, "
              f"{result.target_tokens / max(result.wall_s, 1e-9):.0f} target tokens/s (wall clock, this run)")
    if recipe.eval.enabled and not args.no_eval:
        run_evaluation(recipe.resolved(), result.checkpoint)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from ..audio import AudioError
    from .checkpoint import load_checkpoint
    from .generate import generate_for_files
    from .trainer import autocast_dtype, resolve_device

    device = resolve_device(args.device)
    try:
        loaded = load_checkpoint(args.checkpoint, device)
    except (FileNotFoundError, ValueError) as exc:
        _err(str(exc))
        return EXIT_INVALID
    try:
        views = generate_for_files(
            loaded, args.audio, args.view, args.prompt, max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size, device=device, autocast_dtype=autocast_dtype(args.precision, device),
        )
    except AudioError as exc:
        _err(str(exc))
        return EXIT_INVALID
    for v in views:
        if v.truncated:
            print(f"uas-pipeline: warning: {v.audio} is longer than the model's "
                  f"{loaded.meta.get('max_audio_s')} s; only its beginning was used", file=sys.stderr)
        print(v.json_line(with_meta=args.meta), flush=True)
    valid = sum(v.valid for v in views)
    print(f"generate: {len(views)} clips, {valid} valid {args.view} outputs (checkpoint {loaded.path})", file=sys.stderr)
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Register ``train`` and ``generate`` on the main parser's subparsers."""
    from ..targets import DEFAULT_VIEW, VIEWS

    p = subparsers.add_parser("train", help="train an audio LLM on UAS shards, then evaluate it")
    p.add_argument("recipe", help="train recipe YAML (see recipes/train-tiny.yaml)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe value (repeatable)")
    p.add_argument("--output", help="training output directory (overrides trainer.output_dir)")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("generate", help="print one target-view JSON per audio clip from a checkpoint")
    p.add_argument("checkpoint", help="a checkpoint directory, or a training output (its newest checkpoint)")
    p.add_argument("audio", nargs="+", help="audio files (decoded whole at 16 kHz, cut to the model's max_audio_s)")
    p.add_argument("--view", choices=VIEWS, default=DEFAULT_VIEW)
    p.add_argument("--prompt", help="instruction prompt (default: the one the model was trained with)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    p.add_argument("--meta", action="store_true",
                   help="wrap each line as {audio, view, valid, error, output} instead of the bare view JSON")
    p.set_defaults(func=cmd_generate)
