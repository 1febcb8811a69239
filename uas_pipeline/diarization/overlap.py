"""Overlapped speech from window embeddings (for the embedding-cluster backend).

A window in which two speakers are heard has an embedding between theirs: it is closer to the
normalised sum of the two centroids than to either centroid alone. The *mixture score* of a window
is ``cos(x, c_a + c_b) - cos(x, c_a)`` for its two nearest centroids ``a``, ``b``; it is positive-ish
for mixed windows and clearly negative for one-speaker windows.

A window that straddles a clean change from ``a`` to ``b`` is mixed too, so one mixed window is no
evidence of overlap: what tells overlap apart is its *extent*. A window of length ``W`` centred at
``c`` holds at least ``W/4`` of each of two speakers exactly when ``c`` lies within
``[t1 - W/4, t2 + W/4]`` for an overlap ``[t1, t2]`` (a clean change is the case ``t1 = t2``). So a
run of consecutive mixed windows for one speaker pair, centred from ``c_first`` to ``c_last``,
gives the overlap estimate ``[c_first + W/4, c_last - W/4]``, empty at a clean change. It is kept
when it is at least ``min_overlap_s`` long, lies mostly in speech and both speakers of the pair are the
main speaker somewhere within one window length of it; there the second speaker of the pair gets a
turn next to the main one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import l2_normalize
from .segmentation import FrameGrid
from .windows import Window


@dataclass(frozen=True)
class OverlapSpan:
    start: float
    end: float
    speakers: tuple[int, int]


def mixture_scores(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: nearest centroid, second nearest, and the mixture score (``-inf`` with one centroid)."""
    n = len(x)
    if len(centroids) < 2 or n == 0:
        return np.zeros(n, dtype=int), np.zeros(n, dtype=int), np.full(n, -np.inf)
    sims = x @ centroids.T
    order = np.argsort(-sims, axis=1, kind="stable")
    a, b = order[:, 0], order[:, 1]
    mixed = l2_normalize(centroids[a] + centroids[b])
    gain = np.einsum("ij,ij->i", x, mixed) - sims[np.arange(n), a]
    # the gain scales with the squared angle between the two centroids: dividing by
    # 1 - cos(c_a, c_b) makes it about -1/4 for a one-speaker window and +1/4 for an even mixture,
    # whatever how alike the two voices are
    spread = 1.0 - np.einsum("ij,ij->i", centroids[a], centroids[b])
    return a, b, gain / np.maximum(spread, 1e-6)


def detect_overlaps(
    windows: list[Window],
    x: np.ndarray,
    centroids: np.ndarray,
    grid: FrameGrid,
    labels: np.ndarray,
    threshold: float,
    min_overlap_s: float,
) -> list[OverlapSpan]:
    """Overlap spans from runs of mixed windows (see the module docstring); ``labels`` are the
    main speaker per grid frame (``-1`` outside speech)."""
    if len(windows) < 2 or len(centroids) < 2:
        return []
    a, b, score = mixture_scores(x, centroids)
    spans: list[OverlapSpan] = []
    k = 0
    while k < len(windows):
        if score[k] <= threshold:
            k += 1
            continue
        pair = tuple(sorted((int(a[k]), int(b[k]))))
        j = k
        while (
            j + 1 < len(windows)
            and score[j + 1] > threshold
            and tuple(sorted((int(a[j + 1]), int(b[j + 1])))) == pair
            and windows[j + 1].start - windows[j].start <= windows[j].duration / 2 + 1e-6
        ):
            j += 1
        w_first, w_last = windows[k], windows[j]
        start = w_first.center + w_first.duration / 4
        end = w_last.center - w_last.duration / 4
        if end - start >= min_overlap_s:
            lo, hi = grid.index(start), grid.index(end)
            around = labels[grid.index(start - w_first.duration): grid.index(end + w_last.duration)]
            if (labels[lo:hi] >= 0).mean() >= 0.5 and set(pair) <= set(around.tolist()):
                spans.append(OverlapSpan(start, end, pair))  # type: ignore[arg-type]
        k = j + 1
    return spans
