"""``benchmarks/gpu_train_throughput.py`` runs on CPU with ``--tiny`` and needs neither Ray, Parquet,
pydantic nor openai-whisper from this repository (the GPU machine has only torch and transformers;
soundfile is not checked: transformers imports it on its own when installed)."""

from __future__ import annotations

import json
import sys

import pytest

from .benchmark_scripts import REPO, run_benchmark_main


@pytest.mark.slow
def test_benchmark_runs_tiny_on_cpu_with_only_torch_and_transformers(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_benchmark_main("gpu_train_throughput", ["--device", "cpu", "--tiny", "--steps", "2", "--json-out", str(out)],
                              ("pydantic", "whisper", "ray", "pyarrow", "av"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "EXTRA []" in proc.stdout
    result = json.loads(out.read_text())
    assert result["config"] == "tiny" and result["device"] == "cpu" and result["steps"] == 2
    assert result["audio_s_per_s"] > 0 and result["target_tokens_per_s"] > 0
    assert result["audio_tokens_per_clip"] == 25  # 2 s: 200 mel frames -> 100 encoder frames -> 4x fewer
    assert result["target_tokens_per_clip"] == 129
    assert 100_000 < result["parameters"]["total"] < 300_000


def test_full_config_is_about_100m_parameters():
    sys.path.insert(0, str(REPO))
    import torch

    from benchmarks.gpu_train_throughput import FULL, build
    from uas_pipeline.training.model import count_parameters

    with torch.device("meta"):  # no memory, no init cost
        model = build(FULL, 10.0)
    total = count_parameters(model)["total"]
    assert 90e6 < total < 110e6, total
