"""The per-clip work of a run, independent of Ray: probe, decode, run a step, merge.

Clips travel as rows of Arrow tables (the Ray Data block format):

* clip columns (``clip_id``, ``source``, ``offset_s``, …, ``status`` = active | error | skipped and,
  for failures, ``error_stage`` / ``error_type`` / ``error_message``);
* ``audio_<rate>``: the decoded audio as ``large_list<float32>``, one column per sample rate a
  stage reads, decoded once from the source and dropped after its last reader;
* ``out_<step>``: each step's typed output as JSON, written once by its step and parsed only by
  the steps that require or use it (and the merge); ``prov_<step>``, ``t_<step>`` (seconds).

Every failure is caught per clip and recorded in the row, so one bad clip never takes its batch down.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import ValidationError

from .assembly import AssemblyError, RecordDraft
from .audio import AudioError, load_mono, probe, to_rate
from .clips import ClipInfo, ClipRef
from .plan import PlannedStep
from .schema import UASRecord
from .stages.base import Stage, StageFailure, StageInput, StageOutput

MAX_MESSAGE = 2000
ACTIVE, ERROR, SKIPPED = "active", "error", "skipped"

CLIP_SCHEMA = pa.schema([
    ("clip_id", pa.string()),
    ("file_id", pa.string()),
    ("source", pa.string()),
    ("offset_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("region", pa.bool_()),
    ("region_index", pa.int32()),
    ("region_count", pa.int32()),
    ("hints", pa.string()),
    ("sample_rate", pa.int32()),
    ("channels", pa.int32()),
    ("source_mtime", pa.float64()),
    ("status", pa.string()),
    ("error_stage", pa.string()),
    ("error_type", pa.string()),
    ("error_message", pa.large_string()),
    ("t_decode", pa.float64()),
])
AUDIO_TYPE = pa.large_list(pa.float32())


def audio_column(rate: int) -> str:
    return f"audio_{rate}"


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _exc_message(exc: BaseException) -> str:
    return _message(str(exc) or repr(exc))


# --- input rows ------------------------------------------------------------------------------------


def refs_table(refs: list[ClipRef]) -> pa.Table:
    """Rows of listed inputs (nothing probed yet)."""
    rows = [
        {
            "clip_id": r.id, "file_id": r.id, "source": r.source, "offset_s": r.offset_s,
            "duration_s": r.duration_s, "region": r.region, "region_index": 0, "region_count": 1,
            "hints": json.dumps(r.hints, sort_keys=True) if r.hints else None, "status": ACTIVE,
        }
        for r in refs
    ]
    return pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)


# --- probe: one row per region ---------------------------------------------------------------------


def split_regions(offset: float, length: float, max_len: float) -> list[tuple[float, float]]:
    """Cut ``[offset, offset+length)`` into equal regions of at most ``max_len`` seconds."""
    n = max(1, math.ceil(length / max_len - 1e-9))
    step = length / n
    return [(offset + k * step, step) for k in range(n)]


def probe_rows(table: pa.Table, max_clip_duration_s: float, done_ids: frozenset[str]) -> pa.Table:
    """Read each input's header and expand long files into regions (``ID#rNNNN``), one row each.

    No audio is decoded here. Regions already in the output (``done_ids``) come back as skipped
    rows; unreadable inputs as error rows of stage ``decode``."""
    out: list[dict[str, Any]] = []
    for row in table.to_pylist():
        if row["status"] != ACTIVE:
            out.append(row)
            continue
        try:
            info = probe(row["source"])
            available = info.duration_s - row["offset_s"]
            if available <= 0:
                raise AudioError("too_short", f"offset {row['offset_s']} s is past the end ({info.duration_s} s)")
            length = available if row["duration_s"] is None else min(row["duration_s"], available)
            regions = split_regions(row["offset_s"], length, max_clip_duration_s)
            mtime = os.stat(row["source"]).st_mtime
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ledger row
            reason = exc.reason if isinstance(exc, AudioError) else type(exc).__name__
            out.append({**row, "status": ERROR, "error_stage": "decode", "error_type": reason,
                        "error_message": _exc_message(exc)})
            continue
        split = len(regions) > 1
        for k, (start, dur) in enumerate(regions):
            clip_id = f"{row['clip_id']}#r{k:04d}" if split else row["clip_id"]
            out.append({
                **row,
                "clip_id": clip_id,
                "offset_s": start,
                "duration_s": dur if (split or row["region"]) else None,
                "region": split or row["region"],
                "region_index": k,
                "region_count": len(regions),
                "sample_rate": info.sample_rate,
                "channels": info.channels,
                "source_mtime": mtime,
                "status": SKIPPED if clip_id in done_ids else ACTIVE,
            })
    return pa.Table.from_pylist(out, schema=CLIP_SCHEMA)


# --- decode ----------------------------------------------------------------------------------------


def _audio_array(chunks: list[np.ndarray]) -> pa.LargeListArray:
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=offsets[1:])
    values = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.float32, copy=False)))


def decode_rows(table: pa.Table, rates: list[int], min_clip_duration_s: float,
                max_batch_audio_s: float) -> Iterator[pa.Table]:
    """Decode each active row once from its source and add one ``audio_<rate>`` column per rate.

    Yields tables holding at most ``max_batch_audio_s`` seconds of audio (a longer clip goes alone),
    so a batch of long regions never sits in memory at once."""
    rows: list[dict[str, Any]] = []
    audio: dict[int, list[np.ndarray]] = {r: [] for r in rates}
    held_s = 0.0

    def flush() -> pa.Table:
        nonlocal rows, audio, held_s
        t = pa.Table.from_pylist(rows, schema=CLIP_SCHEMA)
        for rate in rates:
            t = t.append_column(audio_column(rate), _audio_array(audio[rate]))
        rows, audio, held_s = [], {r: [] for r in rates}, 0.0
        return t

    empty = np.zeros(0, np.float32)
    for row in table.to_pylist():
        if row["status"] == ACTIVE:
            t0 = time.perf_counter()
            try:
                mono, info = load_mono(row["source"], row["offset_s"], row["duration_s"], min_clip_duration_s)
                decoded = {rate: to_rate(mono, info.sample_rate, rate) for rate in rates}
            except Exception as exc:  # noqa: BLE001
                reason = exc.reason if isinstance(exc, AudioError) else type(exc).__name__
                row = {**row, "status": ERROR, "error_stage": "decode", "error_type": reason,
                       "error_message": _exc_message(exc)}
            else:
                seconds = len(mono) / info.sample_rate
                row = {**row, "duration_s": seconds, "t_decode": time.perf_counter() - t0}
                if held_s and held_s + seconds > max_batch_audio_s:
                    yield flush()
                for rate in rates:
                    audio[rate].append(decoded[rate])
                rows.append(row)
                held_s += seconds
                continue
        for rate in rates:
            audio[rate].append(empty)
        rows.append(row)
    if rows:
        yield flush()


def audio_views(table: pa.Table, rate: int) -> list[np.ndarray]:
    """Zero-copy, read-only float32 views of each row's audio at ``rate``."""
    column = table.column(audio_column(rate)).combine_chunks()
    values = column.values.to_numpy(zero_copy_only=True)
    offsets = column.offsets.to_numpy()
    return [values[offsets[i]:offsets[i + 1]] for i in range(len(column))]


# --- clip info and outputs -------------------------------------------------------------------------


def clip_info(row: dict[str, Any]) -> ClipInfo:
    return ClipInfo(
        id=row["clip_id"],
        source=row["source"],
        duration_s=row["duration_s"],
        sample_rate=row["sample_rate"],
        channels=row["channels"],
        offset_s=row["offset_s"] or 0.0,
        region=bool(row["region"]),
        region_index=row["region_index"] or 0,
        region_count=row["region_count"] or 1,
        file_id=row["file_id"] or row["clip_id"],
        hints=json.loads(row["hints"]) if row["hints"] else {},
    )


def out_column(step: str) -> str:
    return f"out_{step}"


def read_outputs(table: pa.Table, steps: list[PlannedStep]) -> list[dict[str, StageOutput]]:
    """Per row, the typed outputs of ``steps`` that ran (columns present and not null)."""
    per_row: list[dict[str, StageOutput]] = [{} for _ in range(table.num_rows)]
    for step in steps:
        name = out_column(step.name)
        if name not in table.column_names:
            continue
        for i, text in enumerate(table.column(name).to_pylist()):
            if text is not None:
                per_row[i][step.name] = step.cls.Output.model_validate_json(text)
    return per_row


# --- running one step ------------------------------------------------------------------------------


def split_by_seconds(seconds: list[float], limit: float | None, max_items: int | None = None) -> Iterator[list[int]]:
    """Consecutive index groups of ``seconds`` holding at most ``limit`` seconds and ``max_items``
    indices each (at least one index per group); one group of all when there is no bound."""
    if not seconds:
        return
    if not limit and not max_items:
        yield list(range(len(seconds)))
        return
    group: list[int] = []
    held = 0.0
    for i, s in enumerate(seconds):
        if group and ((limit and held + s > limit) or (max_items and len(group) >= max_items)):
            yield group
            group, held = [], 0.0
        group.append(i)
        held += s
    yield group


class StepRunner:
    """Runs one planned step on tables of rows: builds typed inputs, isolates per-clip failures,
    validates each output and checks it assembles with its inputs, and appends its columns."""

    def __init__(self, step: PlannedStep, deps: list[PlannedStep], drop_rates: tuple[int, ...] = (),
                 stage: Stage | None = None):
        self.step = step
        self.deps = deps
        self.drop_rates = drop_rates
        self.stage = stage or step.instantiate()
        self.fills = set(step.cls.fills_for(step.params)) | set(step.cls.refines)
        self.provenance_json: str | None = None

    def setup(self) -> None:
        self.stage.setup()
        self.provenance_json = self.stage.provenance().model_dump_json()

    def parts(self, table: pa.Table) -> Iterator[pa.Table]:
        """Consecutive slices of ``table`` holding at most ``resources.batch_audio_s`` seconds of clips
        each (at least one row), so a worker can hand each part on as soon as it is done (Ray Data
        gathers the parts into output blocks up to its block target, which the runner sets to a block's
        audio bytes) instead of holding a block's results until its last clip. Without
        ``batch_audio_s``: the whole table."""
        if table.num_rows == 0:
            yield table
            return
        durations = [d or 0.0 for d in table.column("duration_s").to_pylist()]
        for group in split_by_seconds(durations, self.step.resources.batch_audio_s):
            yield table.slice(group[0], len(group))

    def __call__(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        statuses = table.column("status").to_pylist()
        active = [i for i in range(n) if statuses[i] == ACTIVE]
        outputs: list[str | None] = [None] * n
        timings: list[float | None] = [None] * n
        failures: dict[int, StageFailure] = {}
        if active:
            rows = table.select([c for c in CLIP_SCHEMA.names if c in table.column_names]).to_pylist()
            audio = audio_views(table, self.step.cls.sample_rate) if self.step.reads_audio else None
            inputs = read_outputs(table, self.deps)
            items = {
                i: StageInput(
                    clip=clip_info(rows[i]),
                    audio=audio[i] if audio is not None else None,
                    sample_rate=self.step.cls.sample_rate if audio is not None else None,
                    inputs=inputs[i],
                )
                for i in active
            }
            for chunk in self._chunks(active, items):
                results, seconds = self._process(chunk, items)
                for i, result in zip(chunk, results, strict=True):
                    timings[i] = seconds
                    if isinstance(result, StageFailure):
                        failures[i] = result
                        continue
                    try:
                        outputs[i] = self._checked(result, items[i])
                    except (ValidationError, AssemblyError, TypeError, ValueError) as exc:
                        failures[i] = StageFailure(f"invalid_output.{type(exc).__name__}", _exc_message(exc))
        table = _with_failures(table, self.step.name, failures)
        table = table.append_column(pa.field(out_column(self.step.name), pa.large_string()),
                                    pa.array(outputs, pa.large_string()))
        prov = [self.provenance_json if outputs[i] is not None else None for i in range(n)]
        table = table.append_column(pa.field(f"prov_{self.step.name}", pa.string()), pa.array(prov, pa.string()))
        table = table.append_column(pa.field(f"t_{self.step.name}", pa.float64()), pa.array(timings, pa.float64()))
        for rate in self.drop_rates:
            table = table.drop_columns([audio_column(rate)])
        return table

    def _chunks(self, active: list[int], items: dict[int, StageInput]) -> Iterator[list[int]]:
        """Split the batch so one ``process`` call holds at most ``batch_size`` clips and ``batch_audio_s``
        seconds."""
        res = self.step.resources
        for group in split_by_seconds([items[i].duration_s for i in active], res.batch_audio_s, res.batch_size):
            yield [active[k] for k in group]

    def _process(self, chunk: list[int], items: dict[int, StageInput]) -> tuple[list[Any], float]:
        """``process`` on the chunk; if it raises as a whole, clip by clip to find the culprit."""
        name = type(self.stage).__name__
        t0 = time.perf_counter()
        try:
            results = self.stage.process([items[i] for i in chunk])
            if len(results) != len(chunk):
                raise RuntimeError(f"{name}.process returned {len(results)} outputs for {len(chunk)} clips")
            return list(results), (time.perf_counter() - t0) / len(chunk)
        except Exception:  # noqa: BLE001 - retried clip by clip below
            pass
        results = []
        for i in chunk:
            try:
                one = self.stage.process([items[i]])
                if len(one) != 1:
                    raise RuntimeError(f"{name}.process returned {len(one)} outputs for 1 clip")
                results.append(one[0])
            except Exception as exc:  # noqa: BLE001
                results.append(StageFailure.from_exception(exc))
        return results, (time.perf_counter() - t0) / len(chunk)

    def _checked(self, result: Any, item: StageInput) -> str:
        """Validate an output and check that it assembles into a record with its inputs."""
        output_cls = self.step.cls.Output
        if isinstance(result, BaseException):
            raise TypeError(f"process returned an exception object: {result!r}")
        data = result.model_dump() if isinstance(result, StageOutput) else result
        output = output_cls.model_validate(data)
        fields = output.record_fields()
        extra = sorted(set(fields) - self.fills)
        if extra:
            raise AssemblyError(f"output fills undeclared fields {extra} (declared: {sorted(self.fills)})")
        draft = RecordDraft()
        for name, dep_output in item.inputs.items():
            draft.apply(name, dep_output.record_fields())
        draft.apply(self.step.name, fields)
        draft.build(item.clip)
        return output.model_dump_json()


def _with_failures(table: pa.Table, stage: str, failures: dict[int, StageFailure]) -> pa.Table:
    if not failures:
        return table
    columns = {c: table.column(c).to_pylist() for c in ("status", "error_stage", "error_type", "error_message")}
    for i, failure in failures.items():
        columns["status"][i] = ERROR
        columns["error_stage"][i] = stage
        columns["error_type"][i] = failure.error_type
        columns["error_message"][i] = _message(failure.message)
    for name, values in columns.items():
        idx = table.column_names.index(name)
        table = table.set_column(idx, CLIP_SCHEMA.field(name), pa.array(values, CLIP_SCHEMA.field(name).type))
    return table


# --- merge -----------------------------------------------------------------------------------------


def created_at(mode: str, source_mtime: float | None, run_started: str) -> str:
    if mode == "now":
        return run_started
    if mode == "source_mtime":
        ts = source_mtime if source_mtime is not None else 0.0
        return datetime.fromtimestamp(int(ts), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return mode


OUTPUT_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),  # ok | error | skipped
        ("clip_id", pa.string()),
        ("source", pa.string()),
        ("offset_s", pa.float64()),
        ("duration_s", pa.float64()),
        ("uas", pa.large_string()),
        ("text", pa.large_string()),
        ("language", pa.string()),
        ("language_confidence", pa.float64()),
        ("num_segments", pa.int32()),
        ("num_words", pa.int32()),
        ("num_speakers", pa.int32()),
        ("speech_ratio", pa.float64()),
        ("event_labels", pa.list_(pa.string())),
        ("stage", pa.string()),
        ("error_type", pa.string()),
        ("message", pa.large_string()),
        ("timings", pa.string()),
        ("file_id", pa.string()),
        ("region_count", pa.int32()),
        ("links", pa.large_string()),  # outputs of steps that link a file's regions (the driver's file pass)
        ("nodes", pa.string()),  # step → Ray node id that ran it (filled by the runner)
    ]
)

SIDE_TYPES = {"binary": pa.large_binary(), "string": pa.large_string(), "float64": pa.float64(),
              "int64": pa.int64(), "list<string>": pa.list_(pa.string())}


def side_schema(plan: list[PlannedStep]) -> list[pa.Field]:
    """Extra data columns the run's stage outputs declare (``StageOutput.SIDE_COLUMNS``)."""
    fields: dict[str, pa.Field] = {}
    for step in plan:
        for name, type_name in step.cls.Output.SIDE_COLUMNS.items():
            if name in fields or name in OUTPUT_SCHEMA.names:
                raise ValueError(f"side column {name!r} of stage {step.name} is already used")
            fields[name] = pa.field(name, SIDE_TYPES[type_name])
    return list(fields.values())


def merge_rows(table: pa.Table, plan: list[PlannedStep], context: dict[str, Any]) -> pa.Table:
    """Turn finished rows into output rows: a record, a ledger row, or a skip marker."""
    rows = table.select([c for c in CLIP_SCHEMA.names if c in table.column_names]).to_pylist()
    outputs = read_outputs(table, plan)
    provs = {s.name: table.column(f"prov_{s.name}").to_pylist() for s in plan
             if f"prov_{s.name}" in table.column_names}
    step_times = {s.name: table.column(f"t_{s.name}").to_pylist() for s in plan
                  if f"t_{s.name}" in table.column_names}
    node_columns = {c[2:]: table.column(c).to_pylist() for c in table.column_names if c.startswith("n_")}
    side = side_schema(plan)
    linkers = [s for s in plan if hasattr(s.cls, "link_regions")]
    out = []
    for i, row in enumerate(rows):
        timings = {"decode": row["t_decode"]} if row["t_decode"] is not None else {}
        timings.update({name: t[i] for name, t in step_times.items() if t[i] is not None})
        result: dict[str, Any] = dict.fromkeys([*OUTPUT_SCHEMA.names, *(f.name for f in side)])
        result.update(clip_id=row["clip_id"], source=row["source"], file_id=row["file_id"],
                      region_count=row["region_count"],
                      offset_s=row["offset_s"] if row["region"] else None)
        if row["status"] == SKIPPED:
            result["kind"] = "skipped"
        elif row["status"] == ACTIVE:
            t0 = time.perf_counter()
            try:
                record = build_record(clip_info(row), row["source_mtime"], outputs[i],
                                      {n: p[i] for n, p in provs.items() if p[i] is not None}, context)
                result.update(kind="ok", **flat_columns(record))
                for step in plan:
                    output = outputs[i].get(step.name)
                    if output is not None:
                        result.update(output.side_columns())
                if linkers and (row["region_count"] or 1) > 1:
                    result["links"] = json.dumps({s.name: outputs[i][s.name].model_dump(mode="json")
                                                  for s in linkers if s.name in outputs[i]})
            except Exception as exc:  # noqa: BLE001
                row = {**row, "status": ERROR, "error_stage": "merge", "error_type": type(exc).__name__,
                       "error_message": _exc_message(exc)}
            timings["merge"] = time.perf_counter() - t0
        if row["status"] == ERROR:
            result.update(kind="error", duration_s=row["duration_s"], stage=row["error_stage"],
                          error_type=row["error_type"], message=row["error_message"])
        result["timings"] = json.dumps(timings)
        nodes = {name: ids[i] for name, ids in node_columns.items() if ids[i] is not None}
        result["nodes"] = json.dumps(nodes, sort_keys=True) if nodes else None
        out.append(result)
    return pa.Table.from_pylist(out, schema=pa.schema([*OUTPUT_SCHEMA, *side]))


def build_record(clip: ClipInfo, source_mtime: float | None, outputs: dict[str, StageOutput],
                 provenance: dict[str, str], context: dict[str, Any]) -> UASRecord:
    """Assemble the record of a finished clip from its outputs (in run order)."""
    draft = RecordDraft()
    for name in context["order"]:
        if name in outputs:
            draft.apply(name, outputs[name].record_fields())
    stages = dict(context["not_run"])
    stages.update({name: json.loads(p) for name, p in provenance.items()})
    return draft.build(clip, {
        "pipeline_version": context["pipeline_version"],
        "recipe_hash": context["recipe_hash"],
        "created_at": created_at(context["created_at_mode"], source_mtime, context["run_started"]),
        "stages": stages,
        "fields": context["fields"],
    })


def flat_columns(record: UASRecord) -> dict[str, Any]:
    """The queryable columns next to the canonical ``uas`` JSON."""
    tr = record.transcription
    para = record.paralinguistics
    rec = para.recording if para else None
    events = record.non_linguistic_events
    return {
        "duration_s": record.clip.duration_s,
        "uas": record.to_json(),
        "text": tr.text if tr else None,
        "language": tr.language if tr else None,
        "language_confidence": tr.language_confidence if tr else None,
        "num_segments": len(tr.segments) if tr else None,
        "num_words": sum(len(s.words or ()) for s in tr.segments) if tr else None,
        "num_speakers": rec.num_speakers if rec else None,
        "speech_ratio": rec.speech_ratio if rec else None,
        "event_labels": sorted({e.label for e in events}) if events is not None else None,
    }
