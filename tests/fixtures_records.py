"""Shared builders of UAS records for tests (plain data; no models, no audio).

The ``*_dict`` builders return JSON-compatible dicts already in canonical form (spec key order,
sorted provenance stages and params, emotion scores in vocabulary order, floats already rounded),
so ``json.dumps(d, ensure_ascii=False, separators=(",", ":"))`` is the record's canonical JSON.
Every call returns a fresh object: mutate freely.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from uas_pipeline.schema import UASRecord

RECIPE_HASH = "0a49af811ab80bab"
CREATED_AT = "2024-05-01T12:00:00Z"


def _speaker(
    sid: str, *, speech: float, gender: str, age: str, years: float | None, emotion: str, mean_hz: float
) -> dict[str, Any]:
    return {
        "id": sid,
        "speech_duration_s": speech,
        "gender": {"label": gender, "confidence": 0.93},
        "age": {"label": age, "years": years, "confidence": 0.61},
        "emotion": {
            "label": emotion,
            "confidence": 0.72,
            "scores": {"neutral": 0.2, "happy": 0.72, "sad": 0.03, "angry": 0.05},
        },
        "pitch": {"mean_hz": mean_hz, "std_hz": 21.5, "level": "medium"},
        "speaking_rate": {"words_per_s": 2.4, "syllables_per_s": 3.9, "level": "high"},
        "loudness": {"lufs": -23.1, "level": "medium"},
        "arousal": {"value": 0.64, "level": "high"},
        "accent": {"label": "us", "confidence": 0.55},
        "voice_quality": {"hnr_db": 14.25, "jitter": 0.0123, "shimmer": 0.045, "level": "medium"},
    }


def _para_segment(start: float, end: float, speaker: str, emotion: str) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "speaker": speaker,
        "emotion": {"label": emotion, "confidence": 0.8, "scores": None},
        "pitch": {"mean_hz": 180.25, "std_hz": 12.0, "level": "low"},
        "speaking_rate": {"words_per_s": 1.6, "syllables_per_s": None, "level": "medium"},
        "loudness": {"lufs": -20.5, "level": "high"},
        "arousal": {"value": 0.5, "level": "medium"},
        "accent": None,
        "voice_quality": {"hnr_db": 12.0, "jitter": None, "shimmer": None, "level": None},
    }


def rich_record_dict() -> dict[str, Any]:
    """A fully annotated record: 2 diarized segments with words, every paralinguistic attribute,
    events, and provenance with several stages including a skipped one. Non-ASCII text on purpose."""
    return {
        "uas_version": "1.1",
        "clip": {
            "id": "clip-0001",
            "source": "corpus/Grüße/clip-0001.flac",
            "duration_s": 12.5,
            "sample_rate": 44100,
            "channels": 2,
            "offset_s": 30.0,
        },
        "transcription": {
            "text": "Grüße aus München. 日本語も大丈夫です",
            "language": "de",
            "language_confidence": 0.8731,
            "segments": [
                {
                    "start": 0.5,
                    "end": 4.25,
                    "speaker": "SPEAKER_00",
                    "text": "Grüße aus München.",
                    "confidence": 0.91,
                    "words": [
                        {"word": "Grüße", "start": 0.5, "end": 1.1, "confidence": 0.95},
                        {"word": "aus", "start": 1.1, "end": 1.4, "confidence": 0.99},
                        {"word": "München.", "start": 1.4, "end": 2.25, "confidence": 0.87},
                    ],
                },
                {
                    "start": 5.0,
                    "end": 9.75,
                    "speaker": "SPEAKER_01",
                    "text": "日本語も大丈夫です",
                    "confidence": None,
                    "words": [
                        {"word": "日本語も", "start": 5.0, "end": 6.5, "confidence": 0.7},
                        {"word": "大丈夫です", "start": 6.5, "end": 9.75, "confidence": None},
                    ],
                },
            ],
            "rejected": [
                {"start": 10.0, "end": 12.0, "text": "Thank you for watching.", "reason": "stock_phrase_outside_speech"},
            ],
        },
        "paralinguistics": {
            "speakers": [
                _speaker(
                    "SPEAKER_00",
                    speech=3.75,
                    gender="female",
                    age="adult",
                    years=34.5,
                    emotion="happy",
                    mean_hz=210.5,
                ),
                _speaker(
                    "SPEAKER_01",
                    speech=4.75,
                    gender="male",
                    age="senior",
                    years=None,
                    emotion="neutral",
                    mean_hz=118.0,
                ),
            ],
            "segments": [
                _para_segment(0.5, 4.25, "SPEAKER_00", "happy"),
                _para_segment(5.0, 9.75, "SPEAKER_01", "calm"),
            ],
            "recording": {
                "num_speakers": 2,
                "speech_ratio": 0.68,
                "overlap_ratio": 0.0,
                "snr_db": 18.375,
                "reverberation": {"rt60_s": 0.42, "level": "low"},
                "quality": {"sig": 3.5, "bak": 4.125, "ovrl": 3.25},
                "background": ["music"],
            },
        },
        "non_linguistic_events": [
            {
                "label": "music",
                "start": 0.0,
                "end": 3.0,
                "confidence": 0.81,
                "source_label": "Music",
                "ontology_id": "/m/04rlf",
                "kind": "background",
            },
            {
                "label": "laughter",
                "start": 9.8,
                "end": 10.6,
                "confidence": 0.55,
                "source_label": "Laughter",
                "ontology_id": "/m/01j3sz",
                "kind": "event",
            },
            {
                "label": "dog",
                "start": 11.0,
                "end": 12.5,
                "confidence": 0.4,
                "source_label": "Dog",
                "ontology_id": None,
                "kind": None,
            },
        ],
        "provenance": {
            "pipeline_version": "0.1.0",
            "recipe_hash": RECIPE_HASH,
            "created_at": CREATED_AT,
            "stages": {
                "asr": {
                    "backend": "faster-whisper",
                    "model": "tiny.en",
                    "model_version": "sha256:0123abcd",
                    "params": {
                        "beam_size": 5,
                        "language": None,
                        "temperature": [0.0, 0.2],
                        "word_timestamps": True,
                    },
                    "status": "ok",
                },
                "diarization": {
                    "backend": "pyannote",
                    "model": "pyannote/speaker-diarization-3.1",
                    "model_version": "sha256:89ab",
                    "params": {"max_speakers": None, "min_speakers": 1},
                    "status": "ok",
                },
                "events": {
                    "backend": "panns",
                    "model": "Cnn14",
                    "model_version": None,
                    "params": {"threshold": 0.3},
                    "status": "ok",
                },
                "paralinguistics": {
                    "backend": "default",
                    "model": "wav2vec2-emotion",
                    "model_version": None,
                    "params": {"bins": "levels-v1", "min_segment_s": 0.5},
                    "status": "ok",
                },
                "vad": {
                    "backend": "silero",
                    "model": None,
                    "model_version": None,
                    "params": {},
                    "status": "skipped: disabled in recipe",
                },
            },
            "fields": {
                "non_linguistic_events": "events",
                "paralinguistics.recording.speech_ratio": "skipped: stages.vad disabled in recipe",
                "transcription": "asr",
            },
        },
    }


def minimal_record_dict() -> dict[str, Any]:
    """A valid record with nothing annotated (every optional part null, no stages)."""
    return {
        "uas_version": "1.1",
        "clip": {
            "id": "clip-min",
            "source": "min.wav",
            "duration_s": 1.0,
            "sample_rate": 16000,
            "channels": 1,
            "offset_s": None,
        },
        "transcription": None,
        "paralinguistics": None,
        "non_linguistic_events": None,
        "provenance": {
            "pipeline_version": "0.1.0",
            "recipe_hash": RECIPE_HASH,
            "created_at": CREATED_AT,
            "stages": {},
            "fields": None,
        },
    }


def v10_record_dict() -> dict[str, Any]:
    """The rich record as uas_version 1.0 wrote it (no v1.1 keys)."""
    doc = rich_record_dict()
    doc["uas_version"] = "1.0"
    del doc["transcription"]["rejected"]
    for item in (*doc["paralinguistics"]["speakers"], *doc["paralinguistics"]["segments"]):
        del item["accent"], item["voice_quality"]
    del doc["paralinguistics"]["recording"]["quality"], doc["paralinguistics"]["recording"]["background"]
    for ev in doc["non_linguistic_events"]:
        del ev["kind"]
    del doc["provenance"]["fields"]
    return doc


def canonical_dumps(doc: Any) -> str:
    """``json.dumps`` with the canonical settings (for docs already in canonical form)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def rich_record() -> UASRecord:
    return UASRecord.model_validate(rich_record_dict())


def minimal_record() -> UASRecord:
    return UASRecord.model_validate(minimal_record_dict())


def reorder_keys(doc: Any, how: str = "reverse", seed: int = 0) -> Any:
    """A deep copy of ``doc`` with every mapping's insertion order reversed or shuffled (seeded)."""
    rng = random.Random(seed)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            keys = list(node)
            if how == "reverse":
                keys.reverse()
            else:
                rng.shuffle(keys)
            return {k: walk(node[k]) for k in keys}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return copy.copy(node)

    return walk(doc)
