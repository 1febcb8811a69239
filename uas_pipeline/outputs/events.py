"""Output of the ``events`` stage: timed non-linguistic events, background labels, frame scores."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..events.scores import SIDE_COLUMNS, FrameScores
from ..schema.models import Event, EventLabel
from ..stages.base import StageOutput


class StoredScores(BaseModel):
    """Frame scores as kept in the data shards (see :mod:`uas_pipeline.events.scores`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, ser_json_bytes="base64",
                              val_json_bytes="base64")

    event_scores: bytes
    event_score_sources: bytes
    event_score_labels: list[str]
    event_score_source_classes: list[str]
    event_score_hop_s: float = Field(gt=0)
    event_score_window_s: float = Field(gt=0)

    @classmethod
    def of(cls, fs: FrameScores) -> StoredScores:
        return cls(**fs.side_columns())

    def frame_scores(self) -> FrameScores:
        fs = FrameScores.from_side_columns(self.model_dump())
        assert fs is not None
        return fs


class EventsOutput(StageOutput):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, ser_json_bytes="base64",
                              val_json_bytes="base64")

    events: list[Event]
    """Sorted by (start, end, label), each with ``kind``."""
    background: list[EventLabel]
    """Labels with a background event covering most of the clip, sorted."""
    scores: StoredScores | None = None
    """Frame scores of the vocabulary labels (``None`` with ``keep_scores: false``)."""

    SIDE_COLUMNS: ClassVar[dict[str, str]] = SIDE_COLUMNS

    def record_fields(self) -> dict[str, Any]:
        return {
            "non_linguistic_events": self.events,
            "paralinguistics.recording.background": self.background,
        }

    def side_columns(self) -> dict[str, Any]:
        return self.scores.model_dump() if self.scores is not None else {}


EVENTS_FIELDS = ("non_linguistic_events", "paralinguistics.recording.background")
