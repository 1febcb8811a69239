"""Stitching the region records of one long file back into one record in file time.

The pipeline annotates a long file as regions ``ID#r0000``, ``ID#r0001``… (``clip.offset_s`` set).
File-level metrics (WER over the whole file, DER over a long recording) need one record: every time
is shifted by the region's offset, lists are concatenated in file order. The pipeline does not link
speakers across regions, so each region's speakers stay distinct (``SPEAKER_00`` of two regions
become two speakers): a speaker who talks in several regions counts as several, which DER charges
as confusion and the speaker count as over-counting — the dataset as written makes no such link.

Recording-level attributes are combined where a combination is defined: ``num_speakers`` (the
stitched speakers), ``speech_ratio`` and ``overlap_ratio`` (duration-weighted means); the others
(``snr_db``, ``reverberation``, ``quality``, ``background``) are null. The language is the one with
the most transcribed speech; ``language_confidence`` is null.
"""

from __future__ import annotations

import re
from typing import Any

from ..schema import Segment, UASRecord, join_segment_texts

OVERLAP_TOLERANCE_S = 0.001
REGION_ID = re.compile(r"^(?P<file>.+)#r(?P<index>\d{4,})$")
"""Ids of the regions of a long file: ``ID#r0000``, ``ID#r0001``…"""


def region_index(clip_id: str) -> int:
    match = REGION_ID.match(clip_id)
    return int(match["index"]) if match else 0


class StitchError(ValueError):
    """The records cannot form one file (overlapping regions, different sources)."""


def _shift(node: Any, dt: float) -> Any:
    """A copy of a dumped record part with every ``start``/``end`` moved by ``dt`` seconds."""
    if isinstance(node, dict):
        out = {k: _shift(v, dt) for k, v in node.items()}
        for key in ("start", "end"):
            if isinstance(out.get(key), int | float):
                out[key] = out[key] + dt
        return out
    if isinstance(node, list):
        return [_shift(v, dt) for v in node]
    return node


def _relabel(items: list[dict[str, Any]] | None, key: str, names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for item in items or ():
        item = dict(item)
        if item.get(key) is not None:
            item[key] = names[item[key]]
        out.append(item)
    return out


def _weighted(values: list[tuple[float | None, float]]) -> float | None:
    known = [(v, w) for v, w in values if v is not None]
    weight = sum(w for _, w in known)
    return sum(v * w for v, w in known) / weight if known and weight > 0 else None


def _origin(records: list[UASRecord], from_region_ids: bool) -> float:
    """File time of the stitched clip's start: 0, or (regions of a manifest entry that itself starts
    at an offset) the first region's start, recovered from any region since regions are equal."""
    if not from_region_ids:
        return 0.0
    first = min(records, key=lambda r: region_index(r.clip.id))
    k = region_index(first.clip.id)
    return max(0.0, round((first.clip.offset_s or 0.0) - k * first.clip.duration_s, 3))


def stitch_regions(records: list[UASRecord], from_region_ids: bool, file_id: str) -> UASRecord:
    """One record of ``file_id`` from its region records (any order; missing regions leave gaps)."""
    if not records:
        raise StitchError("no records to stitch")
    records = sorted(records, key=lambda r: r.clip.offset_s or 0.0)
    if len({r.clip.source for r in records}) > 1:
        raise StitchError("regions come from different source files")
    for a, b in zip(records, records[1:], strict=False):
        if (b.clip.offset_s or 0.0) < (a.clip.offset_s or 0.0) + a.clip.duration_s - OVERLAP_TOLERANCE_S:
            raise StitchError(f"regions {a.clip.id} and {b.clip.id} overlap")
    origin = _origin(records, from_region_ids)
    shifts = [(r.clip.offset_s or 0.0) - origin for r in records]
    names: list[dict[str, str]] = []
    speakers: list[dict[str, Any]] = []
    assigned = 0
    for rec in records:
        para = rec.paralinguistics
        local: dict[str, str] = {}
        declared = [s.id for s in (para.speakers or ())] if para else []
        used = [s.speaker for s in rec.transcription.segments] if rec.transcription else []
        used += [s.speaker for s in (para.segments or ())] if para else []
        for sid in [*declared, *used]:
            if sid is not None and sid not in local:
                local[sid] = f"SPEAKER_{assigned:02d}"
                assigned += 1
        for prof in (para.speakers or ()) if para else ():
            speakers.append({**prof.model_dump(mode="json"), "id": local[prof.id]})
        names.append(local)
    parts = list(zip(records, shifts, names, strict=True))
    first = records[0]
    doc: dict[str, Any] = {
        "uas_version": "1.1" if any(r.uas_version == "1.1" for r in records) else "1.0",
        "clip": {
            "id": file_id,
            "source": first.clip.source,
            "duration_s": max(dt + r.clip.duration_s for r, dt, _ in parts),
            "sample_rate": first.clip.sample_rate,
            "channels": first.clip.channels,
            "offset_s": origin or None,
        },
        "transcription": _transcription(parts),
        "paralinguistics": _paralinguistics(parts, speakers),
        "non_linguistic_events": _events(parts),
        "provenance": first.provenance.model_dump(mode="json"),
    }
    return UASRecord.model_validate(doc)


def _transcription(parts) -> dict[str, Any] | None:
    present = [(r.transcription, dt, n) for r, dt, n in parts if r.transcription is not None]
    if not present:
        return None
    segments: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    speech: dict[str, float] = {}
    for tr, dt, names in present:
        segments += _relabel(_shift([s.model_dump(mode="json") for s in tr.segments], dt), "speaker", names)
        rejected += _shift([s.model_dump(mode="json") for s in tr.rejected or ()], dt)
        if tr.language is not None:
            speech[tr.language] = speech.get(tr.language, 0.0) + sum(s.end - s.start for s in tr.segments)
    language = max(speech, key=lambda k: speech[k]) if speech else None  # ties: first in file order
    return {
        "text": join_segment_texts([Segment.model_validate(s) for s in segments]),
        "language": language,
        "language_confidence": None,
        "segments": segments,
        "rejected": rejected if any(tr.rejected is not None for tr, _, _ in present) else None,
    }


def _paralinguistics(parts, speakers: list[dict[str, Any]]) -> dict[str, Any] | None:
    present = [(r.paralinguistics, r.clip.duration_s, dt, n) for r, dt, n in parts
               if r.paralinguistics is not None]
    if not present:
        return None
    has_speakers = any(p.speakers is not None for p, _, _, _ in present)
    has_segments = any(p.segments is not None for p, _, _, _ in present)
    segments: list[dict[str, Any]] = []
    for p, _, dt, names in present:
        dumped = [s.model_dump(mode="json") for s in p.segments or ()]
        segments += _relabel(_shift(dumped, dt), "speaker", names)
    recs = [(p.recording, dur) for p, dur, _, _ in present if p.recording is not None]
    recording = None
    if recs:
        recording = {
            "num_speakers": len(speakers) if has_speakers else None,
            "speech_ratio": _weighted([(r.speech_ratio, d) for r, d in recs]),
            "overlap_ratio": _weighted([(r.overlap_ratio, d) for r, d in recs]),
            "snr_db": None,
            "reverberation": None,
            "quality": None,
            "background": None,
        }
    return {
        "speakers": speakers if has_speakers else None,
        "segments": segments if has_segments else None,
        "recording": recording,
    }


def _events(parts) -> list[dict[str, Any]] | None:
    present = [(r.non_linguistic_events, dt) for r, dt, _ in parts if r.non_linguistic_events is not None]
    if not present:
        return None
    events = [e for evs, dt in present for e in _shift([e.model_dump(mode="json") for e in evs], dt)]
    return sorted(events, key=lambda e: (round(e["start"], 3), round(e["end"], 3), e["label"]))
