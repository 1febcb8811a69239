"""Output of the ``paralinguistics`` stage: measured attributes per speaker, per segment, per recording."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..schema.models import (
    ArousalAttribute,
    LoudnessAttribute,
    PitchAttribute,
    RecordingQuality,
    SpeakingRateAttribute,
    VoiceQualityAttribute,
)
from ..stages.base import StageOutput

MEASURED = ("pitch", "speaking_rate", "loudness", "arousal", "voice_quality")


class Measures(BaseModel):
    """Measured attributes of one unit (a speaker or a segment); ``None`` = not measurable."""

    model_config = ConfigDict(extra="forbid")

    pitch: PitchAttribute | None = None
    speaking_rate: SpeakingRateAttribute | None = None
    loudness: LoudnessAttribute | None = None
    arousal: ArousalAttribute | None = None
    voice_quality: VoiceQualityAttribute | None = None


class ParalinguisticsOutput(StageOutput):
    speakers: dict[str, Measures] | None
    """By speaker id; ``None`` when the record has no speaker list (no diarization)."""
    segments: list[Measures] | None
    """Aligned with ``transcription.segments``; ``None`` when there is no transcript."""
    segment_speakers: list[str | None] | None = None
    """The speaker of each segment (for steps that re-level pitch by gender)."""
    snr_db: float | None
    quality: RecordingQuality | None
    level_edges: str
    """The edges file the levels were computed with (``bundled:levels-v1`` or a path)."""

    def record_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "paralinguistics.recording.snr_db": self.snr_db,
            "paralinguistics.recording.quality": self.quality,
        }
        for attr in MEASURED:
            fields[f"paralinguistics.speakers[].{attr}"] = (
                None if self.speakers is None else {k: getattr(m, attr) for k, m in self.speakers.items()})
            fields[f"paralinguistics.segments[].{attr}"] = (
                None if self.segments is None else [getattr(m, attr) for m in self.segments])
        return fields


PARALINGUISTICS_FIELDS = (
    *(f"paralinguistics.speakers[].{a}" for a in MEASURED),
    *(f"paralinguistics.segments[].{a}" for a in MEASURED),
    "paralinguistics.recording.snr_db",
    "paralinguistics.recording.quality",
)
