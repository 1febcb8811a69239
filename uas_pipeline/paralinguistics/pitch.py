"""Fundamental frequency (F0): one tracking pass per clip over its speech, an octave-error guard,
and statistics over any set of regions (segments and speakers reuse the same track).

Trackers: ``pyin`` (``librosa.pyin``, probabilistic YIN with HMM voicing, the default), ``crepe``
(``torchcrepe``, the ``tiny`` or ``full`` network shipped in the wheel; voiced where periodicity
≥ 0.5), ``praat`` (Praat's autocorrelation method through parselmouth; about 40× faster).

Octave guard (:func:`guard_octaves`): trackers sometimes lock on half or twice F0 for a stretch
(creaky voice, strong second harmonic). Real F0 does not move by an octave within 10 ms, so

1. inside a voiced run, a frame-to-frame jump of more than ``jump_st`` semitones that lies within
   ``fold_tol_st`` of a whole number of octaves starts a piece shifted by that many octaves; the
   octave holding most of the run's frames is taken as right and the other pieces are folded onto it;
2. a whole voiced run whose median lies ``run_st`` or more semitones from the clip median and within
   ``fold_tol_st`` of an octave away is folded when it holds less than a third of the voiced frames
   (the majority decides); runs that far off that cannot be folded are dropped as unreliable.
   The clip median only makes sense for one voice: apply the guard to one speaker's frames
   (:meth:`PitchTrack.restrict`), never to a track that mixes a low and a high voice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .spans import Region, clip_regions, cut, frame_mask, merge_regions

PITCH_METHODS = ("pyin", "crepe", "praat")


@dataclass(frozen=True)
class PitchTrack:
    """F0 frames in clip time; ``f0_hz`` is NaN where unvoiced or not analysed."""

    times: np.ndarray
    f0_hz: np.ndarray
    hop_s: float

    @classmethod
    def empty(cls, hop_s: float = 0.01) -> PitchTrack:
        return cls(np.zeros(0), np.zeros(0), hop_s)

    def voiced(self, regions: Iterable[Region] | None = None) -> np.ndarray:
        """F0 of the voiced frames (Hz), optionally only those inside ``regions``."""
        keep = np.isfinite(self.f0_hz)
        if regions is not None:
            keep &= frame_mask(self.times, regions)
        return self.f0_hz[keep]

    def restrict(self, regions: Iterable[Region]) -> PitchTrack:
        """The same frames with everything outside ``regions`` unvoiced."""
        keep = frame_mask(self.times, regions)
        return PitchTrack(self.times, np.where(keep, self.f0_hz, np.nan), self.hop_s)

    def voiced_s(self, regions: Iterable[Region] | None = None) -> float:
        return len(self.voiced(regions)) * self.hop_s


@dataclass(frozen=True)
class PitchStats:
    mean_hz: float
    std_hz: float
    median_hz: float
    std_st: float
    """Standard deviation in semitones (scale-free, for arousal)."""
    range_st: float
    """5th–95th percentile range in semitones (robust to stray frames)."""
    voiced_s: float


def semitones(f0_hz: np.ndarray, ref_hz: float = 100.0) -> np.ndarray:
    return 12.0 * np.log2(np.asarray(f0_hz, dtype=float) / ref_hz)


def track_pitch(
    audio: np.ndarray,
    sr: int,
    regions: Iterable[Region] | None = None,
    method: str = "pyin",
    fmin: float = 50.0,
    fmax: float = 600.0,
    hop_s: float = 0.01,
    crepe_model: str = "tiny",
    pad_s: float = 0.05,
) -> PitchTrack:
    """Track F0 over ``regions`` (default: the whole clip), one tracker call per merged region."""
    if method not in PITCH_METHODS:
        raise ValueError(f"unknown pitch method {method!r}; allowed: {', '.join(PITCH_METHODS)}")
    duration = len(audio) / sr
    spans = [(0.0, duration)] if regions is None else list(regions)
    spans = merge_regions(clip_regions(((s - pad_s, e + pad_s) for s, e in spans), duration), gap_s=0.2)
    hop = max(1, int(round(hop_s * sr)))
    times, f0s = [], []
    for start, end in spans:
        start_sample = int(round(start * sr))
        chunk = np.ascontiguousarray(cut(audio, sr, start, end), dtype=np.float32)
        if len(chunk) < 2 * hop:
            continue
        f0 = _TRACKERS[method](chunk, sr, fmin, fmax, hop, crepe_model)
        times.append((start_sample + np.arange(len(f0)) * hop) / sr)
        f0s.append(f0)
    if not times:
        return PitchTrack.empty(hop / sr)
    return PitchTrack(np.concatenate(times), np.concatenate(f0s), hop / sr)


def _pyin(chunk: np.ndarray, sr: int, fmin: float, fmax: float, hop: int, _model: str) -> np.ndarray:
    import librosa

    # The frame must hold two periods of fmin; a power of two keeps the FFT fast.
    frame = int(2 ** np.ceil(np.log2(2.2 * sr / fmin)))
    if len(chunk) < frame:
        chunk = np.pad(chunk, (0, frame - len(chunk)))
    f0, voiced, _ = librosa.pyin(chunk, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame, hop_length=hop)
    return np.where(voiced, f0, np.nan)


def _crepe(chunk: np.ndarray, sr: int, fmin: float, fmax: float, hop: int, model: str) -> np.ndarray:
    import torch
    import torchcrepe

    with torch.no_grad():
        f0, periodicity = torchcrepe.predict(
            torch.from_numpy(chunk.copy())[None], sr, hop_length=hop, fmin=fmin, fmax=fmax, model=model,
            return_periodicity=True, batch_size=512, device="cpu",
        )
    periodicity = torchcrepe.filter.median(periodicity, 3)
    f0, periodicity = f0[0].numpy(), periodicity[0].numpy()
    # torchcrepe pads half a window at each side, so frame k is centred at k * hop like pyin's.
    return np.where(periodicity >= 0.5, f0, np.nan).astype(float)


def _praat(chunk: np.ndarray, sr: int, fmin: float, fmax: float, hop: int, _model: str) -> np.ndarray:
    import parselmouth

    snd = parselmouth.Sound(chunk.astype(np.float64), sampling_frequency=sr)
    pitch = snd.to_pitch_ac(time_step=hop / sr, pitch_floor=fmin, pitch_ceiling=fmax)
    values = pitch.selected_array["frequency"]
    frame_times = pitch.xs()
    n = int(np.ceil(len(chunk) / hop))
    out = np.full(n, np.nan)
    idx = np.clip(np.round(frame_times * sr / hop).astype(int), 0, n - 1)
    out[idx] = np.where(values > 0, values, np.nan)
    return out


_TRACKERS = {"pyin": _pyin, "crepe": _crepe, "praat": _praat}


# --- octave guard ----------------------------------------------------------------------------------


def _runs(times: np.ndarray, voiced: np.ndarray, hop_s: float) -> list[np.ndarray]:
    """Index arrays of contiguous voiced frames."""
    idx = np.flatnonzero(voiced)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero((np.diff(idx) > 1) | (np.diff(times[idx]) > 1.5 * hop_s)) + 1
    return np.split(idx, breaks)


def guard_octaves(
    track: PitchTrack, jump_st: float = 7.0, run_st: float = 9.0, fold_tol_st: float = 3.0
) -> tuple[PitchTrack, int]:
    """The track with octave errors folded back (or dropped); also the number of frames changed."""
    st = semitones(track.f0_hz)
    voiced = np.isfinite(st)
    out = st.copy()
    runs = _runs(track.times, voiced, track.hop_s)
    # 1. jumps inside a run
    for run in runs:
        steps = np.diff(out[run])
        octaves = np.zeros(len(run))
        for k, step in enumerate(steps):
            n = int(np.round(step / 12.0))
            shift = n if abs(step) > jump_st and n != 0 and abs(step - 12.0 * n) <= fold_tol_st else 0
            octaves[k + 1:] += shift
        if np.any(octaves):
            values, counts = np.unique(octaves, return_counts=True)
            out[run] -= 12.0 * (octaves - values[np.argmax(counts)])
    # 2. whole runs an octave off the clip median
    if runs:
        total = sum(len(r) for r in runs)
        median = float(np.median(out[voiced]))
        for run in runs:
            d = float(np.median(out[run])) - median
            if abs(d) < run_st:
                continue
            n = int(np.round(d / 12.0))
            if n != 0 and abs(d - 12.0 * n) <= fold_tol_st and len(run) < total / 3:
                out[run] -= 12.0 * n
            else:
                out[run] = np.nan
    changed = int(np.sum(voiced & ~np.isclose(np.nan_to_num(out, nan=-999.0), np.nan_to_num(st, nan=-999.0))))
    f0 = 100.0 * 2.0 ** (out / 12.0)
    return PitchTrack(track.times, f0, track.hop_s), changed


def pitch_stats(track: PitchTrack, regions: Iterable[Region] | None = None, min_voiced_s: float = 0.1
                ) -> PitchStats | None:
    """F0 statistics over the voiced frames in ``regions``; ``None`` with less than ``min_voiced_s``."""
    f0 = track.voiced(regions)
    voiced_s = len(f0) * track.hop_s
    if voiced_s < min_voiced_s or len(f0) < 2:
        return None
    st = semitones(f0)
    p5, p95 = np.percentile(st, [5, 95])
    return PitchStats(
        mean_hz=float(np.mean(f0)),
        std_hz=float(np.std(f0)),
        median_hz=float(np.median(f0)),
        std_st=float(np.std(st)),
        range_st=float(p95 - p5),
        voiced_s=voiced_s,
    )
