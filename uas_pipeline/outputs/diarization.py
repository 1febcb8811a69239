"""Output of the ``diarization`` stage: who spoke when."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..stages.base import StageOutput
from .common import Span

SpeakerLabel = Annotated[str, Field(pattern=r"^SPEAKER_\d{2,}$")]


class SpeakerTurn(Span):
    speaker: SpeakerLabel


class DiarizedSpeaker(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: SpeakerLabel
    speech_duration_s: float = Field(ge=0, allow_inf_nan=False)
    embedding: list[float] | None = None
    """Centroid speaker embedding (for linking the speakers of a long file's regions)."""


class DiarizationOutput(StageOutput):
    turns: list[SpeakerTurn]
    """Speaker turns in clip time, sorted by start; turns of different speakers may overlap."""
    speakers: list[DiarizedSpeaker]
    overlap: list[Span]
    """Regions where two or more speakers talk at once."""
    overlap_ratio: float = Field(ge=0, le=1, allow_inf_nan=False)
    """Overlapped speech over the clip duration."""
    link_threshold: float | None = Field(default=None, ge=-1, le=1, allow_inf_nan=False)
    """Cosine similarity of speaker embeddings above which two speakers of different regions of one
    file are taken to be the same person (set by the backend for its embedding space; used by
    :func:`uas_pipeline.diarization.linking.link_region_outputs`)."""

    @model_validator(mode="after")
    def _consistent(self) -> DiarizationOutput:
        ids = [s.id for s in self.speakers]
        if len(ids) != len(set(ids)):
            raise ValueError("speaker ids must be unique")
        unknown = {t.speaker for t in self.turns} - set(ids)
        if unknown:
            raise ValueError(f"turns use undeclared speakers {sorted(unknown)}")
        return self

    SIDE_COLUMNS: ClassVar[dict[str, str]] = {"speaker_turns": "string"}
    """``speaker_turns``: the turns as JSON ``[[start, end, speaker], ...]`` in clip time. The record
    keeps only the speaker-attributed transcript; these are the diarization itself (speech the ASR
    did not transcribe included), which ``uas-pipeline eval`` scores DER on."""

    def side_columns(self) -> dict[str, Any]:
        return {"speaker_turns": json.dumps([[t.start, t.end, t.speaker] for t in self.turns])}

    @classmethod
    def relabel_side_columns(cls, values: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
        turns = values.get("speaker_turns")
        if not turns:
            return values
        relabelled = [[start, end, mapping.get(spk, spk)] for start, end, spk in json.loads(turns)]
        return {**values, "speaker_turns": json.dumps(relabelled)}

    def record_fields(self) -> dict[str, Any]:
        return {
            "paralinguistics.speakers": [{"id": s.id, "speech_duration_s": s.speech_duration_s}
                                         for s in self.speakers],
            "paralinguistics.recording.num_speakers": len(self.speakers),
            "paralinguistics.recording.overlap_ratio": self.overlap_ratio,
        }


DIARIZATION_FIELDS = (
    "paralinguistics.speakers",
    "paralinguistics.recording.num_speakers",
    "paralinguistics.recording.overlap_ratio",
)
