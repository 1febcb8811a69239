"""All measured attributes of the units of one clip (speakers, segments), from one pass of each
analysis: the clip is high-passed once, F0 is tracked once over the union of the units' speech,
and the syllable-nuclei envelope is computed once; each unit then takes its slice (the octave
guard runs on each unit's frames, so two voices in one clip are not folded onto each other).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..outputs.paralinguistics import Measures
from ..schema.models import (
    ArousalAttribute,
    LoudnessAttribute,
    PitchAttribute,
    SpeakingRateAttribute,
    VoiceQualityAttribute,
)
from . import voice_quality
from .arousal import ArousalCues, arousal_value
from .levels import LevelEdges
from .loudness import integrated_lufs
from .pitch import guard_octaves, pitch_stats, track_pitch
from .rate import NucleiDetector, count_syllables, speaking_time
from .spans import Region, concat, merge_regions, total_s
from .spectrum import alpha_ratio_db, highpass, voiced_power_spectrum

MIN_UNIT_S = 0.2


@dataclass
class Unit:
    """What is measured together: a transcript segment or all the speech of one speaker."""

    regions: list[Region]
    words: list[tuple[float, float]] | None = None
    """Word spans (``None``: no word timestamps)."""
    n_words: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class MeasureSettings:
    pitch_method: str = "pyin"
    crepe_model: str = "tiny"
    fmin_hz: float = 50.0
    fmax_hz: float = 600.0
    hop_s: float = 0.01
    octave_guard: bool = True
    max_pause_s: float = 0.5
    voice_quality_max_s: float = 60.0


@dataclass
class ClipMeasurer:
    audio: np.ndarray
    sr: int
    settings: MeasureSettings
    edges: LevelEdges
    analysis_regions: list[Region] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.filtered = highpass(self.audio, self.sr)
        regions = merge_regions(self.analysis_regions)
        track = track_pitch(self.filtered, self.sr, regions, method=s.pitch_method, fmin=s.fmin_hz, fmax=s.fmax_hz,
                            hop_s=s.hop_s, crepe_model=s.crepe_model)
        self.track = track  # guarded per unit: the run-level guard compares runs of one voice
        self.nuclei = NucleiDetector(self.filtered, self.sr)

    def measure(self, unit: Unit, language: str | None = None) -> Measures:
        regions = merge_regions(unit.regions)
        if total_s(regions) < MIN_UNIT_S:
            return Measures()
        track = self.track.restrict(regions)
        if self.settings.octave_guard:
            track = guard_octaves(track)[0]
        stats = pitch_stats(track)
        voiced_times = track.times[np.isfinite(track.f0_hz)]
        pitch = None
        if stats is not None:
            pitch = PitchAttribute(mean_hz=stats.mean_hz, std_hz=stats.std_hz,
                                   level=self.edges.level("pitch", stats.mean_hz))
        rate = self._rate(unit, regions, voiced_times, language)
        lufs = integrated_lufs(concat(self.audio, self.sr, regions), self.sr)
        loudness = None if lufs is None else LoudnessAttribute(lufs=lufs, level=self.edges.level("loudness", lufs))
        vq = voice_quality.measure(self.filtered, self.sr, regions, self.settings.voice_quality_max_s)
        vq_attr = None
        if vq is not None and vq.hnr_db is not None:
            vq_attr = VoiceQualityAttribute(hnr_db=vq.hnr_db, jitter=vq.jitter, shimmer=vq.shimmer,
                                            level=self.edges.level("voice_quality", vq.hnr_db))
        spectrum = voiced_power_spectrum(self.filtered, self.sr, voiced_times)
        cues = ArousalCues(
            alpha_ratio_db=alpha_ratio_db(*spectrum) if spectrum is not None else None,
            f0_std_st=stats.std_st if stats is not None else None,
            nuclei_per_s=self.nuclei.count(regions, voiced_times) / total_s(regions),
        )
        value = arousal_value(cues)
        arousal = None if value is None else ArousalAttribute(value=value, level=self.edges.level("arousal", value))
        return Measures(pitch=pitch, speaking_rate=rate, loudness=loudness, arousal=arousal, voice_quality=vq_attr)

    def _rate(self, unit: Unit, regions: list[Region], voiced_times: np.ndarray, language: str | None
              ) -> SpeakingRateAttribute | None:
        seconds = speaking_time(unit.words, self.settings.max_pause_s) if unit.words else total_s(regions)
        if seconds < MIN_UNIT_S:
            return None
        words_per_s = unit.n_words / seconds if unit.n_words is not None else None
        syllables = count_syllables(unit.text, language) if unit.text else None
        if syllables is None:
            syllables = self.nuclei.count(regions, voiced_times)
        attr = SpeakingRateAttribute(words_per_s=words_per_s, syllables_per_s=syllables / seconds, level=None)
        return attr.model_copy(update={"level": self.edges.level_of_model("speaking_rate", attr)})
