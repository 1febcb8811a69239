"""Streaming reads of an output directory through its stable contract (see docs/CONTRACT):
``DIR/part-*.parquet`` data shards, ``DIR/errors/*.parquet`` ledger shards, ``DIR/_manifest.json``.

Everything here reads shard by shard, batch by batch: memory stays bounded whatever the dataset size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

ROW_COLUMNS = ("clip_id", "source", "offset_s", "duration_s", "uas")
LEDGER_COLUMNS = ("clip_id", "source", "stage", "error_type", "message")
BATCH_ROWS = 256


class OutputError(ValueError):
    """The directory is not a readable pipeline output."""


def data_shards(out_dir: str | Path) -> list[Path]:
    return sorted(Path(out_dir).glob("*.parquet"))


def ledger_shards(out_dir: str | Path) -> list[Path]:
    return sorted((Path(out_dir) / "errors").glob("*.parquet"))


def check_output_dir(out_dir: str | Path) -> Path:
    path = Path(out_dir)
    if not path.is_dir():
        raise OutputError(f"not a directory: {path}")
    if not data_shards(path) and not ledger_shards(path) and not (path / "_manifest.json").is_file():
        raise OutputError(f"{path} holds no pipeline output (no *.parquet shards, no _manifest.json)")
    return path


def read_run_manifest(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / "_manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def count_rows(shards: list[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in shards)


def _batches(shards: list[Path], columns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for shard in shards:
        pf = pq.ParquetFile(shard)
        present = [c for c in columns if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(columns=present, batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                yield {c: row.get(c) for c in columns}


def iter_rows(out_dir: str | Path, columns: tuple[str, ...] = ROW_COLUMNS) -> Iterator[dict[str, Any]]:
    """Data rows as dicts of ``columns`` (missing columns read as ``None``), shard by shard."""
    yield from _batches(data_shards(out_dir), columns)


def iter_ledger(out_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of the current error ledger (not the retired ones)."""
    yield from _batches(ledger_shards(out_dir), LEDGER_COLUMNS)


def find_row(out_dir: str | Path, clip_id: str, columns: tuple[str, ...] = ROW_COLUMNS) -> dict[str, Any] | None:
    """The data row of one clip, or ``None``; reads the ``clip_id`` column of each shard first and
    only the matching row group's rows afterwards."""
    for shard in data_shards(out_dir):
        pf = pq.ParquetFile(shard)
        for group in range(pf.num_row_groups):
            ids = pf.read_row_group(group, columns=["clip_id"]).column(0)
            hits = pc.index(ids, clip_id).as_py()
            if hits >= 0:
                present = [c for c in columns if c in pf.schema_arrow.names]
                row = pf.read_row_group(group, columns=present).slice(hits, 1).to_pylist()[0]
                return {c: row.get(c) for c in columns}
    return None
