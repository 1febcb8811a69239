"""Small pipeline outputs made by hand for the ecosystem tests: the contract's columns
(``clip_id, source, offset_s, duration_s, uas`` + flattened ones, ``errors/*.parquet``,
``_manifest.json``), filled from rich hand-made records and a synthetic audio file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from uas_pipeline.schema import UASRecord

from .fixtures_records import (
    RECIPE_HASH,
    canonical_dumps,
    minimal_record_dict,
    rich_record_dict,
    v10_record_dict,
)

DATA_SCHEMA = pa.schema([
    ("clip_id", pa.string()), ("source", pa.string()), ("offset_s", pa.float64()), ("duration_s", pa.float64()),
    ("uas", pa.large_string()), ("text", pa.large_string()), ("language", pa.string()),
    ("language_confidence", pa.float64()), ("num_segments", pa.int32()), ("num_words", pa.int32()),
    ("num_speakers", pa.int32()), ("speech_ratio", pa.float64()), ("event_labels", pa.list_(pa.string())),
    ("recipe_hash", pa.string()),
])
LEDGER_SCHEMA = pa.schema([
    ("clip_id", pa.string()), ("source", pa.string()), ("offset_s", pa.float64()), ("duration_s", pa.float64()),
    ("stage", pa.string()), ("error_type", pa.string()), ("message", pa.large_string()),
    ("recipe_hash", pa.string()),
])
SOURCE_S = 45.0
SOURCE_SR = 44100


def write_source_audio(path: Path, seconds: float = SOURCE_S, sr: int = SOURCE_SR) -> Path:
    """A stereo FLAC with a voiced-like tone whose pitch steps 210 Hz → 120 Hz every 6 s, its loudness
    rising and falling three times a second."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = np.where((t % 12) < 6, 210.0, 120.0)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t)  # a speech-like 3 Hz loudness envelope
    tone = syllables * (0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase))
    tone += 0.01 * np.random.default_rng(0).standard_normal(len(t))
    sf.write(path, np.stack([tone, tone * 0.8], axis=1).astype(np.float32), sr, subtype="PCM_16")
    return path


def rich_variant(i: int, source: str, *, gender0: str = "female", pitch_level0: str = "medium",
                 events: bool = True, region: bool = True) -> dict[str, Any]:
    """The rich record with its own id and source; speaker 0's gender and pitch level and the
    presence of events vary so queries have something to select."""
    doc = rich_record_dict()
    doc["clip"]["id"] = f"rich-{i:03d}"
    doc["clip"]["source"] = source
    doc["clip"]["offset_s"] = 30.0 if region else None
    spk0 = doc["paralinguistics"]["speakers"][0]
    spk0["gender"]["label"] = gender0
    spk0["pitch"]["level"] = pitch_level0
    if not events:
        doc["non_linguistic_events"] = []
    return doc


def data_row(doc: dict[str, Any]) -> dict[str, Any]:
    record = UASRecord.from_json(json.dumps(doc))  # reads 1.0 documents too
    tr, para, events = record.transcription, record.paralinguistics, record.non_linguistic_events
    rec = para.recording if para is not None else None
    return {
        "clip_id": record.clip.id, "source": record.clip.source, "offset_s": record.clip.offset_s,
        "duration_s": record.clip.duration_s, "uas": record.to_json(),
        "text": None if tr is None else tr.text, "language": None if tr is None else tr.language,
        "language_confidence": None if tr is None else tr.language_confidence,
        "num_segments": None if tr is None else len(tr.segments),
        "num_words": None if tr is None else sum(len(s.words or ()) for s in tr.segments),
        "num_speakers": None if rec is None else rec.num_speakers,
        "speech_ratio": None if rec is None else rec.speech_ratio,
        "event_labels": None if events is None else sorted({e.label for e in events}),
        "recipe_hash": record.provenance.recipe_hash,
    }


def write_output(out: Path, docs: list[dict[str, Any]], ledger: list[dict[str, Any]] = (),
                 rows_per_shard: int = 3) -> Path:
    """Write ``docs`` as data shards of ``rows_per_shard`` rows, ``ledger`` as one error shard."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [data_row(d) for d in docs]
    for n, start in enumerate(range(0, len(rows), rows_per_shard)):
        table = pa.Table.from_pylist(rows[start:start + rows_per_shard], schema=DATA_SCHEMA)
        pq.write_table(table, out / f"part-test-{n:05d}.parquet")
    if ledger:
        (out / "errors").mkdir(exist_ok=True)
        full = [{"offset_s": None, "duration_s": None, "recipe_hash": RECIPE_HASH, **r} for r in ledger]
        pq.write_table(pa.Table.from_pylist(full, schema=LEDGER_SCHEMA), out / "errors" / "part-test-00000.parquet")
    manifest = {"recipe_hash": RECIPE_HASH, "pipeline_version": "0.1.0",
                "counts": {"ok": len(rows), "failed": len(ledger)}}
    (out / "_manifest.json").write_text(json.dumps(manifest))
    return out


LEDGER = [
    {"clip_id": "broken-1.wav", "source": "/data/broken-1.wav", "stage": "decode", "error_type": "truncated",
     "message": "broken-1.wav: decoded 10 frames but the header promises 16000"},
    {"clip_id": "broken-2.wav", "source": "/data/broken-2.wav", "stage": "decode", "error_type": "empty_file",
     "message": "broken-2.wav: file is empty (0 bytes)"},
    {"clip_id": "odd.wav", "source": "/data/odd.wav", "stage": "asr", "error_type": "RuntimeError",
     "message": "model exploded <script>alert(1)</script>"},
]


def mixed_output(out: Path, audio: Path) -> Path:
    """Five records of every shape: 3 rich variants (one whole-file, one without events), a minimal
    (nothing annotated) and a uas 1.0 record; plus 3 ledger rows."""
    minimal = minimal_record_dict()
    minimal["clip"]["source"] = str(audio)
    v10 = v10_record_dict()
    v10["clip"]["id"] = "legacy-1.0"
    v10["clip"]["source"] = str(audio)
    docs = [
        rich_variant(1, str(audio), gender0="female", pitch_level0="high"),
        rich_variant(2, str(audio), gender0="male", pitch_level0="high", region=False),
        rich_variant(3, str(audio), gender0="female", pitch_level0="low", events=False),
        minimal, v10,
    ]
    return write_output(out, docs, LEDGER)


__all__ = ["canonical_dumps", "mixed_output", "rich_variant", "write_output", "write_source_audio"]
