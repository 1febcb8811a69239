"""Output of the ``age`` stage: one age estimate per speaker."""

from __future__ import annotations

from typing import Any

from ..schema.models import AgeAttribute
from ..stages.base import StageOutput


class AgeOutput(StageOutput):
    speakers: dict[str, AgeAttribute] | None = None
    """By speaker id; ``None`` when not annotated (no model configured)."""

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.speakers[].age": self.speakers}


AGE_FIELDS = ("paralinguistics.speakers[].age",)
