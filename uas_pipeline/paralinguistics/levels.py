"""Mapping raw measurements to the five UAS levels with versioned bin edges.

The edges live in a JSON data file (``schemas/levels-v1.json``, packaged as
``uas_pipeline/paralinguistics/data/levels-v1.json``): for each attribute the raw field it bins and
four increasing edges; pitch has edges per gender (``male``, ``female``, ``unknown``). A value
below ``edges[0]`` is ``very_low``, at or above ``edges[3]`` ``very_high``. Because records keep
the raw values, levels can be recomputed with other edges without re-running any model
(``uas-pipeline rebin``), e.g. with corpus percentiles (:func:`percentile_edges`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..schema.vocab import LEVELS

BUNDLED = "bundled:levels-v1"
_DATA = Path(__file__).resolve().parent / "data"
ATTRIBUTES = ("pitch", "speaking_rate", "loudness", "arousal", "voice_quality", "reverberation")
GENDER_KEYS = ("male", "female", "unknown")


def _check_edges(v: list[float]) -> list[float]:
    if len(v) != 4 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
        raise ValueError(f"edges must be 4 strictly increasing numbers, got {v}")
    return [float(x) for x in v]


class AttributeEdges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    edges: list[float] | None = None
    by_gender: dict[str, list[float]] | None = None
    fallback_field: str | None = None
    fallback_edges: list[float] | None = None
    source: str = ""

    @field_validator("edges", "fallback_edges")
    @classmethod
    def _edges(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else _check_edges(v)

    @field_validator("by_gender")
    @classmethod
    def _genders(cls, v: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
        if v is None:
            return None
        if "unknown" not in v:
            raise ValueError("by_gender needs an 'unknown' entry")
        return {k: _check_edges(e) for k, e in v.items()}

    def edges_for(self, gender: str | None = None) -> list[float]:
        if self.by_gender is not None:
            return self.by_gender.get(gender or "unknown", self.by_gender["unknown"])
        assert self.edges is not None
        return self.edges


class LevelEdges(BaseModel):
    """A levels file: attribute name → its edges."""

    model_config = ConfigDict(extra="allow")

    name: str = "uas-levels"
    version: str = Field(min_length=1)
    attributes: dict[str, AttributeEdges]

    @property
    def ident(self) -> str:
        return f"{self.name}-v{self.version}"

    def level(self, attribute: str, value: float | None, gender: str | None = None) -> str | None:
        """The level of ``value`` for ``attribute`` (``None`` when the value or the edges are missing)."""
        spec = self.attributes.get(attribute)
        if value is None or spec is None:
            return None
        return level_of(value, spec.edges_for(gender))

    def level_of_model(self, attribute: str, model: Any, gender: str | None = None) -> str | None:
        """The level of a schema attribute object (its raw field, or the fallback field)."""
        spec = self.attributes.get(attribute)
        if model is None or spec is None:
            return None
        value = getattr(model, spec.field, None)
        if value is not None:
            return level_of(value, spec.edges_for(gender))
        if spec.fallback_field and spec.fallback_edges:
            fallback = getattr(model, spec.fallback_field, None)
            if fallback is not None:
                return level_of(fallback, spec.fallback_edges)
        return None


def level_of(value: float, edges: list[float]) -> str:
    return LEVELS[int(np.searchsorted(np.asarray(edges), value, side="right"))]


@lru_cache(maxsize=8)
def _load_cached(path: str) -> LevelEdges:
    return LevelEdges.model_validate(json.loads(Path(path).read_text()))


def resolve(source: str) -> Path:
    """``bundled:levels-v1`` → the packaged file; anything else is a path."""
    if source.startswith("bundled:"):
        return _DATA / f"{source.split(':', 1)[1]}.json"
    return Path(source).expanduser()


def load_edges(source: str = BUNDLED) -> LevelEdges:
    path = resolve(source)
    if not path.is_file():
        raise FileNotFoundError(f"level edges file not found: {path}")
    return _load_cached(str(path.resolve()))


def percentile_edges(values: Iterable[float], percentiles: tuple[float, ...] = (10, 30, 70, 90)) -> list[float] | None:
    """Edges at the given percentiles of ``values`` (``None`` with fewer than 5 distinct values)."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if len(np.unique(arr)) < 5:
        return None
    edges = [float(x) for x in np.percentile(arr, percentiles)]
    for i in range(1, len(edges)):  # ties would make equal edges: nudge to keep them increasing
        edges[i] = max(edges[i], edges[i - 1] + 1e-6)
    return [round(e, 6) for e in edges]
