"""``uas-pipeline bench`` end to end on the bundled demo (one pass, ~34 s of audio)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from uas_pipeline.bench import main

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "demo.yaml"


@pytest.mark.slow
def test_bench_demo(tmp_path: Path, ray_session: str) -> None:
    json_out = tmp_path / "bench.json"
    args = argparse.Namespace(
        input="bundled:demo", min_audio_s=20.0, recipe=str(RECIPE), set=None,
        work_dir=str(tmp_path / "work"), json_out=str(json_out), order="bare-first",
    )
    assert main(args) == 0
    report = json.loads(json_out.read_text())
    assert report["files"] == 8  # the whole demo once: it already holds more than 20 s
    audio = report["audio_s"]
    assert audio >= 20.0
    for side in ("pipeline", "bare"):
        assert report[side]["wall_s"] > 0
        assert report[side]["x_realtime"] > 0
        assert report[side]["audio_s"] == pytest.approx(audio, rel=0.01)
    assert report["pipeline"]["audio_s"] == pytest.approx(report["bare"]["audio_s"], rel=0.01)
    assert report["pipeline"]["ok"] == 8 and report["pipeline"]["failed"] == 0
    assert report["ratio_pipeline_over_bare"] == pytest.approx(
        report["pipeline"]["x_realtime"] / report["bare"]["x_realtime"]
    )
    assert report["bare"]["model_load_s"] > 0
    assert report["ray_start_s"] is None  # Ray was already up: not started, not timed
    assert report["settings"]["transcribe"]["vad_filter"] is False
    assert all(o.endswith("=false") for o in report["settings"]["overrides"] if o.startswith("stages.vad"))
    assert report["machine"]["cpu_count"] >= 1 and report["warnings"] == []
