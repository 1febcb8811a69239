"""Emotion per transcript segment and per speaker from a ``transformers`` audio classifier."""

from __future__ import annotations

from ..outputs.emotion import EMOTION_FIELDS, EmotionOutput
from ..schema.models import EmotionAttribute
from ..schema.vocab import EMOTIONS
from ._learned import LearnedAttributeStage


def emotion_attribute(scores) -> EmotionAttribute | None:
    if scores is None:
        return None
    kept = {k: v for k, v in scores.scores.items() if k in EMOTIONS}
    if not kept:
        return None
    label, conf = max(kept.items(), key=lambda kv: (kv[1], kv[0]))
    return EmotionAttribute(label=label, confidence=min(1.0, conf), scores={k: min(1.0, v) for k, v in kept.items()})


class TransformersEmotion(LearnedAttributeStage):
    name = "emotion"
    task = "emotion"
    segment_level = True
    Output = EmotionOutput
    fills = EMOTION_FIELDS

    def build_output(self, speakers, segments) -> EmotionOutput:
        return EmotionOutput(
            speakers=None if speakers is None else {k: emotion_attribute(v) for k, v in speakers.items()},
            segments=None if segments is None else [emotion_attribute(s) for s in segments],
        )
