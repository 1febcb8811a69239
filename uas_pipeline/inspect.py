"""``uas-pipeline inspect``: a dataset summary, or one record pretty-printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

from .validate import iter_records
from .writer import data_shards, error_shards, read_manifest


def _first_record(out_dir: Path, clip_id: str | None) -> str | None:
    for _, cid, text in iter_records(out_dir):
        if clip_id is None or cid == clip_id:
            return text
    return None


def _describe(record: dict) -> str:
    clip = record["clip"]
    lines = [f"clip {clip['id']}  ({clip['duration_s']} s, {clip['sample_rate']} Hz, {clip['channels']} ch)",
             f"  source: {clip['source']}"]
    tr = record["transcription"]
    if tr is None:
        lines.append("  transcription: not annotated")
    else:
        lines.append(f"  language: {tr['language']} (p={tr['language_confidence']})")
        lines.append(f"  text: {tr['text']!r}")
        for seg in tr["segments"]:
            lines.append(f"    [{seg['start']:7.3f} - {seg['end']:7.3f}] {seg['speaker'] or '-'}: {seg['text']}")
    para = record["paralinguistics"]
    rec = para and para.get("recording")
    if rec:
        known = {k: v for k, v in rec.items() if v is not None}
        lines.append(f"  recording: {known}")
    events = record["non_linguistic_events"]
    lines.append("  events: not annotated" if events is None else f"  events: {[e['label'] for e in events]}")
    lines.append("  provenance:")
    for name, st in record["provenance"]["stages"].items():
        lines.append(f"    {name}: {st['status']}" + (f" ({st['backend']}, {st['model']})" if st["status"] == "ok" else ""))
    return "\n".join(lines)


def inspect_output(out_dir: str | Path, clip_id: str | None = None, raw: bool = False) -> int:
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        print(f"uas-pipeline: error: not a directory: {out_dir}", file=sys.stderr)
        return 2
    text = _first_record(out_dir, clip_id)
    if clip_id is not None and text is None:
        print(f"uas-pipeline: error: no record with clip_id {clip_id!r} in {out_dir}", file=sys.stderr)
        return 1
    if clip_id is None:
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in data_shards(out_dir))
        errors = sum(pq.ParquetFile(p).metadata.num_rows for p in error_shards(out_dir))
        manifest = read_manifest(out_dir) or {}
        audio_s = 0.0
        for shard in data_shards(out_dir):
            audio_s += sum(v for v in pq.read_table(shard, columns=["duration_s"]).column(0).to_pylist() if v)
        print(f"dataset {out_dir.resolve()}")
        print(f"  records: {rows} in {len(data_shards(out_dir))} shard(s); ledger: {errors} failed clip(s)")
        print(f"  audio: {audio_s / 3600:.4f} h; recipe hash: {manifest.get('recipe_hash')}")
        last = manifest.get("last_run") or {}
        if last.get("realtime_factor"):
            print(f"  last run: {last['wall_s']} s wall, {last['realtime_factor']}x real time")
        print("  first records:")
        for shown, (_, cid, doc) in enumerate(iter_records(out_dir)):
            if shown == 10:
                print("    ...")
                break
            rec = json.loads(doc)
            tr = rec["transcription"]
            said = "not annotated" if tr is None else repr(tr["text"])
            print(f"    {cid:<28} {rec['clip']['duration_s']:>8.2f} s  {said}")
        if text is None:
            return 0
        print("sample record:")
    record = json.loads(text)
    print(text if raw else (_describe(record) + "\n" + json.dumps(record, indent=2, ensure_ascii=False)))
    return 0
