"""Frame scores of vocabulary labels: what a backend produces and what the data shards keep.

Frame ``i`` is the model's view of the window ``[i·hop_s, i·hop_s + window_s)`` of the clip: a 0.975 s
YAMNet window, a 2 s PANNs ``Cnn14`` window, or a 10 ms frame of a frame-level model averaged over
``hop_s`` (then ``window_s = hop_s``).

**Boundaries.** Taggers fire on a window as soon as a sound occupies a small part of it (measured
with YAMNet: about 0.1 s of a 0.975 s window). So when windows ``a..b`` are active and their
neighbours are not, the sound started within the last hop of window ``a`` (window ``a − 1``, which
ends one hop earlier, heard nothing) and ended within the first hop of window ``b`` (window ``b + 1``
starts one hop later). The event is the smallest stretch sure to contain it,
``[a·hop + window − hop, b·hop + hop]``; for frame-level models (``window = hop``) that is simply the
active frames. A run that starts at the first frame starts at 0 and one that ends at the last frame
ends at the clip end (nothing says the sound is absent there). A sound too short for that formula
(fewer active windows than ``window / hop − 1``) gets the stretch all its windows share,
``[b·hop, a·hop + window]``.

Stored as side columns of the data shards (float16 scores, the class that gave each score), so
events can be re-derived with other thresholds without the model (``uas-pipeline rethreshold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .vocabulary import LabelMap, SourceClass

SIDE_COLUMNS: dict[str, str] = {
    "event_scores": "binary",
    "event_score_sources": "binary",
    "event_score_labels": "list<string>",
    "event_score_source_classes": "list<string>",
    "event_score_hop_s": "float64",
    "event_score_window_s": "float64",
}
"""Data-shard columns of the ``events`` stage: ``event_scores`` is a row-major float16 (little
endian) matrix frames × labels; ``event_score_sources`` a uint16 matrix of the same shape indexing
``event_score_source_classes`` (``"<AudioSet id>|<class name>"``), the class that gave each score."""


@dataclass(frozen=True)
class FrameScores:
    scores: np.ndarray
    """``(frames, labels)`` float32 in [0, 1]."""
    sources: np.ndarray
    """``(frames, labels)`` indices into ``source_classes``."""
    labels: tuple[str, ...]
    source_classes: tuple[SourceClass, ...]
    hop_s: float
    window_s: float

    def __post_init__(self) -> None:
        if self.scores.ndim != 2 or self.scores.shape != self.sources.shape:
            raise ValueError(f"scores {self.scores.shape} and sources {self.sources.shape} must be equal 2-D shapes")
        if self.scores.shape[1] != len(self.labels):
            raise ValueError(f"{self.scores.shape[1]} score columns for {len(self.labels)} labels")
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError(f"need 0 < hop_s ({self.hop_s}) <= window_s ({self.window_s})")

    @property
    def num_frames(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_class_scores(cls, class_scores: np.ndarray, label_map: LabelMap, hop_s: float,
                          window_s: float | None = None) -> FrameScores:
        """Vocabulary-label scores from a model's ``(frames, classes)`` scores (``window_s``
        defaults to ``hop_s``: frame-level scores)."""
        scores, sources = label_map.label_scores(class_scores)
        # rounded to float16 as stored, so events re-derived from the side columns match the run's
        scores = np.clip(scores, 0.0, 1.0).astype(np.float16).astype(np.float32)
        return cls(scores, sources, label_map.labels, label_map.classes, hop_s,
                   hop_s if window_s is None else window_s)

    def span(self, first: int, last: int, duration_s: float) -> tuple[float, float]:
        """Clip-time span of a sound whose frames ``first..last`` (inclusive) are active (see the
        module notes), clamped to ``[0, duration_s]``."""
        hop, win = self.hop_s, self.window_s
        start = 0.0 if first == 0 else first * hop + win - hop
        end = duration_s if last == self.num_frames - 1 else last * hop + hop
        if start >= end:  # shorter than window - hop: where all its windows overlap
            start, end = (0.0 if first == 0 else last * hop), (duration_s if last == self.num_frames - 1
                                                               else first * hop + win)
        return min(max(start, 0.0), duration_s), min(max(end, 0.0), duration_s)

    def pooled(self, factor: int) -> FrameScores:
        """Average ``factor`` consecutive frames into one (the source of a pooled frame is the class of
        its highest-scoring member frame); a shorter last group is averaged over what it has."""
        if factor <= 1 or self.num_frames == 0:
            return self
        n = self.num_frames
        groups = -(-n // factor)
        pad = groups * factor - n
        s = np.pad(self.scores, ((0, pad), (0, 0)))
        counts = np.full(groups, factor, dtype=np.float32)
        counts[-1] = factor - pad
        mean = s.reshape(groups, factor, -1).sum(axis=1) / counts[:, None]
        best = np.pad(self.scores, ((0, pad), (0, 0)), constant_values=-1).reshape(groups, factor, -1).argmax(axis=1)
        rows = np.arange(groups)[:, None] * factor + best
        src = self.sources[np.minimum(rows, n - 1), np.arange(self.scores.shape[1])[None, :]]
        hop = self.hop_s * factor
        return FrameScores(mean.astype(np.float32), src, self.labels, self.source_classes, hop,
                           max(hop, self.window_s + hop - self.hop_s))

    def above(self, floor: float) -> FrameScores:
        """Only the labels whose score reaches ``floor`` in some frame (what is stored)."""
        if self.num_frames == 0:
            return self
        keep = np.flatnonzero(self.scores.max(axis=0) >= floor)
        return FrameScores(self.scores[:, keep], self.sources[:, keep], tuple(self.labels[k] for k in keep),
                           self.source_classes, self.hop_s, self.window_s)

    # --- side columns ---------------------------------------------------------------------------

    def side_columns(self) -> dict[str, Any]:
        """The ``SIDE_COLUMNS`` values: only the source classes actually used are listed."""
        used, compact = np.unique(self.sources, return_inverse=True)
        compact = compact.reshape(self.sources.shape)
        return {
            "event_scores": self.scores.astype("<f2").tobytes(),
            "event_score_sources": compact.astype("<u2").tobytes(),
            "event_score_labels": list(self.labels),
            "event_score_source_classes": [self.source_classes[i].key() for i in used],
            "event_score_hop_s": float(self.hop_s),
            "event_score_window_s": float(self.window_s),
        }

    @classmethod
    def from_side_columns(cls, row: dict[str, Any]) -> FrameScores | None:
        """Rebuild from a data-shard row; ``None`` when the row has no scores."""
        if row.get("event_scores") is None or row.get("event_score_labels") is None:
            return None
        labels = tuple(row["event_score_labels"])
        if not labels:  # no label reached score_floor anywhere in the clip: nothing can become an event
            empty = np.zeros((0, 0), dtype=np.float32)
            return cls(empty, empty.astype(np.int64), (), (), float(row["event_score_hop_s"]),
                       float(row["event_score_window_s"]))
        scores = np.frombuffer(row["event_scores"], dtype="<f2").astype(np.float32).reshape(-1, len(labels))
        sources = np.frombuffer(row["event_score_sources"], dtype="<u2").astype(np.int64).reshape(scores.shape)
        classes = tuple(SourceClass.from_key(k) for k in row["event_score_source_classes"])
        return cls(scores, sources, labels, classes, float(row["event_score_hop_s"]),
                   float(row["event_score_window_s"]))
