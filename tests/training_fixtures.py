"""UAS shards for training tests, written without running the pipeline: the bundled demo clips with
hand-made rich records (transcript from the demo manifest, a speaker with labels and levels, events).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from uas_pipeline.audio import probe
from uas_pipeline.schema import UASRecord

from .fixtures_records import CREATED_AT, RECIPE_HASH

DEMO_DIR = Path(__file__).resolve().parents[1] / "uas_pipeline" / "data" / "demo"

# Per clip: (gender, emotion, pitch level, events as (label, start fraction, end fraction, kind)).
_LABELS: dict[str, tuple[str, str, str, list[tuple[str, float, float, str]]]] = {
    "speech_01": ("female", "happy", "high", []),
    "speech_02": ("male", "neutral", "low", []),
    "speech_03": ("female", "sad", "medium", []),
    "speech_04": ("male", "angry", "low", []),
    "speech_music_01": ("female", "calm", "medium", [("music", 0.0, 1.0, "background")]),
    "speech_beeps_01": ("male", "neutral", "medium", [("bell", 0.0, 0.15, "event"), ("bell", 0.8, 0.95, "event")]),
    "sound_01": ("", "", "", [("siren", 0.2, 0.9, "event"), ("noise", 0.4, 0.6, "event")]),
    "silence_01": ("", "", "", []),
}


def demo_manifest() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DEMO_DIR / "demo.jsonl").read_text().splitlines() if line.strip()]


def demo_record(entry: dict[str, Any]) -> UASRecord:
    source = DEMO_DIR / entry["audio"]
    info = probe(source)
    dur = round(info.duration_s, 3)
    gender, emotion, pitch, events = _LABELS[entry["id"]]
    text = entry["text"]
    segments, speakers = [], []
    if text:
        segments = [{"start": 0.0, "end": round(dur * 0.9, 3), "speaker": "SPEAKER_00", "text": text,
                     "confidence": 0.9, "words": None}]
        speakers = [{
            "id": "SPEAKER_00", "speech_duration_s": round(dur * 0.9, 3),
            "gender": {"label": gender, "confidence": 0.9},
            "age": {"label": "adult", "years": None, "confidence": 0.7},
            "emotion": {"label": emotion, "confidence": 0.6, "scores": None},
            "pitch": {"mean_hz": 150.0, "std_hz": 20.0, "level": pitch},
            "speaking_rate": {"words_per_s": 2.5, "syllables_per_s": None, "level": "medium"},
            "loudness": {"lufs": -23.0, "level": "medium"},
            "arousal": None, "accent": None, "voice_quality": None,
        }]
    doc = {
        "uas_version": "1.1",
        "clip": {"id": entry["id"], "source": str(source), "duration_s": dur, "sample_rate": info.sample_rate,
                 "channels": info.channels, "offset_s": None},
        "transcription": {"text": text, "language": "en" if text else None,
                          "language_confidence": 0.99 if text else None, "segments": segments, "rejected": []},
        "paralinguistics": {
            "speakers": speakers, "segments": None,
            "recording": {"num_speakers": len(speakers), "speech_ratio": 0.9 if text else 0.0, "overlap_ratio": 0.0,
                          "snr_db": 30.0 if text else None, "reverberation": None, "quality": None,
                          "background": ["music"] if entry["id"] == "speech_music_01" else []},
        },
        "non_linguistic_events": [
            {"label": lab, "start": round(a * dur, 3), "end": round(b * dur, 3), "confidence": 0.8,
             "source_label": lab.title(), "ontology_id": None, "kind": kind}
            for lab, a, b, kind in sorted(events, key=lambda e: (e[1], e[2], e[0]))
        ],
        "provenance": {"pipeline_version": "0.1.0", "recipe_hash": RECIPE_HASH, "created_at": CREATED_AT,
                       "stages": {}, "fields": None},
    }
    return UASRecord.model_validate(doc)


def write_shards(out_dir: Path, records: list[UASRecord], per_shard: int = 4) -> Path:
    """Write records as UAS output shards (the columns training reads, plus ``source`` and times)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(records), per_shard):
        chunk = records[i : i + per_shard]
        table = pa.table({
            "clip_id": [r.clip.id for r in chunk],
            "source": [r.clip.source for r in chunk],
            "offset_s": [r.clip.offset_s for r in chunk],
            "duration_s": [r.clip.duration_s for r in chunk],
            "uas": [r.to_json() for r in chunk],
        })
        pq.write_table(table, out_dir / f"part-test-{i // per_shard:05d}.parquet")
    return out_dir


def write_demo_shards(out_dir: Path, ids: list[str] | None = None) -> Path:
    entries = [e for e in demo_manifest() if ids is None or e["id"] in ids]
    return write_shards(out_dir, [demo_record(e) for e in entries])
