"""Reference manifests: the refdata format and the simple JSONL for users' own references.

Both formats are read into :class:`Reference` objects whose ``entry`` has the refdata shape
(``{"path", "category", "reference": {labels...}, ...}``), so metric families read labels in one
place: ``entry["reference"]``. Label files (RTTM, segments, STM) are paths relative to the
manifest's folder, or absolute.

* refdata line: ``{"path": "asr/x.flac", "category": "asr", "reference": {"text": ..., "language":
  ...}, "duration_s": ...}`` (``../shared/refdata/MANIFEST.jsonl``).
* simple line: ``{"id": "x", "audio": "x.wav", "text": ..., "language": ..., "rttm": "x.rttm",
  "num_speakers": 2}``; ``id`` or ``audio`` is required; ``offset_s``/``duration_s`` say the
  reference covers only that part of the audio; ``category`` is optional; every other key is a label.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

Turn = tuple[float, float, str]
"""A speaker turn: (start, end, speaker) in seconds."""

_SIMPLE_META = ("id", "audio", "offset_s", "duration_s", "category")
_FILE_LABELS = ("rttm", "rttm_derived", "stm")
_SILVER_WORDS = ("silver", "partial")


class ReferencesError(ValueError):
    """The references cannot be read (missing file, bad line, duplicate key, missing label file)."""


@dataclass(frozen=True)
class Reference:
    """One reference entry: its join key, its audio path and its labels (``entry``)."""

    key: str
    """The refdata ``path`` or the simple format's ``id`` (else its ``audio`` as written)."""
    entry: dict[str, Any]
    """Refdata-shaped: ``path``, ``category``, ``reference`` (the labels), other keys as given."""
    audio: str | None
    """The audio file, resolved (``os.path.realpath``), for joining by source path."""
    offset_s: float | None = None
    """Set when the reference covers a part of the audio starting here (simple format)."""
    line: int = 0

    @property
    def labels(self) -> dict[str, Any]:
        return self.entry["reference"]


@dataclass
class ReferenceSet:
    path: Path
    ref_dir: Path
    references: list[Reference]
    by_key: dict[str, Reference] = field(default_factory=dict)
    by_audio: dict[str, list[Reference]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ref in self.references:
            self.by_key[ref.key] = ref
            if ref.audio is not None:
                self.by_audio.setdefault(ref.audio, []).append(ref)


def resolve(ref_dir: Path, path: str) -> Path:
    """A label or audio path of a manifest: absolute, or relative to the manifest's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else ref_dir / p


def real(path: Path | str) -> str:
    return os.path.realpath(path)


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ReferencesError(f"{what} must be a non-negative number")
    return float(value)


def _from_refdata(raw: dict[str, Any], ref_dir: Path, where: str) -> Reference:
    if not isinstance(raw.get("path"), str) or not raw["path"]:
        raise ReferencesError(f"{where}: a refdata line needs a \"path\"")
    return Reference(key=raw["path"], entry=raw, audio=real(resolve(ref_dir, raw["path"])),
                     offset_s=_number(raw.get("offset_s"), f"{where}: offset_s"))


def _from_simple(raw: dict[str, Any], ref_dir: Path, where: str) -> Reference:
    key, audio = raw.get("id"), raw.get("audio")
    for name, value in (("id", key), ("audio", audio)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ReferencesError(f"{where}: \"{name}\" must be a non-empty string")
    if key is None and audio is None:
        raise ReferencesError(f"{where}: each line needs an \"id\" or an \"audio\" path")
    entry = {"id": key or audio, "path": audio, "category": raw.get("category"),
             "reference": {k: v for k, v in raw.items() if k not in _SIMPLE_META}}
    for meta in ("offset_s", "duration_s"):
        if meta in raw:
            entry[meta] = raw[meta]
    return Reference(key=key or audio, entry=entry,
                     audio=real(resolve(ref_dir, audio)) if audio else None,
                     offset_s=_number(raw.get("offset_s"), f"{where}: offset_s"))


def _missing_label_files(ref: Reference, ref_dir: Path) -> list[str]:
    labels = ref.labels
    names = [k for k in _FILE_LABELS if isinstance(labels.get(k), str)]
    if is_diarization_segments(ref.entry):
        names.append("segments")
    return [f"{ref.key}: {k} file not found: {labels[k]}" for k in names
            if not resolve(ref_dir, labels[k]).is_file()]


def load_references(path: str | Path) -> ReferenceSet:
    """Read a reference manifest (either format, mixed freely); raise :class:`ReferencesError`."""
    path = Path(path)
    ref_dir = path.resolve().parent
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferencesError(f"cannot read references {path}: {exc}") from None
    refs: list[Reference] = []
    keys: set[str] = set()
    problems: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReferencesError(f"{where}: not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ReferencesError(f"{where}: each line must be a JSON object")
        ref = _from_refdata(raw, ref_dir, where) if isinstance(raw.get("reference"), dict) else \
            _from_simple(raw, ref_dir, where)
        if ref.key in keys:
            raise ReferencesError(f"{where}: duplicate reference {ref.key!r}")
        keys.add(ref.key)
        refs.append(replace(ref, line=lineno))
        problems += _missing_label_files(ref, ref_dir)
    if problems:
        raise ReferencesError("missing label files:\n  " + "\n  ".join(problems))
    if not refs:
        raise ReferencesError(f"no references in {path}")
    return ReferenceSet(path=path, ref_dir=ref_dir, references=refs)


# --- label readers (used by the metric families) ---------------------------------------------------


def labels_of(entry: dict[str, Any]) -> dict[str, Any]:
    labels = entry.get("reference")
    return labels if isinstance(labels, dict) else {}


def is_silver(entry: dict[str, Any]) -> bool:
    """References marked silver or partial (``reference_type`` mentions it, or ``"silver": true``)."""
    labels = labels_of(entry)
    kind = str(labels.get("reference_type") or "").lower()
    return bool(labels.get("silver")) or any(word in kind for word in _SILVER_WORDS)


def is_diarization_segments(entry: dict[str, Any]) -> bool:
    """A ``segments`` file holds speaker turns only in the diarization category (elsewhere, e.g.
    the vad category, its labels are speech / silence)."""
    return entry.get("category") == "diarization" and isinstance(labels_of(entry).get("segments"), str)


def read_rttm(path: Path, uri: str | None = None) -> list[Turn]:
    """Speaker turns of one file of an RTTM. A file holding several URIs needs ``uri``."""
    by_uri: dict[str, list[Turn]] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        if len(parts) < 8:
            raise ReferencesError(f"{path}:{lineno}: an RTTM SPEAKER line has at least 8 fields")
        start, dur = float(parts[3]), float(parts[4])
        if dur > 0:
            by_uri.setdefault(parts[1], []).append((start, start + dur, parts[7]))
    if uri is not None and uri in by_uri:
        return sorted(by_uri[uri])
    if len(by_uri) <= 1:
        return sorted(next(iter(by_uri.values()), []))
    raise ReferencesError(f"{path} holds several files ({', '.join(sorted(by_uri))}); "
                         f"none is named {uri!r} (set \"rttm_uri\")")


def read_segment_turns(path: Path) -> list[Turn]:
    """``start end speaker`` lines (tab- or space-separated), as pyAudioAnalysis writes them."""
    turns = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            raise ReferencesError(f"{path}:{lineno}: expected start, end, speaker")
        start, end = float(parts[0]), float(parts[1])
        if end > start:
            turns.append((start, end, parts[2]))
    return sorted(turns)


def read_stm_text(path: Path) -> str:
    """The transcript of an STM file (``file chan speaker start end [<label>] text``), utterances in
    start-time order joined by spaces."""
    utterances = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(";;"):
            continue
        parts = line.split(maxsplit=5)
        if len(parts) < 5:
            continue
        text = parts[5] if len(parts) > 5 else ""
        if text.startswith("<"):
            text = text.split(">", 1)[1] if ">" in text else ""
        utterances.append((float(parts[3]), text.strip()))
    return " ".join(t for _, t in sorted(utterances, key=lambda u: u[0]) if t)


def _inline_turns(value: Iterable[Any]) -> list[Turn]:
    turns = []
    for item in value:
        if isinstance(item, dict):
            start, end, speaker = item["start"], item["end"], item["speaker"]
        else:
            start, end, speaker = item
        if float(end) > float(start):
            turns.append((float(start), float(end), str(speaker)))
    return sorted(turns)


def reference_turns(entry: dict[str, Any], ref_dir: Path) -> list[Turn] | None:
    """Reference speaker turns: ``rttm``, else ``rttm_derived``, else inline ``turns``, else a
    diarization ``segments`` file; ``None`` when the entry has none."""
    labels = labels_of(entry)
    uri = labels.get("rttm_uri") or Path(str(entry.get("path") or entry.get("id") or "")).stem
    for key in ("rttm", "rttm_derived"):
        if isinstance(labels.get(key), str):
            return read_rttm(resolve(ref_dir, labels[key]), uri)
    if isinstance(labels.get("turns"), list):
        return _inline_turns(labels["turns"])
    if is_diarization_segments(entry):
        return read_segment_turns(resolve(ref_dir, labels["segments"]))
    return None


def reference_uem(entry: dict[str, Any]) -> list[tuple[float, float]] | None:
    """Optional scored regions ``"uem": [[start, end], ...]`` of a reference."""
    value = labels_of(entry).get("uem")
    if value is None:
        return None
    return [(float(s), float(e)) for s, e in value]


def reference_language(entry: dict[str, Any]) -> str | None:
    """The reference language as an ISO 639-1 style code (``en-US`` → ``en``), or ``None``."""
    value = labels_of(entry).get("language")
    return normalise_language(value) if isinstance(value, str) and value else None


def normalise_language(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-")[0]
