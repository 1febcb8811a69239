"""Output of the ``emotion`` stage: emotion per transcript segment and per speaker."""

from __future__ import annotations

from typing import Any

from ..schema.models import EmotionAttribute
from ..stages.base import StageOutput


class EmotionOutput(StageOutput):
    speakers: dict[str, EmotionAttribute] | None = None
    segments: list[EmotionAttribute | None] | None = None
    """Aligned with ``transcription.segments``."""

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.speakers[].emotion": self.speakers,
                "paralinguistics.segments[].emotion": self.segments}


EMOTION_FIELDS = ("paralinguistics.speakers[].emotion", "paralinguistics.segments[].emotion")
