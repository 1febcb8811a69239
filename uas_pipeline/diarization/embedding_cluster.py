"""The embedding-cluster diarizer: speech regions → window embeddings → clusters → turns + overlap.

Model-side code only (no stage contract): :class:`EmbeddingClusterDiarizer` takes a clip's audio,
its speech regions and speaker-count constraints and returns a :class:`DiarizationOutput`.
See docs/diarization.md for how the default settings were chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..outputs.diarization import DiarizationOutput
from .clustering import SpeakerCount, spectral_cluster
from .convert import to_output
from .embeddings import SpeakerEmbedder
from .overlap import detect_overlaps
from .segmentation import FrameGrid, absorb_short_runs, frame_labels, speech_mask, turns_from_labels
from .windows import merge_regions, sliding_windows


@dataclass(frozen=True)
class EmbeddingClusterSettings:
    window_s: float = 1.0
    hop_s: float = 0.25
    min_window_s: float = 0.4
    """Speech regions shorter than this are not embedded (they take the nearest window's speaker)."""
    join_gap_s: float = 0.5
    """Speech regions closer than this are windowed as one (pauses inside a turn)."""
    min_speech_per_speaker_s: float = 3.0
    """The automatic count allows at most one speaker per this much speech (a cluster of a few
    windows is noise, not a person)."""
    merge_threshold: float | None = None
    """Optionally merge clusters whose centroids are at least this similar (off by default)."""
    prune_fractions: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    min_neighbours: int = 5
    frame_step_s: float = 0.05
    min_turn_s: float = 0.3
    overlap: bool = True
    overlap_threshold: float = -0.1
    min_overlap_s: float = 0.1
    link_threshold: float = 0.8


class EmbeddingClusterDiarizer:
    """Diarize one clip with a speaker embedder and spectral clustering."""

    def __init__(self, embedder: SpeakerEmbedder, settings: EmbeddingClusterSettings | None = None):
        self.embedder = embedder
        self.settings = settings or EmbeddingClusterSettings()

    def count_bounds(self, count: SpeakerCount, speech_s: float) -> SpeakerCount:
        """``count`` with the automatic maximum capped by the amount of speech."""
        if count.num_speakers is not None:
            return count
        cap = max(1, int(speech_s // self.settings.min_speech_per_speaker_s))
        hi = max(count.min_speakers, min(count.max_speakers, cap))
        return SpeakerCount(None, count.min_speakers, hi)

    def diarize(
        self, audio: np.ndarray, speech: list[tuple[float, float]], count: SpeakerCount | None = None
    ) -> DiarizationOutput:
        """``audio``: mono float32 at the embedder's rate; ``speech``: speech regions (s), sorted."""
        count = count or SpeakerCount()
        s = self.settings
        sr = self.embedder.sample_rate
        duration = len(audio) / sr
        speech = [(max(0.0, a), min(duration, b)) for a, b in speech if min(duration, b) > max(0.0, a)]
        windows = sliding_windows(merge_regions(speech, s.join_gap_s), s.window_s, s.hop_s, s.min_window_s)
        if not windows:
            # too little speech to tell voices apart: one speaker over all of it
            turns = [(a, b, 0) for a, b in speech]
            return to_output(turns, duration, None, s.link_threshold)
        x = self.embedder.embed(audio, windows)
        speech_s = sum(b - a for a, b in speech)
        result = spectral_cluster(x, self.count_bounds(count, speech_s), merge_threshold=s.merge_threshold,
                                  prune_fractions=s.prune_fractions, min_neighbours=s.min_neighbours)
        k = int(result.labels.max()) + 1
        grid = FrameGrid.for_duration(duration, s.frame_step_s)
        labels = frame_labels(grid, speech_mask(grid, speech), windows, np.eye(k)[result.labels])
        labels = absorb_short_runs(labels, max(1, int(round(s.min_turn_s / s.frame_step_s))))
        turns = [(t.start, t.end, t.speaker) for t in turns_from_labels(grid, labels)]
        if s.overlap and k >= 2:
            second = np.full(grid.n, -1, dtype=int)
            for span in detect_overlaps(windows, x, result.centroids, grid, labels, s.overlap_threshold,
                                        s.min_overlap_s):
                a, b = span.speakers
                seg = slice(grid.index(span.start), grid.index(span.end))
                main = labels[seg]
                second[seg] = np.where(main == a, b, np.where(main == b, a, -1))
            turns += [(t.start, t.end, t.speaker) for t in turns_from_labels(grid, second)]
        centroids = {c: result.centroids[c] for c in range(k)}
        return to_output(turns, duration, centroids, s.link_threshold)
