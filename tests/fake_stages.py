"""Backends defined by the tests (importable by Ray workers as ``tests.fake_stages``).

They prove the contract: a new annotator is one class plus one registry line, and what it fills
reaches the written record.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from uas_pipeline.outputs.common import Span
from uas_pipeline.outputs.diarization import DiarizationOutput, DiarizedSpeaker, SpeakerTurn
from uas_pipeline.resources import Resources
from uas_pipeline.schema import RecordingQuality
from uas_pipeline.stages.base import Stage, StageFailure, StageInput, StageOutput, StageParams


class LoudnessOutput(StageOutput):
    peak: float = Field(ge=0, allow_inf_nan=False)
    snr_db: float | None

    SIDE_COLUMNS: ClassVar[dict[str, str]] = {"test_peak": "float64"}

    def record_fields(self) -> dict[str, Any]:
        return {"paralinguistics.recording.snr_db": self.snr_db,
                "paralinguistics.recording.quality": RecordingQuality(sig=3.0, bak=3.5, ovrl=2.5)}

    def side_columns(self) -> dict[str, Any]:
        return {"test_peak": self.peak}


class PeakParams(StageParams):
    fail_on: str | None = None
    """Clip id this stage reports as failed (per-clip failure without raising)."""
    raise_on: str | None = None
    """Clip id on which process() raises for the whole batch."""
    invalid_on: str | None = None
    """Clip id for which the stage returns an invalid output."""
    batch_seconds: bool = False
    """Report the audio seconds of the process() call in ``snr_db`` (to observe batching)."""


class PeakStage(Stage):
    """Fills two recording fields from the signal peak; a made-up ``snr_db`` for the test."""

    name = "paralinguistics"
    backend = "test-peak"
    requires = ("audio",)
    sample_rate = 8000
    Params = PeakParams
    Output = LoudnessOutput
    fills = ("paralinguistics.recording.snr_db", "paralinguistics.recording.quality")
    default_resources = Resources(num_cpus=0.25, batch_size=4)

    def process(self, batch: list[StageInput]) -> list[LoudnessOutput | StageFailure]:
        p = self.params
        if p.raise_on and any(i.clip.id == p.raise_on for i in batch):
            raise RuntimeError(f"boom on {p.raise_on}")
        out: list[LoudnessOutput | StageFailure] = []
        for item in batch:
            assert item.sample_rate == 8000 and item.audio is not None
            if item.clip.id == p.fail_on:
                out.append(StageFailure("too_quiet", f"{item.clip.id}: nothing to measure"))
                continue
            peak = float(np.abs(item.audio).max()) if len(item.audio) else 0.0
            if item.clip.id == p.invalid_on:  # skips pydantic here: the worker must catch it
                out.append(LoudnessOutput.model_construct(peak=-1.0, snr_db=1.0))
                continue
            snr = sum(i.duration_s for i in batch) if p.batch_seconds else 20 + peak
            out.append(LoudnessOutput(peak=peak, snr_db=round(snr, 3)))
        return out


class HalvesParams(StageParams):
    speakers: int = Field(default=2, ge=1, le=2)


class HalvesDiarization(Stage):
    """A diarization made up for tests: SPEAKER_00 speaks the first half, SPEAKER_01 the second."""

    name = "diarization"
    backend = "test-halves"
    requires = ("audio",)
    Params = HalvesParams
    Output = DiarizationOutput
    fills = ("paralinguistics.speakers", "paralinguistics.recording.num_speakers",
             "paralinguistics.recording.overlap_ratio")
    default_resources = Resources(num_cpus=0.25, batch_size=4)

    def process(self, batch: list[StageInput]) -> list[DiarizationOutput]:
        out = []
        for item in batch:
            d = round(item.duration_s, 3)
            if self.params.speakers == 1:
                turns = [SpeakerTurn(start=0.0, end=d, speaker="SPEAKER_00")]
            else:
                half = round(d / 2, 3)
                turns = [SpeakerTurn(start=0.0, end=half, speaker="SPEAKER_00"),
                         SpeakerTurn(start=half, end=d, speaker="SPEAKER_01")]
            speakers = [DiarizedSpeaker(id=t.speaker, speech_duration_s=t.duration, embedding=[1.0, float(k)])
                        for k, t in enumerate(turns)]
            out.append(DiarizationOutput(turns=turns, speakers=speakers, overlap=[], overlap_ratio=0.0))
        return out

    @classmethod
    def link_regions(cls, outputs: list[DiarizationOutput | None]) -> list[dict[str, str]]:
        """Swap the two speakers in every odd region (so the test can see the relabelling)."""
        maps = []
        for k, out in enumerate(outputs):
            ids = [s.id for s in out.speakers] if out else []
            maps.append({a: b for a, b in zip(ids, reversed(ids), strict=True)} if k % 2 else {})
        return maps


_ = Span  # re-exported for tests that build outputs by hand
