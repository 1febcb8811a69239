"""Rebuild the events of an output directory from its stored frame scores with other score → event
parameters, without the model (``uas-pipeline rethreshold``, :mod:`uas_pipeline.rethreshold`).

Keys are the parameters of :class:`~uas_pipeline.events.detect.DetectionParams` (``threshold``,
``thresholds.<label>``, ``release_ratio``, ``merge_gap_s``, ``min_duration_s``, ``background_*``,
``keep_scores``, ``score_floor``), optionally written ``stages.events.<key>``; thresholds cannot go
below the floor the scores were stored with. Each record starts from the parameters in its own
``provenance.stages.events.params``; ``non_linguistic_events``, ``paralinguistics.recording.background``,
those parameters and ``event_labels`` are rewritten, and ``recipe_hash`` becomes a hash of the old one
and the new parameters when they differ from the recorded ones (the records no longer match the
recipe that made them). Rows without frame scores (events not run, or ``keep_scores: false``) are
copied unchanged. The error ledger is copied; ``_manifest.json`` records what was done.

Because the stage derives its events from float16-rounded scores too, rethresholding with unchanged
parameters reproduces the records exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from ..assembly import RecordDraft
from ..clips import ClipInfo
from ..outputs.events import EventsOutput, StoredScores
from ..recipe import RecipeError, parse_override
from ..schema import UASRecord
from ..writer import MANIFEST, data_shards, error_shards, read_manifest, write_json_atomic
from .detect import DETECTION_KEYS, DetectionParams, detect_events
from .scores import SIDE_COLUMNS, FrameScores

STAGE = "events"


class RethresholdError(ValueError):
    pass


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``--set`` items → nested overrides of the detection parameters."""
    out: dict[str, Any] = {}
    for item in items:
        try:
            path, value = parse_override(item)
        except RecipeError as exc:
            raise RethresholdError(str(exc)) from None
        if path[:2] == ["stages", STAGE]:
            path = path[2:]
        if not path or path[0] not in DETECTION_KEYS or (len(path) > 1 and path[0] != "thresholds") or len(path) > 2:
            raise RethresholdError(f"--set {item}: not a score → event parameter; allowed: "
                                   f"{', '.join(DETECTION_KEYS)} (thresholds.<label> for one label)")
        if len(path) == 2:
            out.setdefault("thresholds", {})[path[1]] = value
        else:
            out[path[0]] = value
    return out


def merged_params(recorded: dict[str, Any], overrides: dict[str, Any]) -> DetectionParams:
    base = {k: recorded[k] for k in DETECTION_KEYS if k in recorded}
    for key, value in overrides.items():
        if key == "thresholds" and isinstance(value, dict):
            base["thresholds"] = {**(base.get("thresholds") or {}), **value}
        else:
            base[key] = value
    try:
        return DetectionParams.model_validate(base)
    except ValidationError as exc:
        raise RethresholdError(f"invalid parameters: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def new_recipe_hash(old: str, params: DetectionParams) -> str:
    text = json.dumps(params.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{old}|rethreshold|{text}".encode()).hexdigest()[:16]


def _clip_info(record: UASRecord) -> ClipInfo:
    c = record.clip
    return ClipInfo(id=c.id, source=c.source, duration_s=c.duration_s, sample_rate=c.sample_rate,
                    channels=c.channels, offset_s=c.offset_s or 0.0, region=c.offset_s is not None)


def rethreshold_row(row: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The row with its events rebuilt; ``False`` when it had no frame scores (returned unchanged)."""
    fs = FrameScores.from_side_columns(row)
    record = UASRecord.from_json(row["uas"])
    prov = record.provenance.stages.get(STAGE)
    if fs is None or prov is None:
        return row, False
    params = merged_params(prov.params, overrides)
    recorded_floor = prov.params.get("score_floor", 0.0)
    if params.score_floor < recorded_floor:
        raise RethresholdError(f"{record.clip.id}: score_floor {params.score_floor} is below the stored scores' "
                               f"floor {recorded_floor}; labels under it were not kept")
    events, background = detect_events(fs, record.clip.duration_s, params)
    output = EventsOutput(events=events, background=background,
                          scores=StoredScores.of(fs.above(params.score_floor)) if params.keep_scores else None)
    doc = record.model_dump(mode="json")
    draft = RecordDraft()
    draft.doc = {k: doc[k] for k in ("transcription", "paralinguistics", "non_linguistic_events")}
    draft.apply(STAGE, output.record_fields())
    provenance = doc["provenance"]
    provenance["stages"][STAGE]["params"] = {**prov.params, **params.model_dump(mode="json")}
    if params != merged_params(prov.params, {}):  # the same settings keep the same hash
        provenance["recipe_hash"] = new_recipe_hash(provenance["recipe_hash"], params)
    new = draft.build(_clip_info(record), provenance)
    out = dict(row)
    out.update(uas=new.to_json(), event_labels=sorted({e.label for e in events}),
               recipe_hash=provenance["recipe_hash"])
    out.update(dict.fromkeys(SIDE_COLUMNS))
    out.update(output.side_columns())
    return out, True


def rethreshold(in_dir: Path, out_dir: Path, overrides: dict[str, Any]) -> dict[str, int]:
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not data_shards(in_dir):
        raise RethresholdError(f"no data shards in {in_dir}")
    if out_dir.resolve() == in_dir.resolve():
        raise RethresholdError("--output must differ from the input directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RethresholdError(f"{out_dir} exists and is not empty")
    counts = {"rows": 0, "rescored": 0, "unchanged": 0}
    hashes: set[str] = set()
    try:
        _rewrite_shards(in_dir, out_dir, overrides, counts, hashes)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # nothing half-written is left behind
        raise
    for shard in error_shards(in_dir):
        (out_dir / "errors").mkdir(exist_ok=True)
        shutil.copy2(shard, out_dir / "errors" / shard.name)
    manifest = read_manifest(in_dir) or {}
    manifest.setdefault("rethreshold", []).append(
        {"source": str(in_dir.resolve()), "overrides": overrides, "counts": counts,
         "recipe_hashes": sorted(hashes), "previous_recipe_hash": manifest.get("recipe_hash")})
    if len(hashes) == 1:
        manifest["recipe_hash"] = next(iter(hashes))
    events_cfg = (manifest.get("recipe") or {}).get("stages", {}).get(STAGE)
    if isinstance(events_cfg, dict):
        for key, value in overrides.items():
            events_cfg[key] = {**(events_cfg.get(key) or {}), **value} if key == "thresholds" else value
    write_json_atomic(out_dir / MANIFEST, manifest)
    return counts


def _rewrite_shards(in_dir: Path, out_dir: Path, overrides: dict[str, Any], counts: dict[str, int],
                    hashes: set[str]) -> None:
    """Each data shard batch by batch into ``out_dir/.tmp``, then renamed into place."""
    tmp = out_dir / ".tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for shard in data_shards(in_dir):
        pf = pq.ParquetFile(shard)
        schema = pf.schema_arrow
        with pq.ParquetWriter(tmp / shard.name, schema, compression="zstd") as writer:
            for batch in pf.iter_batches(batch_size=256):
                rows = []
                for row in batch.to_pylist():
                    new, done = rethreshold_row(row, overrides)
                    counts["rows"] += 1
                    counts["rescored" if done else "unchanged"] += 1
                    if done:
                        hashes.add(new["recipe_hash"])
                    rows.append(new)
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        os.replace(tmp / shard.name, out_dir / shard.name)
    tmp.rmdir()
