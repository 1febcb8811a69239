"""``uas-pipeline rebin DIR --output OUT [--edges FILE | --percentiles]``: recompute every level of
an output from the raw values in its records, without re-running any model.

``--edges FILE`` uses a levels file (the format of ``schemas/levels-v1.json``); ``--percentiles``
first scans the records and puts the edges at the 10th/30th/70th/90th percentiles of this corpus
(pitch per gender), writing them to ``OUT/levels.json`` (attributes with fewer than five distinct
values keep the base file's edges). Shards are rewritten one at a time with the same columns
(only ``uas`` changes); the error ledger and ``_manifest.json`` are copied, the manifest noting the
rebin and the edges used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("rebin", help="recompute the levels of an output from its raw values")
    p.add_argument("dir", help="output directory to read")
    p.add_argument("--output", required=True, help="new output directory (must not exist or be empty)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--edges", default="bundled:levels-v1", help="levels file (default: bundled:levels-v1)")
    group.add_argument("--percentiles", action="store_true", help="edges from this corpus' 10/30/70/90th percentiles")
    p.set_defaults(func=cmd_rebin)


def corpus_edges(in_dir: Path, base):
    """Percentile edges of the raw values in ``in_dir`` over the base edges' attributes."""
    from .paralinguistics.levels import percentile_edges, raw_values

    values: dict[str, list[float]] = {}
    for record in _records(in_dir):
        for key, vals in raw_values(record).items():
            values.setdefault(key, []).extend(vals)
    doc = base.model_dump(mode="json", exclude_none=True)
    doc["name"] = f"{base.name}-corpus"
    doc["version"] = f"{base.version}-percentiles"
    for key, vals in values.items():
        edges = percentile_edges(vals)
        if edges is None:
            continue
        attr, _, gender = key.partition(":")
        spec = doc["attributes"].get(attr)
        if spec is None:
            continue
        if gender:
            spec.setdefault("by_gender", {})[gender] = edges
        else:
            spec["edges"] = edges
        spec["source"] = f"10/30/70/90th percentiles of {in_dir} ({len(vals)} values)"
    from .paralinguistics.levels import LevelEdges

    return LevelEdges.model_validate(doc)


def _records(in_dir: Path):
    import pyarrow.parquet as pq

    from .schema import UASRecord
    from .writer import data_shards

    for shard in data_shards(in_dir):
        for batch in pq.ParquetFile(shard).iter_batches(columns=["uas"], batch_size=256):
            for text in batch.column(0).to_pylist():
                yield UASRecord.from_json(text)


def rebin_output(in_dir: Path, out_dir: Path, edges) -> int:
    """Rewrite every shard of ``in_dir`` into ``out_dir`` with re-leveled records; returns records."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .paralinguistics.levels import relevel_record
    from .schema import UASRecord
    from .writer import data_shards, read_manifest, write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for shard in data_shards(in_dir):
        table = pq.read_table(shard)  # one shard at a time (bounded by output.rows_per_shard)
        texts = [relevel_record(UASRecord.from_json(t), edges).to_json() for t in table.column("uas").to_pylist()]
        idx = table.schema.get_field_index("uas")
        table = table.set_column(idx, table.schema.field(idx), pa.array(texts, type=table.schema.field(idx).type))
        tmp = out_dir / f".{shard.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(out_dir / shard.name)
        count += len(texts)
    if (in_dir / "errors").is_dir():
        shutil.copytree(in_dir / "errors", out_dir / "errors", dirs_exist_ok=True)
    manifest = read_manifest(in_dir) or {}
    manifest["rebin"] = {"source": str(in_dir.resolve()), "edges": edges.model_dump(mode="json", exclude_none=True),
                         "records": count}
    write_json_atomic(out_dir / "_manifest.json", manifest)
    return count


def cmd_rebin(args: argparse.Namespace) -> int:
    from .paralinguistics.levels import load_edges

    in_dir, out_dir = Path(args.dir), Path(args.output)
    if not in_dir.is_dir():
        print(f"uas-pipeline: error: not a directory: {in_dir}", file=sys.stderr)
        return 2
    if out_dir.exists() and any(out_dir.iterdir()):
        print(f"uas-pipeline: error: output directory is not empty: {out_dir}", file=sys.stderr)
        return 2
    try:
        base = load_edges(args.edges if not args.percentiles else "bundled:levels-v1")
    except (FileNotFoundError, ValueError) as exc:
        print(f"uas-pipeline: error: {exc}", file=sys.stderr)
        return 2
    edges = corpus_edges(in_dir, base) if args.percentiles else base
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.percentiles:
        (out_dir / "levels.json").write_text(json.dumps(edges.model_dump(mode="json", exclude_none=True), indent=2))
    count = rebin_output(in_dir, out_dir, edges)
    print(f"rebinned {count} records into {out_dir} with edges {edges.ident}")
    return 0
