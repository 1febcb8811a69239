"""Clustering window embeddings into speakers, with an automatic speaker count.

Spectral clustering on a pruned cosine-affinity graph (after Park et al., "Auto-Tuning Spectral
Clustering for Speaker Diarization Using Normalized Maximum Eigengap", 2019):

1. affinity = cosine similarity of the L2-normalised window embeddings;
2. each row keeps its ``p`` most similar neighbours (binarised), the graph is symmetrised; ``p`` is
   chosen per clip as the fraction that gives the sharpest eigengap relative to ``p`` (NME), so the
   pruning adapts to the number of windows and how distinct the voices are;
3. the speaker count is the position of the largest gap among the smallest Laplacian eigenvalues,
   searched within ``[min_speakers, max_speakers]`` (or fixed by ``num_speakers``);
4. k-means on the rows of the first ``k`` eigenvectors gives the labels;
5. clusters whose centroids are closer than ``merge_threshold`` are merged (the eigengap cannot say
   "one speaker" reliably, and a voice split in two by its loud and soft passages is one speaker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import l2_normalize


@dataclass(frozen=True)
class SpeakerCount:
    """Constraints on the number of speakers of a clip (recipe defaults, overridden per clip)."""

    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 8

    def bounds(self, n_items: int) -> tuple[int, int]:
        """The allowed range of cluster counts for ``n_items`` windows."""
        if self.num_speakers is not None:
            k = max(1, min(self.num_speakers, n_items))
            return k, k
        hi = max(1, min(self.max_speakers, n_items))
        lo = max(1, min(self.min_speakers, hi))
        return lo, hi


@dataclass(frozen=True)
class ClusteringResult:
    labels: np.ndarray
    """Cluster index per window, numbered by first appearance (0, 1, ...)."""
    centroids: np.ndarray
    """L2-normalised mean embedding per cluster."""
    eigengap_count: int
    """The count the eigengap chose before merging (for diagnostics)."""


def cosine_similarity(x: np.ndarray) -> np.ndarray:
    x = l2_normalize(np.asarray(x, dtype=np.float64))
    return np.clip(x @ x.T, -1.0, 1.0)


def _pruned_graph(sim: np.ndarray, keep: int) -> np.ndarray:
    """Each row keeps its ``keep`` strongest neighbours (as 1), then the graph is symmetrised."""
    n = len(sim)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :keep]
    a = np.zeros_like(sim)
    a[np.repeat(np.arange(n), keep), order.ravel()] = 1.0
    return 0.5 * (a + a.T)


def _laplacian_eigen(a: np.ndarray, smallest: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``smallest`` lowest eigenpairs of the graph Laplacian and its largest eigenvalue (only
    those are needed: on a 600 s region with ~2400 windows a full decomposition would dominate)."""
    from scipy.linalg import eigh

    lap = np.diag(a.sum(axis=1)) - a
    n = len(lap)
    if n <= 400:  # small: the full decomposition is cheaper than two partial ones
        values, vectors = np.linalg.eigh(lap)
        return values[:smallest], vectors[:, :smallest], float(values[-1])
    k = min(n, smallest)
    values, vectors = eigh(lap, subset_by_index=[0, k - 1], driver="evr")
    top = float(eigh(lap, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr")[0])
    return values, vectors, top


def _best_gap(values: np.ndarray, lo: int, hi: int) -> tuple[int, float]:
    """The count ``k`` in ``[lo, hi]`` with the largest gap ``values[k] - values[k-1]`` and that gap."""
    hi = min(hi, len(values) - 1)
    if hi < lo:
        return lo, 0.0
    gaps = values[lo: hi + 1] - values[lo - 1: hi]
    k = int(np.argmax(gaps)) + lo
    return k, float(gaps[k - lo])


def _relabel_by_first_appearance(labels: np.ndarray) -> np.ndarray:
    mapping: dict[int, int] = {}
    for lab in labels:
        mapping.setdefault(int(lab), len(mapping))
    return np.array([mapping[int(lab)] for lab in labels], dtype=int)


def centroids_of(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return l2_normalize(np.stack([x[labels == c].mean(axis=0) for c in range(k)]))


def merge_close_clusters(x: np.ndarray, labels: np.ndarray, threshold: float, min_clusters: int) -> np.ndarray:
    """Merge the two clusters with the most similar centroids while that similarity is at least
    ``threshold`` and more than ``min_clusters`` remain."""
    labels = _relabel_by_first_appearance(labels)
    while True:
        k = int(labels.max()) + 1
        if k <= min_clusters:
            return labels
        c = centroids_of(x, labels, k)
        sim = c @ c.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < threshold:
            return labels
        labels = np.where(labels == max(i, j), min(i, j), labels)
        labels = _relabel_by_first_appearance(labels)


def spectral_cluster(
    x: np.ndarray,
    count: SpeakerCount | None = None,
    merge_threshold: float | None = 0.8,
    prune_fractions: tuple[float, ...] = tuple(np.round(np.arange(0.05, 0.51, 0.05), 2)),
    min_neighbours: int = 3,
    seed: int = 0,
) -> ClusteringResult:
    """Cluster L2-normalised embeddings ``x`` (one row per window) into speakers."""
    from sklearn.cluster import KMeans

    count = count or SpeakerCount()
    x = l2_normalize(np.asarray(x, dtype=np.float64))
    n = len(x)
    lo, hi = count.bounds(n)
    if n == 0:
        return ClusteringResult(np.zeros(0, dtype=int), np.zeros((0, x.shape[1] if x.ndim == 2 else 0)), 0)
    if n <= 2 or hi == 1:
        labels = np.zeros(n, dtype=int)
        if n == 2 and hi >= 2 and lo >= 2:
            labels = np.array([0, 1])
        return ClusteringResult(labels, centroids_of(x, labels, int(labels.max()) + 1), int(labels.max()) + 1)

    sim = cosine_similarity(x)
    best: tuple[float, np.ndarray, int] | None = None  # (ratio, eigenvectors, k)
    for p in prune_fractions:
        keep = min(n, max(min_neighbours, int(np.ceil(p * n))))
        values, vectors, top = _laplacian_eigen(_pruned_graph(sim, keep), hi + 1)
        k, gap = _best_gap(values, max(lo, 1), hi)
        normalised_gap = gap / max(top, 1e-9)
        ratio = (keep / n) / max(normalised_gap, 1e-9)
        if best is None or ratio < best[0]:
            best = (ratio, vectors, k)
    assert best is not None
    _, vectors, k = best
    if k == 1:
        labels = np.zeros(n, dtype=int)
    else:
        spectral = l2_normalize(vectors[:, :k])
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(spectral)
    labels = _relabel_by_first_appearance(labels)
    if merge_threshold is not None and count.num_speakers is None:
        labels = merge_close_clusters(x, labels, merge_threshold, min_clusters=lo)
    k_final = int(labels.max()) + 1
    return ClusteringResult(labels, centroids_of(x, labels, k_final), k)
