"""Pitch levels relative to the speaker's gender (a derived step: no audio, no model).

The ``paralinguistics`` stage bins pitch with the ``unknown``-gender edges, because it runs before
gender is known; when a ``gender`` stage runs too, this step re-bins every speaker's pitch (and
each segment's, by its speaker) with the edges of that speaker's gender, from the same edges file
the measurements used. The raw ``mean_hz`` is untouched.
"""

from __future__ import annotations

from typing import Any

from ..outputs.gender import GenderOutput
from ..outputs.paralinguistics import ParalinguisticsOutput
from ..schema.models import PitchAttribute
from .base import DerivedStep, StageFailure, StageInput, StageOutput, StageParams


class LevelsOutput(StageOutput):
    speakers: dict[str, PitchAttribute | None] | None
    segments: list[PitchAttribute | None] | None

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.speakers[].pitch": self.speakers, "paralinguistics.segments[].pitch": self.segments}


class GenderPitchLevels(DerivedStep):
    name = "levels"
    requires = ("paralinguistics", "gender")
    uses = ("asr", "attribution", "diarization")
    """Not read: the pitch fields it refines only assemble with the transcript and speaker list."""
    Params = StageParams
    Output = LevelsOutput
    refines = ("paralinguistics.speakers[].pitch", "paralinguistics.segments[].pitch")

    def process(self, batch: list[StageInput]) -> list[LevelsOutput | StageFailure]:
        from ..paralinguistics.levels import load_edges

        out: list[LevelsOutput | StageFailure] = []
        for item in batch:
            para, gender = item.inputs["paralinguistics"], item.inputs["gender"]
            assert isinstance(para, ParalinguisticsOutput) and isinstance(gender, GenderOutput)
            edges = load_edges(para.level_edges)
            genders = {k: (g.label if g is not None else None) for k, g in (gender.speakers or {}).items()}
            speakers = (None if para.speakers is None
                        else {k: _relevel(m.pitch, genders.get(k), edges) for k, m in para.speakers.items()})
            segments = None
            if para.segments is not None:
                owners = para.segment_speakers or [None] * len(para.segments)
                segments = [_relevel(m.pitch, genders.get(spk) if spk else None, edges)
                            for m, spk in zip(para.segments, owners, strict=True)]
            out.append(LevelsOutput(speakers=speakers, segments=segments))
        return out


def _relevel(pitch: PitchAttribute | None, gender: str | None, edges) -> PitchAttribute | None:
    if pitch is None or pitch.mean_hz is None:
        return pitch
    return pitch.model_copy(update={"level": edges.level("pitch", pitch.mean_hz, gender)})
