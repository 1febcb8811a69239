"""Formant dispersion and apparent vocal-tract length (VTL) from voiced frames.

Formants F1–F4 come from Praat's Burg LPC (25 ms window, 10 ms step, 5 formants below
``ceiling_hz``). In a uniform tube closed at the glottis, F_i = (2i − 1) · c / (4 L), so the
formant spacing ΔF is the least-squares slope of F_i against (2i − 1) / 2 (Reby & McComb 2003)
and the apparent VTL is L = c / (2 ΔF), c = 35,000 cm/s. ΔF is taken per voiced frame with all
four formants defined and summarised by the median.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .spans import Region, cut, merge_regions

SPEED_OF_SOUND_CM_S = 35000.0
_K = (2 * np.arange(1, 5) - 1) / 2.0


def formant_dispersion(
    audio: np.ndarray,
    sr: int,
    regions: Iterable[Region],
    voiced_times: np.ndarray,
    ceiling_hz: float = 5500.0,
    min_frames: int = 5,
) -> float | None:
    """Median formant spacing ΔF (Hz) over the voiced frames inside ``regions``."""
    import parselmouth

    voiced_times = np.asarray(voiced_times, dtype=float)
    spacings = []
    for start, end in merge_regions(regions):
        times = voiced_times[(voiced_times >= start) & (voiced_times < end)]
        chunk = cut(audio, sr, start, end)
        if len(times) == 0 or len(chunk) < 0.05 * sr:
            continue
        snd = parselmouth.Sound(np.asarray(chunk, dtype=np.float64), sampling_frequency=sr)
        formant = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5, maximum_formant=ceiling_hz,
                                      window_length=0.025, pre_emphasis_from=50.0)
        offset = round(start * sr) / sr
        for t in times - offset:
            f = np.array([formant.get_value_at_time(i, float(t)) for i in range(1, 5)])
            if np.all(np.isfinite(f)) and np.all(np.diff(f) > 0):
                spacings.append(float(f @ _K / (_K @ _K)))
    if len(spacings) < min_frames:
        return None
    return float(np.median(spacings))


def apparent_vtl_cm(dispersion_hz: float) -> float:
    return SPEED_OF_SOUND_CM_S / (2.0 * dispersion_hz)
