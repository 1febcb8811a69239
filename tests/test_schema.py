"""The UAS record: canonical JSON, JSON Schema ↔ pydantic agreement, cross-field rules, validation.

Pure data tests (no audio, no models, no Ray). Record builders live in ``fixtures_records``.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from uas_pipeline.schema import (
    EMOTIONS,
    UASRecord,
    json_schema,
    json_schema_text,
    to_canonical_json,
)
from uas_pipeline.validate import record_problems

from .fixtures_records import (
    canonical_dumps,
    minimal_record,
    minimal_record_dict,
    reorder_keys,
    rich_record,
    rich_record_dict,
    v10_record_dict,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "schemas" / "uas.schema.json"

GOOD = {"rich": rich_record_dict, "minimal": minimal_record_dict}

DELETE = object()  # sentinel: remove the key at this path


VALIDATOR = Draft202012Validator(json_schema())  # shared: building it costs ~30 ms


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return VALIDATOR


def schema_errors(validator: Draft202012Validator, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def mutate(doc: dict[str, Any], changes: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    """A deep copy of ``doc`` with each ``(path, value)`` applied; ``value`` DELETE removes the key."""
    doc = copy.deepcopy(doc)
    for path, value in changes:
        node = doc
        for part in path[:-1]:
            node = node[part]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return doc


SEG0 = ("transcription", "segments", 0)
SEG1 = ("transcription", "segments", 1)
SPK0 = ("paralinguistics", "speakers", 0)
PSEG0 = ("paralinguistics", "segments", 0)
EV0 = ("non_linguistic_events", 0)
STAGES = ("provenance", "stages")


# --- the committed JSON Schema -------------------------------------------------------------------


def test_committed_schema_is_up_to_date():
    assert SCHEMA_FILE.is_file(), "schemas/uas.schema.json is missing"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "schemas/uas.schema.json differs from the pydantic models; regenerate it with "
        "`uas-pipeline schema --output schemas/uas.schema.json` "
        "(or write uas_pipeline.schema.json_schema_text() to it) and commit the result"
    )


def test_schema_is_valid_draft_2020_12():
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == [
        "uas_version",
        "clip",
        "transcription",
        "paralinguistics",
        "non_linguistic_events",
        "provenance",
    ]
    assert schema["additionalProperties"] is False


# --- canonical JSON ------------------------------------------------------------------------------

SPEC_KEYS = {
    "top": ["uas_version", "clip", "transcription", "paralinguistics", "non_linguistic_events", "provenance"],
    "clip": ["id", "source", "duration_s", "sample_rate", "channels", "offset_s"],
    "transcription": ["text", "language", "language_confidence", "segments", "rejected"],
    "segment": ["start", "end", "speaker", "text", "confidence", "words"],
    "word": ["word", "start", "end", "confidence"],
    "paralinguistics": ["speakers", "segments", "recording"],
    "speaker": [
        "id",
        "speech_duration_s",
        "gender",
        "age",
        "emotion",
        "pitch",
        "speaking_rate",
        "loudness",
        "arousal",
        "accent",
        "voice_quality",
    ],
    "para_segment": ["start", "end", "speaker", "emotion", "pitch", "speaking_rate", "loudness", "arousal",
                     "accent", "voice_quality"],
    "recording": ["num_speakers", "speech_ratio", "overlap_ratio", "snr_db", "reverberation", "quality",
                  "background"],
    "gender": ["label", "confidence"],
    "age": ["label", "years", "confidence"],
    "emotion": ["label", "confidence", "scores"],
    "pitch": ["mean_hz", "std_hz", "level"],
    "speaking_rate": ["words_per_s", "syllables_per_s", "level"],
    "loudness": ["lufs", "level"],
    "arousal": ["value", "level"],
    "event": ["label", "start", "end", "confidence", "source_label", "ontology_id", "kind"],
    "provenance": ["pipeline_version", "recipe_hash", "created_at", "stages", "fields"],
    "stage": ["backend", "model", "model_version", "params", "status"],
}


def test_canonical_json_golden():
    """The rich fixture is written in canonical form, so its plain compact dump is the expected bytes."""
    assert rich_record().to_json() == canonical_dumps(rich_record_dict())
    assert minimal_record().to_json() == canonical_dumps(minimal_record_dict())
    assert to_canonical_json(rich_record()) == rich_record().to_json()


def test_key_order_follows_spec():
    doc = json.loads(rich_record().to_json())
    assert list(doc) == SPEC_KEYS["top"]
    assert list(doc["clip"]) == SPEC_KEYS["clip"]
    assert list(doc["transcription"]) == SPEC_KEYS["transcription"]
    for seg in doc["transcription"]["segments"]:
        assert list(seg) == SPEC_KEYS["segment"]
        for w in seg["words"]:
            assert list(w) == SPEC_KEYS["word"]
    para = doc["paralinguistics"]
    assert list(para) == SPEC_KEYS["paralinguistics"]
    for part, key in [("speakers", "speaker"), ("segments", "para_segment")]:
        for item in para[part]:
            assert list(item) == SPEC_KEYS[key]
            for attr in ("emotion", "pitch", "speaking_rate", "loudness", "arousal"):
                assert list(item[attr]) == SPEC_KEYS[attr]
    for spk in para["speakers"]:
        assert list(spk["gender"]) == SPEC_KEYS["gender"]
        assert list(spk["age"]) == SPEC_KEYS["age"]
    assert list(para["recording"]) == SPEC_KEYS["recording"]
    for ev in doc["non_linguistic_events"]:
        assert list(ev) == SPEC_KEYS["event"]
    assert list(doc["provenance"]) == SPEC_KEYS["provenance"]
    for stage in doc["provenance"]["stages"].values():
        assert list(stage) == SPEC_KEYS["stage"]
    # free-form mappings are ordered deterministically
    assert list(doc["provenance"]["stages"]) == sorted(doc["provenance"]["stages"])
    for stage in doc["provenance"]["stages"].values():
        assert list(stage["params"]) == sorted(stage["params"])
    scores = para["speakers"][0]["emotion"]["scores"]
    assert list(scores) == [e for e in EMOTIONS if e in scores]


@pytest.mark.parametrize("how", ["reverse", "shuffle"])
@pytest.mark.parametrize("name", sorted(GOOD))
def test_canonical_json_independent_of_insertion_order(name, how):
    expected = UASRecord.model_validate(GOOD[name]()).to_json()
    for seed in range(3):
        shuffled = reorder_keys(GOOD[name](), how, seed)
        assert UASRecord.model_validate(shuffled).to_json() == expected
        assert UASRecord.from_json(json.dumps(shuffled)).to_json() == expected


def test_canonical_json_deterministic_across_builds():
    assert rich_record().to_json() == rich_record().to_json()
    assert rich_record() == rich_record()


@pytest.mark.parametrize("name", sorted(GOOD))
def test_round_trip(name):
    record = UASRecord.model_validate(GOOD[name]())
    text = record.to_json()
    again = UASRecord.from_json(text)
    assert again == record
    assert again.to_json() == text
    assert UASRecord.from_json(text.encode("utf-8")) == record


def test_floats_are_rounded():
    doc = rich_record_dict()
    doc = mutate(
        doc,
        [
            (("clip", "duration_s"), 12.50049),
            (("clip", "offset_s"), 30.00012),
            ((*SEG0, "start"), 0.50012),
            ((*SEG0, "words", 0, "start"), 0.5004),
            ((*SEG0, "confidence"), 0.912345),
            (("transcription", "language_confidence"), 0.87314999),
            ((*SPK0, "pitch", "mean_hz"), 210.123456),
            ((*SPK0, "emotion", "scores", "happy"), 0.7199999),
            (("paralinguistics", "recording", "snr_db"), 18.37549),
            ((*EV0, "end"), 2.9996),
            ((*STAGES, "asr", "params", "temperature"), [0.123456789, 0.2]),
        ],
    )
    record = UASRecord.model_validate(doc)
    out = json.loads(record.to_json())
    assert out["clip"]["duration_s"] == 12.5
    assert out["clip"]["offset_s"] == 30.0
    assert out["transcription"]["segments"][0]["start"] == 0.5  # times to ms
    assert out["transcription"]["segments"][0]["words"][0]["start"] == 0.5
    assert out["transcription"]["segments"][0]["confidence"] == 0.9123  # probabilities to 1e-4
    assert out["transcription"]["language_confidence"] == 0.8731
    assert out["paralinguistics"]["speakers"][0]["pitch"]["mean_hz"] == 210.123  # measures to 1e-3
    assert out["paralinguistics"]["speakers"][0]["emotion"]["scores"]["happy"] == 0.72
    assert out["paralinguistics"]["recording"]["snr_db"] == 18.375
    assert out["non_linguistic_events"][0]["end"] == 3.0
    assert out["provenance"]["stages"]["asr"]["params"]["temperature"] == [0.123457, 0.2]
    # rounding is idempotent: the rounded record equals its own round trip
    assert UASRecord.from_json(record.to_json()) == record


def test_utf8_not_escaped():
    text = rich_record().to_json()
    assert "Grüße aus München." in text
    assert "日本語も大丈夫です" in text
    assert "\\u" not in text
    assert text.encode("utf-8").decode("utf-8") == text


@pytest.mark.parametrize(
    "path",
    [
        ("clip", "duration_s"),
        ("clip", "offset_s"),
        ("transcription", "language_confidence"),
        (*SEG0, "start"),
        (*SEG0, "confidence"),
        (*SEG0, "words", 1, "end"),
        (*SPK0, "speech_duration_s"),
        (*SPK0, "age", "years"),
        (*SPK0, "emotion", "scores", "happy"),
        (*SPK0, "pitch", "mean_hz"),
        (*SPK0, "loudness", "lufs"),
        (*PSEG0, "arousal", "value"),
        ("paralinguistics", "recording", "snr_db"),
        ("paralinguistics", "recording", "reverberation", "rt60_s"),
        (*EV0, "confidence"),
        (*STAGES, "events", "params", "threshold"),
    ],
    ids=lambda p: ".".join(map(str, p)),
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_rejected(path, bad):
    doc = mutate(rich_record_dict(), [(path, bad)])
    with pytest.raises(ValidationError):
        UASRecord.model_validate(doc)
    # Python's json module writes NaN/Infinity tokens; the JSON parser path must reject them too
    with pytest.raises(ValidationError):
        UASRecord.model_validate_json(json.dumps(doc))
    assert record_problems(json.dumps(doc), VALIDATOR)


def test_non_finite_rejected_on_assignment_and_serialization():
    record = rich_record()
    with pytest.raises(ValidationError):
        record.clip.duration_s = math.nan
    # a value smuggled past validation (model_construct) still cannot reach canonical JSON
    record.clip = type(record.clip).model_construct(**{**record.clip.model_dump(), "duration_s": math.inf})
    with pytest.raises(ValueError):
        record.to_json()


@pytest.mark.parametrize(
    "path, value",
    [
        (("clip", "offset_s"), -0.0),
        ((*SEG0, "start"), -0.0),
        ((*PSEG0, "start"), -0.0),
        ((*EV0, "start"), -0.0),
        ((*SPK0, "speaking_rate", "words_per_s"), -0.0),
        (("paralinguistics", "recording", "overlap_ratio"), -0.0),
        ((*SPK0, "loudness", "lufs"), -0.0),
        ((*SPK0, "loudness", "lufs"), -0.0001),  # rounds to -0.0
        (("paralinguistics", "recording", "snr_db"), -0.0),
        (("paralinguistics", "recording", "snr_db"), -0.0004),
        ((*STAGES, "events", "params", "threshold"), -0.0),
        ((*STAGES, "events", "params", "threshold"), -0.0000001),  # params: 1e-6
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else repr(v),
)
def test_no_negative_zero(path, value):
    doc = mutate(rich_record_dict(), [(path, value)])
    text = UASRecord.model_validate(doc).to_json()
    assert "-0.0" not in text and ":-0," not in text and ":-0}" not in text


@pytest.mark.parametrize("years, expected", [(-0.0, "0.0"), (34.123456789, "34.123")], ids=["-0.0", "digits"])
def test_age_years_canonical(years, expected):
    doc = mutate(rich_record_dict(), [((*SPK0, "age", "years"), years)])
    text = UASRecord.model_validate(doc).to_json()
    assert f'"years":{expected},' in text


# --- JSON Schema ↔ pydantic: field-level rules -----------------------------------------------------

FIELD_MUTATIONS = [
    pytest.param([(("uas_version",), DELETE)], id="missing-uas_version"),
    pytest.param([(("provenance",), DELETE)], id="missing-provenance"),
    pytest.param([(("clip", "duration_s"), DELETE)], id="missing-clip.duration_s"),
    pytest.param([((*SEG0, "words"), DELETE)], id="missing-segment.words"),
    pytest.param([((*SPK0, "arousal"), DELETE)], id="missing-speaker.arousal"),
    pytest.param([((*STAGES, "asr", "status"), DELETE)], id="missing-stage.status"),
    pytest.param([(("notes",), "x")], id="extra-top-level-key"),
    pytest.param([((*SEG0, "words", 0, "prob"), 0.5)], id="extra-word-key"),
    pytest.param([(("paralinguistics", "recording", "music_ratio"), 0.1)], id="extra-recording-key"),
    pytest.param([(("clip", "id"), 5)], id="type-clip.id-int"),
    pytest.param([(("clip", "id"), "")], id="empty-clip.id"),
    pytest.param([(("clip", "sample_rate"), 16000.5)], id="type-sample_rate-float"),
    pytest.param([(("transcription",), "hello")], id="type-transcription-str"),
    pytest.param([(("transcription", "segments"), {})], id="type-segments-object"),
    pytest.param([(("non_linguistic_events",), {})], id="type-events-object"),
    pytest.param([((*SEG0, "text"), None)], id="type-segment.text-null"),
    pytest.param([(("provenance", "stages"), [])], id="type-stages-list"),
    pytest.param([((*EV0, "confidence"), None)], id="event.confidence-null"),
    pytest.param([((*SEG0, "confidence"), 1.5)], id="confidence-1.5"),
    pytest.param([((*SPK0, "emotion", "scores", "happy"), 1.2)], id="emotion-score-1.2"),
    pytest.param([(("paralinguistics", "recording", "speech_ratio"), -0.1)], id="speech_ratio-negative"),
    pytest.param([((*PSEG0, "arousal", "value"), 1.5)], id="arousal-1.5"),
    pytest.param([((*SEG0, "words", 0, "start"), -0.5)], id="negative-time-word"),
    pytest.param([((*EV0, "start"), -1.0)], id="negative-time-event"),
    pytest.param([(("clip", "offset_s"), -1.0)], id="negative-offset"),
    pytest.param([(("clip", "duration_s"), 0)], id="duration-0"),
    pytest.param([(("clip", "duration_s"), -2.0)], id="duration-negative"),
    pytest.param([(("clip", "duration_s"), "NaN")], id="duration-NaN-string"),
    pytest.param([(("clip", "duration_s"), "Infinity")], id="duration-Infinity-string"),
    pytest.param([(("clip", "sample_rate"), 0)], id="sample_rate-0"),
    pytest.param([(("clip", "channels"), 0)], id="channels-0"),
    pytest.param([(("transcription", "language"), "eng")], id="language-eng"),
    pytest.param([(("transcription", "language"), "EN")], id="language-uppercase"),
    pytest.param([((*SEG0, "speaker"), "spk1")], id="segment-speaker-spk1"),
    pytest.param([((*SPK0, "id"), "SPEAKER_0")], id="speaker-id-one-digit"),
    pytest.param([((*SPK0, "emotion", "label"), "excited")], id="unknown-emotion"),
    pytest.param([((*SPK0, "emotion", "scores", "excited"), 0.1)], id="unknown-emotion-score-key"),
    pytest.param([((*SPK0, "gender", "label"), "robot")], id="unknown-gender"),
    pytest.param([((*SPK0, "age", "label"), "toddler")], id="unknown-age-group"),
    pytest.param([((*SPK0, "age", "years"), 200)], id="age-years-200"),
    pytest.param([((*SPK0, "pitch", "level"), "extreme")], id="unknown-level"),
    pytest.param([((*SPK0, "pitch", "mean_hz"), 0)], id="pitch-0hz"),
    pytest.param([((*SPK0, "loudness", "lufs"), 3.0)], id="lufs-positive"),
    pytest.param([(("paralinguistics", "recording", "num_speakers"), -1)], id="num_speakers-negative"),
    pytest.param([((*EV0, "label"), "barking")], id="unknown-event-label"),
    pytest.param([((*EV0, "label"), "speech")], id="event-label-speech"),
    pytest.param([((*EV0, "label"), "Music")], id="event-label-display-name"),
    pytest.param([((*EV0, "source_label"), "")], id="empty-source_label"),
    pytest.param([((*EV0, "ontology_id"), "m/04rlf")], id="bad-ontology_id"),
    pytest.param([(("uas_version",), "2.0")], id="uas_version-2.0"),
    pytest.param([(("uas_version",), 1.0)], id="uas_version-number"),
    pytest.param([((*STAGES, "asr", "status"), "done")], id="status-done"),
    pytest.param([((*STAGES, "vad", "status"), "skipped")], id="status-skipped-no-reason"),
    pytest.param([((*STAGES, "asr", "params"), None)], id="params-null"),
    pytest.param([(("provenance", "created_at"), "yesterday")], id="created_at-yesterday"),
    pytest.param([(("provenance", "created_at"), "2024-05-01 12:00:00")], id="created_at-no-T-no-tz"),
    pytest.param([(("provenance", "recipe_hash"), "XYZ")], id="recipe_hash-bad"),
    pytest.param([(("provenance", "pipeline_version"), "")], id="pipeline_version-empty"),
    # v1.1 additions
    pytest.param([(("transcription", "rejected"), DELETE)], id="missing-transcription.rejected"),
    pytest.param([(("transcription", "rejected", 0, "reason"), "")], id="rejected-empty-reason"),
    pytest.param([(("transcription", "rejected", 0, "start"), -1.0)], id="rejected-negative-start"),
    pytest.param([((*SPK0, "accent", "label"), "")], id="accent-empty-label"),
    pytest.param([((*SPK0, "voice_quality", "jitter"), -0.1)], id="jitter-negative"),
    pytest.param([((*SPK0, "voice_quality"), DELETE)], id="missing-speaker.voice_quality"),
    pytest.param([(("paralinguistics", "recording", "quality", "ovrl"), 5.5)], id="mos-above-5"),
    pytest.param([(("paralinguistics", "recording", "quality", "sig"), 0.5)], id="mos-below-1"),
    pytest.param([(("paralinguistics", "recording", "background"), ["speech"])], id="background-speech"),
    pytest.param([((*EV0, "kind"), "ambient")], id="event-kind-unknown"),
    pytest.param([((*EV0, "kind"), DELETE)], id="missing-event.kind"),
    pytest.param([(("provenance", "fields"), [])], id="fields-list"),
    pytest.param([(("provenance", "fields", "transcription"), 3)], id="fields-value-int"),
    pytest.param([(("uas_version",), "1.0")], id="uas_version-1.0-with-v1.1-keys"),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_records_accepted_by_both(validator, name):
    doc = GOOD[name]()
    assert schema_errors(validator, doc) == []
    UASRecord.model_validate_json(json.dumps(doc))
    assert record_problems(canonical_dumps(doc), VALIDATOR) == []


@pytest.mark.parametrize("changes", FIELD_MUTATIONS)
def test_field_mutation_rejected_by_both(validator, changes):
    doc = mutate(rich_record_dict(), changes)
    text = json.dumps(doc, ensure_ascii=False)
    assert schema_errors(validator, doc), "JSON Schema accepted an invalid record"
    with pytest.raises(ValidationError):
        UASRecord.model_validate_json(text)
    assert record_problems(text, VALIDATOR)


@pytest.mark.parametrize(
    "path, value",
    [
        (("clip", "duration_s"), "12.5"),
        (("clip", "sample_rate"), "44100"),
        (("clip", "channels"), True),
        (("transcription", "language_confidence"), "0.5"),
    ],
    ids=["duration-str", "sample_rate-str", "channels-bool", "confidence-str"],
)
def test_lax_coercions_rejected_by_pydantic(validator, path, value):
    doc = mutate(rich_record_dict(), [(path, value)])
    assert schema_errors(validator, doc)
    assert record_problems(json.dumps(doc), VALIDATOR)  # the combined check already catches it
    with pytest.raises(ValidationError):
        UASRecord.from_json(json.dumps(doc))


# --- cross-field rules: pydantic only ------------------------------------------------------------
#
# JSON Schema validates each value on its own; it cannot compare two values (start < end, a word
# inside its segment, an end against clip.duration_s, a speaker reference, text = joined segments,
# list order, uniqueness of a property across list items, a count against a list length, a real
# calendar date). These rules live in the pydantic model validators, and `uas-pipeline validate`
# (record_problems) runs both checks. Each case asserts the JSON Schema ACCEPTS the document, so the
# split between the two layers is pinned: if the schema learns a rule, move the case to FIELD_MUTATIONS.

_SWAPPED_TEXT = "日本語も大丈夫です Grüße aus München."


def _swap(doc: dict[str, Any], *path: Any) -> dict[str, Any]:
    node = doc
    for part in path:
        node = node[part]
    node[0], node[1] = node[1], node[0]
    return doc


CROSS_FIELD = [
    pytest.param(
        lambda d: mutate(d, [((*SEG0, "end"), 0.5), ((*SEG0, "words"), None)]),
        "must be < end",
        id="segment-start==end",
    ),
    pytest.param(
        lambda d: mutate(d, [((*SEG0, "words", 1, "start"), 1.4), ((*SEG0, "words", 1, "end"), 1.1)]),
        "must be < end",
        id="word-start>end",
    ),
    pytest.param(lambda d: mutate(d, [((*EV0, "end"), 0.0)]), "must be < end", id="event-start==end"),
    pytest.param(
        lambda d: mutate(d, [((*PSEG0, "start"), 4.25), ((*PSEG0, "end"), 0.5)]),
        "must be < end",
        id="para-segment-start>end",
    ),
    pytest.param(
        lambda d: mutate(d, [((*SEG0, "words", 2, "end"), 4.3)]),
        "outside its segment",
        id="word-after-segment",
    ),
    pytest.param(
        lambda d: mutate(d, [((*SEG1, "words", 0, "start"), 4.9)]),
        "outside its segment",
        id="word-before-segment",
    ),
    pytest.param(
        lambda d: mutate(d, [((*EV0, "label"), "dog"), (("non_linguistic_events", 2, "end"), 12.502)]),
        "after the clip",
        id="event-past-duration",
    ),
    pytest.param(
        lambda d: mutate(d, [(("paralinguistics", "segments", 1, "end"), 13.0)]),
        "after the clip",
        id="para-segment-past-duration",
    ),
    pytest.param(
        lambda d: mutate(
            d,
            [
                ((*SEG1, "end"), 12.6),
                ((*SEG1, "words", 1, "end"), 12.6),
            ],
        ),
        "after the clip",
        id="segment-and-word-past-duration",
    ),
    pytest.param(
        lambda d: mutate(d, [((*SEG1, "speaker"), "SPEAKER_02")]),
        "missing from paralinguistics.speakers",
        id="transcription-speaker-undeclared",
    ),
    pytest.param(
        lambda d: mutate(d, [(("paralinguistics",), None)]),
        "missing from paralinguistics.speakers",
        id="transcription-speakers-without-paralinguistics",
    ),
    pytest.param(
        lambda d: mutate(
            d, [(("paralinguistics", "speakers"), None), (("paralinguistics", "recording"), None)]
        ),
        "missing from paralinguistics.speakers",
        id="transcription-speakers-with-null-speakers",
    ),
    pytest.param(
        lambda d: mutate(d, [(("paralinguistics", "segments", 1, "speaker"), "SPEAKER_07")]),
        "undeclared speakers",
        id="para-segment-speaker-undeclared",
    ),
    pytest.param(
        lambda d: mutate(d, [(("transcription", "text"), "Grüße aus München.")]),
        "joined",
        id="text-not-joined-segments",
    ),
    pytest.param(
        lambda d: mutate(d, [(("transcription", "text"), "Grüße aus München.  日本語も大丈夫です")]),
        "joined",
        id="text-double-space",
    ),
    pytest.param(
        lambda d: mutate(_swap(d, "transcription", "segments"), [(("transcription", "text"), _SWAPPED_TEXT)]),
        "time order",
        id="segments-out-of-order",
    ),
    pytest.param(
        lambda d: mutate(
            d,
            [
                (("paralinguistics", "speakers", 1, "id"), "SPEAKER_00"),
                ((*SEG1, "speaker"), "SPEAKER_00"),
                (("paralinguistics", "segments", 1, "speaker"), "SPEAKER_00"),
            ],
        ),
        "unique",
        id="duplicate-speaker-ids",
    ),
    pytest.param(
        lambda d: mutate(d, [(("paralinguistics", "recording", "num_speakers"), 3)]),
        "num_speakers",
        id="num_speakers-mismatch",
    ),
    pytest.param(lambda d: _swap(d, "non_linguistic_events"), "sorted", id="events-not-sorted"),
    pytest.param(
        lambda d: mutate(
            d,
            [(("non_linguistic_events", 1, "start"), 0.0), (("non_linguistic_events", 1, "end"), 3.0)],
        ),
        "sorted",
        id="events-same-span-label-order",
    ),
    pytest.param(
        lambda d: mutate(d, [(("provenance", "created_at"), "2024-13-45T00:00:00Z")]),
        "month must be",
        id="created_at-not-a-date",
    ),
]


@pytest.mark.parametrize("build, match", CROSS_FIELD)
def test_cross_field_rule_pydantic_only(validator, build, match):
    doc = build(rich_record_dict())
    assert schema_errors(validator, doc) == [], (
        "JSON Schema now expresses this rule: move it to FIELD_MUTATIONS"
    )
    with pytest.raises(ValidationError, match=match):
        UASRecord.model_validate_json(json.dumps(doc))
    problems = record_problems(canonical_dumps(doc), VALIDATOR)
    assert problems and all(p.startswith("rule: ") for p in problems), problems


@pytest.mark.parametrize("end", [12.5, 12.5004, 12.501], ids=["at-end", "rounds-to-end", "1ms-over"])
def test_span_within_tolerance_of_duration_accepted(end):
    doc = mutate(rich_record_dict(), [(("non_linguistic_events", 2, "end"), end)])
    record = UASRecord.model_validate(doc)
    assert record_problems(record.to_json(), VALIDATOR) == []


def test_tolerance_is_exact_for_all_durations():
    doc = minimal_record_dict()
    doc["clip"]["duration_s"] = 1.001
    doc["non_linguistic_events"] = [
        {
            "label": "music",
            "start": 0.0,
            "end": 1.002,
            "confidence": 0.5,
            "source_label": "Music",
            "ontology_id": None,
            "kind": None,
        }
    ]
    UASRecord.model_validate(doc)


def test_empty_lists_mean_annotated_nothing_found():
    doc = mutate(
        rich_record_dict(),
        [
            (("transcription",), {"text": "", "language": None, "language_confidence": None, "segments": [],
                                  "rejected": []}),
            (("non_linguistic_events",), []),
            (("paralinguistics",), {"speakers": [], "segments": [], "recording": None}),
        ],
    )
    record = UASRecord.model_validate(doc)
    out = json.loads(record.to_json())
    assert out["non_linguistic_events"] == []
    assert out["transcription"]["segments"] == []
    assert out["transcription"]["rejected"] == []
    assert record_problems(record.to_json(), VALIDATOR) == []


# --- record_problems: the combined check ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOOD))
def test_record_problems_accepts_canonical(name):
    assert record_problems(UASRecord.model_validate(GOOD[name]()).to_json()) == []  # default validator


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda d: json.dumps(d, ensure_ascii=False, indent=2), id="pretty-printed"),
        pytest.param(lambda d: json.dumps(d, ensure_ascii=False), id="default-separators"),
        pytest.param(lambda d: json.dumps(d, separators=(",", ":")), id="ascii-escaped"),
        pytest.param(lambda d: canonical_dumps(reorder_keys(d, "reverse")), id="keys-reversed"),
        pytest.param(lambda d: canonical_dumps(d) + "\n", id="trailing-newline"),
        pytest.param(
            lambda d: canonical_dumps(mutate(d, [(("clip", "duration_s"), 12.5001)])), id="unrounded-float"
        ),
        pytest.param(
            lambda d: canonical_dumps(
                mutate(d, [(STAGES, dict(reversed(d["provenance"]["stages"].items())))])
            ),
            id="stages-unsorted",
        ),
    ],
)
def test_record_problems_flags_non_canonical_text(render):
    text = render(rich_record_dict())
    problems = record_problems(text, VALIDATOR)
    assert any(p.startswith("not canonical") for p in problems), problems


def test_record_problems_not_json():
    assert record_problems("{not json")[0].startswith("not JSON")
    assert record_problems("", VALIDATOR)


def test_record_problems_reports_schema_and_rule_layers():
    schema_only = json.dumps(mutate(rich_record_dict(), [((*EV0, "label"), "speech")]))
    # the nullable list is an anyOf, so the schema error points at the list, pydantic at the label
    problems = record_problems(schema_only, VALIDATOR)
    assert any(p.startswith("schema: non_linguistic_events") for p in problems), problems
    assert any(p.startswith("rule: non_linguistic_events.0.label") for p in problems), problems
    rule_only = canonical_dumps(
        mutate(rich_record_dict(), [(("paralinguistics", "recording", "num_speakers"), 5)])
    )
    assert [p.split(":")[0] for p in record_problems(rule_only, VALIDATOR)] == ["rule"]


# --- v1.0 records stay valid ---------------------------------------------------------------------


def test_v10_record_validates_and_round_trips():
    text = canonical_dumps(v10_record_dict())
    assert record_problems(text) == []
    record = UASRecord.from_json(text)
    assert record.uas_version == "1.0"
    assert record.transcription.rejected is None and record.non_linguistic_events[0].kind is None
    assert record.to_json() == text  # written back exactly as 1.0 defined it


def test_v10_record_rejects_v11_keys():
    doc = v10_record_dict()
    doc["non_linguistic_events"][0]["kind"] = "event"
    text = canonical_dumps(doc)
    problems = record_problems(text)
    assert any(p.startswith("schema:") for p in problems)
    assert any("v1.1 field" in p for p in problems)


def test_v10_schema_is_frozen_and_packaged():
    packaged = json.loads((REPO / "uas_pipeline" / "schema" / "data" / "uas-1.0.schema.json").read_text())
    assert json.loads((REPO / "schemas" / "uas-1.0.schema.json").read_text()) == packaged
    assert json_schema("1.0") == packaged
    assert packaged["properties"]["uas_version"]["const"] == "1.0"
    assert json_schema()["properties"]["uas_version"]["const"] == "1.1"
