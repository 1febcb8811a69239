"""Time regions of a clip: merging, clipping and cutting audio by them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Region = tuple[float, float]
"""``(start_s, end_s)`` in clip time, ``start < end``."""


def merge_regions(regions: Iterable[Region], gap_s: float = 0.0) -> list[Region]:
    """Sorted union of ``regions``; regions closer than ``gap_s`` are joined."""
    out: list[list[float]] = []
    for start, end in sorted((float(s), float(e)) for s, e in regions if e > s):
        if out and start <= out[-1][1] + gap_s:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def clip_regions(regions: Iterable[Region], duration_s: float) -> list[Region]:
    """Regions cut to ``[0, duration_s]``; empty ones dropped."""
    return [(max(0.0, s), min(duration_s, e)) for s, e in regions if min(duration_s, e) > max(0.0, s)]


def subtract_regions(regions: Iterable[Region], holes: Iterable[Region]) -> list[Region]:
    """``regions`` minus every hole (e.g. a speaker's turns minus overlapped speech)."""
    result = merge_regions(regions)
    for h0, h1 in merge_regions(holes):
        nxt: list[Region] = []
        for s, e in result:
            if h1 <= s or h0 >= e:
                nxt.append((s, e))
                continue
            if s < h0:
                nxt.append((s, h0))
            if h1 < e:
                nxt.append((h1, e))
        result = nxt
    return result


def total_s(regions: Iterable[Region]) -> float:
    return sum(e - s for s, e in merge_regions(regions))


def cut(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> np.ndarray:
    """The samples of ``[start_s, end_s)`` (a view)."""
    i0 = max(0, int(round(start_s * sr)))
    i1 = min(len(audio), int(round(end_s * sr)))
    return audio[i0:max(i0, i1)]


def concat(audio: np.ndarray, sr: int, regions: Iterable[Region]) -> np.ndarray:
    """The samples of every region, joined in time order."""
    parts = [cut(audio, sr, s, e) for s, e in merge_regions(regions)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=audio.dtype)


def frame_mask(times: np.ndarray, regions: Iterable[Region]) -> np.ndarray:
    """Boolean mask of the frame times that fall inside any region."""
    mask = np.zeros(len(times), dtype=bool)
    for s, e in merge_regions(regions):
        mask |= (times >= s) & (times < e)
    return mask
