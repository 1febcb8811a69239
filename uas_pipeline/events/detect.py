"""From frame scores to timed events and the recording's background labels.

For each vocabulary label, independently:

1. **Hysteresis.** A frame is *active* while its score is at least the release threshold
   (``threshold × release_ratio``); a run of active frames is an event candidate when one of its frames
   reaches the label's threshold (``thresholds[label]``, else ``threshold``). So an event starts and
   ends where the score crosses the lower threshold, around a peak that crosses the higher one.
2. **Gap merging.** Candidates of one label separated by at most ``merge_gap_s`` become one event.
3. **Minimum duration.** Events shorter than ``min_duration_s`` are dropped.
4. Onset and offset come from the first and last active frame and the window geometry (see
   :mod:`.scores`), in clip time; ``confidence`` is the highest frame score of the event, and
   ``source_label`` / ``ontology_id`` the backend class that gave it.

**Kind** (UAS 1.1): the *coverage* of a label is the share of the clip its events cover together.
An event is ``background`` when it lasts at least ``background_min_duration_s`` and its label covers
at least ``background_min_coverage`` of the clip (an ambience present for most of the recording), or
when it alone lasts at least ``background_long_s`` (a music bed under a long talk); every other event
is ``event`` (discrete: a bark, a door, a cough). ``paralinguistics.recording.background`` lists the
labels that have a background event and cover at least ``background_min_coverage`` of the clip.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..schema import EVENT_LABELS
from ..schema.models import Event
from ..stages.base import StageParams
from .scores import FrameScores

Threshold = Annotated[float, Field(gt=0, lt=1)]


class DetectionParams(StageParams):
    """Score → event parameters shared by every ``events`` backend (also what ``rethreshold`` may change)."""

    threshold: Threshold = 0.3
    """Score a label must reach in some frame of an event."""
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    """Per-label thresholds overriding ``threshold`` (e.g. ``{music: 0.4}``)."""
    release_ratio: float = Field(default=0.5, gt=0, le=1)
    """The event continues while the score stays at or above ``threshold × release_ratio``."""
    merge_gap_s: float = Field(default=0.5, ge=0)
    """Events of one label separated by at most this are merged."""
    min_duration_s: float = Field(default=0.0, ge=0)
    """Shorter events are dropped."""
    background_min_duration_s: float = Field(default=3.0, ge=0)
    background_min_coverage: float = Field(default=0.5, gt=0, le=1)
    background_long_s: float = Field(default=30.0, gt=0)
    keep_scores: bool = True
    """Keep the frame scores in the data shards (side columns) so events can be re-thresholded."""
    score_floor: float = Field(default=0.01, ge=0, lt=1)
    """Labels whose score stays below this in a clip are left out of the stored scores (most labels,
    most clips: it keeps the side columns small). Lossless for every threshold ≥ the floor: such a
    label can never start an event; thresholds below it are refused."""

    @model_validator(mode="after")
    def _thresholds_over_floor(self) -> DetectionParams:
        low = [k for k, v in {"threshold": self.threshold, **self.thresholds}.items() if v < self.score_floor]
        if low:
            raise ValueError(f"thresholds below score_floor ({self.score_floor}): {', '.join(low)}")
        return self

    @field_validator("thresholds")
    @classmethod
    def _known_labels(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(EVENT_LABELS))
        if unknown:
            raise ValueError(f"unknown event labels {unknown}; labels are those of schemas/event_vocabulary.csv")
        return dict(sorted(v.items()))

    def threshold_for(self, label: str) -> float:
        return self.thresholds.get(label, self.threshold)


DETECTION_KEYS = tuple(DetectionParams.model_fields)
"""Parameter names of the score → event step."""


def active_runs(x: np.ndarray, on: float, off: float) -> list[tuple[int, int]]:
    """Half-open frame ranges ``[a, b)`` where ``x >= off`` throughout and ``max(x[a:b]) >= on``."""
    active = np.concatenate(([False], x >= off, [False]))
    edges = np.flatnonzero(active[1:] != active[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if x[a:b].max() >= on]


def merge_runs(spans: list[tuple[float, float, int, int]], max_gap: float) -> list[tuple[float, float, int, int]]:
    """Join ``(start, end, first_frame, last_frame)`` spans (sorted by start) whose gap is at most
    ``max_gap`` seconds."""
    out: list[list] = []
    for s, e, a, b in spans:
        if out and s - out[-1][1] <= max_gap + 1e-9:
            out[-1][1], out[-1][3] = max(out[-1][1], e), b
        else:
            out.append([s, e, a, b])
    return [(s, e, a, b) for s, e, a, b in out]


def detect_events(fs: FrameScores, duration_s: float, params: DetectionParams) -> tuple[list[Event], list[str]]:
    """Events (sorted by start, end, label) and the sorted background labels of one clip."""
    if fs.num_frames == 0 or duration_s <= 0:
        return [], []
    found: list[tuple[float, float, str, float, int]] = []  # start, end, label, confidence, source index
    for k, label in enumerate(fs.labels):
        if label not in EVENT_LABELS:
            raise ValueError(f"frame scores name label {label!r}, which is not an event label")
        x = fs.scores[:, k]
        on = params.threshold_for(label)
        spans = [(*fs.span(a, b - 1, duration_s), a, b - 1) for a, b in active_runs(x, on, on * params.release_ratio)]
        for s, e, a, b in merge_runs(sorted(spans), params.merge_gap_s):
            s, e = round(s, 3), round(e, 3)
            if e - s < params.min_duration_s - 1e-9 or e <= s:
                continue
            best = a + int(np.argmax(x[a: b + 1]))
            found.append((s, e, label, float(x[best]), int(fs.sources[best, k])))
    coverage: dict[str, float] = {}
    for s, e, label, _, _ in found:
        coverage[label] = coverage.get(label, 0.0) + (e - s) / duration_s
    events: list[Event] = []
    background: set[str] = set()
    for s, e, label, conf, src in sorted(found, key=lambda f: (f[0], f[1], f[2])):
        covers_most = coverage[label] >= params.background_min_coverage - 1e-9
        is_background = ((e - s >= params.background_min_duration_s - 1e-9 and covers_most)
                         or e - s >= params.background_long_s - 1e-9)
        if is_background and covers_most:
            background.add(label)
        source = fs.source_classes[src]
        events.append(Event(label=label, start=s, end=e, confidence=min(1.0, max(0.0, conf)),
                            source_label=source.name, ontology_id=source.ontology_id,
                            kind="background" if is_background else "event"))
    return events, sorted(background)
