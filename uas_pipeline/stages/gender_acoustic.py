"""Offline gender per speaker from effort-corrected F0 and formant dispersion (no learned model);
the rule and its confidence are documented in :mod:`uas_pipeline.paralinguistics.gender`."""

from __future__ import annotations

from pydantic import Field

from ..modelfiles import package_version
from ..outputs.gender import GENDER_FIELDS, GenderOutput
from ..resources import Resources
from ..schema.models import GenderAttribute
from .base import Stage, StageFailure, StageInput, StageParams


class AcousticGenderParams(StageParams):
    min_voiced_s: float = Field(default=0.1, ge=0)
    """Speakers with less voiced speech than this get ``unknown``."""
    max_speaker_s: float = Field(default=60.0, gt=0)
    """At most this much of a speaker's speech is analysed."""


class AcousticGender(Stage):
    name = "gender"
    backend = "acoustic"
    requires = ("audio",)
    uses = ("diarization", "asr", "attribution")
    """Per speaker: without diarization the record has no speaker list and gender stays null."""
    sample_rate = 16000
    Params = AcousticGenderParams
    Output = GenderOutput
    fills = GENDER_FIELDS
    default_resources = Resources(num_cpus=0.5, batch_size=8)
    extra = "paralinguistics"
    needs_modules = ("parselmouth",)

    def model_name(self) -> str:
        return "acoustic-gender-rule-v1 (effort-corrected F0 + formant dispersion)"

    def model_version(self) -> str | None:
        v = package_version("praat-parselmouth")
        return f"praat-parselmouth=={v}" if v else None

    def process(self, batch: list[StageInput]) -> list[GenderOutput | StageFailure]:
        from ..paralinguistics.gender import classify, measure_cues
        from ..paralinguistics.spans import merge_regions
        from ..paralinguistics.spectrum import highpass
        from ..paralinguistics.units import record_segments, record_speakers, speaker_regions

        out: list[GenderOutput | StageFailure] = []
        for item in batch:
            speakers = record_speakers(item)
            if speakers is None:
                out.append(GenderOutput(speakers=None))
                continue
            try:
                audio = highpass(item.audio, self.sample_rate)
                regions = speaker_regions(speakers, record_segments(item) or [], item.inputs.get("diarization"))
                result = {}
                for sid in speakers:
                    spans = _first_seconds(merge_regions(regions[sid]), self.params.max_speaker_s)
                    decision = classify(measure_cues(audio, self.sample_rate, spans), self.params.min_voiced_s)
                    result[sid] = GenderAttribute(label=decision.label, confidence=decision.confidence)
                out.append(GenderOutput(speakers=result))
            except (ValueError, RuntimeError) as exc:
                out.append(StageFailure.from_exception(exc))
        return out


def _first_seconds(regions, limit_s: float):
    kept, used = [], 0.0
    for s, e in regions:
        if used >= limit_s:
            break
        e = min(e, s + limit_s - used)
        kept.append((s, e))
        used += e - s
    return kept
