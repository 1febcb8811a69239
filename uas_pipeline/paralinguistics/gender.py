"""Offline gender rule: voice pitch corrected for vocal effort, plus vocal-tract length.

Pitch alone (≈ 84 % on labelled clips) fails where men raise their voice (anger, oratory) and
where women speak low and calm. Two physical cues help:

* **effort-corrected F0**: F0 rises with vocal effort (about 0.5 semitone per dB of spectral
  flattening); effort is read from the alpha ratio (see :mod:`.spectrum`), so
  ``F0_adj = F0_st − 0.5 · max(0, alpha − (−12 dB))`` removes the rise of a raised voice;
* **formant dispersion** ΔF (:mod:`.formants`): apparent vocal-tract length, which emotion changes
  little (adult men ≈ 17.0 cm → ΔF ≈ 1030 Hz, women ≈ 14.7 cm → ΔF ≈ 1190 Hz).

A two-class Gaussian model with equal priors scores each cue (log-likelihood ratio, female vs
male) and adds them (naive Bayes):

====================  =============  =============  ==================================
cue                   male           female         spread (σ, both)
====================  =============  =============  ==================================
F0_adj (median)       120 Hz         210 Hz         3 semitones
ΔF (ceiling 5.5 kHz)  1030 Hz        1190 Hz        60 Hz
====================  =============  =============  ==================================

The class means are textbook speaking F0 (men ≈ 100–130 Hz, women ≈ 190–230 Hz) and apparent
VTLs; the spreads are between-speaker spreads widened for measurement noise on short clips.
Confidence = σ(LLR / T) with temperature T = 2: naive Bayes over correlated, non-Gaussian
cues is over-confident, and halving the log-odds was checked (not fitted) against the labelled
refdata clips (docs/paralinguistics.md). With no voiced speech the label is ``unknown``.
Children's voices look female to this rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .formants import formant_dispersion
from .pitch import PitchTrack, guard_octaves, pitch_stats, track_pitch
from .spans import Region, merge_regions
from .spectrum import alpha_ratio_db, voiced_power_spectrum

F0_MEANS_HZ = {"male": 120.0, "female": 210.0}
F0_SIGMA_ST = 3.0
DISPERSION_MEANS_HZ = {"male": 1030.0, "female": 1190.0}
DISPERSION_SIGMA_HZ = 60.0
EFFORT_ST_PER_DB = 0.5
EFFORT_NEUTRAL_ALPHA_DB = -12.0
TEMPERATURE = 2.0
FORMANT_CEILING_HZ = 5500.0


@dataclass(frozen=True)
class GenderCues:
    f0_median_hz: float | None
    alpha_ratio_db: float | None
    dispersion_hz: float | None
    voiced_s: float


@dataclass(frozen=True)
class GenderDecision:
    label: str
    confidence: float | None
    log_odds_female: float | None


def _st(hz: float) -> float:
    return 12.0 * math.log2(hz / 100.0)


def _llr(x: float, female: float, male: float, sigma: float) -> float:
    return (-(x - female) ** 2 + (x - male) ** 2) / (2.0 * sigma**2)


def classify(cues: GenderCues, min_voiced_s: float = 0.1) -> GenderDecision:
    """Female/male with a confidence from the cues; ``unknown`` without enough voiced speech."""
    if cues.f0_median_hz is None or cues.voiced_s < min_voiced_s:
        return GenderDecision("unknown", None, None)
    f0 = _st(cues.f0_median_hz)
    if cues.alpha_ratio_db is not None:
        f0 -= EFFORT_ST_PER_DB * max(0.0, cues.alpha_ratio_db - EFFORT_NEUTRAL_ALPHA_DB)
    llr = _llr(f0, _st(F0_MEANS_HZ["female"]), _st(F0_MEANS_HZ["male"]), F0_SIGMA_ST)
    if cues.dispersion_hz is not None:
        llr += _llr(cues.dispersion_hz, DISPERSION_MEANS_HZ["female"], DISPERSION_MEANS_HZ["male"],
                    DISPERSION_SIGMA_HZ)
    p_female = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, llr / TEMPERATURE))))
    label = "female" if p_female >= 0.5 else "male"
    return GenderDecision(label, max(p_female, 1.0 - p_female), llr)


def measure_cues(audio: np.ndarray, sr: int, regions: Iterable[Region]) -> GenderCues:
    """Praat F0 (octave-guarded), alpha ratio and formant dispersion over ``regions``.

    Praat's autocorrelation tracker is used whatever the paralinguistics stage's pitch method:
    it keeps voicing on short, noisy clips where pYIN's HMM finds none, and costs about 1 % of
    real time."""
    spans = merge_regions(regions)
    track: PitchTrack = guard_octaves(track_pitch(audio, sr, spans, method="praat", fmin=60.0, fmax=500.0))[0]
    stats = pitch_stats(track, spans, min_voiced_s=0.05)
    if stats is None:
        return GenderCues(None, None, None, track.voiced_s(spans))
    voiced_times = track.times[np.isfinite(track.f0_hz)]
    spectrum = voiced_power_spectrum(audio, sr, voiced_times)
    alpha = alpha_ratio_db(*spectrum) if spectrum is not None else None
    dispersion = formant_dispersion(audio, sr, spans, voiced_times, ceiling_hz=FORMANT_CEILING_HZ)
    return GenderCues(stats.median_hz, alpha, dispersion, stats.voiced_s)
