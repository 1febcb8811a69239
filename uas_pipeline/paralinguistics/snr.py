"""Signal-to-noise ratio without a clean reference: speech power over noise power from the speech
and non-speech frames of the recording itself.

Frames of 20 ms (hop 10 ms) are split into speech and non-speech, by the VAD regions when the
recipe runs a VAD, else by energy: frames whose power, smoothed over 0.3 s, lies more than
``energy_split_db`` (3 dB) above the 10th percentile of frame powers count as speech. The noise power is the median power of the
non-speech frames (robust to short noises in the pauses); where the pauses hold less than
``min_noise_s``, the 10th percentile of all frame powers stands in for it (speech has gaps between
syllables even in continuous talk). The speech power is the mean power of the speech frames
minus the noise power (speech and noise add in power), so

    SNR = 10 · log10((P_speech_frames − P_noise) / P_noise)

is the *active-speech* SNR (as in ITU-T P.56's active speech level): pauses do not dilute it.
Values are clipped to [−10, 80] dB; a recording whose speech frames carry no more power than its
noise gets −10 dB.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .spans import Region, frame_mask

FRAME_S = 0.02
HOP_S = 0.01
MIN_DB, MAX_DB = -10.0, 80.0


def frame_powers(audio: np.ndarray, sr: int, frame_s: float = FRAME_S, hop_s: float = HOP_S
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean-square power of each frame and the frame centre times."""
    frame, hop = int(round(frame_s * sr)), int(round(hop_s * sr))
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < frame:
        return np.zeros(0), np.zeros(0)
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    power = np.mean(x[idx] ** 2, axis=1)
    times = (hop * np.arange(n) + frame / 2) / sr
    return power, times


def energy_speech_frames(power: np.ndarray, floor: float, split_db: float, smooth_s: float = 0.3) -> np.ndarray:
    """Speech frames by energy alone: the power smoothed over ``smooth_s`` (speech comes in
    stretches, noise frames scatter) more than ``split_db`` above the noise floor."""
    width = max(1, int(round(smooth_s / HOP_S)))
    smoothed = np.convolve(power, np.ones(width) / width, mode="same")
    return smoothed > floor * 10 ** (split_db / 10)


def estimate_snr_db(
    audio: np.ndarray,
    sr: int,
    speech_regions: Iterable[Region] | None = None,
    min_noise_s: float = 0.3,
    energy_split_db: float = 3.0,
) -> float | None:
    """Active-speech SNR in dB; ``None`` when the audio is silent or too short."""
    power, times = frame_powers(audio, sr)
    if len(power) < 5 or not np.any(power > 0):
        return None
    floor = max(float(np.percentile(power, 10)), 1e-20)
    if speech_regions is not None:
        speech = frame_mask(times, speech_regions)
    else:
        speech = energy_speech_frames(power, floor, energy_split_db)
    if not np.any(speech):
        return None
    pauses = power[~speech]
    noise = float(np.median(pauses)) if len(pauses) * HOP_S >= min_noise_s else floor
    noise = max(noise, 1e-20)
    signal = float(np.mean(power[speech])) - noise
    if signal <= 0:
        return MIN_DB
    return float(np.clip(10 * np.log10(signal / noise), MIN_DB, MAX_DB))
