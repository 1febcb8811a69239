"""Arousal in [0, 1] from prosody and vocal effort, robust to gain and peak normalisation.

Three cues, each a z-score against *read speech* (the neutral anchor, value 0.5):

* spectral tilt — the alpha ratio of voiced frames (energy 1–4 kHz over 50 Hz–1 kHz, dB): vocal
  effort flattens the source spectrum, the most reliable acoustic correlate of arousal (Banse &
  Scherer 1996; Eyben et al. 2016, GeMAPS). Anchor −7 dB, scale 5 dB. Weight 0.5.
* F0 variability — standard deviation of voiced F0 in semitones (octave-guarded): aroused speech
  has livelier intonation. Anchor 2.85 st, scale 1.2 st. Weight 0.25.
* tempo — acoustic syllable nuclei per second of speaking time. Anchor 3.2 /s, scale 1.2 /s.
  Weight 0.25.

    s = 0.5 · z_tilt + 0.25 · z_F0sd + 0.25 · z_rate,   arousal = 1 / (1 + exp(−1.1 · s))

The anchors are the means of the eight read-speech clips of ``../shared/refdata`` that carry no
arousal or emotion label (three LibriSpeech readers, five TIMIT-style sentences); the scales are
round between-speaker spreads; the slope 1.1 puts a unit two scales above read speech at 0.9.
Missing cues are left out and the remaining weights renormalised. Loudness and absolute F0 are
deliberately not used: a peak-normalised corpus erases the first, and the second mostly encodes
the speaker's sex. ``docs/paralinguistics.md`` lists the variants tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ANCHORS = {"alpha_ratio_db": (-7.0, 5.0), "f0_std_st": (2.85, 1.2), "nuclei_per_s": (3.2, 1.2)}
WEIGHTS = {"alpha_ratio_db": 0.5, "f0_std_st": 0.25, "nuclei_per_s": 0.25}
SLOPE = 1.1


@dataclass(frozen=True)
class ArousalCues:
    alpha_ratio_db: float | None
    f0_std_st: float | None
    nuclei_per_s: float | None


def arousal_score(cues: ArousalCues) -> float | None:
    """The weighted z-score ``s`` (0 = read speech); ``None`` without spectral tilt."""
    if cues.alpha_ratio_db is None:
        return None
    total = weight = 0.0
    for name, w in WEIGHTS.items():
        value = getattr(cues, name)
        if value is None:
            continue
        mean, scale = ANCHORS[name]
        total += w * (value - mean) / scale
        weight += w
    return total / weight


def arousal_value(cues: ArousalCues) -> float | None:
    s = arousal_score(cues)
    if s is None:
        return None
    return 1.0 / (1.0 + math.exp(-SLOPE * s))
