"""Reading RTTM references and scoring diarization (DER, JER) with pyannote.metrics.

DER is scored the standard way for this project: a 0.25 s collar around reference boundaries and
overlapped speech *scored* (``skip_overlap=False``), so a missed second speaker counts as missed
speech.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RttmTurn = tuple[float, float, str]
"""(start, end, speaker) in seconds."""


def read_rttm(path: str | Path, file_id: str | None = None) -> list[RttmTurn]:
    """Turns of one file from an RTTM (``SPEAKER file chan start dur <NA> <NA> speaker ...``)."""
    turns: list[RttmTurn] = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 8 or parts[0] != "SPEAKER" or (file_id is not None and parts[1] != file_id):
            continue
        start, dur = float(parts[3]), float(parts[4])
        if dur > 0:
            turns.append((start, start + dur, parts[7]))
    return sorted(turns)


def write_rttm(path: str | Path, file_id: str, turns: Iterable[RttmTurn]) -> None:
    lines = [f"SPEAKER {file_id} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>" for s, e, spk in sorted(turns)]
    Path(path).write_text("\n".join(lines) + "\n")


def _annotation(turns: Iterable[RttmTurn], uri: str):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for k, (s, e, spk) in enumerate(turns):
        if e > s:
            ann[Segment(s, e), k] = spk
    return ann


@dataclass(frozen=True)
class DiarizationScore:
    der: float
    jer: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    total_s: float
    ref_speakers: int
    hyp_speakers: int


def score_diarization(
    reference: list[RttmTurn], hypothesis: list[RttmTurn], collar: float = 0.25,
    skip_overlap: bool = False, uem: tuple[float, float] | None = None,
) -> DiarizationScore:
    """DER (with its parts, seconds after the collar) and JER of one file."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    ref, hyp = _annotation(reference, "f"), _annotation(hypothesis, "f")
    kwargs = {}
    if uem is not None:
        kwargs["uem"] = Timeline([Segment(*uem)])
    details = DiarizationErrorRate(collar=collar, skip_overlap=skip_overlap)(ref, hyp, detailed=True, **kwargs)
    jer = JaccardErrorRate(collar=collar, skip_overlap=skip_overlap)(ref, hyp, **kwargs)
    return DiarizationScore(
        der=float(details["diarization error rate"]),
        jer=float(jer),
        missed_s=float(details["missed detection"]),
        false_alarm_s=float(details["false alarm"]),
        confusion_s=float(details["confusion"]),
        total_s=float(details["total"]),
        ref_speakers=len({t[2] for t in reference}),
        hyp_speakers=len({t[2] for t in hypothesis}),
    )
