"""Small value types shared by stage outputs."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(lambda v: round(float(v), 3))]


class Span(BaseModel):
    """A half-open interval of clip time in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if not self.start < self.end:
            raise ValueError(f"start ({self.start}) must be < end ({self.end})")
        return self

    @property
    def duration(self) -> float:
        return self.end - self.start


def total_duration(spans: list[Span]) -> float:
    """Seconds covered by the union of ``spans``."""
    total, cur_s, cur_e = 0.0, None, None
    for s in sorted(spans, key=lambda x: x.start):
        if cur_e is None or s.start > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s.start, s.end
        else:
            cur_e = max(cur_e, s.end)
    if cur_e is not None:
        total += cur_e - cur_s
    return total
