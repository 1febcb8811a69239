"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) in LUFS, through ``pyloudnorm``.

K-weighting, 400 ms blocks with 75 % overlap, absolute gate at −70 LUFS and relative gate at −10 LU.
A unit shorter than one block is measured as a single block of its own length (ungated in effect).
The value is relative to digital full scale: it says how loud the *file* is, not how loudly the
person spoke (a peak-normalised corpus has similar LUFS whatever the vocal effort).
"""

from __future__ import annotations

import math

import numpy as np

MIN_DURATION_S = 0.1


def integrated_lufs(audio: np.ndarray, sr: int) -> float | None:
    """Integrated loudness of ``audio`` in LUFS (≤ 0); ``None`` for too-short or silent audio."""
    import pyloudnorm

    duration = len(audio) / sr
    if duration < MIN_DURATION_S:
        return None
    meter = pyloudnorm.Meter(sr, block_size=min(0.4, duration))
    with np.errstate(divide="ignore"):
        value = float(meter.integrated_loudness(np.asarray(audio, dtype=np.float64)))
    if not math.isfinite(value):
        return None
    return min(0.0, value)
