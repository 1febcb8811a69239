"""The per-clip work of a run, independent of Ray: decode, run a stage on a batch, merge.

The Ray runner only moves :class:`ClipTask` objects between these functions; tests call them
directly. A failure in any step is caught per clip and becomes the task's ``error`` (stage, type,
message), so one bad clip never takes its batch down.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from . import __version__
from .audio import TARGET_SR, AudioError, load_audio, probe
from .schema import (
    UAS_VERSION,
    Clip,
    Paralinguistics,
    Provenance,
    RecordingAttributes,
    StageProvenance,
    Transcription,
    UASRecord,
)
from .stages.base import ClipRef, ClipTask, Stage, StageError

MAX_MESSAGE = 2000

# --- moving tasks through Arrow tables (the Ray Data block format) ---------------------------------


def encode_tasks(tasks: list[ClipTask]) -> pa.Table:
    meta = []
    audio = []
    for t in tasks:
        meta.append(
            json.dumps(
                {
                    "ref": t.ref.to_dict(),
                    "sample_rate": t.sample_rate,
                    "channels": t.channels,
                    "duration_s": t.duration_s,
                    "source_mtime": t.source_mtime,
                    "outputs": t.outputs,
                    "provenance": t.provenance,
                    "timings": t.timings,
                    "error": t.error.to_dict() if t.error else None,
                    "skipped": t.skipped,
                }
            )
        )
        audio.append(b"" if t.audio is None or not t.active else t.audio.astype("<f4", copy=False).tobytes())
    return pa.table({"task": pa.array(meta, pa.large_string()), "audio": pa.array(audio, pa.large_binary())})


def decode_tasks(table: pa.Table) -> list[ClipTask]:
    tasks = []
    for meta, raw in zip(table.column("task").to_pylist(), table.column("audio").to_pylist(), strict=True):
        d = json.loads(meta)
        err = d["error"]
        tasks.append(
            ClipTask(
                ref=ClipRef.from_dict(d["ref"]),
                audio=np.frombuffer(raw, dtype="<f4").copy() if raw else None,  # writable for torch
                sample_rate=d["sample_rate"],
                channels=d["channels"],
                duration_s=d["duration_s"],
                source_mtime=d["source_mtime"],
                outputs=d["outputs"],
                provenance=d["provenance"],
                timings=d["timings"],
                error=StageError(**err) if err else None,
                skipped=d["skipped"],
            )
        )
    return tasks


def new_input_table(refs: list[ClipRef]) -> list[dict[str, Any]]:
    """Rows for ``ray.data.from_items``: the same columns as :func:`encode_tasks`."""
    table = encode_tasks([ClipTask(ref=r) for r in refs])
    return table.to_pylist()


# --- decode ----------------------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def split_regions(offset: float, length: float, max_len: float) -> list[tuple[float, float]]:
    """Cut ``[offset, offset+length)`` into equal regions of at most ``max_len`` seconds."""
    n = max(1, math.ceil(length / max_len - 1e-9))
    step = length / n
    return [(offset + k * step, step) for k in range(n)]


def decode_refs(
    tasks: list[ClipTask], max_clip_duration_s: float, min_clip_duration_s: float, done_ids: frozenset[str]
) -> list[ClipTask]:
    """Probe and decode each clip to 16 kHz mono; expand long files into regions.

    Regions already in the output (``done_ids``) come back as skipped tasks without being decoded.
    """
    out: list[ClipTask] = []
    for task in tasks:
        ref = task.ref
        t0 = time.perf_counter()
        try:
            info = probe(ref.source)
            available = info.duration_s - ref.offset_s
            if available <= 0:
                raise AudioError("too_short", f"offset {ref.offset_s} s is past the end ({info.duration_s} s)")
            length = available if ref.duration_s is None else min(ref.duration_s, available)
            regions = split_regions(ref.offset_s, length, max_clip_duration_s)
            mtime = os.stat(ref.source).st_mtime
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ledger row
            reason = exc.reason if isinstance(exc, AudioError) else type(exc).__name__
            task.error = StageError("decode", reason, _message(exc))
            out.append(task)
            continue
        split = len(regions) > 1
        for k, (start, dur) in enumerate(regions):
            clip_ref = ClipRef(
                id=f"{ref.id}#r{k:04d}" if split else ref.id,
                source=ref.source,
                offset_s=start,
                duration_s=dur if (split or ref.region) else None,
                region=split or ref.region,
            )
            sub = ClipTask(ref=clip_ref, sample_rate=info.sample_rate, channels=info.channels, source_mtime=mtime)
            if clip_ref.id in done_ids:
                sub.skipped = True
                out.append(sub)
                continue
            t1 = time.perf_counter()
            try:
                audio, _ = load_audio(
                    ref.source, start, clip_ref.duration_s, target_sr=TARGET_SR, min_duration_s=min_clip_duration_s
                )
            except Exception as exc:  # noqa: BLE001
                reason = exc.reason if isinstance(exc, AudioError) else type(exc).__name__
                sub.error = StageError("decode", reason, _message(exc))
            else:
                sub.audio = audio
                sub.duration_s = len(audio) / TARGET_SR
                sub.timings["decode"] = time.perf_counter() - t1 + (t1 - t0 if k == 0 else 0.0)
            out.append(sub)
    return out


# --- stages ----------------------------------------------------------------------------------------


def run_stage(stage: Stage, tasks: list[ClipTask], provenance: dict[str, Any]) -> list[ClipTask]:
    """Run ``stage`` on the active tasks of a batch; isolate failures to the clips that cause them."""
    active = [t for t in tasks if t.active]
    if not active:
        return tasks
    t0 = time.perf_counter()
    try:
        outputs = stage.process(active)
        if len(outputs) != len(active):
            raise RuntimeError(f"{type(stage).__name__}.process returned {len(outputs)} outputs for {len(active)}")
    except Exception:  # noqa: BLE001 - retried clip by clip below to find the culprit
        outputs = None
    if outputs is not None:
        share = (time.perf_counter() - t0) / len(active)
        for task, output in zip(active, outputs, strict=True):
            _store(task, stage, output, provenance, share)
        return tasks
    for task in active:
        t1 = time.perf_counter()
        try:
            outputs = stage.process([task])
            if len(outputs) != 1:
                raise RuntimeError(f"{type(stage).__name__}.process returned {len(outputs)} outputs for 1")
            output = outputs[0]
        except Exception as exc:  # noqa: BLE001
            task.error = StageError(stage.name, type(exc).__name__, _message(exc))
            continue
        _store(task, stage, output, provenance, time.perf_counter() - t1)
    return tasks


def _store(task: ClipTask, stage: Stage, output: Any, provenance: dict[str, Any], seconds: float) -> None:
    task.outputs[stage.name] = output
    task.provenance[stage.name] = provenance
    task.timings[stage.name] = seconds


# --- merge -----------------------------------------------------------------------------------------


def created_at(mode: str, source_mtime: float | None, run_started: str) -> str:
    if mode == "now":
        return run_started
    if mode == "source_mtime":
        ts = source_mtime if source_mtime is not None else 0.0
        return datetime.fromtimestamp(int(ts), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return mode


def build_record(
    task: ClipTask,
    *,
    recipe_hash: str,
    created_at_mode: str,
    run_started: str,
    not_run: dict[str, dict[str, Any]],
) -> UASRecord:
    """Assemble the UAS record of a finished task. ``not_run`` holds provenance of skipped stages."""
    ref = task.ref
    clip = Clip(
        id=ref.id,
        source=ref.source,
        duration_s=task.duration_s,
        sample_rate=task.sample_rate,
        channels=task.channels,
        offset_s=ref.offset_s if ref.region else None,
    )
    asr = task.outputs.get("asr")
    transcription = Transcription.model_validate(asr) if asr is not None else None
    vad = task.outputs.get("vad")
    paralinguistics = None
    if vad is not None:
        # Only the VAD-derived attribute is known; everything else stays null (not annotated).
        recording = RecordingAttributes(
            num_speakers=None, speech_ratio=vad["speech_ratio"], overlap_ratio=None, snr_db=None, reverberation=None,
            quality=None, background=None,
        )
        paralinguistics = Paralinguistics(speakers=None, segments=None, recording=recording)
    stages = {name: StageProvenance.model_validate(p) for name, p in not_run.items()}
    stages.update({name: StageProvenance.model_validate(p) for name, p in task.provenance.items()})
    return UASRecord(
        uas_version=UAS_VERSION,
        clip=clip,
        transcription=transcription,
        paralinguistics=paralinguistics,
        non_linguistic_events=None,
        provenance=Provenance(
            pipeline_version=__version__,
            recipe_hash=recipe_hash,
            created_at=created_at(created_at_mode, task.source_mtime, run_started),
            stages=stages,
            fields=None,
        ),
    )


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
    ]
)


def merge_tasks(tasks: list[ClipTask], **context: Any) -> pa.Table:
    """Turn finished tasks into output rows (records, ledger rows, or skip markers)."""
    rows = []
    for task in tasks:
        row: dict[str, Any] = dict.fromkeys(OUTPUT_SCHEMA.names)
        row.update(clip_id=task.ref.id, source=task.ref.source, timings=json.dumps(task.timings))
        row["offset_s"] = task.ref.offset_s if task.ref.region else None
        if task.skipped:
            row["kind"] = "skipped"
        elif task.error is None:
            t0 = time.perf_counter()
            try:
                record = build_record(task, **context)
                row.update(kind="ok", **flat_columns(record))
            except Exception as exc:  # noqa: BLE001
                task.error = StageError("merge", type(exc).__name__, _message(exc))
            task.timings["merge"] = time.perf_counter() - t0
            row["timings"] = json.dumps(task.timings)
        if task.error is not None:
            row.update(kind="error", duration_s=task.duration_s or None, **task.error.to_dict())
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


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
