"""Scoring events against references, with hand-made records."""

from __future__ import annotations

from pathlib import Path

import pytest

from uas_pipeline import eval_events
from uas_pipeline.assembly import RecordDraft
from uas_pipeline.clips import ClipInfo
from uas_pipeline.schema import Event

REF_DIR = Path("/nonexistent")


def record(events: list[tuple[str, float, float]] | None, duration: float = 10.0, clip_id: str = "c"):
    draft = RecordDraft()
    if events is not None:
        evs = [Event(label=lab, start=s, end=e, confidence=0.9, source_label=lab, ontology_id=None, kind="event")
               for lab, s, e in sorted(events, key=lambda t: (t[1], t[2], t[0]))]
        draft.apply("events", {"non_linguistic_events": evs, "paralinguistics.recording.background": []})
    return draft.build(ClipInfo(id=clip_id, source=f"{clip_id}.wav", duration_s=duration, sample_rate=16000,
                                channels=1))


def entry(category: str, labels: list[str] | None = None, events: list[dict] | None = None) -> dict:
    ref = {"labels": labels} if labels is not None else {"events": events}
    return {"path": "x.wav", "category": category, "reference": ref, "duration_s": 10.0}


def test_applies_to_clip_labels_of_event_categories_and_to_timed_events():
    assert eval_events.applies(entry("sound_event", ["dog"]))
    assert eval_events.applies(entry("audio_class", ["silence"]))
    assert eval_events.applies(entry("asr", events=[{"label": "music", "start": 0, "end": 1}]))
    assert not eval_events.applies({"category": "asr", "reference": {"text": "hello"}})
    assert not eval_events.applies({"category": "emotion", "reference": {"labels": ["angry"]}})


def test_reference_classes_are_found_through_the_mapping():
    got = eval_events.score_clip(record([("dog", 0, 1), ("vehicle", 2, 3)]), entry("sound_event", ["dog_bark"]),
                                 REF_DIR)
    assert got["references"] == [{"class": "dog_bark", "label": "dog", "accepted": ["dog"], "found": True,
                                  "category_found": True}]
    assert got["predicted"] == ["dog", "vehicle"] and got["false_labels"] == ["vehicle"]
    storm = eval_events.score_clip(record([("rain", 0, 5)]), entry("sound_event", ["thunderstorm"]), REF_DIR)
    assert storm["references"][0]["found"] and storm["references"][0]["label"] == "thunder"
    miss = eval_events.score_clip(record([("engine", 0, 4)]), entry("sound_event", ["drilling"]), REF_DIR)
    assert not miss["references"][0]["found"] and miss["references"][0]["category_found"]  # both machines
    unknown = eval_events.score_clip(record([]), entry("sound_event", ["zeppelin"]), REF_DIR)
    assert unknown["unmapped"] == ["zeppelin"] and unknown["references"] == []


def test_unannotated_records_are_unscored():
    assert eval_events.score_clip(record(None), entry("sound_event", ["dog"]), REF_DIR) == {
        "unscored": "events not annotated"}


def test_pool_hit_rate_music_silence_and_per_label_figures():
    clips = [
        eval_events.score_clip(record([("dog", 0, 1)], clip_id="a"), entry("sound_event", ["dog"]), REF_DIR),
        eval_events.score_clip(record([("music", 0, 4)], clip_id="b"), entry("sound_event", ["siren"]), REF_DIR),
        eval_events.score_clip(record([("music", 0, 5)], clip_id="c"),
                               entry("music", ["music", "trumpet", "jazz"]), REF_DIR),
        eval_events.score_clip(record([], clip_id="d"), entry("audio_class", ["music"]), REF_DIR),
        eval_events.score_clip(record([("music", 0, 1)], clip_id="e"), entry("audio_class", ["silence"]), REF_DIR),
        eval_events.score_clip(record([], clip_id="f"), entry("audio_class", ["speech"]), REF_DIR),
        {"unscored": "events not annotated"},
    ]
    pooled = eval_events.pool(clips)
    assert pooled["clips"] == 6
    assert pooled["sound_event"]["hits"] == 1 and pooled["sound_event"]["hit_rate"] == 0.5
    assert pooled["sound_event"]["missed"] == ["b"]
    assert pooled["music_clips"] == {"clips": 2, "with_music": 1, "rate": 0.5}
    assert pooled["silence_clips"] == {"clips": 1, "with_music": 1}
    music = pooled["per_label"]["music"]
    assert music["references"] == 2 and music["recall"] == 0.5  # trumpet/jazz count once with music
    assert music["predicted"] == 3 and music["precision"] == pytest.approx(1 / 3)
    assert pooled["per_label"]["siren"] == {"recall": 0.0, "references": 1, "precision": None, "predicted": 0}
    assert pooled["label_precision"] == pytest.approx(2 / 4)
    lines = eval_events.format_pooled(pooled)
    assert lines[0].startswith("sound_event clips with the reference label: 1/2")


def test_timing_against_timed_references():
    refs = [{"label": "music", "start": 2.0, "end": 6.0}, {"label": "dog_bark", "start": 7.0, "end": 7.5},
            {"label": "siren", "start": 8.0, "end": 9.0}]
    rec = record([("music", 1.8, 3.0), ("music", 3.5, 6.7), ("dog", 7.2, 7.4), ("siren", 0.0, 1.0)])
    got = eval_events.score_clip(rec, entry("concatenation", events=refs), REF_DIR)
    music, dog, siren = got["timing"]
    assert (music["onset_error_s"], music["offset_error_s"]) == (-0.2, 0.7)  # first onset, last offset
    assert (dog["onset_error_s"], dog["offset_error_s"]) == (0.2, -0.1)
    assert siren == {"class": "siren", "start": 8.0, "end": 9.0, "found": False}  # the 0-1 s siren overlaps nothing
    t = eval_events.pool([got])["timing"]
    assert t["events"] == 3 and t["found"] == 2 and t["within_tolerance"] == 1
    assert t["within_tolerance_rate"] == pytest.approx(1 / 3)
    assert t["onset_median_abs_s"] == pytest.approx(0.2)
