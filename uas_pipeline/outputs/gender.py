"""Output of the ``gender`` stage: one gender per speaker."""

from __future__ import annotations

from typing import Any

from ..schema.models import GenderAttribute
from ..stages.base import StageOutput


class GenderOutput(StageOutput):
    speakers: dict[str, GenderAttribute] | None = None
    """By speaker id; ``None`` when not annotated (no model configured)."""

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.speakers[].gender": self.speakers}


GENDER_FIELDS = ("paralinguistics.speakers[].gender",)
