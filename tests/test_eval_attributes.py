"""Attribute scoring against hand-made records."""

from __future__ import annotations

from pathlib import Path

import pytest

from uas_pipeline import eval_attributes as ev
from uas_pipeline.assembly import RecordDraft
from uas_pipeline.clips import ClipInfo


def _record(gender: str | None, arousal: float | None, speech_s: float = 1.0):
    draft = RecordDraft()
    draft.apply("diarization", {"paralinguistics.speakers": [{"id": "SPEAKER_00", "speech_duration_s": speech_s},
                                                             {"id": "SPEAKER_01", "speech_duration_s": 0.1}]})
    if gender is not None:
        draft.apply("gender", {"paralinguistics.speakers[].gender": {
            "SPEAKER_00": {"label": gender, "confidence": 0.8}, "SPEAKER_01": {"label": "male", "confidence": 0.9}}})
    if arousal is not None:
        draft.apply("paralinguistics", {"paralinguistics.speakers[].arousal": {
            "SPEAKER_00": {"value": arousal, "level": None}, "SPEAKER_01": {"value": 0.0, "level": None}}})
    return draft.build(ClipInfo(id="c", source="c.wav", duration_s=2.0, sample_rate=16000, channels=1))


def _entry(path, **ref):
    return {"path": path, "category": "emotion", "reference": ref}


def test_applies():
    assert ev.applies(_entry("x.wav", gender="male"))
    assert ev.applies(_entry("x.wav", arousal=0.3))
    assert not ev.applies(_entry("x.wav", text="hello"))


def test_gender_accuracy_uses_main_speaker_and_counts_missing_as_wrong():
    clips = [
        ev.score_clip(_record("male", 0.5), _entry("emodb/03a01Fa.wav", gender="male"), Path(".")),
        ev.score_clip(_record("female", 0.5), _entry("emodb/03a01Wa.wav", gender="male"), Path(".")),
        ev.score_clip(_record(None, 0.5), _entry("audiomnist/6_56_49.wav", gender="female"), Path(".")),
        ev.score_clip(_record("female", 0.5), _entry("audiomnist/1_56_1.wav", gender="Female"), Path(".")),
    ]
    pooled = ev.pool(clips)["gender"]
    assert pooled["clips"] == 4 and pooled["accuracy"] == pytest.approx(0.5) and pooled["missing"] == 1
    assert pooled["by_dataset"]["emodb"]["accuracy"] == pytest.approx(0.5)
    assert pooled["by_dataset"]["audiomnist"]["accuracy"] == pytest.approx(0.5)


def test_arousal_spearman():
    refs = [-0.9, -0.5, 0.0, 0.4, 0.9]
    clips = [ev.score_clip(_record(None, v), _entry(f"p/{i}.wav", arousal=r), Path("."))
             for i, (r, v) in enumerate(zip(refs, [0.1, 0.3, 0.2, 0.6, 0.9], strict=True))]
    pooled = ev.pool(clips)["arousal"]
    assert pooled["spearman"] == pytest.approx(0.9)
    assert ev.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert ev.spearman([1, 1, 1], [1, 2, 3]) is None


def test_emotion_order_per_speaker():
    spk_a = [("anger", 0.8), ("happiness", 0.7), ("sadness", 0.2), ("boredom", 0.3), ("neutral", 0.5)]
    spk_b = [("angry", 0.4), ("happy", 0.6), ("calm", 0.5), ("sad", 0.1)]
    clips = [ev.score_clip(_record(None, v), _entry(f"emodb/03{i}.wav", emotion=e, speaker="03"), Path("."))
             for i, (e, v) in enumerate(spk_a)]
    clips += [ev.score_clip(_record(None, v), _entry(f"ravdess/{i}.wav", emotion=e, speaker="12"), Path("."))
              for i, (e, v) in enumerate(spk_b)]
    pooled = ev.pool(clips)["emotion_arousal"]
    by = {(s["dataset"], s["speaker"]): s for s in pooled["speakers"]}
    assert by[("emodb", "03")]["order_holds"] is True
    assert by[("emodb", "03")]["mean_arousal"]["angry"] == pytest.approx(0.8)
    assert by[("ravdess", "12")]["order_holds"] is False  # angry 0.4 < calm 0.5
    assert (pooled["order_holds"], pooled["speakers_judged"]) == (1, 2)


def test_unscored_without_paralinguistics_and_table_lines():
    from uas_pipeline.assembly import RecordDraft as Draft

    bare = Draft().build(ClipInfo(id="c", source="c.wav", duration_s=2.0, sample_rate=16000, channels=1))
    assert ev.score_clip(bare, _entry("x.wav", gender="male"), Path(".")) == {
        "unscored": "no paralinguistics in the record"}
    clip = ev.score_clip(_record("male", 0.7), _entry("emodb/03a01Wa.wav", gender="male", emotion="anger",
                                                      speaker="03"), Path("."))
    lines = ev.format_pooled(ev.pool([clip]))
    assert lines[0].startswith("gender accuracy: 100.0% of 1 clips")
    assert "gender male (ref male)" in ev.format_clip(clip)
