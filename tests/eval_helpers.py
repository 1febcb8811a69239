"""Hand-made records and output directories for the evaluation tests (no models, no audio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from uas_pipeline.schema import UASRecord
from uas_pipeline.writer import DATA_COLUMNS

from .fixtures_records import minimal_record_dict

_SPEAKER_ATTRIBUTES = ("gender", "age", "emotion", "pitch", "speaking_rate", "loudness", "arousal", "accent",
                       "voice_quality")
Seg = tuple  # (start, end, speaker | None, text) or (start, end, speaker, text, [(word, start, end), ...])


def make_record(
    clip_id: str,
    *,
    duration: float = 10.0,
    source: str | None = None,
    offset: float | None = None,
    segments: list[Seg] | None = None,
    language: str | None = "en",
    speakers: list[str] | None = None,
    num_speakers: int | None = None,
    transcribed: bool = True,
) -> UASRecord:
    """A valid record; ``segments=None`` with ``transcribed`` gives an empty transcript."""
    doc = minimal_record_dict()
    doc["clip"].update(id=clip_id, source=source or f"/audio/{clip_id}.wav", duration_s=duration,
                       offset_s=offset)
    if transcribed:
        segs = []
        for seg in segments or []:
            start, end, speaker, text = seg[:4]
            words = None
            if len(seg) > 4:
                words = [{"word": w, "start": s, "end": e, "confidence": 0.9} for w, s, e in seg[4]]
            segs.append({"start": start, "end": end, "speaker": speaker, "text": text, "confidence": None,
                         "words": words})
        doc["transcription"] = {
            "text": " ".join(s["text"].strip() for s in segs if s["text"].strip()),
            "language": language,
            "language_confidence": 0.9 if language else None,
            "segments": segs,
            "rejected": None,
        }
    if speakers is not None:
        doc["paralinguistics"] = {
            "speakers": [{"id": sid, "speech_duration_s": None, **dict.fromkeys(_SPEAKER_ATTRIBUTES)}
                         for sid in speakers],
            "segments": None,
            "recording": {"num_speakers": len(speakers) if num_speakers is None else num_speakers,
                          "speech_ratio": 0.5, "overlap_ratio": 0.0, "snr_db": None, "reverberation": None,
                          "quality": None, "background": None},
        }
    return UASRecord.model_validate(doc)


SHARD_SCHEMA = pa.schema([
    ("clip_id", pa.string()), ("source", pa.string()), ("offset_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("uas", pa.large_string()), ("text", pa.large_string()), ("language", pa.string()),
    ("language_confidence", pa.float64()), ("num_segments", pa.int32()), ("num_words", pa.int32()),
    ("num_speakers", pa.int32()), ("speech_ratio", pa.float64()), ("event_labels", pa.list_(pa.string())),
    ("recipe_hash", pa.string()),
])
"""The data-shard columns as the pipeline writes them (``writer.DATA_COLUMNS``)."""
assert SHARD_SCHEMA.names == DATA_COLUMNS


def _row(rec: UASRecord) -> dict[str, Any]:
    tr, para, events = rec.transcription, rec.paralinguistics, rec.non_linguistic_events
    recording = para.recording if para else None
    return {
        "clip_id": rec.clip.id, "source": rec.clip.source, "offset_s": rec.clip.offset_s,
        "duration_s": rec.clip.duration_s, "uas": rec.to_json(),
        "text": tr.text if tr else None, "language": tr.language if tr else None,
        "language_confidence": tr.language_confidence if tr else None,
        "num_segments": len(tr.segments) if tr else None,
        "num_words": sum(len(s.words or ()) for s in tr.segments) if tr else None,
        "num_speakers": recording.num_speakers if recording else None,
        "speech_ratio": recording.speech_ratio if recording else None,
        "event_labels": sorted({e.label for e in events}) if events is not None else None,
        "recipe_hash": rec.provenance.recipe_hash,
    }


def write_output(out_dir: Path, records: list[UASRecord], per_shard: int = 2) -> Path:
    """Data shards with the pipeline's columns, ``per_shard`` rows each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    schema = SHARD_SCHEMA
    rows = [_row(rec) for rec in records]
    for k in range(0, len(rows), per_shard):
        table = pa.Table.from_pylist(rows[k:k + per_shard], schema=schema)
        pq.write_table(table, out_dir / f"part-test-{k // per_shard:05d}.parquet")
    return out_dir


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    import json

    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_rttm(path: Path, uri: str, turns: list[tuple[float, float, str]]) -> Path:
    path.write_text("".join(f"SPEAKER {uri} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n"
                            for s, e, spk in turns))
    return path
