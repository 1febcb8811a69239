"""``benchmarks/gpu_asr_throughput.py`` runs on CPU with ``--tiny`` (the lead runs it on a GPU) and
needs neither Ray, CTranslate2, faster-whisper, pyarrow nor soundfile."""

from __future__ import annotations

import json

import pytest

from .benchmark_scripts import run_benchmark_main


@pytest.mark.slow
def test_gpu_asr_benchmark_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu_asr.json"
    proc = run_benchmark_main(
        "gpu_asr_throughput", ["--device", "cpu", "--tiny", "--work-dir", str(tmp_path), "--json-out", str(out)],
        ("ray", "ctranslate2", "faster_whisper", "pyarrow", "soundfile"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "EXTRA []" in proc.stdout
    r = json.loads(out.read_text())
    assert r["device"] == "cpu" and r["clips"] == 6 and r["decoding"]["fixed_tokens_per_s"] == 5.0
    assert 12 < r["audio_s"] < 36  # six clips of 2-6 s
    for side in ("stage", "bare"):
        assert r[side]["audio_h_per_h"] > 0 and r[side]["gpu_utilisation"] is None
    assert r["ratio_stage_over_bare"] == pytest.approx(r["stage"]["audio_h_per_h"] / r["bare"]["audio_h_per_h"])
    assert r["stage"]["windows_per_run"] < r["bare"]["windows_per_run"] == 6  # clips packed into shared windows
    assert r["stage"]["runs"][0]["failed"] == 0 and r["bare"]["best_batch"] in (2, 4)
