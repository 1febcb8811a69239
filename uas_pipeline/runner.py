"""Running a recipe with Ray Data: streaming decode → model stages (actor pools) → merge → writer.

The runner knows stages only through the registry and their declared ``requires``/``uses``, so new
annotators (diarization, paralinguistics, events) drop in without changes here. Results stream to
the driver and are written in shards as they arrive; nothing holds the whole dataset.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .assembly import relabel_speakers
from .inputs import list_clips
from .modelfiles import package_version
from .plan import (
    PlannedStep,
    build_plan,
    last_readers,
    not_run_provenance,
    record_field_sources,
    sample_rates,
    step_from_config,
)
from .recipe import Recipe, RecipeError
from .schema import UASRecord
from .tasks import (
    OUTPUT_SCHEMA,
    StepRunner,
    decode_rows,
    flat_columns,
    merge_rows,
    probe_rows,
    refs_table,
    side_schema,
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
    pending_entries: int = 0
    """Input entries this run has to process (not already done)."""
    entries_done: float = 0.0
    """Of ``pending_entries``, how many are finished (regions count as fractions of their file)."""

    def eta_s(self, elapsed_s: float) -> float | None:
        """Seconds left at the rate so far (None before the first finished clip)."""
        if self.entries_done <= 0 or self.pending_entries <= 0:
            return None
        left = max(0.0, self.pending_entries - self.entries_done)
        return elapsed_s * left / self.entries_done
    nodes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Ray node id → step → clips that step processed there."""

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


def _node_id() -> str | None:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def _with_node(table: pa.Table, step: str) -> pa.Table:
    return table.append_column(pa.field(f"n_{step}", pa.string()), pa.array([_node_id()] * table.num_rows, pa.string()))


def _probe_batch(table, max_clip_duration_s: float, done_ids: frozenset[str]):
    return probe_rows(table, max_clip_duration_s, done_ids)


def _decode_batch(table, rates: list[int], min_clip_duration_s: float, max_batch_audio_s: float):
    for out in decode_rows(table, rates, min_clip_duration_s, max_batch_audio_s):
        yield _with_node(out, "decode")


class _StageWorker:
    """A Ray actor hosting one model stage: the model is loaded once per worker."""

    def __init__(self, step: dict[str, Any], deps: list[dict[str, Any]], drop_rates: tuple[int, ...]):
        self.runner = StepRunner(step_from_config(step), [step_from_config(d) for d in deps], drop_rates)
        self.runner.setup()

    def __call__(self, table):
        # one output per part (resources.batch_audio_s): results stream on while the batch is worked
        for part in self.runner.parts(table):
            yield _with_node(self.runner(part), self.runner.step.name)


def _derived_batch(table, step: dict[str, Any], deps: list[dict[str, Any]], drop_rates: tuple[int, ...]):
    runner = StepRunner(step_from_config(step), [step_from_config(d) for d in deps], drop_rates)
    runner.setup()  # derived steps load no model: cheap per batch
    return _with_node(runner(table), runner.step.name)


def _merge_batch(table, plan: list[dict[str, Any]], context: dict[str, Any]):
    return merge_rows(table, [step_from_config(s) for s in plan], context)


# --- planning --------------------------------------------------------------------------------------


def check_resources(plan: list[PlannedStep], recipe: Recipe, total_cpus: float, total_gpus: float) -> None:
    """Actor pools hold their CPUs for the whole run; leave room for the light tasks."""
    pools = [s for s in plan if not s.derived]
    cpus = sum(s.resources.num_cpus * s.resources.concurrency for s in pools)
    gpus = sum(s.resources.num_gpus * s.resources.concurrency for s in pools)
    light = max(recipe.input.decode_num_cpus, LIGHT_TASK_CPUS)
    if cpus + light > total_cpus + 1e-9:
        detail = ", ".join(f"{s.name}={s.resources.num_cpus}x{s.resources.concurrency}" for s in pools)
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
        # address="local": always a new embedded instance, never a cluster someone else started
        # on this machine (plain ray.init() would join the newest one it finds)
        ray.init(address="local", num_cpus=rt.num_cpus or os.cpu_count(), num_gpus=rt.num_gpus, **kwargs)
    return True


def decode_batch_size(recipe: Recipe, plan: list[PlannedStep]) -> int:
    """Clips per decode task: the recipe's, else the largest batch of an enabled model stage."""
    models = [s.resources.batch_size for s in plan if not s.derived]
    return recipe.input.decode_batch_size or max(models, default=4)


def block_bytes(recipe: Recipe, plan: list[PlannedStep]) -> int:
    """Ray Data's block size target: ``decode_batch_audio_s`` seconds of float32 audio at every
    decoded rate. Ray merges a task's outputs into blocks up to this size (its default, 128 MiB,
    would merge 35 minutes of 16 kHz audio) and slices bigger ones, so blocks stay near the bound."""
    per_second = 4 * sum(sample_rates(plan)) or 4 * 16000
    return max(int(recipe.input.decode_batch_audio_s * per_second), 1 << 16)


def object_store_budget(recipe: Recipe, plan: list[PlannedStep]) -> int:
    """Object store bytes the run's dataset may hold: one block per operator (probe, decode, each
    step, merge) and two more. Ray Data's default (half the object store) lets fast early steps
    (decode, VAD) run far ahead of a slow model stage, so a dataset of long recordings would pile up
    in memory; with this budget they wait, and audio in flight stays about a block per step. Every
    worker that reads or writes a block keeps the object-store pages it touched mapped, so the
    budget also bounds each worker's resident memory (two blocks per operator: the VAD worker of
    20 ten-minute files held 488 MB of them)."""
    operators = len(plan) + 3
    return max(block_bytes(recipe, plan) * (operators + 2), 256 << 20)


def _configure_ray_data(recipe: Recipe, plan: list[PlannedStep]) -> None:
    import logging

    import ray.data

    # Our own progress line replaces Ray Data's bars and per-dataset log lines; errors still show.
    logging.getLogger("ray.data").setLevel(logging.ERROR)

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    ctx.execution_options.preserve_order = False
    ctx.target_max_block_size = block_bytes(recipe, plan)
    ctx.execution_options.resource_limits = ray.data.ExecutionResources.for_limits(
        object_store_memory=object_store_budget(recipe, plan))


# --- the run ---------------------------------------------------------------------------------------


def run(recipe: Recipe, *, retry_failed: bool = False, allow_recipe_change: bool = False,
        progress=None) -> RunSummary:
    """Annotate every clip of the recipe's input into its output directory (resuming)."""
    import ray
    import ray.data

    if not recipe.input.path:
        raise RecipeError("input.path: no input given (set it in the recipe or pass --input)")
    plan = build_plan(recipe)
    recipe_hash = recipe.hash()
    side = side_schema(plan)
    out = OutputDir(recipe.output.dir, recipe.output.rows_per_shard, recipe.output.flush_interval_s,
                    pa.schema([*OUTPUT_SCHEMA, *side]), extra_columns=tuple(f.name for f in side))
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
    summary.pending_entries = len(refs)
    region_done = frozenset(i for i in done if "#r" in i)

    started = time.time()
    run_started = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    context = {
        "order": [s.name for s in plan],
        "recipe_hash": recipe_hash,
        "pipeline_version": __version__,  # stamped by the driver, whatever the workers run
        "created_at_mode": recipe.output.created_at,
        "run_started": run_started,
        "not_run": not_run_provenance(recipe, plan),
        "fields": record_field_sources(recipe, plan),
    }
    if refs:
        ensure_ray(recipe)
        _configure_ray_data(recipe, plan)
        resources = ray.cluster_resources()
        check_resources(plan, recipe, resources.get("CPU", 0.0), resources.get("GPU", 0.0))
        ds = _dataset(recipe, plan, refs, region_done, context)
        linker = RegionLinker(plan)
        watch = ClusterWatch(plan, recipe, recipe.runtime.resources_lost_grace_s)
        watch.start()
        try:
            for batch in _batches(ds, watch):
                for row in linker.feed(batch.to_pylist()):
                    _account(summary, row)
                    if row["kind"] != "skipped":
                        row["recipe_hash"] = recipe_hash
                        out.add(row)
                out.tick()
                if progress:
                    progress(summary, time.time() - started)
        finally:
            watch.stop()
            out.close()  # what finished is kept even when the run is interrupted
    summary.wall_s = time.time() - started
    out.write_manifest(_manifest(recipe, recipe_hash, summary, previous, run_started, plan, out))
    return summary


def _dataset(recipe: Recipe, plan: list[PlannedStep], refs, region_done: frozenset[str], context: dict[str, Any]):
    """The streaming Ray Data pipeline: probe → decode → steps → merge."""
    import ray
    import ray.data

    inp = recipe.input
    light = inp.decode_concurrency or max((s.resources.concurrency for s in plan if not s.derived), default=1)
    light_pool = ray.data.TaskPoolStrategy(size=light)
    clips_per_decode = decode_batch_size(recipe, plan)
    # from_items builds the blocks on the driver (no remote metadata tasks for a list of small rows)
    blocks = max(1, min(len(refs) // clips_per_decode, 20000))
    ds = ray.data.from_items(refs_table(refs).to_pylist(), override_num_blocks=blocks)
    ds = ds.map_batches(_probe_batch, batch_format="pyarrow", batch_size=None, num_cpus=LIGHT_TASK_CPUS,
                        compute=light_pool, fn_kwargs={"max_clip_duration_s": inp.max_clip_duration_s,
                                                       "done_ids": region_done})
    ds = ds.map_batches(_decode_batch, batch_format="pyarrow", batch_size=clips_per_decode,
                        num_cpus=inp.decode_num_cpus, compute=light_pool,
                        fn_kwargs={"rates": sample_rates(plan), "min_clip_duration_s": inp.min_clip_duration_s,
                                   "max_batch_audio_s": inp.decode_batch_audio_s})
    last = last_readers(plan)
    for step in plan:
        deps = [s.config() for s in plan if s.name in step.deps()]
        drop = tuple(rate for rate, name in last.items() if name == step.name)
        kwargs = {"step": step.config(), "deps": deps, "drop_rates": drop}
        if step.derived:
            ds = ds.map_batches(_derived_batch, batch_format="pyarrow", batch_size=None, num_cpus=LIGHT_TASK_CPUS,
                                compute=light_pool, fn_kwargs=kwargs)
            continue
        res = step.resources
        # batch_size=None: a worker receives whole blocks (bounded by audio seconds), never a bundle
        # of blocks gathered to a row count (20 long regions would make one batch of gigabytes); it
        # splits them into process() calls of resources.batch_size clips itself. One block queued
        # per worker beside the one it works on keeps it fed without holding more audio.
        ds = ds.map_batches(
            _StageWorker,
            batch_format="pyarrow",
            batch_size=None,
            num_cpus=res.num_cpus,
            num_gpus=res.num_gpus or None,
            compute=ray.data.ActorPoolStrategy(size=res.concurrency, max_tasks_in_flight_per_actor=2),
            fn_constructor_kwargs=kwargs,
        )
    return ds.map_batches(_merge_batch, batch_format="pyarrow", batch_size=None, num_cpus=LIGHT_TASK_CPUS,
                          compute=light_pool, fn_kwargs={"plan": [s.config() for s in plan], "context": context})


class ClusterWatch(threading.Thread):
    """Stops a run that can no longer progress: when nodes leave the cluster and the remaining
    ones cannot host the stage workers for ``grace_s`` seconds, Ray Data would wait for them
    forever; the driver then exits with the reason (see :func:`_batches`)."""

    def __init__(self, plan: list[PlannedStep], recipe: Recipe, grace_s: float, interval_s: float = 2.0):
        super().__init__(name="uas-cluster-watch", daemon=True)
        self.plan, self.recipe, self.grace_s, self.interval_s = plan, recipe, grace_s, interval_s
        self.reason: str | None = None
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        import ray

        known: dict[str, str] = {}
        infeasible_since: float | None = None
        while not self._stop_event.wait(self.interval_s):
            try:
                nodes = ray.nodes()
            except Exception:  # noqa: BLE001 - the driver's own error path reports a dead cluster
                return
            alive = [n for n in nodes if n.get("Alive")]
            for n in nodes:
                known.setdefault(n["NodeID"], n.get("NodeManagerAddress", "?"))
            cpus = sum(n.get("Resources", {}).get("CPU", 0.0) for n in alive)
            gpus = sum(n.get("Resources", {}).get("GPU", 0.0) for n in alive)
            try:
                check_resources(self.plan, self.recipe, cpus, gpus)
            except RecipeError as exc:
                if infeasible_since is None:
                    infeasible_since = time.monotonic()
                    print(f"uas-pipeline: warning: the cluster lost capacity ({cpus:g} CPUs, {gpus:g} GPUs alive) and "
                          f"cannot host the stage workers; stopping in {self.grace_s:g} s unless nodes join",
                          file=sys.stderr, flush=True)
                if time.monotonic() - infeasible_since >= self.grace_s:
                    gone = sorted(f"{nid[:12]} ({addr})" for nid, addr in known.items()
                                  if nid not in {n["NodeID"] for n in alive})
                    self.reason = (f"Ray node(s) {', '.join(gone) or '?'} left the cluster and for "
                                   f"{self.grace_s:g} s the remaining nodes could not host the stage workers: "
                                   f"{exc}")
                    return
            else:
                infeasible_since = None


class RegionLinker:
    """The per-file pass: holds the rows of a file split into regions until all its regions are in,
    then lets steps that link regions (``link_regions``, e.g. diarization: one speaker keeps one id
    across the regions of a meeting) relabel the records. Rows of other files pass straight through."""

    def __init__(self, plan: list[PlannedStep]):
        self.linkers = [s for s in plan if hasattr(s.cls, "link_regions")]
        # outputs with side columns: those may name speakers too, and are relabelled with the record
        self.side_outputs = [c for c in {getattr(s.cls, "Output", None) for s in plan} if c is not None
                             and c.SIDE_COLUMNS]
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def feed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ready = []
        for row in rows:
            count = row.get("region_count") or 1
            if not self.linkers or count <= 1:
                ready.append(row)
                continue
            group = self.pending.setdefault(row["file_id"], [])
            group.append(row)
            if len(group) == count:
                ready.extend(self._link(self.pending.pop(row["file_id"])))
        return ready

    def _link(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows.sort(key=lambda r: r["clip_id"])
        for step in self.linkers:
            outputs = []
            for row in rows:
                links = json.loads(row["links"]) if row.get("links") else {}
                data = links.get(step.name)
                outputs.append(step.cls.Output.model_validate(data) if data is not None else None)
            mappings = step.cls.link_regions(outputs)
            for row, mapping in zip(rows, mappings, strict=True):
                if row["kind"] == "ok" and mapping:
                    record = relabel_speakers(UASRecord.from_json(row["uas"]), mapping)
                    row.update(flat_columns(record))
                    for output_cls in self.side_outputs:
                        names = [n for n in output_cls.SIDE_COLUMNS if n in row]
                        if names:
                            row.update(output_cls.relabel_side_columns({n: row[n] for n in names}, mapping))
        return rows


def _batches(ds, watch: ClusterWatch, poll_s: float = 1.0):
    """The dataset's output batches, read by a helper thread so that the driver stays responsive:
    when the cluster watch gives up, the run stops with its reason instead of waiting forever."""
    results: queue.Queue = queue.Queue(maxsize=2)
    done = object()

    def consume() -> None:
        try:
            for batch in _reraise_as_run_error(ds.iter_batches(batch_size=None, batch_format="pyarrow")):
                results.put(batch)
            results.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the driver thread below
            results.put(exc)

    threading.Thread(target=consume, name="uas-batches", daemon=True).start()
    while True:
        try:
            item = results.get(timeout=poll_s)
        except queue.Empty:
            if watch.reason is not None:
                raise RunError(f"the run stopped: {watch.reason} (clips finished before this are kept; "
                               "re-run to resume)") from None
            continue
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


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
    summary.entries_done += 1 / (row.get("region_count") or 1)  # a file of N regions is one entry
    if kind == "skipped":
        summary.skipped_already_done += 1
        return
    timings = json.loads(row["timings"] or "{}")
    for step, node in json.loads(row.get("nodes") or "{}").items():
        per_node = summary.nodes.setdefault(node, {})
        per_node[step] = per_node.get(step, 0) + 1
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
    for step in plan:
        stages.setdefault(step.name, {}).update(backend=step.backend, derived=step.derived,
                                                resources=step.resources.model_dump())
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
        "nodes": [{"node_id": node, "stages": dict(sorted(steps.items()))}
                  for node, steps in sorted(summary.nodes.items())],
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
