"""Training target views of a UAS record: deterministic JSON (or text) an audio LLM learns to produce.

Views (``VIEWS``):

* ``full`` — the canonical record without ``provenance``; ``clip`` keeps only ``duration_s`` (ids,
  paths, source sample rate and channel count cannot be heard, so they are no target).
* ``compact`` — the default training target (:class:`CompactTarget`): transcription text and language,
  speakers with their labels and levels, events on a coarse time grid, recording attributes rounded to
  what a listener can tell. Its JSON Schema is generated from the models (``schemas/compact-target.schema.json``).
* ``asr`` — ``{"text": ...}``.
* ``paralinguistics`` — the record's ``paralinguistics`` part as it is.
* ``events`` — ``{"non_linguistic_events": [...]}`` as in the record.
* ``caption`` — a natural-language paragraph from a versioned template (:data:`CAPTION_TEMPLATE_VERSION`).

A record yields only the views its annotated parts support (:func:`supported_views`): no ``asr`` without
a transcription, no ``events`` when events were not annotated, nothing but ``None`` from
:func:`render_view` for a record with every part null. Inside ``compact``, ``null`` keeps the UAS
meaning *not annotated*, ``[]`` *annotated, nothing found*.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .schema import (
    Event,
    Paralinguistics,
    SpeakerProfile,
    Transcription,
    UASRecord,
)
from .schema.vocab import EVENT_LABELS, AgeGroup, Emotion, Gender, Level

VIEWS: tuple[str, ...] = ("full", "compact", "asr", "paralinguistics", "events", "caption")
JSON_VIEWS: tuple[str, ...] = tuple(v for v in VIEWS if v != "caption")
DEFAULT_VIEW = "compact"

COMPACT_VERSION = "compact-v1"
CAPTION_TEMPLATE_VERSION = "caption-v1"
EVENT_TIME_STEP_S = 0.5
"""Event times in ``compact`` are widened to this grid (start down, end up): coarse on purpose."""

ViewName = Literal["full", "compact", "asr", "paralinguistics", "events", "caption"]
EventLabel = Literal[EVENT_LABELS]  # type: ignore[valid-type]
SpeakerId = Annotated[str, Field(pattern=r"^SPEAKER_\d{2,}$")]
Ratio1 = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


# --- compact models -------------------------------------------------------------------------------


class _Compact(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CompactSpeaker(_Compact):
    """One speaker: categorical labels and levels only (raw values and confidences are left out)."""

    id: SpeakerId
    gender: Gender | None
    age: AgeGroup | None
    emotion: Emotion | None
    accent: str | None
    pitch: Level | None
    speaking_rate: Level | None
    loudness: Level | None
    arousal: Level | None
    voice_quality: Level | None


class CompactEvent(_Compact):
    label: EventLabel
    start: float = Field(ge=0, allow_inf_nan=False)
    end: float = Field(gt=0, allow_inf_nan=False)
    kind: Literal["event", "background"] | None

    @model_validator(mode="after")
    def _ordered(self) -> CompactEvent:
        if not self.start < self.end:
            raise ValueError(f"start ({self.start}) must be < end ({self.end})")
        return self


class CompactRecording(_Compact):
    num_speakers: int | None = Field(ge=0)
    speech_ratio: Ratio1 | None
    """One decimal."""
    overlap_ratio: Ratio1 | None
    """One decimal."""
    snr_db: int | None
    """Whole decibels."""
    reverberation: Level | None
    quality: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)] | None
    """DNSMOS overall MOS, one decimal."""
    background: list[EventLabel] | None


class CompactTarget(_Compact):
    """The ``compact`` view: what the model is asked to hear in a clip (UAS compact target v1)."""

    text: str | None
    """The transcription text (``""``: no speech); ``None`` when no transcription was made."""
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None
    speakers: list[CompactSpeaker] | None
    events: list[CompactEvent] | None
    recording: CompactRecording | None


class AsrTarget(_Compact):
    text: str


class EventsTarget(_Compact):
    non_linguistic_events: list[Event]


class ClipDuration(_Compact):
    duration_s: float = Field(gt=0, allow_inf_nan=False)


class FullTarget(_Compact):
    """The ``full`` view: the UAS record without provenance, ``clip`` reduced to its duration."""

    clip: ClipDuration
    transcription: Transcription | None
    paralinguistics: Paralinguistics | None
    non_linguistic_events: list[Event] | None


_VIEW_MODELS: dict[str, type[BaseModel]] = {
    "full": FullTarget,
    "compact": CompactTarget,
    "asr": AsrTarget,
    "paralinguistics": Paralinguistics,
    "events": EventsTarget,
}
_CAPTION_SCHEMA = {"type": "string", "minLength": 1}


# --- rendering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    """A rendered view: ``value`` is a JSON-ready dict (or the caption string)."""

    name: str
    value: dict[str, Any] | str

    def text(self) -> str:
        """The training target: compact JSON (UTF-8, no whitespace, keys in model order) or the caption."""
        if isinstance(self.value, str):
            return self.value
        return dumps_target(self.value)


def dumps_target(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _any_part(record: UASRecord) -> bool:
    return any(p is not None for p in (record.transcription, record.paralinguistics, record.non_linguistic_events))


def supported_views(record: UASRecord) -> tuple[str, ...]:
    """The views this record can render, in :data:`VIEWS` order."""
    have = {
        "full": _any_part(record),
        "compact": _any_part(record),
        "asr": record.transcription is not None,
        "paralinguistics": record.paralinguistics is not None,
        "events": record.non_linguistic_events is not None,
        "caption": _any_part(record),
    }
    return tuple(v for v in VIEWS if have[v])


def render_view(record: UASRecord, view: str) -> TargetView | None:
    """Render one view, or ``None`` when the record's annotated parts do not support it."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    if view not in supported_views(record):
        return None
    if view == "caption":
        return TargetView(view, render_caption(record))
    value: dict[str, Any]
    if view == "full":
        doc = record.model_dump(mode="json")
        value = {
            "clip": {"duration_s": record.clip.duration_s},
            "transcription": doc["transcription"],
            "paralinguistics": doc["paralinguistics"],
            "non_linguistic_events": doc["non_linguistic_events"],
        }
    elif view == "compact":
        value = compact_target(record).model_dump(mode="json")
    elif view == "asr":
        assert record.transcription is not None
        value = {"text": record.transcription.text}
    elif view == "paralinguistics":
        assert record.paralinguistics is not None
        value = record.paralinguistics.model_dump(mode="json")
    else:
        value = {"non_linguistic_events": [e.model_dump(mode="json") for e in record.non_linguistic_events or ()]}
    return TargetView(view, value)


def target_views(record: UASRecord, views: tuple[str, ...] | list[str] = VIEWS) -> dict[str, TargetView]:
    """Every requested view the record supports, by name (unsupported ones are absent)."""
    out = {}
    for name in views:
        rendered = render_view(record, name)
        if rendered is not None:
            out[name] = rendered
    return out


def _round_to(value: float | None, ndigits: int) -> float | None:
    if value is None:
        return None
    rounded = round(value, ndigits)
    return 0.0 if rounded == 0 else rounded


def _level(attr: Any) -> str | None:
    return None if attr is None else attr.level


def _label(attr: Any) -> str | None:
    return None if attr is None else attr.label


def _compact_speaker(s: SpeakerProfile) -> CompactSpeaker:
    return CompactSpeaker(
        id=s.id,
        gender=_label(s.gender),
        age=_label(s.age),
        emotion=_label(s.emotion),
        accent=_label(s.accent),
        pitch=_level(s.pitch),
        speaking_rate=_level(s.speaking_rate),
        loudness=_level(s.loudness),
        arousal=_level(s.arousal),
        voice_quality=_level(s.voice_quality),
    )


def _coarse_span(start: float, end: float, clip_end: float) -> tuple[float, float]:
    step = EVENT_TIME_STEP_S
    # Integer steps avoid float drift; the clip end bounds the widened end (start < end still holds,
    # since the original end <= clip end).
    lo = math.floor(round(start / step, 6)) * step
    hi = min(math.ceil(round(end / step, 6)) * step, clip_end)
    return round(lo, 3), round(hi, 3)


def compact_target(record: UASRecord) -> CompactTarget:
    """The ``compact`` view as a model (see :class:`CompactTarget`)."""
    tr, para, events = record.transcription, record.paralinguistics, record.non_linguistic_events
    speakers = None
    recording = None
    if para is not None:
        if para.speakers is not None:
            speakers = [_compact_speaker(s) for s in para.speakers]
        rec = para.recording
        if rec is not None:
            snr = None if rec.snr_db is None else int(round(rec.snr_db))
            recording = CompactRecording(
                num_speakers=rec.num_speakers,
                speech_ratio=_round_to(rec.speech_ratio, 1),
                overlap_ratio=_round_to(rec.overlap_ratio, 1),
                snr_db=snr,
                reverberation=_level(rec.reverberation),
                quality=None if rec.quality is None else _round_to(rec.quality.ovrl, 1),
                background=None if rec.background is None else list(rec.background),
            )
    compact_events = None
    if events is not None:
        compact_events = []
        for e in events:
            lo, hi = _coarse_span(e.start, e.end, record.clip.duration_s)
            compact_events.append(CompactEvent(label=e.label, start=lo, end=hi, kind=e.kind))
    return CompactTarget(
        text=None if tr is None else tr.text,
        language=None if tr is None else tr.language,
        speakers=speakers,
        events=compact_events,
        recording=recording,
    )


# --- caption --------------------------------------------------------------------------------------

_LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "ru": "Russian", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
    "hi": "Hindi", "pl": "Polish", "tr": "Turkish", "sv": "Swedish", "uk": "Ukrainian", "cs": "Czech",
}
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _words(value: str) -> str:
    return value.replace("_", " ")


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def _count(n: int, noun: str) -> str:
    word = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{word} {noun}{'' if n == 1 else 's'}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _speaker_sentence(index: int, s: SpeakerProfile) -> str:
    who = " ".join(
        w for w in (
            None if s.gender is None or s.gender.label == "unknown" else s.gender.label,
            None if s.age is None or s.age.label == "unknown" else s.age.label,
        ) if w
    )
    sentence = f"Speaker {index + 1} ({s.id}) is {'a ' + who + ' speaker' if who else 'a speaker'}"
    if s.age is not None and s.age.years is not None:
        sentence += f" of about {math.floor(s.age.years + 0.5)} years"
    if s.emotion is not None and s.emotion.label not in ("unknown", "other"):
        sentence += f" who sounds {s.emotion.label}"
    traits = []
    for name, attr in (
        ("pitch", s.pitch), ("speaking rate", s.speaking_rate), ("loudness", s.loudness),
        ("arousal", s.arousal), ("voice quality", s.voice_quality),
    ):
        if attr is not None and attr.level is not None:
            traits.append(f"{_words(attr.level)} {name}")
    if traits:
        sentence += ", with " + _join(traits)
    if s.accent is not None:
        sentence += f"; accent: {s.accent.label}"
    return sentence + "."


def render_caption(record: UASRecord) -> str:
    """A natural-language paragraph from the record (template ``caption-v1``; no model involved).

    Only annotated parts are described; a part that is null is not mentioned at all, so the caption
    never claims an absence that no annotator checked."""
    tr, para, events = record.transcription, record.paralinguistics, record.non_linguistic_events
    speakers = para.speakers if para is not None else None
    rec = para.recording if para is not None else None
    opening = f"A {_seconds(record.clip.duration_s)}-second recording"
    if speakers is not None:
        opening += f" with {_count(len(speakers), 'speaker')}"
    sentences = [opening + "."]
    for i, s in enumerate(speakers or ()):
        sentences.append(_speaker_sentence(i, s))
    if tr is not None:
        if tr.text:
            lang = _LANGUAGES.get(tr.language or "", tr.language)
            sentences.append(f"The speech{' is in ' + lang + ' and' if lang else ''} says: \u201c{tr.text}\u201d")
        else:
            sentences.append("No speech is transcribed.")
    if events is not None:
        if events:
            parts = []
            for e in events:
                kind = f", {e.kind}" if e.kind == "background" else ""
                parts.append(f"{_words(e.label)} ({_seconds(e.start)}\u2013{_seconds(e.end)} s{kind})")
            sentences.append("Sounds: " + _join(parts) + ".")
        else:
            sentences.append("No other sounds are detected.")
    if rec is not None:
        facts = []
        if rec.speech_ratio is not None:
            facts.append(f"speech covers {round(rec.speech_ratio * 100)}% of the clip")
        if rec.overlap_ratio is not None and rec.overlap_ratio > 0:
            facts.append(f"{round(rec.overlap_ratio * 100)}% of it overlaps")
        if rec.snr_db is not None:
            facts.append(f"the signal-to-noise ratio is about {round(rec.snr_db)} dB")
        if rec.reverberation is not None and rec.reverberation.level is not None:
            facts.append(f"reverberation is {_words(rec.reverberation.level)}")
        if rec.quality is not None:
            facts.append(f"overall quality is {rec.quality.ovrl:.1f} of 5")
        if rec.background:
            facts.append("the background has " + _join([_words(b) for b in rec.background]))
        if facts:
            text = "; ".join(facts)
            sentences.append(text[0].upper() + text[1:] + ".")
    return " ".join(sentences)


# --- schemas and output checks --------------------------------------------------------------------


def view_json_schema(view: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) a model output of ``view`` must satisfy."""
    if view == "caption":
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_CAPTION_SCHEMA}
    if view not in _VIEW_MODELS:
        raise ValueError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    schema = _VIEW_MODELS[view].model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def compact_json_schema() -> dict[str, Any]:
    schema = view_json_schema("compact")
    schema["$id"] = "https://github.com/uas-pipeline/uas-pipeline/schemas/compact-target.schema.json"
    schema["description"] = (
        f"UAS compact training target ({COMPACT_VERSION}): " + (CompactTarget.__doc__ or "").strip()
    )
    return schema


def compact_schema_text() -> str:
    """The schema as committed in ``schemas/compact-target.schema.json`` (stable formatting)."""
    return json.dumps(compact_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class ViewCheck:
    """The verdict on one model output: ``parsed`` (JSON, or a non-empty caption), ``valid``
    (satisfies the view's schema and rules), the parsed ``value`` and the first ``error``."""

    parsed: bool
    valid: bool
    value: Any
    error: str | None


def check_view_output(view: str, text: str) -> ViewCheck:
    """Parse a generated text as ``view`` and validate it (strictly: ``"0.5"`` is not a number)."""
    if view == "caption":
        ok = bool(text.strip())
        return ViewCheck(ok, ok, text if ok else None, None if ok else "empty caption")
    if view not in _VIEW_MODELS:
        raise ValueError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return ViewCheck(False, False, None, f"not JSON: {exc}")
    try:
        TypeAdapter(_VIEW_MODELS[view]).validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        return ViewCheck(True, False, value, f"{where}: {first['msg']}")
    return ViewCheck(True, True, value, None)


def main(argv: list[str] | None = None) -> int:
    """``python -m uas_pipeline.targets [--output FILE]``: write the compact-target JSON Schema."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m uas_pipeline.targets", description=main.__doc__)
    parser.add_argument("--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = compact_schema_text()
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
