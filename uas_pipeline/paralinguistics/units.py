"""Which stretches of a clip belong to which speaker (shared by the paralinguistic stages)."""

from __future__ import annotations

from ..outputs.diarization import DiarizationOutput
from ..schema.models import Segment
from .spans import Region, subtract_regions, total_s


def speaker_regions(speaker_ids: list[str], segments: list[Segment], diarization: object | None,
                    min_clean_s: float = 0.2) -> dict[str, list[Region]]:
    """Each speaker's speech: their diarization turns minus overlapped speech (all their turns if
    less than ``min_clean_s`` is left), else their transcript segments."""
    out: dict[str, list[Region]] = {}
    diar = diarization if isinstance(diarization, DiarizationOutput) else None
    overlap = [(o.start, o.end) for o in diar.overlap] if diar is not None else []
    for sid in speaker_ids:
        turns = [(t.start, t.end) for t in diar.turns if t.speaker == sid] if diar is not None else []
        regions = subtract_regions(turns, overlap) if turns else []
        if total_s(regions) < min_clean_s:
            regions = turns or [(s.start, s.end) for s in segments if s.speaker == sid]
        out[sid] = regions
    return out


def record_speakers(item) -> list[str] | None:
    """Speaker ids of the partial record (``None`` without a speaker list)."""
    para = item.record().paralinguistics
    return [s.id for s in para.speakers] if para is not None and para.speakers is not None else None


def record_segments(item) -> list[Segment] | None:
    t = item.record().transcription
    return t.segments if t is not None else None
