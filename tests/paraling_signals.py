"""Test signals of known truth for the paralinguistic measurements (synthetic, made at test time)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

SR = 16000


def harmonic(f0_hz: float, seconds: float = 1.0, sr: int = SR, n_harmonics: int = 10, amplitude: float = 0.3,
             jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """A harmonic complex (1/k amplitudes); ``jitter`` perturbs each period's length (fraction)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    if jitter == 0:
        t = np.arange(n) / sr
        x = sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in range(1, n_harmonics + 1))
    else:
        inst = f0_hz / (1 + jitter * rng.standard_normal(n // int(sr / f0_hz) + 2))
        freq = np.repeat(inst, int(sr / f0_hz))[:n]
        phase = 2 * np.pi * np.cumsum(freq) / sr
        x = sum(np.sin(k * phase) / k for k in range(1, n_harmonics + 1))
    return (amplitude * x / np.max(np.abs(x))).astype(np.float32)


def vowel(f0_hz: float, vtl_cm: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A neutral vowel from a uniform tube of length ``vtl_cm``: impulse train through resonators at
    F_i = (2i − 1) c / (4 L), every resonance below 0.45 × the sample rate."""
    from scipy.signal import lfilter

    n = int(seconds * sr)
    source = np.zeros(n)
    source[:: int(round(sr / f0_hz))] = 1.0
    x = source
    for i in range(1, 12):
        f = (2 * i - 1) * 35000.0 / (4 * vtl_cm)
        if f > 0.45 * sr:
            break
        bw = 60.0 + 20.0 * i
        r = np.exp(-np.pi * bw / sr)
        a = [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        x = lfilter([1 - r], a, x)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def espeak(text: str, voice: str = "en-us", speed_wpm: int = 150, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech at 16 kHz (skips the test when espeak-ng is missing)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True)
        audio, sr = sf.read(path, dtype="float32")
    return resample_poly(audio, 160, sr // 100).astype(np.float32) if sr != SR else audio


def monotone(audio: np.ndarray, f0_hz: float, sr: int = SR) -> np.ndarray:
    """Speech resynthesised (Praat PSOLA) on a flat F0 of ``f0_hz``: pitch truth known exactly."""
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(audio.astype(np.float64), sr)
    manipulation = call(snd, "To Manipulation", 0.01, 60, 400)
    tier = call("Create PitchTier", "flat", 0, snd.duration)
    call(tier, "Add point", snd.duration / 2, f0_hz)
    call([tier, manipulation], "Replace pitch tier")
    return call(manipulation, "Get resynthesis (overlap-add)").values[0].astype(np.float32)


def active_span(audio: np.ndarray, sr: int = SR, below_peak_db: float = 40.0) -> tuple[float, float]:
    """First and last 10-ms frame within ``below_peak_db`` of the loudest frame."""
    hop = sr // 100
    n = len(audio) // hop
    power = np.mean(audio[: n * hop].reshape(n, hop).astype(float) ** 2, axis=1)
    db = 10 * np.log10(power + 1e-20)
    idx = np.flatnonzero(db > db.max() - below_peak_db)
    return idx[0] * hop / sr, (idx[-1] + 1) * hop / sr


def speech_regions(audio: np.ndarray, sr: int = SR, below_peak_db: float = 40.0, gap_s: float = 0.3):
    """Oracle VAD on a clean signal: active 10-ms frames joined across gaps shorter than ``gap_s``."""
    hop = sr // 100
    n = len(audio) // hop
    power = np.mean(audio[: n * hop].reshape(n, hop).astype(float) ** 2, axis=1)
    db = 10 * np.log10(power + 1e-20)
    regions: list[list[float]] = []
    for i in np.flatnonzero(db > db.max() - below_peak_db):
        s, e = i * hop / sr, (i + 1) * hop / sr
        if regions and s - regions[-1][1] < gap_s:
            regions[-1][1] = e
        else:
            regions.append([s, e])
    return [(s, e) for s, e in regions]


def noise(kind: str, n: int, seed: int = 0) -> np.ndarray:
    """Unit-power white or pink (1/f power) noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(x)
        f = np.fft.rfftfreq(n)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0
        x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x**2))
