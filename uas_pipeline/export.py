"""``uas-pipeline export DIR --to lhotse|jsonl|hf OUT``: the records in other tools' formats.

* ``jsonl`` — one canonical UAS record a line (``.gz`` suffix: gzip).
* ``lhotse`` — a ``CutSet`` manifest (``OUT`` ending in ``.jsonl``/``.jsonl.gz``, else
  ``OUT/cuts.jsonl.gz``) loadable by ``lhotse.load_manifest``: one cut per clip (``start`` = the
  clip's offset in its file), one supervision per transcription segment with ``text``, ``speaker``,
  ``language``, ``gender`` and the words as the ``word`` alignment; the segment's and its speaker's
  UAS attributes are in the supervision's ``custom``, recording attributes, events and provenance in
  the cut's ``custom``. ``null`` (not annotated) stays ``None``, never an empty value.
* ``hf`` — a ``datasets.Dataset`` saved with ``save_to_disk``: an ``audio`` column
  (``datasets.Audio``, audio embedded), the flattened fields of :func:`flat_fields` and the canonical
  ``uas`` JSON.

Everything streams: rows are read batch by batch and written as they come.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from .output_reader import check_output_dir, iter_rows
from .schema import UASRecord

EXPORT_FORMATS = ("lhotse", "jsonl", "hf")
ROW_COLUMNS = ("clip_id", "source", "offset_s", "duration_s", "uas", "recipe_hash")


# --- flattened fields (also used by the HTML report) ------------------------------------------------


def _speaker_attr(record: UASRecord, path: tuple[str, ...]) -> list[Any] | None:
    para = record.paralinguistics
    if para is None or para.speakers is None:
        return None
    values = []
    for speaker in para.speakers:
        node: Any = speaker
        for step in path:
            node = None if node is None else getattr(node, step)
        values.append(node)
    return values


def flat_fields(record: UASRecord) -> dict[str, Any]:
    """Query-friendly columns of one record. Lists hold one value per speaker (in
    ``paralinguistics.speakers`` order); a column is ``None`` where its part was not annotated."""
    tr = record.transcription
    para = record.paralinguistics
    rec = para.recording if para is not None else None
    events = record.non_linguistic_events
    words = None if tr is None else sum(len(s.words or ()) for s in tr.segments)
    return {
        "text": None if tr is None else tr.text,
        "language": None if tr is None else tr.language,
        "language_confidence": None if tr is None else tr.language_confidence,
        "num_segments": None if tr is None else len(tr.segments),
        "num_words": words,
        "num_speakers": None if rec is None else rec.num_speakers,
        "speech_ratio": None if rec is None else rec.speech_ratio,
        "overlap_ratio": None if rec is None else rec.overlap_ratio,
        "snr_db": None if rec is None else rec.snr_db,
        "quality_ovrl": None if rec is None or rec.quality is None else rec.quality.ovrl,
        "background": None if rec is None else rec.background,
        "speaker_ids": _speaker_attr(record, ("id",)),
        "speaker_genders": _speaker_attr(record, ("gender", "label")),
        "speaker_ages": _speaker_attr(record, ("age", "label")),
        "speaker_emotions": _speaker_attr(record, ("emotion", "label")),
        "speaker_pitch_hz": _speaker_attr(record, ("pitch", "mean_hz")),
        "speaker_pitch_levels": _speaker_attr(record, ("pitch", "level")),
        "speaker_rate_levels": _speaker_attr(record, ("speaking_rate", "level")),
        "speaker_accents": _speaker_attr(record, ("accent", "label")),
        "event_labels": None if events is None else sorted({e.label for e in events}),
        "num_events": None if events is None else len(events),
    }


def _hf_features(audio_feature: Any):
    from datasets import Features, List, Value

    text, num, i32 = Value("string"), Value("float64"), Value("int32")
    return Features({
        "clip_id": text, "audio": audio_feature, "source": text, "offset_s": num, "duration_s": num,
        "text": Value("large_string"), "language": text, "language_confidence": num,
        "num_segments": i32, "num_words": i32, "num_speakers": i32, "speech_ratio": num,
        "overlap_ratio": num, "snr_db": num, "quality_ovrl": num, "background": List(text),
        "speaker_ids": List(text), "speaker_genders": List(text), "speaker_ages": List(text),
        "speaker_emotions": List(text), "speaker_pitch_hz": List(num), "speaker_pitch_levels": List(text),
        "speaker_rate_levels": List(text), "speaker_accents": List(text), "event_labels": List(text),
        "num_events": i32, "recipe_hash": text, "uas": Value("large_string"),
    })


# --- audio helpers ----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _probe(source: str) -> tuple[int, int, float] | None:
    """(sample_rate, channels, duration_s) of a source file, or ``None`` when it cannot be read."""
    from .audio import AudioError, probe

    try:
        info = probe(source)
    except AudioError:
        return None
    return info.sample_rate, info.channels, info.duration_s


def _region_flac(source: str, offset_s: float, duration_s: float, sample_rate: int) -> bytes:
    """The clip's region as FLAC bytes at the source's rate (downmixed to mono, as annotated)."""
    import soundfile as sf

    from .audio import load_audio

    audio, _ = load_audio(source, offset_s, duration_s, target_sr=sample_rate, min_duration_s=0.0)
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, format="FLAC", subtype="PCM_24")
    return buf.getvalue()


# --- jsonl ------------------------------------------------------------------------------------------


def export_jsonl(out_dir: str | Path, target: str | Path) -> int:
    """One canonical record a line; returns the number of records."""
    check_output_dir(out_dir)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if target.name.endswith(".gz") else open
    count = 0
    with opener(target, "wt", encoding="utf-8") as handle:
        for row in iter_rows(out_dir, ("uas",)):
            handle.write(row["uas"] + "\n")
            count += 1
    return count


# --- lhotse -----------------------------------------------------------------------------------------


def _attrs(model: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: None if getattr(model, n) is None else getattr(model, n).model_dump(mode="json") for n in names}


SEGMENT_ATTRS = ("emotion", "pitch", "speaking_rate", "loudness", "arousal", "accent", "voice_quality")
SPEAKER_ATTRS = ("gender", "age", *SEGMENT_ATTRS)


def _supervisions(record: UASRecord, recording_id: str, channel: int | list[int]) -> list[Any]:
    from lhotse import SupervisionSegment
    from lhotse.supervision import AlignmentItem

    tr = record.transcription
    if tr is None:
        return []
    para = record.paralinguistics
    profiles = {s.id: s for s in (para.speakers or ())} if para is not None else {}
    para_segments = {(s.start, s.end, s.speaker): s for s in (para.segments or ())} if para is not None else {}
    sups = []
    for i, seg in enumerate(tr.segments):
        profile = profiles.get(seg.speaker) if seg.speaker else None
        seg_para = para_segments.get((seg.start, seg.end, seg.speaker))
        custom = {
            "confidence": seg.confidence,
            "segment": None if seg_para is None else _attrs(seg_para, SEGMENT_ATTRS),
            "speaker_profile": None if profile is None else {
                "speech_duration_s": profile.speech_duration_s, **_attrs(profile, SPEAKER_ATTRS)},
        }
        alignment = None
        if seg.words is not None:
            alignment = {"word": [AlignmentItem(symbol=w.word, start=w.start, duration=round(w.end - w.start, 3),
                                                score=w.confidence) for w in seg.words]}
        sups.append(SupervisionSegment(
            id=f"{record.clip.id}-{i:04d}", recording_id=recording_id, start=seg.start,
            duration=round(seg.end - seg.start, 3), channel=channel, text=seg.text, language=tr.language,
            speaker=seg.speaker,
            gender=None if profile is None or profile.gender is None else profile.gender.label,
            custom=custom, alignment=alignment,
        ))
    return sups


def _cut_custom(record: UASRecord) -> dict[str, Any]:
    tr, para, events = record.transcription, record.paralinguistics, record.non_linguistic_events
    return {
        "uas_version": record.uas_version,
        "transcription_annotated": tr is not None,
        "language_confidence": None if tr is None else tr.language_confidence,
        "rejected_segments": None if tr is None or tr.rejected is None
        else [r.model_dump(mode="json") for r in tr.rejected],
        "recording": None if para is None or para.recording is None else para.recording.model_dump(mode="json"),
        "events": None if events is None else [e.model_dump(mode="json") for e in events],
        "provenance": {
            "pipeline_version": record.provenance.pipeline_version,
            "recipe_hash": record.provenance.recipe_hash,
            "created_at": record.provenance.created_at,
            "stages": {k: v.status for k, v in record.provenance.stages.items()},
        },
    }


def record_to_cut(record: UASRecord, source: str):
    """A lhotse ``MonoCut`` (``MultiCut`` for multi-channel sources) of one record."""
    from lhotse import AudioSource, MonoCut, MultiCut, Recording

    clip = record.clip
    offset = clip.offset_s or 0.0
    probed = _probe(source)
    sample_rate, channels, file_s = probed if probed else (clip.sample_rate, clip.channels, offset + clip.duration_s)
    num_samples = max(round(file_s * sample_rate), round((offset + clip.duration_s) * sample_rate))
    channel_ids = list(range(channels))
    recording = Recording(
        id=clip.id, sources=[AudioSource(type="file", channels=channel_ids, source=source)],
        sampling_rate=sample_rate, num_samples=num_samples, duration=num_samples / sample_rate,
        channel_ids=channel_ids,
    )
    channel: int | list[int] = 0 if channels == 1 else channel_ids
    sups = _supervisions(record, recording.id, channel)
    common = {"id": clip.id, "start": offset, "duration": clip.duration_s, "recording": recording,
              "supervisions": sups, "custom": _cut_custom(record)}
    return MonoCut(channel=0, **common) if channels == 1 else MultiCut(channel=channel_ids, **common)


def lhotse_target(target: str | Path) -> Path:
    target = Path(target)
    return target if target.name.endswith((".jsonl", ".jsonl.gz")) else target / "cuts.jsonl.gz"


def export_lhotse(out_dir: str | Path, target: str | Path) -> int:
    """Write a lhotse CutSet manifest; returns the number of cuts."""
    from lhotse import CutSet

    check_output_dir(out_dir)
    path = lhotse_target(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with CutSet.open_writer(path) as writer:
        for row in iter_rows(out_dir, ROW_COLUMNS):
            writer.write(record_to_cut(UASRecord.from_json(row["uas"]), row["source"]))
            count += 1
    return count


# --- Hugging Face -----------------------------------------------------------------------------------


def _hf_examples(out_dir: Path) -> Iterator[dict[str, Any]]:
    for row in iter_rows(out_dir, ROW_COLUMNS):
        record = UASRecord.from_json(row["uas"])
        clip = record.clip
        source = row["source"]
        if clip.offset_s is not None:
            # An Audio path cannot hold an offset: a region carries its own audio.
            data = _region_flac(source, clip.offset_s, clip.duration_s, clip.sample_rate)
            audio = {"bytes": data, "path": f"{clip.id}.flac"}
        else:
            audio = {"bytes": None, "path": source}
        yield {
            "clip_id": row["clip_id"], "audio": audio, "source": source, "offset_s": row["offset_s"],
            "duration_s": row["duration_s"], **flat_fields(record), "recipe_hash": row["recipe_hash"],
            "uas": row["uas"],
        }


def export_hf(out_dir: str | Path, target: str | Path) -> int:
    """Save a ``datasets.Dataset`` to ``target`` (``datasets.load_from_disk`` reads it back).

    ``save_to_disk`` embeds the audio: whole-file clips as their source file's bytes, regions as
    FLAC (mono, at the source's sample rate, as annotated), so the saved dataset is self-contained."""
    import tempfile

    from datasets import Audio, Dataset, Value

    out_dir = check_output_dir(out_dir)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The audio column is generated as its Arrow storage and cast to Audio afterwards:
    # Audio.encode_example imports torchcodec, which CPU-only installs may lack (a CUDA build).
    storage = {"bytes": Value("binary"), "path": Value("string")}
    # from_generator writes Arrow in batches to a cache dir; keep it beside the target, remove it after.
    with tempfile.TemporaryDirectory(prefix=".hf-cache-", dir=target.parent) as cache:
        dataset = Dataset.from_generator(
            _hf_examples, gen_kwargs={"out_dir": out_dir}, features=_hf_features(storage), cache_dir=cache,
        )
        dataset = dataset.cast_column("audio", Audio())
        dataset.save_to_disk(str(target))
        count = len(dataset)
        del dataset
    return count


def export(out_dir: str | Path, fmt: str, target: str | Path) -> int:
    if fmt == "jsonl":
        return export_jsonl(out_dir, target)
    if fmt == "lhotse":
        return export_lhotse(out_dir, target)
    if fmt == "hf":
        return export_hf(out_dir, target)
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")


def summary_line(fmt: str, target: str | Path, count: int) -> str:
    where = lhotse_target(target) if fmt == "lhotse" else Path(target)
    return json.dumps({"format": fmt, "records": count, "output": str(where)})
