"""The output directory: data shards, the error ledger, the run manifest, and resume state.

Layout (see docs/CONTRACT): ``DIR/part-*.parquet`` (one row per annotated clip),
``DIR/errors/part-*.parquet`` (one row per failed clip), ``DIR/_manifest.json``.
Shards are written to ``DIR/.tmp`` and renamed into place, so a killed run never leaves a partial
shard where readers look; clips whose rows were still buffered are simply redone on the next run.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DATA_COLUMNS = [
    "clip_id",
    "source",
    "offset_s",
    "duration_s",
    "uas",
    "text",
    "language",
    "language_confidence",
    "num_segments",
    "num_words",
    "num_speakers",
    "speech_ratio",
    "event_labels",
    "recipe_hash",
]
ERROR_COLUMNS = ["clip_id", "source", "offset_s", "duration_s", "stage", "error_type", "message", "recipe_hash"]
MANIFEST = "_manifest.json"


def data_shards(out_dir: str | Path) -> list[Path]:
    return sorted(Path(out_dir).glob("*.parquet"))


def error_shards(out_dir: str | Path) -> list[Path]:
    return sorted((Path(out_dir) / "errors").glob("*.parquet"))


def read_ids(paths: list[Path]) -> set[str]:
    ids: set[str] = set()
    for path in paths:
        ids.update(pq.read_table(path, columns=["clip_id"]).column("clip_id").to_pylist())
    return ids


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


class ShardWriter:
    """Buffers rows of one kind and writes them as atomic Parquet shards."""

    def __init__(self, directory: Path, tmp_dir: Path, columns: list[str], schema: pa.Schema, prefix: str,
                 rows_per_shard: int, flush_interval_s: float):
        self.directory = directory
        self.tmp_dir = tmp_dir
        self.schema = pa.schema([schema.field(c) for c in columns])
        self.prefix = prefix
        self.rows_per_shard = rows_per_shard
        self.flush_interval_s = flush_interval_s
        self._rows: list[dict[str, Any]] = []
        self._seq = 0
        self._last_flush = time.monotonic()
        self.written = 0

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append({c: row.get(c) for c in self.schema.names})
        if len(self._rows) >= self.rows_per_shard:
            self.flush()

    def maybe_flush(self) -> None:
        if self._rows and time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{self.prefix}-{self._seq:05d}.parquet"
        tmp = self.tmp_dir / name
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as f:  # durable before it becomes visible
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / name)
        self.written += len(self._rows)
        self._seq += 1
        self._rows = []


class OutputDir:
    """Writes one run's rows into an output directory and knows what earlier runs finished."""

    def __init__(self, path: str | Path, rows_per_shard: int, flush_interval_s: float, row_schema: pa.Schema,
                 extra_columns: tuple[str, ...] = ()):
        """``extra_columns``: data columns beyond :data:`DATA_COLUMNS` (stage side columns)."""
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path / ".tmp"
        self.tmp.mkdir(exist_ok=True)
        for stale in self.tmp.iterdir():  # leftovers of a killed run; never visible to readers
            stale.unlink(missing_ok=True)
        self._prior = (0, 0)  # rows and ledger rows found by done_ids()
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        schema = row_schema.append(pa.field("recipe_hash", pa.string()))
        self.data = ShardWriter(self.path, self.tmp, [*DATA_COLUMNS, *extra_columns], schema, f"part-{self.run_id}",
                                rows_per_shard, flush_interval_s)
        self.errors = ShardWriter(self.path / "errors", self.tmp, ERROR_COLUMNS, schema, f"part-{self.run_id}",
                                  rows_per_shard, flush_interval_s)

    def done_ids(self) -> set[str]:
        """Clips already in the data or the ledger (skipped on resume); remembers their counts."""
        data, errors = read_ids(data_shards(self.path)), read_ids(error_shards(self.path))
        self._prior = (len(data), len(errors))
        return data | errors

    def totals(self) -> dict[str, int]:
        """Rows in the data and the ledger after this run: what :meth:`done_ids` found plus what
        this run wrote (no re-reading of the shards)."""
        rows, errors = self._prior
        return {"rows": rows + self.data.written, "errors": errors + self.errors.written}

    def retire_errors(self) -> int:
        """Move the ledger aside so its clips are retried; returns the number of clips affected."""
        shards = error_shards(self.path)
        if not shards:
            return 0
        rows = len(read_ids(shards))
        retired = self.path / "errors" / f"retired-{self.run_id}"
        retired.mkdir(parents=True)
        for shard in shards:
            os.replace(shard, retired / shard.name)
        return rows

    def add(self, row: dict[str, Any]) -> None:
        (self.data if row["kind"] == "ok" else self.errors).add(row)

    def tick(self) -> None:
        self.data.maybe_flush()
        self.errors.maybe_flush()

    def close(self) -> None:
        self.data.flush()
        self.errors.flush()

    def write_manifest(self, payload: dict[str, Any]) -> None:
        write_json_atomic(self.path / MANIFEST, payload)
