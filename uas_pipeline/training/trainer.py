"""Training: one loop for the single-process path and for each Ray Train worker.

``train(recipe)`` makes sure the data exists (running the annotation recipe of ``data.produce_with``
when the shards are missing), prepares the run's fixed artifacts (text tokenizer; the discrete
variant's audio tokenizer, fitted on the training split), trains — in this process, or through
``ray.train.torch.TorchTrainer`` when ``trainer.num_workers > 1`` or ``trainer.use_ray`` — and
resumes from the newest checkpoint of ``trainer.output_dir``. Evaluation is separate
(:mod:`.evaluate`); the CLI runs it after training.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..targets import VIEWS
from .checkpoint import latest_checkpoint, save_checkpoint
from .data import (
    ExampleBuilder,
    ExampleStream,
    batches,
    examples_from_ray_rows,
    has_shards,
    torch_batches,
)
from .recipe import TrainRecipe
from .text_tokenizer import ByteTokenizer, HFTokenizer, TextTokenizer, default_phrases, load_text_tokenizer

log = logging.getLogger(__name__)

AUDIO_TOKENIZER_FILE = "audio_tokenizer.pt"
TEXT_TOKENIZER_DIR = "text_tokenizer"


class TrainError(RuntimeError):
    """Training cannot start (bad data, incompatible checkpoint, missing Ray Train)."""


# --- device and precision ---------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA by default, full fp32 on CPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# --- data preparation ------------------------------------------------------------------------------


def ensure_training_data(recipe: TrainRecipe, say: Callable[[str], None] = print) -> None:
    """Run ``data.produce_with`` into ``data.train[0]`` when it holds no shards yet."""
    target = recipe.data.train[0]
    if has_shards(target) or recipe.data.produce_with is None:
        return
    from ..recipe import load_recipe
    from ..runner import run

    say(f"no shards in {target}: annotating with {recipe.data.produce_with} first")
    annotation = load_recipe(recipe.data.produce_with, [f"output.dir={json.dumps(target)}"])
    rt = annotation.runtime
    try:
        with local_ray(rt.num_cpus, enabled=rt.ray_address is None):
            summary = run(annotation)
    except Exception as exc:  # the runner's own errors (bad input, Ray start-up) end training here
        raise TrainError(f"annotating {recipe.data.produce_with} into {target} failed: {exc}") from exc
    say(f"annotated {summary.ok} clips ({summary.failed} failed) into {target}")


@contextlib.contextmanager
def local_ray(num_cpus: int | None, enabled: bool = True) -> Iterator[bool]:
    """A private local Ray for this process unless one is connected (yields whether it started one).

    ``ray.init()`` without an address joins the newest Ray cluster another user started on this
    machine; a fresh temp dir makes it start our own instead (short: socket paths are limited)."""
    import ray

    if not enabled or ray.is_initialized():
        yield False
        return
    import shutil
    import tempfile

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="uasray", dir="/tmp")
    ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, logging_level="WARNING", _temp_dir=temp)
    try:
        yield True
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


# --- model building --------------------------------------------------------------------------------


def make_text_tokenizer(recipe: TrainRecipe) -> TextTokenizer:
    lm = recipe.model.lm
    if lm.source == "tiny":
        prompts = [recipe.data.prompt(v) + "\n" for v in recipe.data.tasks] + [recipe.data.prompt(recipe.eval.view) + "\n"]
        return ByteTokenizer(default_phrases(sorted(set(prompts))))
    return HFTokenizer.from_pretrained(lm.source, local_files_only=lm.local_files_only)


def _encoder_dims(recipe: TrainRecipe) -> tuple[Any, dict[str, torch.Tensor] | None]:
    from .encoder import EncoderDims, encoder_ctx_for, read_whisper_checkpoint

    enc = recipe.model.encoder
    if enc.whisper_checkpoint:
        dims, state = read_whisper_checkpoint(enc.whisper_checkpoint)
        if recipe.data.max_audio_s * 50 > dims.n_ctx:
            raise TrainError(f"data.max_audio_s={recipe.data.max_audio_s} exceeds the Whisper encoder's "
                             f"{dims.n_ctx / 50:.0f} s context")
        return dims, state
    return EncoderDims(enc.n_mels, encoder_ctx_for(recipe.data.max_audio_s), enc.n_state, enc.n_head, enc.n_layer), None


def fit_run_audio_tokenizer(recipe: TrainRecipe, builder: ExampleBuilder) -> Any:
    """Fit the discrete variant's codebook on (a sample of) the training split's audio."""
    from .audio_tokenizer import AudioTokenizerSpec, encoder_for_tokenizer, fit_audio_tokenizer

    cfg = recipe.model.audio_tokenizer
    features = cfg.features
    if features == "auto":
        features = "encoder" if recipe.model.encoder.whisper_checkpoint else "log_mel"
    encoder = None
    if features == "encoder":
        dims, state = _encoder_dims(recipe)
        assert state is not None
        encoder = encoder_for_tokenizer(dims, state)
        dim, n_mels = dims.n_state, dims.n_mels
    else:
        n_mels = recipe.model.encoder.n_mels
        dim = n_mels * cfg.pool
    spec = AudioTokenizerSpec(features=features, pool=cfg.pool, num_codes=cfg.num_codes, dim=dim, n_mels=n_mels,
                              dedupe=cfg.dedupe)
    stream = ExampleStream(recipe.data, "train", builder, repeat=False, shuffle=False, max_records=cfg.max_fit_clips)
    clips = (ex.audio for ex in stream)
    return fit_audio_tokenizer(spec, clips, encoder=encoder, max_frames=cfg.max_fit_frames,
                               iterations=cfg.kmeans_iterations, seed=recipe.trainer.seed)


def prepare_run(recipe: TrainRecipe, say: Callable[[str], None] = print) -> None:
    """Write the run's fixed artifacts into the output directory (once; a resumed run reuses them)."""
    out = Path(recipe.trainer.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok_dir = out / TEXT_TOKENIZER_DIR
    if not tok_dir.is_dir():
        tok = make_text_tokenizer(recipe)
        tmp = out / (TEXT_TOKENIZER_DIR + ".tmp")
        tmp.mkdir(exist_ok=True)
        tok.save(tmp)
        os.replace(tmp, tok_dir)
    if recipe.model.variant == "discrete" and not (out / AUDIO_TOKENIZER_FILE).is_file():
        tok = load_text_tokenizer(tok_dir)
        builder = ExampleBuilder(recipe.data, tok.encode, tok.eos_id, recipe.trainer.seed, recipe.data.max_target_tokens)
        t0 = time.monotonic()
        audio_tok = fit_run_audio_tokenizer(recipe, builder)
        torch.save({"spec": audio_tok.spec.__dict__, "state": audio_tok.state_dict()}, out / (AUDIO_TOKENIZER_FILE + ".tmp"))
        os.replace(out / (AUDIO_TOKENIZER_FILE + ".tmp"), out / AUDIO_TOKENIZER_FILE)
        say(f"audio tokenizer: {audio_tok.spec.num_codes} codes over {audio_tok.spec.features} features "
            f"fitted in {time.monotonic() - t0:.1f} s")


def build_model(recipe: TrainRecipe, text_tok: TextTokenizer) -> nn.Module:
    """A fresh model for this recipe (the run's audio tokenizer must be prepared for ``discrete``)."""
    from transformers import AutoModelForCausalLM

    from .audio_tokenizer import AudioTokenizer, AudioTokenizerSpec
    from .encoder import EncoderDims, Projector, WhisperStyleEncoder
    from .model import AudioLM, lm_hidden_size, tiny_lm_config

    mcfg = recipe.model
    extra_vocab = 0
    audio_tok = None
    if mcfg.variant == "discrete":
        saved = torch.load(Path(recipe.trainer.output_dir) / AUDIO_TOKENIZER_FILE, map_location="cpu", weights_only=True)
        spec = AudioTokenizerSpec(**saved["spec"])
        enc = None
        if spec.features == "encoder":
            dims, _ = _encoder_dims(recipe)
            enc = WhisperStyleEncoder(dims)
        audio_tok = AudioTokenizer(spec, enc)
        audio_tok.load_state_dict(saved["state"])
        extra_vocab = 2 + spec.num_codes
    vocab = text_tok.vocab_size + extra_vocab
    if mcfg.lm.source == "tiny":
        lm = AutoModelForCausalLM.from_config(tiny_lm_config(vocab, mcfg.lm.tiny))
    else:
        lm = AutoModelForCausalLM.from_pretrained(mcfg.lm.source, local_files_only=mcfg.lm.local_files_only)
        if lm.get_input_embeddings().weight.shape[0] < vocab:
            lm.resize_token_embeddings(vocab)
    if mcfg.lm.freeze:
        lm.requires_grad_(False)
    if mcfg.variant == "continuous":
        dims, state = _encoder_dims(recipe)
        encoder = WhisperStyleEncoder(EncoderDims(**dims.__dict__))
        if state is not None:
            encoder.load_whisper_weights(state)
        if mcfg.encoder.freeze:
            encoder.requires_grad_(False)
        projector = Projector(encoder.output_dim, lm_hidden_size(lm), mcfg.projector.downsample)
        return AudioLM("continuous", lm, text_tok.vocab_size, text_tok.bos_id, encoder=encoder, projector=projector)
    return AudioLM("discrete", lm, text_tok.vocab_size, text_tok.bos_id, audio_tokenizer=audio_tok)


# --- schedule and optimiser ------------------------------------------------------------------------


def lr_factor(step: int, warmup: int, total: int, schedule: str, min_ratio: float) -> float:
    """Multiplier of the base learning rate at ``step`` (linear warm-up, then the schedule)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "linear":
        return min_ratio + (1 - min_ratio) * (1 - progress)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, recipe: TrainRecipe) -> tuple[torch.optim.Optimizer, Any]:
    t = recipe.trainer
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=t.lr, betas=(0.9, 0.98), eps=1e-8,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, t.warmup_steps, t.max_steps, t.schedule, t.min_lr_ratio)
    )
    return opt, sched


# --- the loop --------------------------------------------------------------------------------------


@dataclass
class WorkerContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    wrap: Callable[[nn.Module], nn.Module] = lambda m: m
    report: Callable[[dict[str, Any]], None] | None = None
    batch_source: Callable[[ExampleBuilder, int], Iterator[Any]] | None = None
    """Ray Data ingestion: ``(builder, skip_batches) → batches``; ``None``: the PyTorch stream."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class TrainResult:
    output_dir: str
    checkpoint: str
    steps: int
    start_step: int
    wall_s: float
    losses: list[tuple[int, float]]
    """``(step, mean loss of the steps since the previous log line)``."""
    audio_s: float
    target_tokens: int
    parameters: dict[str, int]


def _format_s(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def train_loop(recipe: TrainRecipe, ctx: WorkerContext, say: Callable[[str], None] | None = None) -> TrainResult:
    """Train until ``trainer.max_steps`` (resuming from the newest checkpoint); rank 0 saves checkpoints."""
    from .model import count_parameters

    t = recipe.trainer
    out = Path(t.output_dir)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    text_tok = load_text_tokenizer(out / TEXT_TOKENIZER_DIR)
    model = build_model(recipe, text_tok).to(ctx.device)
    opt, sched = make_optimizer(model, recipe)
    start_step = 0
    ckpt = latest_checkpoint(out) if t.resume else None
    if ckpt is not None:
        try:
            model.load_state_dict(torch.load(ckpt / "model.pt", map_location=ctx.device, weights_only=True))
        except RuntimeError as exc:
            raise TrainError(f"cannot resume from {ckpt}: the recipe's model differs ({str(exc)[:300]})") from None
        state = torch.load(ckpt / "trainer_state.pt", map_location=ctx.device, weights_only=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_step = int(state["step"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if say and ctx.is_main:
            say(f"resuming from {ckpt} (step {start_step})")
    params = count_parameters(model)
    wrapped = ctx.wrap(model)
    dtype = autocast_dtype(t.precision, ctx.device)
    builder = ExampleBuilder(recipe.data, text_tok.encode, text_tok.eos_id, t.seed, recipe.data.max_target_tokens)
    skip = start_step * t.grad_accum
    if ctx.batch_source is not None:
        stream = ctx.batch_source(builder, skip)
    else:
        examples = ExampleStream(recipe.data, "train", builder, rank=ctx.rank, world_size=ctx.world_size,
                                 batch_size=t.batch_size, skip_batches=skip)
        stream = torch_batches(examples, t.batch_size, recipe.data.loader_workers)
    metrics_path = out / "metrics.jsonl"
    meta_extra = {"max_audio_s": recipe.data.max_audio_s, "prompts": {v: recipe.data.prompt(v) for v in VIEWS},
                  "tasks": recipe.data.tasks}

    def save(step: int) -> Path:
        state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                 "torch_rng": torch.get_rng_state()}
        return save_checkpoint(out, step, model, text_tok, recipe.to_yaml(), meta_extra, state, t.keep_checkpoints)

    losses: list[tuple[int, float]] = []
    window = {"loss": 0.0, "n": 0, "audio_s": 0.0, "tokens": 0.0, "t0": time.monotonic()}
    total_audio, total_tokens = 0.0, 0
    t_start = time.monotonic()
    last_ckpt: Path | None = ckpt
    model.train()
    step = start_step
    while step < t.max_steps:
        for micro in range(t.grad_accum):
            batch = next(stream).to(ctx.device)
            sync = micro == t.grad_accum - 1 or not hasattr(wrapped, "no_sync")
            with (contextlib.nullcontext() if sync else wrapped.no_sync()), autocast(ctx.device, dtype):
                res = wrapped(batch)
            (res["loss"] / t.grad_accum).backward()
            window["loss"] += float(res["loss"].detach()) / t.grad_accum
            window["audio_s"] += batch.audio_s
            window["tokens"] += float(res["target_tokens"])
        grad_norm = None
        if t.max_grad_norm is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        window["n"] += 1
        if step % t.log_every == 0 or step == t.max_steps:
            loss_sum, audio_s, tokens, n = _all_reduce_sum(
                [window["loss"], window["audio_s"], window["tokens"], float(window["n"])], ctx.device)
            elapsed = time.monotonic() - window["t0"]
            mean_loss = loss_sum / n
            total_audio += audio_s
            total_tokens += int(tokens)
            run_s = time.monotonic() - t_start
            eta = run_s / (step - start_step) * (t.max_steps - step)
            row = {"step": step, "loss": round(mean_loss, 5), "lr": sched.get_last_lr()[0],
                   "grad_norm": None if grad_norm is None else round(grad_norm, 4),
                   "audio_s_per_s": round(audio_s / elapsed, 2), "target_tokens_per_s": round(tokens / elapsed, 1),
                   "elapsed_s": round(run_s, 1), "eta_s": round(eta, 1)}
            losses.append((step, mean_loss))
            if ctx.is_main:
                with metrics_path.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                if say:
                    say(f"[train] step {step}/{t.max_steps} loss {mean_loss:.4f} lr {row['lr']:.2e} | "
                        f"{row['audio_s_per_s']:.1f} audio s/s, {row['target_tokens_per_s']:.0f} target tok/s | "
                        f"{_format_s(run_s)} elapsed, ETA {_format_s(eta)}")
            if ctx.report is not None:
                ctx.report(row)
            window = {"loss": 0.0, "n": 0, "audio_s": 0.0, "tokens": 0.0, "t0": time.monotonic()}
        if ctx.is_main and t.save_every and step % t.save_every == 0 and step < t.max_steps:
            last_ckpt = save(step)
    if ctx.is_main and (step > start_step or last_ckpt is None):
        last_ckpt = save(step)
    return TrainResult(str(out), str(last_ckpt), step, start_step, time.monotonic() - t_start, losses,
                       total_audio, total_tokens, params)


# --- entry points ------------------------------------------------------------------------------------


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(recipe: TrainRecipe, say: Callable[[str], None] = _stderr) -> TrainResult:
    """Prepare and run training as the recipe says (single process or Ray Train)."""
    recipe = recipe.resolved()
    ensure_training_data(recipe, say)
    prepare_run(recipe, say)
    out = Path(recipe.trainer.output_dir)
    (out / "train_recipe.yaml").write_text(recipe.to_yaml())
    if recipe.trainer.ray:
        return _train_with_ray(recipe, say)
    device = resolve_device(recipe.trainer.device)
    return train_loop(recipe, WorkerContext(device=device), say)


def _ray_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    recipe = TrainRecipe.model_validate(config["recipe"])
    context = ray.train.get_context()
    device = ray.train.torch.get_device()
    if isinstance(device, list):
        device = device[0]
    loader = config["loader"]
    batch_source = None
    if loader == "ray_data":
        shard = ray.train.get_dataset_shard("train")
        batch_source = _ray_data_batches(shard, recipe)
    ctx = WorkerContext(
        rank=context.get_world_rank(),
        world_size=context.get_world_size(),
        device=torch.device(device),
        wrap=lambda m: ray.train.torch.prepare_model(m, move_to_device=False),
        report=lambda row: ray.train.report(row),
        batch_source=batch_source,
    )
    train_loop(recipe, ctx, _stderr if ctx.is_main else None)


def _ray_data_batches(shard: Any, recipe: TrainRecipe) -> Callable[[ExampleBuilder, int], Iterator[Any]]:
    def source(builder: ExampleBuilder, skip_batches: int) -> Iterator[Any]:
        epoch = 0
        skipped = 0
        while True:
            rows = shard.iter_rows()
            produced = 0
            for batch in batches(examples_from_ray_rows(rows, builder, epoch), recipe.trainer.batch_size):
                produced += 1
                if skipped < skip_batches:  # resume: Ray Data already decoded them; drop them here
                    skipped += 1
                    continue
                yield batch
            if produced == 0:
                raise TrainError("the Ray Data training split yields no examples for this worker")
            epoch += 1

    return source


def _train_with_ray(recipe: TrainRecipe, say: Callable[[str], None]) -> TrainResult:
    try:
        import ray
        import ray.train
        from ray.train.torch import TorchTrainer
    except ImportError as exc:  # ray[train] extras missing
        raise TrainError(f"Ray Train is not available ({exc}); install 'ray[train]'") from None

    t = recipe.trainer
    use_gpu = torch.cuda.is_available() if t.use_gpu is None else t.use_gpu
    loader = recipe.data.loader
    if loader == "auto":  # Ray Data pays off across nodes; on one machine each worker streams its part
        loader = "ray_data" if t.ray_address else "torch"
    with contextlib.ExitStack() as stack:
        if t.ray_address and not ray.is_initialized():
            ray.init(address=t.ray_address, include_dashboard=False, logging_level="WARNING")
            stack.callback(ray.shutdown)
        else:
            stack.enter_context(local_ray(None))
        datasets = None
        if loader == "ray_data":
            from .data import ray_dataset

            datasets = {"train": ray_dataset(recipe.data, "train")}
        storage = Path(t.output_dir) / "ray_train"
        trainer = TorchTrainer(
            _ray_worker,
            train_loop_config={"recipe": recipe.model_dump(mode="json"), "loader": loader},
            scaling_config=ray.train.ScalingConfig(num_workers=t.num_workers, use_gpu=use_gpu,
                                                   resources_per_worker={"CPU": t.cpus_per_worker}),
            run_config=ray.train.RunConfig(storage_path=str(storage), name="run"),
            datasets=datasets,
        )
        t0 = time.monotonic()
        say(f"Ray Train: {t.num_workers} worker(s), use_gpu={use_gpu}, data loader {loader}")
        trainer.fit()
    ckpt = latest_checkpoint(Path(t.output_dir))
    if ckpt is None:
        raise TrainError("Ray Train finished without a checkpoint")
    losses = []
    metrics = Path(t.output_dir) / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            row = json.loads(line)
            losses.append((row["step"], row["loss"]))
    step = int(json.loads((ckpt / "meta.json").read_text())["step"])
    return TrainResult(t.output_dir, str(ckpt), step, 0, time.monotonic() - t0, losses, 0.0, 0, {})
