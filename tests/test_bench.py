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


def test_short_manifest_takes_clips_of_the_right_length_repeated_to_count(tmp_path: Path, refdata: Path) -> None:
    from uas_pipeline.bench import gold_clips, short_speech_manifest, write_manifest

    speech = short_speech_manifest(refdata, tmp_path / "speech.jsonl")
    manifest = tmp_path / "bench.jsonl"
    extensions = ["wav", "flac", "mp3", "ogg"]
    files, audio_s = write_manifest([str(speech), "bundled:demo"], extensions, 0.0, manifest, min_clips=200,
                                    min_clip_s=2.0, max_clip_s=6.0)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert files == len(rows) >= 200 and 2.0 * files <= audio_s <= 6.0 * files
    ids = {r["id"].split("/", 1)[1] for r in rows}
    assert "speech/asr/speechbrain_ASR/spk1_snt1.wav" in ids and "bundled:demo/speech_01" in ids
    assert not any("jfk" in i or "Vibe_Ace" in i or "speech_music_01" in i for i in ids)  # 11 s, 61 s, 7 s
    assert len({r["id"] for r in rows}) == len(rows)
    gold = gold_clips(refdata)
    assert "asr/whisper/jfk.flac" in gold and not any("stereo" in k or "multilingual" in k for k in gold)
