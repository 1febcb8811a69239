"""Pydantic v2 models of the Unified Audio Schema (UAS) record, version 1.

Every key of the spec is a required field (nullable where the spec allows ``null``), so the generated
JSON Schema and these models accept and reject the same documents field by field. Rules that span
fields (time order, bounds against the clip duration, speaker references, text = joined segments) are
checked by model validators; JSON Schema cannot express them, so ``uas-pipeline validate`` runs both.

Floats are rounded on validation (times to ms, probabilities to 1e-4, physical values to 1e-3), so a
record is equal to its own canonical-JSON round trip.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .vocab import EMOTIONS, EVENT_LABELS, AgeGroup, Emotion, Gender, Level

UAS_VERSION = "1.1"
SUPPORTED_VERSIONS = ("1.0", "1.1")
TIME_TOLERANCE_S = 0.001
_ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def _rounder(ndigits: int):
    def _round(value: float) -> float:
        rounded = round(float(value), ndigits)
        return 0.0 if rounded == 0 else rounded  # no "-0.0" in canonical JSON

    return _round


def _optional_rounder(ndigits: int):
    inner = _rounder(ndigits)
    return lambda value: None if value is None else inner(value)


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_rounder(3))]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), AfterValidator(_rounder(4))]
OptProbability = Annotated[
    float | None, Field(ge=0, le=1, allow_inf_nan=False), AfterValidator(_optional_rounder(4))
]
Measure = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_rounder(3))]
SpeakerId = Annotated[str, Field(pattern=r"^SPEAKER_\d{2,}$")]
EventLabel = Literal[EVENT_LABELS]  # type: ignore[valid-type]


def _sorted_json(value: Any) -> Any:
    """Sort mapping keys recursively so free-form dicts serialize deterministically."""
    if isinstance(value, dict):
        return {str(k): _sorted_json(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted_json(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite number in parameters")
        return _rounder(6)(value)
    return value


class UASModel(BaseModel):
    """Base of every UAS model: unknown keys are errors, NaN and infinity are rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


def _beyond(value: float, limit: float) -> bool:
    """``value > limit`` by more than the 1 ms tolerance (compared in whole ms, no float noise)."""
    diff = value - limit
    if not math.isfinite(diff):
        return diff > 0
    return round(diff * 1000) > round(TIME_TOLERANCE_S * 1000)


def _check_order(span: Any) -> Any:
    if not span.start < span.end:
        raise ValueError(f"start ({span.start}) must be < end ({span.end})")
    return span


class TimeSpan(UASModel):
    """A half-open interval in seconds from the clip start; ``start < end``."""

    start: Seconds
    end: Seconds

    _ordered = model_validator(mode="after")(_check_order)

    @property
    def duration(self) -> float:
        return self.end - self.start


# --- clip ------------------------------------------------------------------------------------------


class Clip(UASModel):
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    duration_s: Annotated[float, Field(gt=0, allow_inf_nan=False), AfterValidator(_rounder(3))]
    sample_rate: int = Field(gt=0)
    channels: int = Field(ge=1)
    offset_s: Annotated[
        float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))
    ] = None


# --- transcription ---------------------------------------------------------------------------------


class Word(UASModel):
    word: str
    start: Seconds
    end: Seconds
    confidence: OptProbability

    _ordered = model_validator(mode="after")(_check_order)


class Segment(TimeSpan):
    speaker: SpeakerId | None
    text: str
    confidence: OptProbability
    words: list[Word] | None

    @model_validator(mode="after")
    def _words_inside(self) -> Segment:
        for w in self.words or ():
            if _beyond(self.start, w.start) or _beyond(w.end, self.end):
                raise ValueError(f"word {w.word!r} [{w.start}, {w.end}] outside its segment")
        return self


def join_segment_texts(segments: list[Segment]) -> str:
    """The transcription text rule: stripped segment texts joined by one space, in time order."""
    return " ".join(t for t in (s.text.strip() for s in segments) if t)


class RejectedSegment(TimeSpan):
    """ASR output judged hallucinated (v1.1): kept here, out of ``segments`` and ``text``."""

    text: str
    reason: str = Field(min_length=1)


class Transcription(UASModel):
    text: str
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None
    language_confidence: OptProbability
    segments: list[Segment]
    rejected: list[RejectedSegment] | None
    """v1.1: ``None`` when no hallucination control ran, ``[]`` when it ran and rejected nothing."""

    @model_validator(mode="after")
    def _consistent(self) -> Transcription:
        starts = [s.start for s in self.segments]
        if starts != sorted(starts):
            raise ValueError("transcription segments must be in time order")
        expected = join_segment_texts(self.segments)
        if self.text != expected:
            raise ValueError("transcription.text must equal the segment texts joined in time order")
        return self


# --- paralinguistics -------------------------------------------------------------------------------


class GenderAttribute(UASModel):
    label: Gender
    confidence: OptProbability


class AgeAttribute(UASModel):
    label: AgeGroup
    years: Annotated[
        float | None, Field(ge=0, le=130, allow_inf_nan=False), AfterValidator(_optional_rounder(3))
    ]
    confidence: OptProbability


class EmotionAttribute(UASModel):
    label: Emotion
    confidence: OptProbability
    scores: dict[Emotion, Probability] | None

    @field_validator("scores")
    @classmethod
    def _sorted_scores(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return None if v is None else {k: v[k] for k in EMOTIONS if k in v}


class PitchAttribute(UASModel):
    mean_hz: Annotated[float | None, Field(gt=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    std_hz: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    level: Level | None


class SpeakingRateAttribute(UASModel):
    words_per_s: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    syllables_per_s: Annotated[
        float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))
    ]
    level: Level | None


class LoudnessAttribute(UASModel):
    lufs: Annotated[float | None, Field(le=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    level: Level | None


class ArousalAttribute(UASModel):
    value: OptProbability
    level: Level | None


class AccentAttribute(UASModel):
    """v1.1: ``label`` comes from the configured model's label set (documented in its label map)."""

    label: str = Field(min_length=1)
    confidence: OptProbability


class VoiceQualityAttribute(UASModel):
    """v1.1: measured voice quality (harmonics-to-noise ratio, local jitter and shimmer as fractions)."""

    hnr_db: Annotated[float | None, Field(allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    jitter: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(5))]
    shimmer: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(5))]
    level: Level | None


class SpeakerProfile(UASModel):
    id: SpeakerId
    speech_duration_s: Annotated[
        float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))
    ]
    gender: GenderAttribute | None
    age: AgeAttribute | None
    emotion: EmotionAttribute | None
    pitch: PitchAttribute | None
    speaking_rate: SpeakingRateAttribute | None
    loudness: LoudnessAttribute | None
    arousal: ArousalAttribute | None
    accent: AccentAttribute | None
    voice_quality: VoiceQualityAttribute | None


class SegmentParalinguistics(TimeSpan):
    speaker: SpeakerId | None
    emotion: EmotionAttribute | None
    pitch: PitchAttribute | None
    speaking_rate: SpeakingRateAttribute | None
    loudness: LoudnessAttribute | None
    arousal: ArousalAttribute | None
    accent: AccentAttribute | None
    voice_quality: VoiceQualityAttribute | None


class Reverberation(UASModel):
    rt60_s: Annotated[float | None, Field(ge=0, allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    level: Level | None


MOS = Annotated[float, Field(ge=1, le=5, allow_inf_nan=False), AfterValidator(_rounder(3))]


class RecordingQuality(UASModel):
    """v1.1: DNSMOS P.835 mean opinion scores (1–5): speech signal, background, overall."""

    sig: MOS
    bak: MOS
    ovrl: MOS


class RecordingAttributes(UASModel):
    num_speakers: int | None = Field(ge=0)
    speech_ratio: OptProbability
    overlap_ratio: OptProbability
    snr_db: Annotated[float | None, Field(allow_inf_nan=False), AfterValidator(_optional_rounder(3))]
    reverberation: Reverberation | None
    quality: RecordingQuality | None
    background: list[EventLabel] | None
    """v1.1: event labels present for most of the clip (events of kind ``background``), sorted."""

    @field_validator("background")
    @classmethod
    def _sorted_background(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted(set(v))


class Paralinguistics(UASModel):
    speakers: list[SpeakerProfile] | None
    segments: list[SegmentParalinguistics] | None
    recording: RecordingAttributes | None

    @model_validator(mode="after")
    def _consistent(self) -> Paralinguistics:
        if self.speakers is not None:
            ids = [s.id for s in self.speakers]
            if len(ids) != len(set(ids)):
                raise ValueError("paralinguistics.speakers ids must be unique")
            if self.segments is not None:
                unknown = {s.speaker for s in self.segments if s.speaker is not None} - set(ids)
                if unknown:
                    raise ValueError(f"paralinguistics.segments use undeclared speakers {sorted(unknown)}")
            rec = self.recording
            if rec is not None and rec.num_speakers is not None and rec.num_speakers != len(ids):
                raise ValueError("recording.num_speakers must equal the number of speakers")
        return self


# --- events ----------------------------------------------------------------------------------------


class Event(UASModel):
    label: EventLabel
    start: Seconds
    end: Seconds
    confidence: Probability
    source_label: str = Field(min_length=1)
    ontology_id: Annotated[str, Field(pattern=r"^/[a-z]/[0-9a-z_]+$")] | None
    kind: Literal["event", "background"] | None
    """v1.1: ``event`` (discrete) or ``background`` (continuous), by the backend's documented rule."""

    _ordered = model_validator(mode="after")(_check_order)


# --- provenance ------------------------------------------------------------------------------------


class StageProvenance(UASModel):
    backend: str | None
    model: str | None
    model_version: str | None
    params: dict[str, Any]
    status: Annotated[str, Field(pattern=r"^(ok|skipped: .+)$")]

    @field_validator("params")
    @classmethod
    def _canonical_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _sorted_json(v)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Provenance(UASModel):
    pipeline_version: str = Field(min_length=1)
    recipe_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
    created_at: Annotated[str, Field(pattern=_ISO_8601)]
    stages: dict[str, StageProvenance]
    fields: dict[str, str] | None
    """v1.1: every field path of the ownership table → the stage that filled it, or
    ``skipped: <reason>`` when it stays null (``null`` in 1.0 records)."""

    @field_validator("fields")
    @classmethod
    def _sorted_fields(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        return None if v is None else {k: v[k] for k in sorted(v)}

    @field_validator("created_at")
    @classmethod
    def _parse_time(cls, v: str) -> str:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
        return v

    @field_validator("stages")
    @classmethod
    def _sorted_stages(cls, v: dict[str, StageProvenance]) -> dict[str, StageProvenance]:
        return {k: v[k] for k in sorted(v)}


# --- record ----------------------------------------------------------------------------------------


class UASRecord(UASModel):
    """One clip's annotation. ``None`` parts were not annotated; provenance says why."""

    uas_version: Literal["1.0", "1.1"]
    clip: Clip
    transcription: Transcription | None
    paralinguistics: Paralinguistics | None
    non_linguistic_events: list[Event] | None
    provenance: Provenance

    @model_validator(mode="after")
    def _cross_part_rules(self) -> UASRecord:
        for where, span in self.iter_spans():
            if _beyond(span.end, self.clip.duration_s):
                raise ValueError(f"{where} ends at {span.end} s, after the clip ({self.clip.duration_s} s)")
        used = set()
        if self.transcription is not None:
            used = {s.speaker for s in self.transcription.segments if s.speaker is not None}
        if used:
            declared = set()
            if self.paralinguistics is not None and self.paralinguistics.speakers is not None:
                declared = {s.id for s in self.paralinguistics.speakers}
            missing = used - declared
            if missing:
                raise ValueError(
                    f"transcription uses speakers {sorted(missing)} missing from paralinguistics.speakers"
                )
        if self.non_linguistic_events is not None:
            keys = [(e.start, e.end, e.label) for e in self.non_linguistic_events]
            if keys != sorted(keys):
                raise ValueError("non_linguistic_events must be sorted by (start, end, label)")
        if self.uas_version == "1.0":
            for where, key, value in _v11_values(self):
                if value is not None:
                    raise ValueError(f"{where}.{key} is a v1.1 field; a uas_version 1.0 record cannot hold it")
        return self

    def iter_spans(self):
        """Yield ``(json_path, span)`` for every timed element of the record."""
        if self.transcription is not None:
            for i, seg in enumerate(self.transcription.segments):
                yield f"transcription.segments[{i}]", seg
                for j, w in enumerate(seg.words or ()):
                    yield f"transcription.segments[{i}].words[{j}]", w
            for i, seg in enumerate(self.transcription.rejected or ()):
                yield f"transcription.rejected[{i}]", seg
        if self.paralinguistics is not None:
            for i, seg in enumerate(self.paralinguistics.segments or ()):
                yield f"paralinguistics.segments[{i}]", seg
        for i, ev in enumerate(self.non_linguistic_events or ()):
            yield f"non_linguistic_events[{i}]", ev

    def to_json(self) -> str:
        """Canonical JSON: spec key order, UTF-8, no whitespace, rounded floats (see ``canonical``).

        A 1.0 record is written without the v1.1 keys, exactly as 1.0 defined it."""
        doc = self.model_dump(mode="json")
        if self.uas_version == "1.0":
            for obj, key in _v11_slots(doc):
                obj.pop(key, None)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> UASRecord:
        """Parse and validate canonical JSON (strict: ``"12.5"`` is not a number, as in the JSON
        Schema). A 1.0 record is read with its missing v1.1 keys as null."""
        doc = json.loads(text)
        if isinstance(doc, dict) and doc.get("uas_version") == "1.0":
            for obj, key in _v11_slots(doc):
                obj.setdefault(key, None)
            text = json.dumps(doc, ensure_ascii=False)
        return cls.model_validate_json(text, strict=True)


# Keys that v1.1 added, by the path of the object holding them ("[]": every item of a list).
V11_KEYS: dict[str, tuple[str, ...]] = {
    "transcription": ("rejected",),
    "paralinguistics.speakers[]": ("accent", "voice_quality"),
    "paralinguistics.segments[]": ("accent", "voice_quality"),
    "paralinguistics.recording": ("quality", "background"),
    "non_linguistic_events[]": ("kind",),
    "provenance": ("fields",),
}


def _objects_at(root: Any, path: str):
    """Yield the objects (dicts or models) found at a dotted path with ``[]`` list steps."""
    nodes = [root]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part[:-2] if many else part
        found = []
        for node in nodes:
            child = node.get(name) if isinstance(node, dict) else getattr(node, name, None)
            if child is None:
                continue
            if many:
                found.extend(c for c in child if c is not None)
            else:
                found.append(child)
        nodes = found
    return nodes


def _v11_slots(doc: dict[str, Any]):
    for path, keys in V11_KEYS.items():
        for obj in _objects_at(doc, path):
            if isinstance(obj, dict):
                for key in keys:
                    yield obj, key


def _v11_values(record: UASRecord):
    for path, keys in V11_KEYS.items():
        for obj in _objects_at(record, path):
            for key in keys:
                yield path, key, getattr(obj, key)
