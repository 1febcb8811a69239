"""``uas-pipeline rebin``: levels recomputed from raw values, output still valid."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from uas_pipeline.assembly import RecordDraft
from uas_pipeline.cli import main
from uas_pipeline.clips import ClipInfo
from uas_pipeline.schema import UASRecord
from uas_pipeline.validate import validate_output


def _record(i: int, gender: str, mean_hz: float, arousal: float) -> str:
    draft = RecordDraft()
    draft.apply("diarization", {"paralinguistics.speakers": [{"id": "SPEAKER_00", "speech_duration_s": 1.0}]})
    draft.apply("gender", {"paralinguistics.speakers[].gender": {"SPEAKER_00": {"label": gender, "confidence": 0.9}}})
    draft.apply("paralinguistics", {
        "paralinguistics.speakers[].pitch": {"SPEAKER_00": {"mean_hz": mean_hz, "std_hz": 10.0, "level": "low"}},
        "paralinguistics.speakers[].arousal": {"SPEAKER_00": {"value": arousal, "level": "low"}},
    })
    prov = {"pipeline_version": "0.1.0", "recipe_hash": "0" * 16, "created_at": "2026-01-01T00:00:00Z",
            "stages": {}, "fields": None}
    clip = ClipInfo(id=f"c{i}", source=f"c{i}.wav", duration_s=2.0, sample_rate=16000, channels=1)
    return draft.build(clip, prov).to_json()


def test_rebin_with_bundled_and_percentile_edges(tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    rows = [_record(i, "male" if i % 2 else "female", 100 + 15 * i, i / 12) for i in range(12)]
    table = pa.table({"clip_id": [f"c{i}" for i in range(12)], "source": [f"c{i}.wav" for i in range(12)],
                      "duration_s": [2.0] * 12, "uas": rows})
    pq.write_table(table, src / "part-test-00000.parquet")
    (src / "_manifest.json").write_text(json.dumps({"ok": 12}))

    assert main(["rebin", str(src), "--output", str(tmp_path / "a")]) == 0
    assert validate_output(tmp_path / "a").ok
    recs = [UASRecord.from_json(t) for t in pq.read_table(tmp_path / "a" / "part-test-00000.parquet")
            .column("uas").to_pylist()]
    first = recs[0].paralinguistics.speakers[0]  # female, 100 Hz
    assert first.pitch.level == "very_low" and first.pitch.mean_hz == 100.0
    assert first.arousal.level == "very_low"  # 0.0
    assert recs[11].paralinguistics.speakers[0].pitch.level == "very_high"  # male, 265 Hz
    assert json.loads((tmp_path / "a" / "_manifest.json").read_text())["rebin"]["records"] == 12

    assert main(["rebin", str(src), "--output", str(tmp_path / "b"), "--percentiles"]) == 0
    edges = json.loads((tmp_path / "b" / "levels.json").read_text())
    arousal_edges = edges["attributes"]["arousal"]["edges"]
    assert arousal_edges[0] < 0.2 and arousal_edges[3] > 0.8  # this corpus spans 0 .. 0.92
    levels_b = [UASRecord.from_json(t).paralinguistics.speakers[0].arousal.level
                for t in pq.read_table(tmp_path / "b" / "part-test-00000.parquet").column("uas").to_pylist()]
    assert levels_b[0] == "very_low" and levels_b[-1] == "very_high" and "medium" in levels_b
    assert validate_output(tmp_path / "b").ok
    assert main(["rebin", str(src), "--output", str(tmp_path / "b")]) == 2  # not empty
