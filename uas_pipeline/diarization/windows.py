"""Analysis windows: the short stretches of speech a speaker embedding is computed on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A stretch of clip time in seconds (half-open)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def center(self) -> float:
        return 0.5 * (self.start + self.end)


def merge_regions(regions: Iterable[tuple[float, float]], max_gap_s: float) -> list[tuple[float, float]]:
    """Sorted regions with those closer than ``max_gap_s`` joined (a short pause inside a turn
    should not cut the windows that straddle it)."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(regions):
        if end <= start:
            continue
        if merged and start - merged[-1][1] < max_gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def sliding_windows(
    regions: Iterable[tuple[float, float]], window_s: float, hop_s: float, min_window_s: float
) -> list[Window]:
    """Windows of ``window_s`` every ``hop_s`` inside each region, the last one flush with the
    region's end; a region shorter than ``window_s`` (but at least ``min_window_s``) is one window.

    Windows never leave a region, so each embedding hears one stretch of speech."""
    if not 0 < hop_s <= window_s:
        raise ValueError(f"need 0 < hop_s <= window_s, got hop {hop_s}, window {window_s}")
    out: list[Window] = []
    for start, end in regions:
        length = end - start
        if length < min_window_s:
            continue
        if length <= window_s:
            out.append(Window(start, end))
            continue
        t = start
        while t + window_s <= end + 1e-9:
            out.append(Window(t, t + window_s))
            t += hop_s
        if out[-1].end < end - 1e-6:
            out.append(Window(end - window_s, end))
    return out
