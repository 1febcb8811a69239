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


_UNIT_ATTRS = ("pitch", "speaking_rate", "loudness", "arousal", "voice_quality")


def relevel_record(record, edges: LevelEdges):
    """A copy of ``record`` (a :class:`~uas_pipeline.schema.UASRecord`) with every level recomputed
    from its raw values: pitch by each speaker's gender (segments by their speaker's), the other
    attributes with their edges. Raw values and everything else stay as they are."""
    para = record.paralinguistics
    if para is None:
        return record
    genders = {s.id: (s.gender.label if s.gender is not None else None) for s in para.speakers or []}

    def unit(obj, gender: str | None):
        updates = {}
        for attr in _UNIT_ATTRS:
            value = getattr(obj, attr)
            if value is not None:
                updates[attr] = value.model_copy(
                    update={"level": edges.level_of_model(attr, value, gender if attr == "pitch" else None)})
        return obj.model_copy(update=updates)

    speakers = None if para.speakers is None else [unit(s, genders.get(s.id)) for s in para.speakers]
    segments = None if para.segments is None else [unit(s, genders.get(s.speaker)) for s in para.segments]
    recording = para.recording
    if recording is not None and recording.reverberation is not None:
        rev = recording.reverberation
        recording = recording.model_copy(update={"reverberation": rev.model_copy(
            update={"level": edges.level_of_model("reverberation", rev)})})
    new_para = para.model_copy(update={"speakers": speakers, "segments": segments, "recording": recording})
    # Validate the result as a whole record (levels are vocabulary checked, spans untouched).
    return type(record).model_validate(record.model_copy(update={"paralinguistics": new_para}).model_dump())


def raw_values(record) -> dict[str, list[float]]:
    """Raw values of one record by edges key: ``pitch:<gender>`` and the other attributes' fields."""
    out: dict[str, list[float]] = {}
    para = record.paralinguistics
    if para is None:
        return out
    genders = {s.id: (s.gender.label if s.gender is not None else "unknown") for s in para.speakers or []}
    fields = {"speaking_rate": "syllables_per_s", "loudness": "lufs", "arousal": "value", "voice_quality": "hnr_db"}
    units = [(s, genders.get(s.id, "unknown")) for s in para.speakers or []]
    units += [(s, genders.get(s.speaker, "unknown") if s.speaker else "unknown") for s in para.segments or []]
    for obj, gender in units:
        if obj.pitch is not None and obj.pitch.mean_hz is not None:
            out.setdefault(f"pitch:{gender}", []).append(obj.pitch.mean_hz)
            if gender != "unknown":
                out.setdefault("pitch:unknown", []).append(obj.pitch.mean_hz)
        for attr, name in fields.items():
            value = getattr(obj, attr)
            if value is not None and getattr(value, name) is not None:
                out.setdefault(attr, []).append(getattr(value, name))
    return out
