"""The ``uas-pipeline`` command: run, schema, validate, inspect, stages, bench, eval, export, plot, report,
rethreshold, rebin, train, generate."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_INVALID = 2
EXIT_TOO_MANY_FAILURES = 3


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def progress_line(summary, elapsed: float) -> str:
    """``ok/failed/skipped | done/total entries (pct) | audio | rate | elapsed | ETA``."""
    rtf = summary.audio_s / elapsed if elapsed > 0 else 0.0
    total = summary.pending_entries
    pct = f" ({100 * summary.entries_done / total:.0f}%)" if total else ""
    per_s = summary.entries_done / elapsed if elapsed > 0 else 0.0
    return (
        f"[uas-pipeline] {summary.ok} ok, {summary.failed} failed, {summary.skipped_already_done} skipped"
        f" | {summary.entries_done:.0f}/{total} inputs{pct} | {summary.audio_s / 3600:.3f} h audio"
        f" | {per_s:.2f} inputs/s, {rtf:.1f}x real time | {_duration(elapsed)} elapsed"
        f", ETA {_duration(summary.eta_s(elapsed))}"
    )


def _progress_printer(quiet: bool, interval_s: float = 10.0):
    """A live line on a terminal; on a pipe or log file, one line every ``interval_s`` seconds."""
    if quiet:
        return None
    state = {"last": 0.0}
    tty = sys.stderr.isatty()

    def show(summary, elapsed: float) -> None:
        if not tty and elapsed - state["last"] < interval_s:
            return
        state["last"] = elapsed
        line = progress_line(summary, elapsed)
        print(("\r\033[K" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def cmd_run(args: argparse.Namespace) -> int:
    from .inputs import InputError
    from .recipe import RecipeError, load_recipe
    from .runner import RunError, run

    overrides = list(args.set or [])
    if args.input:
        overrides.append(f"input.path={json.dumps(args.input)}")
    if args.output:
        overrides.append(f"output.dir={json.dumps(args.output)}")
    try:
        recipe = load_recipe(args.recipe, overrides)
        summary = run(
            recipe,
            retry_failed=args.retry_failed,
            allow_recipe_change=args.allow_recipe_change,
            progress=_progress_printer(args.quiet),
        )
    except (RecipeError, InputError, RunError) as exc:
        print(f"uas-pipeline: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    rtf = summary.realtime_factor
    print(f"output: {Path(summary.output_dir).resolve()}")
    print(
        f"clips: {summary.input_clips} ({summary.ok} ok, {summary.failed} failed, "
        f"{summary.skipped_already_done} already done)"
    )
    print(f"audio: {summary.audio_s / 3600:.4f} h ({summary.audio_s:.1f} s) in {summary.wall_s:.1f} s wall"
          + (f" = {rtf:.1f}x real time" if rtf else ""))
    if summary.failures_by_stage:
        print("failures by stage: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.failures_by_stage.items())))
    problem = summary.over_limits(recipe)
    if problem:
        print(f"uas-pipeline: error: {problem}; see {summary.output_dir}/errors", file=sys.stderr)
        return EXIT_TOO_MANY_FAILURES
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema_text

    text = json_schema_text()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_output

    if not Path(args.dir).is_dir():
        print(f"uas-pipeline: error: not a directory: {args.dir}", file=sys.stderr)
        return EXIT_INVALID
    report = validate_output(args.dir)
    print(f"shards: {report.shards}")
    print(f"records: {report.records} ({report.valid} valid, {report.records - report.valid} invalid)")
    print(f"error ledger rows: {report.errors_in_ledger}")
    for problem in report.problems:
        print(f"  {problem}")
    if report.invalid_count > len(report.problems):
        print(f"  ... and {report.invalid_count - len(report.problems)} more")
    print("OK" if report.ok else "INVALID")
    return 0 if report.ok else 1


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect_output

    return inspect_output(args.dir, args.clip_id, raw=args.json)


def cmd_stages(args: argparse.Namespace) -> int:
    from .plan import ownership_markdown, stages_markdown

    print(stages_markdown())
    print(ownership_markdown(), end="")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uas-pipeline", description=__doc__)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"uas-pipeline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="annotate audio into UAS records (resumes an existing output)")
    p.add_argument("recipe")
    p.add_argument("--input", help="directory, audio file or JSONL manifest (overrides input.path)")
    p.add_argument("--output", help="output directory (overrides output.dir)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe value (repeatable)")
    p.add_argument("--retry-failed", action="store_true", help="retry clips in the error ledger")
    p.add_argument("--allow-recipe-change", action="store_true",
                   help="resume into an output written with a different recipe")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("schema", help="print the UAS JSON Schema")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("validate", help="check every record of an output directory")
    p.add_argument("dir")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("inspect", help="summarize an output directory or pretty-print one record")
    p.add_argument("dir")
    p.add_argument("clip_id", nargs="?")
    p.add_argument("--json", action="store_true", help="print the raw canonical JSON")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("stages", help="registered stages and which record fields each fills")
    p.set_defaults(func=cmd_stages)

    p = sub.add_parser("bench", help="ASR throughput: the pipeline vs a bare faster-whisper loop")
    p.add_argument("--input", default=None,
                   help="audio directory or manifest (repeated to length; default: the bundled demo, or with "
                        "--short the short speech of --refdata plus the demo)")
    p.add_argument("--min-audio-s", type=float, default=None,
                   help="repeat the inputs to at least this much audio (default 600, or 0 with --short)")
    p.add_argument("--short", action="store_true",
                   help="short clips: only inputs of --min-clip-s to --max-clip-s seconds, at least --min-clips")
    p.add_argument("--min-clips", type=int, default=None, help="repeat the inputs to at least this many clips "
                   "(default 200 with --short)")
    p.add_argument("--min-clip-s", type=float, default=2.0, help="--short: shortest clip taken")
    p.add_argument("--max-clip-s", type=float, default=6.0, help="--short: longest clip taken")
    p.add_argument("--refdata", default=None, help="reference data (default ../shared/refdata)")
    p.add_argument("--wer", action="store_true", help="also pooled WER on the gold clips of --refdata "
                   "(packed vs clip by clip vs bare)")
    p.add_argument("--stages", default=None,
                   help="pipeline side: 'recipe' (every stage the recipe enables) or comma-separated stages, the "
                        "others disabled (default: recipe with --short, asr otherwise; vad,asr,diarization times "
                        "the speech track, attribution included)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="ASR device for both sides (cuda also reserves a GPU for the stage)")
    p.add_argument("--recipe", default=str(Path(__file__).resolve().parent.parent / "recipes" / "demo.yaml"))
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--work-dir", default=None, help="where to write the bench output (default: a temp dir)")
    p.add_argument("--json-out", default=None, help="write the results as JSON here")
    p.add_argument("--order", choices=("bare-first", "pipeline-first"), default="bare-first",
                   help="which side runs first (to check order effects)")
    p.add_argument("--rounds", type=int, default=2,
                   help="alternate the two sides this many rounds (A B, B A, ...) and sum their times")
    p.set_defaults(func=cmd_bench)

    from .evaluation.cli import add_subcommands as add_eval

    add_eval(sub)

    from .ecosystem_cli import add_subcommands

    add_subcommands(sub)  # export, plot, report

    from .rebin import add_subcommands as add_rebin

    add_rebin(sub)

    from .training.cli import add_subcommands as add_training_subcommands

    add_training_subcommands(sub)

    from .rethreshold import add_subcommands as add_rethreshold

    add_rethreshold(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
