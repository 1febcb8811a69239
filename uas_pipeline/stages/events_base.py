"""What the ``events`` backends share: a model gives frame scores of its classes, the vocabulary turns
them into label scores, and :func:`~uas_pipeline.events.detect.detect_events` into events."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from ..events.detect import DetectionParams, detect_events
from ..events.scores import FrameScores
from ..outputs.events import EVENTS_FIELDS, EventsOutput, StoredScores
from .base import Stage, StageFailure, StageInput


class EventStage(Stage):
    name = "events"
    requires = ("audio",)
    Params = DetectionParams
    Output = EventsOutput
    fills = EVENTS_FIELDS

    @abstractmethod
    def frame_scores(self, audios: list[np.ndarray]) -> list[FrameScores]:
        """Vocabulary-label frame scores of each clip (audio at ``sample_rate``)."""

    def process(self, batch: list[StageInput]) -> list[EventsOutput | StageFailure]:
        scores = self.frame_scores([item.audio for item in batch])
        return [self.to_output(fs, item.duration_s) for fs, item in zip(scores, batch, strict=True)]

    def to_output(self, fs: FrameScores, duration_s: float) -> EventsOutput:
        events, background = detect_events(fs, duration_s, self.params)
        stored = StoredScores.of(fs.above(self.params.score_floor)) if self.params.keep_scores else None
        return EventsOutput(events=events, background=background, scores=stored)
