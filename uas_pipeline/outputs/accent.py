"""Output of the ``accent`` stage: accent per transcript segment and per speaker."""

from __future__ import annotations

from typing import Any

from ..schema.models import AccentAttribute
from ..stages.base import StageOutput


class AccentOutput(StageOutput):
    speakers: dict[str, AccentAttribute] | None = None
    segments: list[AccentAttribute | None] | None = None
    """Aligned with ``transcription.segments``."""

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.speakers[].accent": self.speakers,
                "paralinguistics.segments[].accent": self.segments}


ACCENT_FIELDS = ("paralinguistics.speakers[].accent", "paralinguistics.segments[].accent")
