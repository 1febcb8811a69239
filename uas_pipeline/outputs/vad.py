"""Output of the ``vad`` stage."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..stages.base import StageOutput
from .common import Span


class VadOutput(StageOutput):
    speech: list[Span]
    """Speech regions in clip time, sorted, not overlapping."""
    speech_ratio: float = Field(ge=0, le=1, allow_inf_nan=False)

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.recording.speech_ratio": self.speech_ratio}

    def speech_s(self) -> float:
        return sum(s.duration for s in self.speech)
