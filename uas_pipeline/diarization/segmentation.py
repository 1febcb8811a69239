"""From labelled windows to speaker turns on a fine time grid.

Windows overlap (hop < window), so every instant of speech is heard by several windows. Each grid
frame takes the speaker with the largest summed weight of the windows that cover it, a window
weighing most at its centre (triangular), which puts speaker changes between the centres of windows
of different speakers. Only frames inside speech regions are labelled; speech no window covers (a
region too short to embed) takes the speaker of the nearest window. Runs shorter than
``min_run_s`` are absorbed by their neighbours (a speaker does not talk for 0.1 s between two
turns of another).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .windows import Window


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int


@dataclass(frozen=True)
class FrameGrid:
    step: float
    n: int

    def index(self, t: float) -> int:
        return int(np.clip(round(t / self.step), 0, self.n))

    def time(self, i: int) -> float:
        return i * self.step

    @classmethod
    def for_duration(cls, duration: float, step: float) -> FrameGrid:
        return cls(step, int(np.ceil(duration / step)))


def speech_mask(grid: FrameGrid, regions: list[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(grid.n, dtype=bool)
    for start, end in regions:
        mask[grid.index(start): grid.index(end)] = True
    return mask


def window_scores(grid: FrameGrid, windows: list[Window], scores: np.ndarray) -> np.ndarray:
    """Per-frame sum of triangular-weighted window scores: ``(frames, n_speakers)`` from ``scores``
    ``(windows, n_speakers)`` (one-hot labels or soft memberships)."""
    out = np.zeros((grid.n, scores.shape[1]))
    centres = (np.arange(grid.n) + 0.5) * grid.step
    for w, s in zip(windows, scores, strict=True):
        a, b = grid.index(w.start), max(grid.index(w.start) + 1, grid.index(w.end))
        half = max(w.duration / 2, grid.step)
        weight = np.clip(1.0 - np.abs(centres[a:b] - w.center) / half, 0.05, 1.0)
        out[a:b] += weight[:, None] * s[None, :]
    return out


def frame_labels(grid: FrameGrid, mask: np.ndarray, windows: list[Window], scores: np.ndarray) -> np.ndarray:
    """Speaker index per frame (``-1`` outside speech)."""
    labels = np.full(grid.n, -1, dtype=int)
    if not windows or not mask.any():
        return labels
    summed = window_scores(grid, windows, scores)
    covered = summed.sum(axis=1) > 0
    labels[mask & covered] = np.argmax(summed[mask & covered], axis=1)
    orphans = np.flatnonzero(mask & ~covered)
    if orphans.size:
        centres = np.array([w.center for w in windows])
        best = np.argmax(scores, axis=1)
        nearest = np.abs(((orphans + 0.5) * grid.step)[:, None] - centres[None, :]).argmin(axis=1)
        labels[orphans] = best[nearest]
    return labels


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, label) runs of equal labels."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, int(labels[start])))
            start = i
    return runs


def absorb_short_runs(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Relabel speech runs shorter than ``min_frames`` that touch other speech: a run between two
    runs of one speaker takes that speaker; otherwise the longer speech neighbour's."""
    labels = labels.copy()
    changed = True
    while changed:
        changed = False
        runs = _runs(labels)
        for k, (a, b, lab) in enumerate(runs):
            if lab < 0 or b - a >= min_frames:
                continue
            left = runs[k - 1] if k > 0 and runs[k - 1][2] >= 0 else None
            right = runs[k + 1] if k + 1 < len(runs) and runs[k + 1][2] >= 0 else None
            if left is None and right is None:
                continue
            if left and right:
                target = left[2] if left[2] == right[2] or left[1] - left[0] >= right[1] - right[0] else right[2]
            else:
                target = (left or right)[2]
            labels[a:b] = target
            changed = True
            break
    return labels


def turns_from_labels(grid: FrameGrid, labels: np.ndarray) -> list[Turn]:
    return [Turn(grid.time(a), grid.time(b), lab) for a, b, lab in _runs(labels) if lab >= 0]
