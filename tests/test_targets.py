"""Target views of UAS records (``uas_pipeline.targets``): pure data, no models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from uas_pipeline.schema import UASRecord
from uas_pipeline.targets import (
    CAPTION_TEMPLATE_VERSION,
    EVENT_TIME_STEP_S,
    JSON_VIEWS,
    VIEWS,
    check_view_output,
    compact_json_schema,
    compact_schema_text,
    render_view,
    supported_views,
    target_views,
    view_json_schema,
)

from .fixtures_records import minimal_record, minimal_record_dict, reorder_keys, rich_record, rich_record_dict

REPO = Path(__file__).resolve().parents[1]
COMPACT_SCHEMA_FILE = REPO / "schemas" / "compact-target.schema.json"


def demo_like_record() -> UASRecord:
    """What the demo recipe writes today: a transcription and the speech ratio, nothing else."""
    doc = rich_record_dict()
    doc["paralinguistics"] = {
        "speakers": None, "segments": None,
        "recording": {"num_speakers": None, "speech_ratio": 0.64, "overlap_ratio": None, "snr_db": None,
                      "reverberation": None, "quality": None, "background": None},
    }
    for seg in doc["transcription"]["segments"]:
        seg["speaker"] = None
    doc["non_linguistic_events"] = None
    return UASRecord.model_validate(doc)


def test_committed_compact_schema_matches_the_models():
    assert COMPACT_SCHEMA_FILE.read_text() == compact_schema_text(), (
        "schemas/compact-target.schema.json is stale: run `python -m uas_pipeline.targets "
        "--output schemas/compact-target.schema.json`"
    )


def test_rich_record_renders_every_view_and_each_validates_against_its_schema():
    record = rich_record()
    views = target_views(record)
    assert tuple(views) == VIEWS
    for name, view in views.items():
        text = view.text()
        check = check_view_output(name, text)
        assert check.valid, (name, check.error)
        doc = json.loads(text) if name in JSON_VIEWS else text
        errors = list(Draft202012Validator(view_json_schema(name)).iter_errors(doc))
        assert not errors, (name, [e.message for e in errors][:3])


def test_compact_view_values():
    compact = render_view(rich_record(), "compact").value
    assert list(compact) == ["text", "language", "speakers", "events", "recording"]
    assert compact["text"] == "Grüße aus München. 日本語も大丈夫です" and compact["language"] == "de"
    s0, s1 = compact["speakers"]
    assert s0 == {"id": "SPEAKER_00", "gender": "female", "age": "adult", "emotion": "happy", "accent": "us",
                  "pitch": "medium", "speaking_rate": "high", "loudness": "medium", "arousal": "high",
                  "voice_quality": "medium"}
    assert (s1["gender"], s1["age"], s1["emotion"]) == ("male", "senior", "neutral")
    # Coarse grid: start rounded down, end up, bounded by the clip (12.5 s).
    assert compact["events"] == [
        {"label": "music", "start": 0.0, "end": 3.0, "kind": "background"},
        {"label": "laughter", "start": 9.5, "end": 11.0, "kind": "event"},
        {"label": "dog", "start": 11.0, "end": 12.5, "kind": None},
    ]
    for e in compact["events"]:
        assert (e["start"] / EVENT_TIME_STEP_S).is_integer()
    rec = compact["recording"]
    assert rec["speech_ratio"] == 0.7 and rec["overlap_ratio"] == 0.0 and rec["snr_db"] == 18
    assert rec["reverberation"] == "low" and rec["background"] == ["music"] and rec["num_speakers"] == 2
    assert 3.2 <= rec["quality"] <= 3.3


def test_views_are_deterministic_whatever_the_input_key_order():
    a = target_views(rich_record())
    b = target_views(UASRecord.model_validate(reorder_keys(rich_record_dict(), "shuffle", seed=3)))
    assert {k: v.text() for k, v in a.items()} == {k: v.text() for k, v in b.items()}
    compact = a["compact"].text()
    assert " " not in compact.replace("Grüße aus München. ", "")  # no whitespace but the text's own
    assert "Grüße" in compact  # UTF-8, not \u escapes


def test_records_with_null_parts_render_only_what_they_support():
    assert supported_views(minimal_record()) == ()
    assert all(render_view(minimal_record(), v) is None for v in VIEWS)

    demo = demo_like_record()
    assert supported_views(demo) == ("full", "compact", "asr", "paralinguistics", "caption")
    assert render_view(demo, "events") is None
    compact = render_view(demo, "compact").value
    assert compact["speakers"] is None and compact["events"] is None  # not annotated: null, not []
    assert compact["recording"]["speech_ratio"] == 0.6
    assert check_view_output("compact", render_view(demo, "compact").text()).valid

    only_events = minimal_record_dict()
    only_events["non_linguistic_events"] = []
    rec = UASRecord.model_validate(only_events)
    assert supported_views(rec) == ("full", "compact", "events", "caption")
    assert render_view(rec, "compact").value == {"text": None, "language": None, "speakers": None, "events": [],
                                                 "recording": None}
    assert render_view(rec, "events").value == {"non_linguistic_events": []}


def test_full_view_drops_provenance_and_clip_identity():
    full = render_view(rich_record(), "full").value
    assert list(full) == ["clip", "transcription", "paralinguistics", "non_linguistic_events"]
    assert full["clip"] == {"duration_s": 12.5}
    assert full["transcription"] == rich_record_dict()["transcription"]
    assert "provenance" not in json.dumps(full)


def test_caption_describes_what_is_annotated_and_nothing_else():
    cap = render_view(rich_record(), "caption").value
    assert CAPTION_TEMPLATE_VERSION == "caption-v1"
    assert cap.startswith("A 12.5-second recording with two speakers.")
    for phrase in ("female adult", "sounds happy", "male senior", "German", "Grüße aus München.",
                   "laughter (9.8–10.6 s)", "music (0.0–3.0 s, background)", "68%", "18 dB", "quality is 3.2 of 5"):
        assert phrase in cap, phrase
    demo_cap = render_view(demo_like_record(), "caption").value
    assert "speaker" not in demo_cap.lower().split("says")[0]  # speakers not annotated: not mentioned
    assert "Sounds" not in demo_cap and "No other sounds" not in demo_cap  # events not annotated
    no_events = rich_record_dict()
    no_events["non_linguistic_events"] = []
    assert "No other sounds are detected." in render_view(UASRecord.model_validate(no_events), "caption").value


@pytest.mark.parametrize(
    ("text", "parsed", "valid"),
    [
        ('{"text":"hi","language":"en","speakers":null,"events":null,"recording":null}', True, True),
        ('{"text":"hi","language":"en","speakers":null,"events":null}', True, False),  # key missing
        ('{"text":"hi","language":"en","speakers":[{"id":"SPEAKER_00","gender":"robot","age":null,'
         '"emotion":null,"accent":null,"pitch":null,"speaking_rate":null,"loudness":null,"arousal":null,'
         '"voice_quality":null}],"events":null,"recording":null}', True, False),  # label outside the vocabulary
        ('{"text":"hi","language":"en","speakers":null,"events":[{"label":"dog","start":2.0,"end":1.0,'
         '"kind":null}],"recording":null}', True, False),  # start after end
        ('{"text":"hi","language":"en","speakers":null,"events":null,"recording":{"num_speakers":"1",'
         '"speech_ratio":null,"overlap_ratio":null,"snr_db":null,"reverberation":null,"quality":null,'
         '"background":null}}', True, False),  # a string where a number belongs
        ('{"text":"hi","language":"en","speakers":null,"events":null,"recording":null,"extra":1}', True, False),
        ('{"text":"hi","language":"en","speakers":nu', False, False),  # truncated generation
        ("", False, False),
    ],
)
def test_check_view_output_on_compact(text, parsed, valid):
    check = check_view_output("compact", text)
    assert (check.parsed, check.valid) == (parsed, valid), check.error
    assert (check.error is None) == valid
    if parsed:  # the committed JSON Schema agrees with the pydantic verdict
        errors = list(Draft202012Validator(compact_json_schema()).iter_errors(json.loads(text)))
        if not valid and '"end":1.0' not in text:  # start < end is a model rule JSON Schema cannot express
            assert errors
        if valid:
            assert not errors


def test_caption_check_and_unknown_views():
    assert check_view_output("caption", "A short clip.").valid
    assert not check_view_output("caption", "  ").valid
    with pytest.raises(ValueError, match="unknown view"):
        render_view(rich_record(), "summary")
    with pytest.raises(ValueError, match="unknown view"):
        check_view_output("summary", "{}")
