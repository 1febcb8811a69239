"""Spectral balance of voiced speech (vocal effort cues that survive gain changes)."""

from __future__ import annotations

import numpy as np

N_FFT = 512


def voiced_power_spectrum(audio: np.ndarray, sr: int, frame_times: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean power spectrum (Hann window, 32 ms at 16 kHz) of the frames centred at ``frame_times``."""
    x = np.asarray(audio, dtype=np.float64)
    half = N_FFT // 2
    centres = np.round(np.asarray(frame_times) * sr).astype(int)
    centres = centres[(centres >= half) & (centres + half <= len(x))]
    if len(centres) == 0:
        return None
    idx = centres[:, None] + np.arange(-half, half)[None, :]
    frames = x[idx] * np.hanning(N_FFT)[None, :]
    spectrum = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    return np.fft.rfftfreq(N_FFT, 1.0 / sr), spectrum


def alpha_ratio_db(freqs: np.ndarray, spectrum: np.ndarray, split_hz: float = 1000.0, top_hz: float = 4000.0
                   ) -> float | None:
    """Energy in ``split_hz``–``top_hz`` over energy in 50 Hz–``split_hz``, in dB (GeMAPS' alpha
    ratio, with the upper band stopped at 4 kHz so telephone-band sources compare)."""
    low = spectrum[(freqs >= 50) & (freqs < split_hz)].sum()
    high = spectrum[(freqs >= split_hz) & (freqs < top_hz)].sum()
    if low <= 0 or high <= 0:
        return None
    return float(10 * np.log10(high / low))


def hammarberg_db(freqs: np.ndarray, spectrum: np.ndarray) -> float | None:
    """Strongest peak below 2 kHz over the strongest in 2–5 kHz, in dB (higher = steeper tilt)."""
    low = spectrum[freqs < 2000]
    high = spectrum[(freqs >= 2000) & (freqs < min(5000, freqs[-1]))]
    if len(high) == 0 or high.max() <= 0 or low.max() <= 0:
        return None
    return float(10 * np.log10(low.max() / high.max()))


def highpass(audio: np.ndarray, sr: int, cutoff_hz: float = 60.0) -> np.ndarray:
    """Zero-phase 4th-order Butterworth high-pass: removes rumble and DC that bias pitch
    voicing decisions and the low band of the alpha ratio (speech has no energy below 60 Hz)."""
    from scipy.signal import butter, sosfiltfilt

    if len(audio) < 64:
        return np.asarray(audio, dtype=np.float32)
    sos = butter(4, cutoff_hz, btype="highpass", fs=sr, output="sos")
    return sosfiltfilt(sos, np.asarray(audio, dtype=np.float64)).astype(np.float32)
