"""Building a UAS record from the typed outputs of the stages that ran, by field ownership.

Every stage declares the record fields it fills as *field paths*:

* ``transcription.segments``, ``paralinguistics.recording.speech_ratio``, ``non_linguistic_events``:
  the value at that place (a schema model, a list of them, or a plain value);
* ``paralinguistics.speakers[].pitch``: one value per speaker, given as a mapping speaker id → value;
  the speaker list itself (``paralinguistics.speakers``) is filled by one stage (diarization);
* ``paralinguistics.segments[].pitch``: one value per transcript segment, as a list aligned with
  ``transcription.segments``; the segment spans are mirrored from the transcript.

The assembler knows nothing about particular stages: it applies each stage's fields in run order
(a derived step's ``refines`` replace fields of the stages it requires), fills every key no stage
set with ``null``, and validates the result as a :class:`UASRecord`.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .clips import ClipInfo
from .schema import (
    UAS_VERSION,
    Clip,
    Paralinguistics,
    Provenance,
    Transcription,
    UASRecord,
)
from .schema.models import Event

_SPEAKER_ATTRS = ("gender", "age", "emotion", "pitch", "speaking_rate", "loudness", "arousal", "accent",
                  "voice_quality")
_SEGMENT_ATTRS = ("emotion", "pitch", "speaking_rate", "loudness", "arousal", "accent", "voice_quality")
_RECORDING = ("num_speakers", "speech_ratio", "overlap_ratio", "snr_db", "reverberation", "quality", "background")

FIELD_PATHS: tuple[str, ...] = (
    "transcription.text",
    "transcription.language",
    "transcription.language_confidence",
    "transcription.segments",
    "transcription.rejected",
    "paralinguistics.speakers",
    *(f"paralinguistics.speakers[].{a}" for a in _SPEAKER_ATTRS),
    *(f"paralinguistics.segments[].{a}" for a in _SEGMENT_ATTRS),
    *(f"paralinguistics.recording.{a}" for a in _RECORDING),
    "non_linguistic_events",
)
"""Every field a stage can own: the rows of the ownership table and the keys of ``provenance.fields``."""

# Lists whose items several stages annotate: how per-item values address the items.
_KEYED_LISTS = {"paralinguistics.speakers": "id"}
_MIRRORED_LISTS = {"paralinguistics.segments": ("transcription.segments", ("start", "end", "speaker"))}

_PLACEHOLDER_PROVENANCE = {"pipeline_version": "check", "recipe_hash": "0" * 16,
                           "created_at": "1970-01-01T00:00:00Z", "stages": {}, "fields": None}


class AssemblyError(ValueError):
    """Stage outputs that do not fit together (e.g. an attribute for an undeclared speaker)."""


def covers(owner: str, path: str) -> bool:
    """True when a stage owning ``owner`` owns ``path`` (equal, or ``path`` lies inside it)."""
    return path == owner or path.startswith(owner + ".")


def overlaps(a: str, b: str) -> bool:
    """Two field paths conflict when one contains the other (per-item paths ``x[].y`` are distinct
    from the list ``x`` itself)."""
    return covers(a, b) or covers(b, a)


def valid_path(path: str) -> bool:
    """A path of the ownership table or a place inside one (``transcription`` covers its fields)."""
    return any(covers(path, known) or covers(known, path) for known in FIELD_PATHS)


# --- model introspection ---------------------------------------------------------------------------


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside ``X | None`` or ``list[X] | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _skeleton(cls: type[BaseModel]) -> dict[str, Any]:
    return dict.fromkeys(cls.model_fields)


def _complete(value: Any, cls: type[BaseModel] | None) -> Any:
    """JSON form of ``value`` with every key of ``cls`` present (missing ones ``None``), recursively."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if cls is None:
        if isinstance(value, list):
            return [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        return value
    if isinstance(value, list):
        return [_complete(v, cls) for v in value]
    if isinstance(value, dict):
        out = _skeleton(cls)
        for key, item in value.items():
            if key not in cls.model_fields:
                raise AssemblyError(f"{cls.__name__} has no field {key!r}")
            out[key] = _complete(item, _model_in(cls.model_fields[key].annotation))
        return out
    return value


# --- the draft -------------------------------------------------------------------------------------


@dataclass
class PartialRecord:
    """The parts of a record filled so far (validated part by part, cross-part rules not yet)."""

    transcription: Transcription | None
    paralinguistics: Paralinguistics | None
    non_linguistic_events: list[Event] | None


class RecordDraft:
    """Collects stage fields in run order and builds the record."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {"transcription": None, "paralinguistics": None, "non_linguistic_events": None}
        self.sources: dict[str, str] = {}
        """Field path → the stage that last wrote it."""

    def apply(self, stage: str, fields: dict[str, Any]) -> None:
        for path, value in fields.items():
            if not valid_path(path):
                raise AssemblyError(f"stage {stage!r} fills unknown field path {path!r}")
            self._set(path, value)
            self.sources[path] = stage

    def _set(self, path: str, value: Any) -> None:
        head, sep, attr = path.partition("[].")
        if sep:
            self._set_per_item(head, attr, value)
            return
        steps = path.split(".")
        node, cls = self.doc, UASRecord
        for step in steps[:-1]:
            child_cls = _model_in(cls.model_fields[step].annotation)
            if node.get(step) is None:
                node[step] = _skeleton(child_cls)
            node, cls = node[step], child_cls
        last = steps[-1]
        node[last] = _complete(value, _model_in(cls.model_fields[last].annotation))

    def _container(self, list_path: str) -> tuple[dict[str, Any], str]:
        *parents, name = list_path.split(".")
        node, cls = self.doc, UASRecord
        for step in parents:
            child_cls = _model_in(cls.model_fields[step].annotation)
            if node.get(step) is None:
                node[step] = _skeleton(child_cls)
            node, cls = node[step], child_cls
        return node, name

    def _get(self, path: str) -> Any:
        node: Any = self.doc
        for step in path.split("."):
            if node is None:
                return None
            node = node.get(step)
        return node

    def _set_per_item(self, list_path: str, attr: str, value: Any) -> None:
        if value is None:
            return  # not annotated: the items keep null
        container, name = self._container(list_path)
        items = container.get(name)
        if list_path in _KEYED_LISTS:
            key = _KEYED_LISTS[list_path]
            if items is None:
                raise AssemblyError(f"{list_path}[].{attr} filled, but no stage filled {list_path}")
            if not isinstance(value, dict):
                raise AssemblyError(f"{list_path}[].{attr} takes a mapping {key} → value")
            by_key = {item[key]: item for item in items}
            unknown = sorted(set(value) - set(by_key))
            if unknown:
                raise AssemblyError(f"{list_path}[].{attr} names unknown {key}s {unknown}")
            for k, v in value.items():
                item_cls = _model_in(_item_class(list_path).model_fields[attr].annotation)
                by_key[k][attr] = _complete(v, item_cls)
            return
        source, mirrored = _MIRRORED_LISTS[list_path]
        if items is None:
            spans = self._get(source)
            if spans is None:
                raise AssemblyError(f"{list_path}[].{attr} filled, but no stage filled {source}")
            item_cls = _item_class(list_path)
            items = container[name] = [{**_skeleton(item_cls), **{k: s[k] for k in mirrored}} for s in spans]
        if not isinstance(value, list) or len(value) != len(items):
            got = len(value) if isinstance(value, list) else type(value).__name__
            raise AssemblyError(f"{list_path}[].{attr} needs one value per item of {source} ({len(items)}), got {got}")
        item_cls = _model_in(_item_class(list_path).model_fields[attr].annotation)
        for item, v in zip(items, value, strict=True):
            item[attr] = _complete(v, item_cls)

    def partial(self) -> PartialRecord:
        d = self.doc
        events = d["non_linguistic_events"]
        return PartialRecord(
            transcription=None if d["transcription"] is None else Transcription.model_validate(d["transcription"]),
            paralinguistics=(None if d["paralinguistics"] is None
                             else Paralinguistics.model_validate(d["paralinguistics"])),
            non_linguistic_events=None if events is None else [Event.model_validate(e) for e in events],
        )

    def build(self, clip: ClipInfo, provenance: Provenance | dict[str, Any] | None = None) -> UASRecord:
        """Validate the assembled record; ``provenance`` ``None`` uses a placeholder (for checks)."""
        prov = provenance if provenance is not None else _PLACEHOLDER_PROVENANCE
        return UASRecord.model_validate(
            {
                "uas_version": UAS_VERSION,
                "clip": clip_model(clip),
                **self.doc,
                "provenance": prov,
            }
        )


def _item_class(list_path: str) -> type[BaseModel]:
    cls: type[BaseModel] = UASRecord
    for step in list_path.split("."):
        found = _model_in(cls.model_fields[step].annotation)
        assert found is not None, list_path
        cls = found
    return cls


def clip_model(clip: ClipInfo) -> Clip:
    return Clip(
        id=clip.id,
        source=clip.source,
        duration_s=clip.duration_s,
        sample_rate=clip.sample_rate,
        channels=clip.channels,
        offset_s=clip.offset_s if clip.region else None,
    )


# --- the ownership table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStage:
    """What field bookkeeping needs to know of one stage of a run."""

    name: str
    fills: tuple[str, ...]
    refines: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """``(path, reason)`` for fields this configuration leaves null."""


def check_ownership(plan: list[PlannedStage], requires: dict[str, tuple[str, ...]]) -> None:
    """Raise :class:`AssemblyError` when two stages claim one field, a path is unknown, or a stage
    refines a field that none of the stages it requires fills."""
    for i, a in enumerate(plan):
        for path in (*a.fills, *a.refines):
            if not valid_path(path):
                raise AssemblyError(f"stages.{a.name}: declares unknown field path {path!r}")
        for b in plan[i + 1:]:
            for pa in a.fills:
                for pb in b.fills:
                    if overlaps(pa, pb):
                        raise AssemblyError(
                            f"stages.{a.name} and stages.{b.name} both fill {pa if covers(pa, pb) else pb}; "
                            "disable one of them"
                        )
    owners = {s.name: s for s in plan}
    for s in plan:
        for path in s.refines:
            if not any(covers(f, path) or covers(path, f)
                       for dep in requires.get(s.name, ()) if dep in owners for f in owners[dep].fills):
                raise AssemblyError(f"stages.{s.name}: refines {path}, which none of the stages it requires fills")


def field_sources(plan: list[PlannedStage], unfilled_reason) -> dict[str, str]:
    """``provenance.fields``: each table path → the stage that fills it last, or ``skipped: …``.

    ``unfilled_reason(path)`` explains a path no planned stage fills (e.g. ``stages.events disabled
    in recipe``)."""
    out: dict[str, str] = {}
    for path in FIELD_PATHS:
        source = None
        for stage in plan:
            if any(covers(owner, path) for owner in (*stage.fills, *stage.refines)):
                skipped = dict(stage.skipped).get(path)
                source = f"skipped: stages.{stage.name}: {skipped}" if skipped else stage.name
        out[path] = source if source is not None else f"skipped: {unfilled_reason(path)}"
    return out


def relabel_speakers(record: UASRecord, mapping: dict[str, str]) -> UASRecord:
    """The record with speaker ids renamed (``mapping`` old → new, injective), speakers sorted by id."""
    if len(set(mapping.values())) != len(mapping):
        raise AssemblyError(f"speaker mapping is not one-to-one: {mapping}")
    doc = record.model_dump(mode="json")

    def rename(sid: str | None) -> str | None:
        return mapping.get(sid, sid) if sid is not None else None

    if doc["transcription"] is not None:
        for seg in doc["transcription"]["segments"]:
            seg["speaker"] = rename(seg["speaker"])
    para = doc["paralinguistics"]
    if para is not None:
        if para["speakers"] is not None:
            for spk in para["speakers"]:
                spk["id"] = rename(spk["id"])
            para["speakers"].sort(key=lambda spk: spk["id"])
        for seg in para["segments"] or ():
            seg["speaker"] = rename(seg["speaker"])
    return UASRecord.model_validate(doc)
