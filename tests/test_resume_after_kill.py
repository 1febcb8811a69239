"""A run killed with SIGKILL midway, then run again, ends with every clip exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest

from uas_pipeline.validate import validate_output
from uas_pipeline.writer import data_shards, error_shards

from .conftest import DEMO_DIR, REPO

pytestmark = pytest.mark.slow
N_CLIPS = 32


def _command(manifest, out, ray_address):
    return [
        sys.executable, "-m", "uas_pipeline.cli", "run", str(REPO / "recipes" / "demo.yaml"),
        "--input", str(manifest), "--output", str(out), "--quiet",
        "--set", "output.rows_per_shard=1",
        "--set", "stages.vad.enabled=false",
        "--set", "input.decode_batch_size=4",  # blocks of 4 clips finish a few at a time, so the kill lands midway
        "--set", f"runtime.ray_address={ray_address}",
    ]


def test_sigkill_then_rerun_gives_each_clip_once(ray_session, tmp_path):
    speech = sorted(p.name for p in DEMO_DIR.glob("speech_0*"))
    manifest = tmp_path / "clips.jsonl"
    with manifest.open("w") as f:
        for i in range(N_CLIPS):
            f.write(json.dumps({"id": f"c{i:03d}", "audio": str(DEMO_DIR / speech[i % len(speech)])}) + "\n")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(_command(manifest, out, ray_session), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not data_shards(out):
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed: " + proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    written = len(data_shards(out))
    assert 1 <= written < N_CLIPS
    # a half-written shard of the killed run may sit in .tmp; readers never see it
    (out / ".tmp" / "part-killed.parquet").write_bytes(b"PAR1 partial")

    rerun = subprocess.run(_command(manifest, out, ray_session), env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    ids = Counter()
    for shard in data_shards(out):
        ids.update(pq.read_table(shard, columns=["clip_id"]).column(0).to_pylist())
    assert not error_shards(out)
    assert ids == Counter({f"c{i:03d}": 1 for i in range(N_CLIPS)})
    counts = json.loads((out / "_manifest.json").read_text())["counts"]
    assert counts["skipped_already_done"] >= written
    assert counts["ok"] + counts["skipped_already_done"] == N_CLIPS
    assert validate_output(out).ok
    assert not (out / ".tmp" / "part-killed.parquet").exists()
