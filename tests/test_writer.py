"""The output directory: atomic shards, the error ledger, resume state, retiring errors, the manifest."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from uas_pipeline import writer
from uas_pipeline.tasks import OUTPUT_SCHEMA
from uas_pipeline.writer import (
    DATA_COLUMNS,
    ERROR_COLUMNS,
    MANIFEST,
    OutputDir,
    data_shards,
    error_shards,
    read_ids,
    read_manifest,
    write_json_atomic,
)

HASH = "0123456789abcdef"


def _ok(clip_id: str) -> dict[str, Any]:
    return {"kind": "ok", "clip_id": clip_id, "source": f"/in/{clip_id}.wav", "offset_s": None, "duration_s": 1.5,
            "uas": "{}", "text": "hi", "event_labels": ["music"], "stage": None, "timings": "{}",
            "recipe_hash": HASH}


def _err(clip_id: str, stage: str = "decode") -> dict[str, Any]:
    return {"kind": "error", "clip_id": clip_id, "source": f"/in/{clip_id}.wav", "offset_s": 3.0,
            "duration_s": None, "stage": stage, "error_type": "truncated", "message": "cut", "recipe_hash": HASH}


def _open(path: Path, rows_per_shard: int = 1000, flush_interval_s: float = 3600.0) -> OutputDir:
    return OutputDir(path, rows_per_shard, flush_interval_s, OUTPUT_SCHEMA)


def _read(paths: list[Path]) -> list[dict[str, Any]]:
    return [row for p in paths for row in pq.read_table(p).to_pylist()]


def test_rows_are_buffered_until_a_shard_is_full(tmp_path: Path) -> None:
    out = _open(tmp_path / "out", rows_per_shard=2)
    assert (tmp_path / "out" / ".tmp").is_dir()
    out.add(_ok("a"))
    assert data_shards(out.path) == []
    out.add(_ok("b"))
    assert len(data_shards(out.path)) == 1  # full shard written at once
    out.add(_ok("c"))
    out.add(_err("e1"))
    assert len(data_shards(out.path)) == 1 and error_shards(out.path) == []
    out.close()  # partial shards flushed on close
    shards = data_shards(out.path)
    assert len(shards) == 2
    assert all(s.name.startswith(f"part-{out.run_id}-") for s in shards)
    assert [pq.read_table(s).num_rows for s in shards] == [2, 1]
    assert len(error_shards(out.path)) == 1
    assert out.data.written == 3 and out.errors.written == 1
    assert list((out.path / ".tmp").iterdir()) == []
    out.close()  # closing again writes nothing new
    assert len(data_shards(out.path)) == 2 and len(error_shards(out.path)) == 1


def test_shard_columns_and_content(tmp_path: Path) -> None:
    out = _open(tmp_path)
    out.add(_ok("a"))
    out.add(_err("e1", stage="asr"))
    out.close()
    data = pq.read_table(data_shards(tmp_path)[0])
    assert data.column_names == DATA_COLUMNS
    assert data.schema.field("event_labels").type == OUTPUT_SCHEMA.field("event_labels").type
    (row,) = data.to_pylist()
    assert row["clip_id"] == "a" and row["duration_s"] == 1.5 and row["event_labels"] == ["music"]
    assert row["recipe_hash"] == HASH and row["language"] is None
    errors = pq.read_table(error_shards(tmp_path)[0])
    assert errors.column_names == ERROR_COLUMNS
    assert errors.to_pylist() == [{"clip_id": "e1", "source": "/in/e1.wav", "offset_s": 3.0, "duration_s": None,
                                   "stage": "asr", "error_type": "truncated", "message": "cut",
                                   "recipe_hash": HASH}]


def test_shards_become_visible_only_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _open(tmp_path, rows_per_shard=3)
    renames: list[tuple[Path, Path, int]] = []
    real_replace = writer.os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        renames.append((src, dst, pq.read_table(src).num_rows))  # complete, readable before the rename
        assert not dst.exists()
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", spy)
    for i in range(3):
        out.add(_ok(f"c{i}"))
    out.add(_err("e"))
    out.close()
    assert [(src.parent, dst.parent, n) for src, dst, n in renames] == [
        (out.tmp, out.path, 3), (out.tmp, out.path / "errors", 1)
    ]


def test_failed_write_leaves_nothing_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _open(tmp_path)
    out.add(_ok("a"))

    def broken(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a shard")
        raise OSError("disk full")

    monkeypatch.setattr(writer.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        out.close()
    assert data_shards(tmp_path) == []
    assert out.done_ids() == set()
    monkeypatch.undo()
    # the half-written shard stays in .tmp, where readers never look, and the next open removes it
    assert list(out.tmp.iterdir())
    _open(tmp_path)
    assert list(out.tmp.iterdir()) == []


def test_tick_flushes_after_the_interval(tmp_path: Path) -> None:
    slow = _open(tmp_path / "slow", flush_interval_s=3600.0)
    slow.add(_ok("a"))
    slow.add(_err("e"))
    slow.tick()
    assert data_shards(slow.path) == [] and error_shards(slow.path) == []

    fast = _open(tmp_path / "fast", flush_interval_s=0.001)
    fast.tick()  # nothing buffered: no empty shard
    assert data_shards(fast.path) == []
    time.sleep(0.01)
    fast.add(_ok("a"))
    fast.add(_err("e"))
    fast.tick()
    assert len(data_shards(fast.path)) == 1 and len(error_shards(fast.path)) == 1
    assert fast.done_ids() == {"a", "e"}


def test_done_ids_read_data_and_ledger(tmp_path: Path) -> None:
    first = _open(tmp_path, rows_per_shard=2)
    for clip_id in ("a", "b", "c#r0000"):
        first.add(_ok(clip_id))
    first.add(_err("bad"))
    first.close()
    assert first.done_ids() == {"a", "b", "c#r0000", "bad"}
    assert read_ids(data_shards(tmp_path)) == {"a", "b", "c#r0000"}
    assert read_ids(error_shards(tmp_path)) == {"bad"}
    # a later run appends its own shards; an unflushed row is not done
    second = _open(tmp_path)
    assert second.done_ids() == {"a", "b", "c#r0000", "bad"}
    second.add(_ok("d"))
    assert "d" not in second.done_ids()
    second.close()
    assert second.done_ids() == {"a", "b", "c#r0000", "bad", "d"}


def test_stale_tmp_files_are_removed_and_never_read(tmp_path: Path) -> None:
    out = _open(tmp_path)
    out.add(_ok("kept"))
    out.close()
    stale = tmp_path / ".tmp" / "part-killed-00000.parquet"
    stale.write_bytes(b"PAR1 torn")
    (tmp_path / ".tmp" / ".hidden").write_text("x")
    assert stale not in data_shards(tmp_path)
    assert all(p.parent == tmp_path for p in data_shards(tmp_path))
    assert _open(tmp_path).done_ids() == {"kept"}  # opening does not trip over the torn file ...
    assert list((tmp_path / ".tmp").iterdir()) == []  # ... and removes it


def test_retire_errors(tmp_path: Path) -> None:
    out = _open(tmp_path, rows_per_shard=2)
    assert out.retire_errors() == 0
    out.add(_ok("good"))
    for clip_id in ("e1", "e2", "e3"):
        out.add(_err(clip_id))
    out.close()
    assert len(error_shards(tmp_path)) == 2

    again = _open(tmp_path)
    assert again.retire_errors() == 3
    assert error_shards(tmp_path) == []
    assert again.done_ids() == {"good"}  # the failed clips will be retried
    retired = sorted((tmp_path / "errors" / f"retired-{again.run_id}").glob("*.parquet"))
    assert len(retired) == 2
    assert {r["clip_id"] for r in _read(retired)} == {"e1", "e2", "e3"}  # kept for inspection
    # new failures go to a fresh ledger next to the retired one
    again.add(_err("e2"))
    again.close()
    assert read_ids(error_shards(tmp_path)) == {"e2"}


def test_manifest_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _open(tmp_path)
    assert read_manifest(tmp_path) is None
    out.write_manifest({"recipe_hash": HASH, "runs": [1]})
    assert read_manifest(tmp_path) == {"recipe_hash": HASH, "runs": [1]}
    assert (tmp_path / MANIFEST).read_text().endswith("\n")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [MANIFEST]  # no temp file left

    def crash(src, dst):
        raise OSError("killed before the rename")

    monkeypatch.setattr(writer.os, "replace", crash)
    with pytest.raises(OSError):
        out.write_manifest({"recipe_hash": "f" * 16, "runs": [1, 2]})
    assert read_manifest(tmp_path) == {"recipe_hash": HASH, "runs": [1]}  # the old one is intact


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"b": 1, "a": [1, 2]}
    write_json_atomic(path, {"c": None})
    assert json.loads(path.read_text()) == {"c": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
