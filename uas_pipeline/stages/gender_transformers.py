"""Gender per speaker from a ``transformers`` audio classifier (label map ``bundled:gender``)."""

from __future__ import annotations

from ..outputs.gender import GENDER_FIELDS, GenderOutput
from ..schema.models import GenderAttribute
from ._learned import LearnedAttributeStage


def gender_attribute(scores) -> GenderAttribute | None:
    if scores is None:
        return None
    kept = {k: v for k, v in scores.scores.items() if k in ("female", "male")}
    if not kept:
        return GenderAttribute(label="unknown", confidence=None)
    label, conf = max(kept.items(), key=lambda kv: (kv[1], kv[0]))
    return GenderAttribute(label=label, confidence=min(1.0, conf))


class TransformersGender(LearnedAttributeStage):
    name = "gender"
    task = "gender"
    Output = GenderOutput
    fills = GENDER_FIELDS

    def build_output(self, speakers, segments) -> GenderOutput:
        return GenderOutput(speakers=None if speakers is None else {k: gender_attribute(v) for k, v in speakers.items()})
