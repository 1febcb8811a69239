"""Running a recipe with Ray Data: streaming decode → model stages (actor pools) → merge → writer.

The runner knows stages only through the registry and their declared ``requires``/``uses``, so new
annotators (diarization, paralinguistics, events) drop in without changes here. Results stream to
the driver and are written in shards as they arrive; nothing holds the whole dataset.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from . import __version__
from .inputs import list_clips
from .modelfiles import package_version
from .recipe import STAGE_NAMES, Recipe, RecipeError, StageConfig
from .stages.base import Stage
from .stages.registry import available_backends, get_backend
from .tasks import (
    OUTPUT_SCHEMA,
    decode_refs,
    decode_tasks,
    encode_tasks,
    merge_tasks,
    new_input_table,
    run_stage,
)
from .writer import OutputDir, data_shards, read_manifest

LIGHT_TASK_CPUS = 0.25
VERSIONED_PACKAGES = ("ray", "torch", "faster-whisper", "ctranslate2", "silero-vad", "pyarrow", "pydantic", "numpy")


class RunError(RuntimeError):
    """The run could not complete (exit non-zero)."""


@dataclass
class RunSummary:
    output_dir: str
    input_entries: int = 0
    """Files or manifest lines listed; a long file split into regions counts once here."""
    ok: int = 0
    failed: int = 0
    skipped_already_done: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    stage_busy_s: dict[str, float] = field(default_factory=dict)
    stage_audio_s: dict[str, float] = field(default_factory=dict)
    failures_by_stage: dict[str, int] = field(default_factory=dict)

    @property
    def input_clips(self) -> int:
        """Clips after region splitting: ``ok + failed + skipped_already_done``."""
        return self.ok + self.failed + self.skipped_already_done

    @property
    def input_failures(self) -> int:
        return self.failures_by_stage.get("decode", 0)

    @property
    def stage_failure_ratio(self) -> float:
        """Failures of annotation stages among clips that decoded (a broken model or setup)."""
        stage_failed = self.failed - self.input_failures
        reached = self.ok + stage_failed
        return stage_failed / reached if reached else 0.0

    @property
    def input_failure_ratio(self) -> float:
        """Clips whose audio could not be read, among all clips processed."""
        done = self.ok + self.failed
        return self.input_failures / done if done else 0.0

    def over_limits(self, recipe: Recipe) -> str | None:
        """Why the run counts as failed, or None."""
        if self.stage_failure_ratio > recipe.max_failure_ratio:
            return (f"{self.failed - self.input_failures} clips failed in annotation stages "
                    f"({self.stage_failure_ratio:.0%} > max_failure_ratio {recipe.max_failure_ratio:.0%})")
        if self.input_failure_ratio > recipe.max_input_failure_ratio:
            return (f"{self.input_failures} clips could not be decoded "
                    f"({self.input_failure_ratio:.0%} > max_input_failure_ratio {recipe.max_input_failure_ratio:.0%})")
        return None

    @property
    def realtime_factor(self) -> float | None:
        """Audio seconds processed per wall second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else None


# --- Ray callables ---------------------------------------------------------------------------------


def _decode_batch(table, max_clip_duration_s: float, min_clip_duration_s: float, done_ids: frozenset[str]):
    tasks = decode_refs(decode_tasks(table), max_clip_duration_s, min_clip_duration_s, done_ids)
    return encode_tasks(tasks)


class _StageWorker:
    """A Ray actor hosting one stage instance: the model is loaded once per worker."""

    def __init__(self, stage_name: str, config: dict[str, Any], drop_audio: bool = False):
        self.drop_audio = drop_audio  # no later stage reads audio: don't ship it onwards
        stage_config = StageConfig.model_validate(config)
        cls = get_backend(stage_name, stage_config.backend)
        self.stage: Stage = cls(stage_config.backend_params(), stage_config.resources)
        self.stage.setup()
        self.provenance = self.stage.provenance().model_dump(mode="json")

    def __call__(self, table):
        tasks = run_stage(self.stage, decode_tasks(table), self.provenance)
        if self.drop_audio:
            for task in tasks:
                task.audio = None
        return encode_tasks(tasks)


def _merge_batch(table, context: dict[str, Any]):
    return merge_tasks(decode_tasks(table), **context)


# --- planning --------------------------------------------------------------------------------------


def stage_order(recipe: Recipe) -> list[tuple[str, StageConfig, type[Stage]]]:
    """Enabled stages sorted so every stage runs after the stages it requires or uses."""
    enabled = recipe.enabled_stages()
    classes = {name: get_backend(name, cfg.backend) for name, cfg in enabled.items()}
    order: list[str] = []
    pending = sorted(enabled, key=STAGE_NAMES.index)
    while pending:
        for name in pending:
            deps = [d for d in (*classes[name].requires, *classes[name].uses) if d in enabled]
            missing = [d for d in classes[name].requires if d != "audio" and d not in enabled]
            if missing:
                raise RecipeError(f"stages.{name}: requires stage(s) {', '.join(missing)} to be enabled")
            if all(d in order for d in deps):
                order.append(name)
                pending.remove(name)
                break
        else:
            raise RecipeError(f"stages {', '.join(pending)}: circular requirements")
    return [(name, enabled[name], classes[name]) for name in order]


def not_run_provenance(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Provenance entries for every stage that will not run, with the reason."""
    entries = {}
    for name in STAGE_NAMES:
        cfg = recipe.stages.get(name)
        if cfg is not None and cfg.enabled:
            continue
        if cfg is None:
            reason = "skipped: stage not configured in recipe"
        elif cfg.backend not in available_backends(name):
            reason = f"skipped: stage disabled in recipe (backend {cfg.backend!r} not available in this version)"
        else:
            reason = "skipped: stage disabled in recipe"
        entries[name] = {
            "backend": cfg.backend if cfg else None,
            "model": None,
            "model_version": None,
            "params": {},
            "status": reason,
        }
    return entries


def check_resources(plan, recipe: Recipe, total_cpus: float, total_gpus: float) -> None:
    """Actor pools hold their CPUs for the whole run; leave room for decode and merge tasks."""
    cpus = sum(cfg.resources.num_cpus * cfg.resources.concurrency for _, cfg, _ in plan)
    gpus = sum(cfg.resources.num_gpus * cfg.resources.concurrency for _, cfg, _ in plan)
    light = max(recipe.input.decode_num_cpus, LIGHT_TASK_CPUS)
    if cpus + light > total_cpus + 1e-9:
        detail = ", ".join(f"{n}={c.resources.num_cpus}x{c.resources.concurrency}" for n, c, _ in plan)
        raise RecipeError(
            f"stages.*.resources: stage workers reserve {cpus:g} CPUs ({detail}) but the cluster has "
            f"{total_cpus:g}; at least {light:g} must stay free for decoding. Lower num_cpus or concurrency."
        )
    if gpus > total_gpus + 1e-9:
        raise RecipeError(f"stages.*.resources.num_gpus: stages reserve {gpus:g} GPUs but the cluster has {total_gpus:g}")


# --- Ray session -----------------------------------------------------------------------------------


def ensure_ray(recipe: Recipe) -> bool:
    """Start embedded Ray or join a cluster unless already connected; True when this call started it."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    import ray

    if ray.is_initialized():
        return False
    rt = recipe.runtime
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": "WARNING",
        "log_to_driver": True,
        "configure_logging": True,
    }
    if rt.ray_address:
        ray.init(address=rt.ray_address, **kwargs)
    else:
        if rt.temp_dir:
            kwargs["_temp_dir"] = str(Path(rt.temp_dir).resolve())
        ray.init(num_cpus=rt.num_cpus or os.cpu_count(), num_gpus=rt.num_gpus, **kwargs)
    return True


def _configure_ray_data() -> None:
    import logging

    import ray.data

    # Our own progress line replaces Ray Data's bars and per-dataset log lines; errors still show.
    logging.getLogger("ray.data").setLevel(logging.ERROR)

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    ctx.execution_options.preserve_order = False


# --- the run ---------------------------------------------------------------------------------------


def run(recipe: Recipe, *, retry_failed: bool = False, allow_recipe_change: bool = False,
        progress=None) -> RunSummary:
    """Annotate every clip of the recipe's input into its output directory (resuming)."""
    import ray
    import ray.data

    if not recipe.input.path:
        raise RecipeError("input.path: no input given (set it in the recipe or pass --input)")
    plan = stage_order(recipe)
    recipe_hash = recipe.hash()
    out = OutputDir(recipe.output.dir, recipe.output.rows_per_shard, recipe.output.flush_interval_s, OUTPUT_SCHEMA)
    previous = read_manifest(out.path)
    if previous and previous.get("recipe_hash") != recipe_hash and not allow_recipe_change:
        raise RunError(
            f"{out.path} holds records of recipe {previous.get('recipe_hash')}, this recipe hashes to "
            f"{recipe_hash}; use another --output (or --allow-recipe-change to mix them)"
        )
    if retry_failed:
        out.retire_errors()
    done = out.done_ids()
    summary = RunSummary(output_dir=str(out.path))
    refs = []
    # Audio embedded in Hugging Face / Parquet inputs is written to files here (the decoder reads files).
    for ref in list_clips(recipe.input.path, recipe.input.extensions, cache_dir=out.path / "_input_audio"):
        summary.input_entries += 1
        if ref.id in done:
            summary.skipped_already_done += 1
        else:
            refs.append(ref)
    region_done = frozenset(i for i in done if "#r" in i)

    started = time.time()
    run_started = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    context = {
        "recipe_hash": recipe_hash,
        "created_at_mode": recipe.output.created_at,
        "run_started": run_started,
        "not_run": not_run_provenance(recipe),
    }
    if refs:
        ensure_ray(recipe)
        _configure_ray_data()
        resources = ray.cluster_resources()
        check_resources(plan, recipe, resources.get("CPU", 0.0), resources.get("GPU", 0.0))
        bs = recipe.input.decode_batch_size
        light = recipe.input.decode_concurrency or max((c.resources.concurrency for _, c, _ in plan), default=1)
        light_pool = ray.data.TaskPoolStrategy(size=light)
        ds = ray.data.from_items(new_input_table(refs), override_num_blocks=max(1, min(len(refs) // bs, 20000)))
        ds = ds.map_batches(
            _decode_batch,
            batch_format="pyarrow",
            batch_size=bs,
            num_cpus=recipe.input.decode_num_cpus,
            compute=light_pool,
            fn_kwargs={
                "max_clip_duration_s": recipe.input.max_clip_duration_s,
                "min_clip_duration_s": recipe.input.min_clip_duration_s,
                "done_ids": region_done,
            },
        )
        last_audio_reader = max((i for i, (_, _, cls) in enumerate(plan) if "audio" in cls.requires), default=-1)
        for i, (name, cfg, _cls) in enumerate(plan):
            res = cfg.resources
            ds = ds.map_batches(
                _StageWorker,
                batch_format="pyarrow",
                batch_size=res.batch_size,
                num_cpus=res.num_cpus,
                num_gpus=res.num_gpus or None,
                compute=ray.data.ActorPoolStrategy(size=res.concurrency),
                fn_constructor_kwargs={"stage_name": name, "config": cfg.model_dump(mode="json"),
                                       "drop_audio": i == last_audio_reader},
            )
        ds = ds.map_batches(_merge_batch, batch_format="pyarrow", num_cpus=LIGHT_TASK_CPUS,
                            compute=light_pool, fn_kwargs={"context": context})
        try:
            batches = ds.iter_batches(batch_size=None, batch_format="pyarrow")
            for batch in _reraise_as_run_error(batches):
                for row in batch.to_pylist():
                    _account(summary, row)
                    if row["kind"] != "skipped":
                        row["recipe_hash"] = recipe_hash
                        out.add(row)
                out.tick()
                if progress:
                    progress(summary, time.time() - started)
        finally:
            out.close()  # what finished is kept even when the run is interrupted
    summary.wall_s = time.time() - started
    out.write_manifest(_manifest(recipe, recipe_hash, summary, previous, run_started, plan, out))
    return summary


def _reraise_as_run_error(batches):
    """A worker that cannot start (e.g. a model that does not load) stops the run with its cause."""
    try:
        yield from batches
    except Exception as exc:  # noqa: BLE001 - Ray wraps the worker's exception in several layers
        chain = []
        cause: BaseException | None = exc
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__
        errors = [line.strip() for text in chain for line in text.splitlines()
                  if re.match(r"^\s*[\w.]+(Error|Exception): ", line)]
        reason = errors[-1] if errors else (chain[-1].strip().splitlines() or [type(exc).__name__])[-1]
        raise RunError(f"the run stopped: {reason} (clips finished before this are kept; re-run to resume)") from exc


def _account(summary: RunSummary, row: dict[str, Any]) -> None:
    kind = row["kind"]
    if kind == "skipped":
        summary.skipped_already_done += 1
        return
    timings = json.loads(row["timings"] or "{}")
    duration = row.get("duration_s") or 0.0
    if kind == "ok":
        summary.ok += 1
        summary.audio_s += duration
        for stage, seconds in timings.items():
            summary.stage_busy_s[stage] = summary.stage_busy_s.get(stage, 0.0) + seconds
            summary.stage_audio_s[stage] = summary.stage_audio_s.get(stage, 0.0) + duration
    else:
        summary.failed += 1
        summary.failures_by_stage[row["stage"]] = summary.failures_by_stage.get(row["stage"], 0) + 1


def _manifest(recipe, recipe_hash, summary: RunSummary, previous, run_started, plan, out: OutputDir):
    stages = {}
    for name, busy in sorted(summary.stage_busy_s.items()):
        audio = summary.stage_audio_s.get(name, 0.0)
        stages[name] = {
            "busy_s": round(busy, 3),
            "audio_s": round(audio, 3),
            "throughput_x_realtime_per_worker": round(audio / busy, 2) if busy > 0 else None,
        }
    for name, cfg, _cls in plan:
        stages.setdefault(name, {}).update(backend=cfg.backend, resources=cfg.resources.model_dump())
    run_entry = {
        "run_id": out.run_id,
        "started_at": run_started,
        "wall_s": round(summary.wall_s, 3),
        "counts": {
            "input_entries": summary.input_entries,
            "input_clips": summary.input_clips,
            "ok": summary.ok,
            "failed": summary.failed,
            "skipped_already_done": summary.skipped_already_done,
        },
        "failures_by_stage": summary.failures_by_stage,
        "audio_s": round(summary.audio_s, 3),
        "realtime_factor": round(summary.realtime_factor, 3) if summary.realtime_factor else None,
        "stages": stages,
    }
    history = (previous or {}).get("runs", [])[-49:] + [run_entry]
    return {
        "pipeline_version": __version__,
        "recipe_hash": recipe_hash,
        "recipe": recipe.model_dump(mode="json"),
        "counts": run_entry["counts"],
        "totals": out.totals(),
        "last_run": run_entry,
        "runs": history,
        "versions": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "uas-pipeline": __version__,
            **{p: package_version(p) for p in VERSIONED_PACKAGES},
        },
        "models": _models_from_output(out.path),
    }


def _models_from_output(path: Path) -> dict[str, Any]:
    """Stage backends and models as recorded in the provenance of one written record."""
    for shard in reversed(data_shards(path)):
        table = pq.read_table(shard, columns=["uas"])
        if table.num_rows:
            prov = json.loads(table.column("uas")[0].as_py())["provenance"]["stages"]
            return {
                k: {"backend": v["backend"], "model": v["model"], "model_version": v["model_version"]}
                for k, v in prov.items()
                if v["status"] == "ok"
            }
    return {}
