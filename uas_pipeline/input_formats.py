"""Readers for inputs made by other tools: lhotse manifests, Hugging Face datasets, Parquet datasets.

Each reader takes a path and yields :class:`InputEntry` items ``(id, source, offset_s, duration_s)``
in a stable order; :func:`detect_format` says which reader a path needs. The readers stream (one
manifest line or one Arrow record batch at a time) and need none of lhotse or ``datasets``: lhotse
manifests are JSON lines, Hugging Face datasets are Arrow/Parquet files read with pyarrow.

* **lhotse** ``RecordingSet`` or ``CutSet`` (``.jsonl`` / ``.jsonl.gz``): a recording becomes one clip
  (id = recording id); a cut becomes one clip with the cut's ``start`` as offset and its ``duration``
  (id = cut id). Only ``file`` audio sources are read; relative source paths are looked up next to
  the manifest first, then in the working directory (lhotse's own convention). A multi-channel file
  is decoded and downmixed like every other input: the cut's ``channel`` is not selected.
* **Hugging Face** ``Dataset`` / ``DatasetDict`` saved with ``save_to_disk`` (a folder with
  ``state.json`` or ``dataset_dict.json``), and **Parquet** (one file or a folder of ``*.parquet``,
  e.g. a hub dataset's ``data/`` folder) with an audio column: a path string, a ``{bytes, path}``
  struct (the ``datasets.Audio`` storage) or ``{array, sampling_rate}``; relative paths are relative
  to the folder of the file that holds them. Optional ``offset_s``/``duration_s`` (or ``offset``/
  ``duration``) columns make clips regions. Clip ids come from an ``id``
  column when there is one, else the row number (``000042``); a DatasetDict prefixes its split
  (``train/000042``).

Embedded audio (bytes or arrays) is written once to files under ``cache_dir`` (the decoder reads
files), named after the clip id; a file already there with the same size is reused, so resuming does
not rewrite it. The clips' ``source`` is then that cached file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

AUDIO_COLUMNS = ("audio", "audio_filepath", "audio_path", "path", "file")
ID_COLUMNS = ("id", "clip_id", "utt_id", "segment_id")
FOREIGN_FORMATS = ("lhotse_recordings", "lhotse_cuts", "hf_disk", "parquet")
_ROWS_PER_BATCH = 256


class InputFormatError(ValueError):
    """The input is in a known format but cannot be used (the message says why and where)."""


@dataclass(frozen=True)
class InputEntry:
    """One clip to annotate: a file, optionally a region of it."""

    id: str
    source: str
    offset_s: float = 0.0
    duration_s: float | None = None
    region: bool = False
    """True when only part of the file is the clip (``clip.offset_s`` is then recorded)."""


# --- detection --------------------------------------------------------------------------------------


def _first_json_line(path: Path) -> dict[str, Any] | None:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    doc = json.loads(line)
                    return doc if isinstance(doc, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, EOFError) as exc:
        raise InputFormatError(f"cannot read {path}: {exc}") from None
    return None


def _json_kind(doc: dict[str, Any] | None) -> str:
    if doc is None or "audio" in doc:
        return "uas_manifest"
    if str(doc.get("type", "")).endswith("Cut") or "recording" in doc:
        return "lhotse_cuts"
    if "sources" in doc and "sampling_rate" in doc:
        return "lhotse_recordings"
    if "recording_id" in doc:
        return "lhotse_supervisions"
    return "uas_manifest"  # its own reader reports what is missing


def detect_format(path: str | Path) -> str:
    """One of ``directory``, ``audio_file``, ``uas_manifest``, ``lhotse_recordings``, ``lhotse_cuts``,
    ``hf_disk``, ``parquet``. A folder is a Hugging Face dataset when it holds ``state.json`` or
    ``dataset_dict.json``, a Parquet dataset when it holds ``*.parquet`` files and no audio file
    (``directory`` otherwise). Raises :class:`InputFormatError` for a lhotse SupervisionSet."""
    p = Path(path)
    if p.is_dir():
        if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
            return "hf_disk"
        return _folder_kind(p)
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        kind = _json_kind(_first_json_line(p))
        if kind == "lhotse_supervisions":
            raise InputFormatError(
                f"{p} is a lhotse SupervisionSet, which has no audio: pass the RecordingSet or a CutSet"
            )
        return kind
    return "audio_file"


_AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".mp4"}


def _folder_kind(root: Path) -> str:
    """``directory`` as soon as one audio file is seen (one short walk for audio folders), else
    ``parquet`` when Parquet files were seen."""
    parquet = False
    for _, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            suffix = Path(name).suffix.lower()
            if suffix in _AUDIO_SUFFIXES:
                return "directory"
            parquet = parquet or suffix == ".parquet"
    return "parquet" if parquet else "directory"


def _parquet_files(root: Path) -> list[Path]:
    return sorted(f for f in root.rglob("*.parquet") if not any(part.startswith(".") for part in f.parts))


def iter_entries(path: str | Path, fmt: str | None = None, cache_dir: str | Path | None = None
                 ) -> Iterator[InputEntry]:
    """Entries of a foreign-format input (``fmt`` from :func:`detect_format` when not given)."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt in ("lhotse_recordings", "lhotse_cuts"):
        return iter_lhotse(p)
    if fmt == "hf_disk":
        return iter_hf_disk(p, _cache(cache_dir, p))
    if fmt == "parquet":
        return iter_parquet(p, _cache(cache_dir, p))
    raise InputFormatError(f"{p}: not a lhotse, Hugging Face or Parquet input (detected {fmt})")


def _cache(cache_dir: str | Path | None, source: Path) -> Path:
    """The given cache folder, else one per input under ``$XDG_CACHE_HOME/uas-pipeline/audio``."""
    if cache_dir is not None:
        return Path(cache_dir)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "uas-pipeline" / "audio"
    return base / hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]


# --- lhotse -----------------------------------------------------------------------------------------


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputFormatError(f"{where}: not valid JSON: {exc}") from None
                if not isinstance(doc, dict):
                    raise InputFormatError(f"{where}: expected a JSON object")
                yield where, doc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read {path}: {exc}") from None


def _lhotse_source(recording: dict[str, Any], channel: Any, manifest: Path, where: str) -> str:
    sources = recording.get("sources")
    if not isinstance(sources, list) or not sources:
        raise InputFormatError(f"{where}: recording {recording.get('id')!r} has no audio sources")
    if recording.get("transforms"):
        raise InputFormatError(f"{where}: recording {recording.get('id')!r} has transforms (speed, "
                               "volume, ...) that the pipeline cannot apply; drop them or save the audio")
    chosen = sources[0]
    if isinstance(channel, int):  # one file per channel: take the file holding the cut's channel
        chosen = next((s for s in sources if channel in (s.get("channels") or ())), chosen)
    if chosen.get("type") != "file" or not isinstance(chosen.get("source"), str):
        raise InputFormatError(f"{where}: audio source type {chosen.get('type')!r} is not supported "
                               "(only 'file'; save url/command/memory sources to files first)")
    audio = Path(chosen["source"]).expanduser()
    if not audio.is_absolute():
        beside = manifest.parent / audio
        audio = beside if beside.exists() else Path.cwd() / audio
    return str(audio.resolve())


def _positive(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InputFormatError(f"{where}: {what} must be a non-negative number, got {value!r}")
    return float(value)


def iter_lhotse(path: str | Path) -> Iterator[InputEntry]:
    """Clips of a lhotse RecordingSet (whole files) or CutSet (regions) manifest."""
    manifest = Path(path)
    for where, doc in _json_lines(manifest):
        kind = _json_kind(doc)
        if kind == "lhotse_recordings":
            rec_id = doc.get("id")
            if not isinstance(rec_id, str) or not rec_id:
                raise InputFormatError(f"{where}: recording needs a string id")
            yield InputEntry(id=rec_id, source=_lhotse_source(doc, None, manifest, where))
        elif kind == "lhotse_cuts":
            cut_type = doc.get("type", "MonoCut")
            if cut_type not in ("MonoCut", "MultiCut"):
                raise InputFormatError(f"{where}: {cut_type} is not supported (mixed and padding cuts have "
                                       "no single audio file); use cut.save_audio() or mono cuts")
            recording = doc.get("recording")
            cut_id = doc.get("id")
            if not isinstance(recording, dict):
                raise InputFormatError(f"{where}: cut {cut_id!r} has no recording")
            if not isinstance(cut_id, str) or not cut_id:
                raise InputFormatError(f"{where}: cut needs a string id")
            start = _positive(doc.get("start", 0.0), "start", where)
            duration = _positive(doc.get("duration"), "duration", where)
            if duration == 0:
                raise InputFormatError(f"{where}: cut {cut_id!r} has duration 0")
            rec_duration = recording.get("duration")
            whole = start == 0 and isinstance(rec_duration, int | float) and abs(duration - rec_duration) < 1e-3
            yield InputEntry(
                id=cut_id,
                source=_lhotse_source(recording, doc.get("channel"), manifest, where),
                offset_s=start,
                duration_s=None if whole else duration,
                region=not whole,
            )
        else:
            raise InputFormatError(f"{where}: neither a lhotse recording nor a cut")


# --- Hugging Face / Parquet -------------------------------------------------------------------------


def _hf_audio_column(schema: pa.Schema, where: str) -> str:
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta:
        features = json.loads(meta).get("info", {}).get("features", {})
        audio = [name for name, f in features.items() if isinstance(f, dict) and f.get("_type") == "Audio"]
        if len(audio) == 1:
            return audio[0]
    for name in AUDIO_COLUMNS:
        if name in schema.names:
            return name
    raise InputFormatError(f"{where}: no audio column (a datasets.Audio feature or one of {', '.join(AUDIO_COLUMNS)})")


def _hf_features_audio(info_file: Path) -> str | None:
    if not info_file.is_file():
        return None
    features = json.loads(info_file.read_text()).get("features") or {}
    audio = [name for name, f in features.items() if isinstance(f, dict) and f.get("_type") == "Audio"]
    return audio[0] if len(audio) == 1 else None


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAGIC = ((b"RIFF", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"), (b"\xff\xfb", ".mp3"),
          (b"\xff\xf3", ".mp3"), (b"\xff\xf2", ".mp3"))


def _cache_name(clip_id: str, suffix: str) -> str:
    """A readable, collision-free file name for a clip id (ids may hold slashes and any character)."""
    digest = hashlib.sha256(clip_id.encode()).hexdigest()[:10]
    return f"{_SAFE.sub('_', clip_id)[:80]}-{digest}{suffix}"


def _suffix(data: bytes, path: str | None) -> str:
    for magic, suffix in _MAGIC:
        if data.startswith(magic):
            return suffix
    if path and Path(path).suffix.lower() in _AUDIO_SUFFIXES:
        return Path(path).suffix.lower()
    return ".bin"  # the decoder probes the content, not the name


def _write_once(target: Path, data: bytes) -> None:
    if target.is_file() and target.stat().st_size == len(data):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _array_to_wav(value: dict[str, Any], where: str) -> bytes:
    import numpy as np
    import soundfile as sf

    rate = value.get("sampling_rate")
    if not isinstance(rate, int) or rate <= 0:
        raise InputFormatError(f"{where}: audio array without a positive sampling_rate")
    buf = io.BytesIO()
    sf.write(buf, np.asarray(value["array"], dtype=np.float32), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _resolve_audio(value: Any, clip_id: str, base: Path, cache_dir: Path, where: str) -> str:
    """The file to decode for one audio cell (materialising embedded audio under ``cache_dir``)."""
    if isinstance(value, str) and value:
        path = Path(value).expanduser()
        return str((path if path.is_absolute() else base / path).resolve())
    if isinstance(value, dict):
        if value.get("bytes"):
            data = bytes(value["bytes"])
            target = cache_dir / _cache_name(clip_id, _suffix(data, value.get("path")))
            _write_once(target, data)
            return str(target.resolve())
        if value.get("array") is not None:
            target = cache_dir / _cache_name(clip_id, ".wav")
            _write_once(target, _array_to_wav(value, where))
            return str(target.resolve())
        if isinstance(value.get("path"), str) and value["path"]:
            return _resolve_audio(value["path"], clip_id, base, cache_dir, where)
    raise InputFormatError(f"{where}: empty audio cell (no path, bytes or array)")


def _optional_number(row: dict[str, Any], names: tuple[str, ...], where: str) -> float | None:
    for name in names:
        if row.get(name) is not None:
            return _positive(row[name], name, where)
    return None


def _entries_from_batches(batches: Iterator[pa.RecordBatch], audio_col: str, id_prefix: str, base: Path,
                          cache_dir: Path, where: str, row0: int = 0) -> Iterator[InputEntry]:
    row = row0
    for batch in batches:
        names = batch.schema.names
        id_col = next((c for c in ID_COLUMNS if c in names), None)
        wanted = [c for c in (audio_col, id_col, "offset_s", "offset", "duration_s", "duration") if c in names]
        for item in batch.select(wanted).to_pylist():
            here = f"{where} row {row}"
            raw_id = item.get(id_col) if id_col else None
            clip_id = id_prefix + (str(raw_id) if raw_id not in (None, "") else f"{row:06d}")
            offset = _optional_number(item, ("offset_s", "offset"), here) or 0.0
            duration = _optional_number(item, ("duration_s", "duration"), here)
            if duration == 0:
                raise InputFormatError(f"{here}: duration must be > 0")
            yield InputEntry(
                id=clip_id,
                source=_resolve_audio(item.get(audio_col), clip_id, base, cache_dir, here),
                offset_s=offset,
                duration_s=duration,
                region=bool(offset) or duration is not None,
            )
            row += 1


def iter_parquet(path: str | Path, cache_dir: str | Path) -> Iterator[InputEntry]:
    """Clips of a Parquet file or folder of Parquet files (sorted by path) with an audio column."""
    p = Path(path)
    files = _parquet_files(p) if p.is_dir() else [p]
    if not files:
        raise InputFormatError(f"{p}: no .parquet files")
    row = 0
    for file in files:
        try:
            pf = pq.ParquetFile(file)
        except (OSError, pa.ArrowException) as exc:
            raise InputFormatError(f"cannot read {file}: {exc}") from None
        audio_col = _hf_audio_column(pf.schema_arrow, str(file))
        batches = pf.iter_batches(batch_size=_ROWS_PER_BATCH)
        for entry in _entries_from_batches(batches, audio_col, "", file.parent, Path(cache_dir), str(file), row):
            row += 1
            yield entry


def _arrow_batches(file: Path) -> Iterator[pa.RecordBatch]:
    """Record batches of a ``save_to_disk`` Arrow file (IPC stream format), memory-mapped."""
    with pa.memory_map(str(file)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            reader = pa.ipc.open_file(source)
            yield from (reader.get_batch(i) for i in range(reader.num_record_batches))
            return
        yield from reader


def _iter_hf_split(split_dir: Path, prefix: str, cache_dir: Path) -> Iterator[InputEntry]:
    state_file = split_dir / "state.json"
    if not state_file.is_file():
        raise InputFormatError(f"{split_dir}: not a saved datasets.Dataset (no state.json)")
    state = json.loads(state_file.read_text())
    files = [split_dir / f["filename"] for f in state.get("_data_files", [])]
    if not files:
        raise InputFormatError(f"{state_file}: lists no data files")
    audio_col = _hf_features_audio(split_dir / "dataset_info.json")
    row = 0
    for file in files:
        batches = _arrow_batches(file)
        first = next(batches, None)
        if first is None:
            continue
        col = audio_col or _hf_audio_column(first.schema, str(file))

        def chained(head: pa.RecordBatch = first, rest: Iterator[pa.RecordBatch] = batches):
            yield head
            yield from rest

        for entry in _entries_from_batches(chained(), col, prefix, split_dir, cache_dir, str(file), row):
            row += 1
            yield entry


def iter_hf_disk(path: str | Path, cache_dir: str | Path) -> Iterator[InputEntry]:
    """Clips of a ``datasets`` Dataset or DatasetDict saved with ``save_to_disk`` (every split)."""
    p = Path(path)
    cache = Path(cache_dir)
    dict_file = p / "dataset_dict.json"
    if dict_file.is_file():
        for split in json.loads(dict_file.read_text()).get("splits", []):
            yield from _iter_hf_split(p / split, f"{split}/", cache / split)
    else:
        yield from _iter_hf_split(p, "", cache)
