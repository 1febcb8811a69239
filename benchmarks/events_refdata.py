"""Score the events of an output directory against a references manifest with
:mod:`uas_pipeline.eval_events` (what ``uas-pipeline eval`` runs for its events family).

    uas-pipeline run recipes/demo.yaml --input ../shared/refdata --output /tmp/ev-out \\
        --set stages.events.backend=yamnet --set stages.events.model=../shared/models/yamnet/yamnet.tflite
    python benchmarks/events_refdata.py /tmp/ev-out --references ../shared/refdata/MANIFEST.jsonl [--json out.json]

Records are joined to manifest entries by clip id = the entry's ``path`` (or ``id``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

from uas_pipeline import eval_events
from uas_pipeline.schema import UASRecord
from uas_pipeline.writer import data_shards


def score_output(out_dir: Path, manifest: Path) -> tuple[list[dict], dict]:
    entries = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            entries[entry.get("id") or entry["path"]] = entry
    per_clip = []
    for shard in data_shards(out_dir):
        for row in pq.read_table(shard, columns=["clip_id", "uas"]).to_pylist():
            entry = entries.get(row["clip_id"])
            if entry is not None and eval_events.applies(entry):
                per_clip.append(eval_events.score_clip(UASRecord.from_json(row["uas"]), entry, manifest.parent))
    return per_clip, eval_events.pool(per_clip)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--references", type=Path, required=True)
    ap.add_argument("--json", type=Path, help="write per-clip and pooled figures here")
    ap.add_argument("--clips", action="store_true", help="print one line per clip")
    args = ap.parse_args(argv)
    per_clip, pooled = score_output(args.out_dir, args.references)
    if args.clips:
        for c in sorted(per_clip, key=lambda c: c.get("clip", "")):
            if "unscored" not in c:
                print(f"{c['clip']}: {eval_events.format_clip(c)}")
    print("\n".join(eval_events.format_pooled(pooled)))
    if args.json:
        args.json.write_text(json.dumps({"pooled": pooled, "clips": per_clip}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
