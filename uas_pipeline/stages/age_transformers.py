"""Age group (and years where the label map gives them) per speaker from a ``transformers`` classifier."""

from __future__ import annotations

from ..outputs.age import AGE_FIELDS, AgeOutput
from ..schema.models import AgeAttribute
from ..schema.vocab import AGE_GROUPS
from ._learned import LearnedAttributeStage


def age_attribute(scores) -> AgeAttribute | None:
    if scores is None:
        return None
    kept = {k: v for k, v in scores.scores.items() if k in AGE_GROUPS}
    if not kept:
        return None
    label, conf = max(kept.items(), key=lambda kv: (kv[1], kv[0]))
    years = None if scores.years is None else min(130.0, max(0.0, scores.years))
    return AgeAttribute(label=label, years=years, confidence=min(1.0, conf))


class TransformersAge(LearnedAttributeStage):
    name = "age"
    task = "age"
    Output = AgeOutput
    fills = AGE_FIELDS

    def build_output(self, speakers, segments) -> AgeOutput:
        return AgeOutput(speakers=None if speakers is None else {k: age_attribute(v) for k, v in speakers.items()})
