"""Accent per transcript segment and per speaker from a ``transformers`` audio classifier; labels
are the model's own (through the label map, ``identity`` by default)."""

from __future__ import annotations

from ..outputs.accent import ACCENT_FIELDS, AccentOutput
from ..schema.models import AccentAttribute
from ._learned import LearnedAttributeStage


def accent_attribute(scores) -> AccentAttribute | None:
    if scores is None:
        return None
    label, conf = scores.top
    return AccentAttribute(label=label, confidence=min(1.0, conf))


class TransformersAccent(LearnedAttributeStage):
    name = "accent"
    task = "accent"
    segment_level = True
    Output = AccentOutput
    fills = ACCENT_FIELDS

    def build_output(self, speakers, segments) -> AccentOutput:
        return AccentOutput(
            speakers=None if speakers is None else {k: accent_attribute(v) for k, v in speakers.items()},
            segments=None if segments is None else [accent_attribute(s) for s in segments],
        )
