"""Output of the ``asr`` stage."""

from __future__ import annotations

from typing import Any

from ..schema import Transcription
from ..stages.base import StageOutput


class AsrOutput(StageOutput):
    transcription: Transcription

    def record_fields(self) -> dict[str, Any]:
        t = self.transcription
        return {
            "transcription.text": t.text,
            "transcription.language": t.language,
            "transcription.language_confidence": t.language_confidence,
            "transcription.segments": t.segments,
            "transcription.rejected": t.rejected,
        }


ASR_FIELDS = (
    "transcription.text",
    "transcription.language",
    "transcription.language_confidence",
    "transcription.segments",
    "transcription.rejected",
)
