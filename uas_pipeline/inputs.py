"""Listing input clips: a directory of audio files, one audio file, or a JSONL manifest (and, through
:mod:`input_formats`, lhotse manifests, saved Hugging Face datasets and Parquet datasets).

Manifest lines: ``{"id": optional str, "audio": path (relative to the manifest's folder, or
absolute; ``"path"`` is accepted too, as in reference manifests), "offset_s": optional,
"duration_s": optional}`` plus optional per-clip hints for stages (``language``, ``num_speakers``,
``min_speakers``, ``max_speakers``, at the top level or under ``"hints"``); other keys (reference
labels) are ignored.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

from .clips import HINT_KEYS, ClipRef
from .input_formats import FOREIGN_FORMATS, InputFormatError, detect_format, iter_entries

BUNDLED_DEMO = "bundled:demo"


class InputError(ValueError):
    """The input cannot be listed (missing, unreadable manifest, duplicate ids)."""


def resolve_input(path: str) -> Path:
    if path == BUNDLED_DEMO:
        return Path(__file__).parent / "data" / "demo" / "demo.jsonl"
    return Path(path).expanduser()


def list_clips(path: str, extensions: list[str], cache_dir: str | Path | None = None) -> Iterator[ClipRef]:
    """Yield clip references in a stable order; raise :class:`InputError` for unusable inputs.

    lhotse manifests, saved Hugging Face datasets and Parquet datasets are read by
    :mod:`input_formats`; their embedded audio is written to files under ``cache_dir``."""
    root = resolve_input(path)
    seen: set[str] = set()
    try:
        fmt = detect_format(root) if root.exists() else None
        if fmt in FOREIGN_FORMATS:
            refs = (ClipRef(id=e.id, source=e.source, offset_s=e.offset_s, duration_s=e.duration_s,
                            region=e.region) for e in iter_entries(root, fmt, cache_dir))
            yield from _unique(refs, seen, path)
            return
    except InputFormatError as exc:
        raise InputError(str(exc)) from None
    if root.is_dir():
        refs = _list_directory(root, extensions)
    elif root.is_file() and root.suffix == ".jsonl":
        refs = _list_manifest(root)
    elif root.is_file():
        refs = iter([ClipRef(id=root.name, source=str(root.resolve()))])
    else:
        raise InputError(f"input not found: {path}")
    yield from _unique(refs, seen, path)


def _unique(refs: Iterator[ClipRef], seen: set[str], path: str) -> Iterator[ClipRef]:
    for ref in refs:
        if ref.id in seen:
            raise InputError(f"duplicate clip id {ref.id!r} in {path}")
        seen.add(ref.id)
        yield ref


def _list_directory(root: Path, extensions: list[str]) -> Iterator[ClipRef]:
    wanted = {e.lower().lstrip(".") for e in extensions}
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix[1:].lower() not in wanted:
                continue
            full = Path(dirpath) / name
            yield ClipRef(id=full.relative_to(root).as_posix(), source=str(full.resolve()))


def _raise(err: OSError) -> None:
    raise InputError(f"cannot read input directory: {err}")


def _list_manifest(manifest: Path) -> Iterator[ClipRef]:
    base = manifest.parent
    try:
        handle = manifest.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read manifest {manifest}: {exc}") from None
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            where = f"{manifest}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{where}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON: {exc}") from None
            if isinstance(entry, dict) and "audio" not in entry and isinstance(entry.get("path"), str):
                entry["audio"] = entry["path"]
            if not isinstance(entry, dict) or not isinstance(entry.get("audio"), str):
                raise InputError(f"{where}: each line needs an \"audio\" path")
            audio = Path(entry["audio"]).expanduser()
            source = audio if audio.is_absolute() else base / audio
            offset = _number(entry, "offset_s", where, default=0.0)
            duration = _number(entry, "duration_s", where, default=None)
            clip_id = entry.get("id")
            if clip_id is None:
                clip_id = Path(entry["audio"]).as_posix()
                if offset:
                    clip_id += f"@{offset:.3f}"
            elif not isinstance(clip_id, str) or not clip_id:
                raise InputError(f"{where}: \"id\" must be a non-empty string")
            yield ClipRef(
                id=clip_id,
                source=str(source.resolve()),
                offset_s=offset,
                duration_s=duration,
                region=bool(offset) or duration is not None,
                hints=_hints(entry, where),
            )


def _hints(entry: dict, where: str) -> dict:
    hints = entry.get("hints") or {}
    if not isinstance(hints, dict):
        raise InputError(f"{where}: \"hints\" must be an object")
    hints = {**{k: entry[k] for k in HINT_KEYS if entry.get(k) is not None}, **hints}
    for key in ("num_speakers", "min_speakers", "max_speakers"):
        value = hints.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InputError(f"{where}: {key!r} must be a positive integer")
    if hints.get("language") is not None and not isinstance(hints["language"], str):
        raise InputError(f"{where}: 'language' must be a string")
    return hints


def _number(entry: dict, key: str, where: str, default: float | None) -> float | None:
    value = entry.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: {key!r} must be a non-negative number")
    if key == "duration_s" and value == 0:
        raise InputError(f"{where}: 'duration_s' must be > 0")
    return float(value)
