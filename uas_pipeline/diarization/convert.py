"""Turning a backend's raw turns into the typed :class:`DiarizationOutput` (shared by the backends).

Speakers are renumbered ``SPEAKER_00``, ``SPEAKER_01``... by first appearance; a speaker's
``speech_duration_s`` is the union of their turns; overlap spans are where two or more speakers'
turns cover the same time; ``overlap_ratio`` is their total over the clip duration.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from ..outputs.common import Span, total_duration
from ..outputs.diarization import DiarizationOutput, DiarizedSpeaker, SpeakerTurn
from .linking import speaker_label

MIN_TURN_S = 0.001


def overlap_spans(turns: Sequence[tuple[float, float, Hashable]]) -> list[tuple[float, float]]:
    """Maximal stretches where at least two different speakers' turns are active."""
    events: list[tuple[float, int, Hashable]] = []
    for start, end, speaker in turns:
        if end > start:
            events.append((start, 1, speaker))
            events.append((end, -1, speaker))
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    active: dict[Hashable, int] = {}
    spans: list[tuple[float, float]] = []
    open_at: float | None = None
    for t, kind, speaker in events:
        active[speaker] = active.get(speaker, 0) + kind
        if active[speaker] == 0:
            del active[speaker]
        if len(active) >= 2 and open_at is None:
            open_at = t
        elif len(active) < 2 and open_at is not None:
            if t > open_at:
                spans.append((open_at, t))
            open_at = None
    return spans


def to_output(
    turns: Sequence[tuple[float, float, Hashable]],
    duration_s: float,
    embeddings: Mapping[Hashable, np.ndarray] | None = None,
    link_threshold: float | None = None,
) -> DiarizationOutput:
    """The typed output for raw ``(start, end, speaker)`` turns (any hashable speaker labels)."""
    clipped = []
    last_of: dict[Hashable, int] = {}  # speaker -> index of their latest turn in ``clipped``
    for start, end, speaker in sorted(turns, key=lambda t: (t[0], t[1])):
        # round to the record's millisecond grid first, so a kept turn never collapses to zero length
        start, end = round(max(0.0, float(start)), 3), round(min(float(duration_s), float(end)), 3)
        if end - start < MIN_TURN_S:
            continue
        prev = last_of.get(speaker)
        if prev is not None and start <= clipped[prev][1]:  # touching or overlapping turns of one speaker
            clipped[prev] = (clipped[prev][0], max(end, clipped[prev][1]), speaker)
            continue
        last_of[speaker] = len(clipped)
        clipped.append((start, end, speaker))
    names: dict[Hashable, str] = {}
    for _, _, speaker in clipped:
        names.setdefault(speaker, speaker_label(len(names)))
    speakers = []
    for raw, name in names.items():
        spans = [Span(start=s, end=e) for s, e, spk in clipped if spk == raw]
        emb = None
        if embeddings is not None and raw in embeddings:
            vec = np.asarray(embeddings[raw], dtype=np.float64)
            if vec.size and np.all(np.isfinite(vec)) and np.any(vec):  # NaN/zero: no direction to compare
                emb = [round(float(v), 6) for v in vec]
        speakers.append(DiarizedSpeaker(id=name, speech_duration_s=round(total_duration(spans), 3), embedding=emb))
    out_turns = [SpeakerTurn(start=s, end=e, speaker=names[spk]) for s, e, spk in clipped]
    overlap = [Span(start=a, end=b) for a, b in overlap_spans(clipped) if round(b - a, 3) >= MIN_TURN_S]
    ratio = min(1.0, total_duration(overlap) / duration_s) if duration_s > 0 else 0.0
    return DiarizationOutput(turns=out_turns, speakers=speakers, overlap=overlap, overlap_ratio=ratio,
                             link_threshold=link_threshold)
