"""Speaker attribution: ASR words and segments × diarization turns (a derived step, no audio).

Each word goes to the speaker whose turns overlap it most (so a word in overlapped speech goes to
the dominant speaker, the one with more of their turn inside the word); a word that no turn
touches takes the nearest turn within ``max_gap_s``, else the speaker of the word before it.
A segment whose words change speaker is split at each change; a run shorter than
``absorb_run_s`` between two runs of one speaker is given to that speaker (boundary jitter of a
turn should not cut a sentence). Segments without word timestamps take the speaker that
overlaps them most and are not split.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..outputs.asr import AsrOutput
from ..outputs.diarization import DiarizationOutput, SpeakerTurn
from ..schema import Segment, Word, join_segment_texts
from .base import DerivedStep, StageFailure, StageInput, StageOutput, StageParams


class AttributionParams(StageParams):
    max_gap_s: float = Field(default=0.5, ge=0)
    """A word outside every turn takes the nearest turn within this distance."""
    absorb_run_s: float = Field(default=0.3, ge=0)
    """A run of words shorter than this between two runs of one speaker joins that speaker."""


class AttributionOutput(StageOutput):
    segments: list[Segment]

    def record_fields(self) -> dict[str, Any]:
        return {"transcription.segments": self.segments, "transcription.text": join_segment_texts(self.segments)}


class SpeakerAttribution(DerivedStep):
    """Speaker-attributed transcript segments (split at speaker changes)."""

    name = "attribution"
    requires = ("asr", "diarization")
    Params = AttributionParams
    Output = AttributionOutput
    refines = ("transcription.segments", "transcription.text")

    def process(self, batch: list[StageInput]) -> list[AttributionOutput | StageFailure]:
        out: list[AttributionOutput | StageFailure] = []
        for item in batch:
            asr, diar = item.inputs["asr"], item.inputs["diarization"]
            assert isinstance(asr, AsrOutput) and isinstance(diar, DiarizationOutput)
            segments: list[Segment] = []
            for seg in asr.transcription.segments:
                segments.extend(attribute_segment(seg, diar.turns, self.params))
            out.append(AttributionOutput(segments=segments))
        return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def speaker_of_span(start: float, end: float, turns: list[SpeakerTurn], max_gap_s: float) -> str | None:
    """The speaker with the most turn time inside ``[start, end]``; else the nearest turn within
    ``max_gap_s``; else ``None``. Ties go to the lower speaker id (deterministic)."""
    per_speaker: dict[str, float] = {}
    for t in turns:
        ov = _overlap(start, end, t.start, t.end)
        if ov > 0:
            per_speaker[t.speaker] = per_speaker.get(t.speaker, 0.0) + ov
    if per_speaker:
        return min(per_speaker, key=lambda s: (-per_speaker[s], s))
    best = None
    for t in turns:
        gap = max(t.start - end, start - t.end, 0.0)
        if gap <= max_gap_s and (best is None or (gap, t.speaker) < best):
            best = (gap, t.speaker)
    return best[1] if best else None


def attribute_segment(seg: Segment, turns: list[SpeakerTurn], params: AttributionParams) -> list[Segment]:
    """The segment with speakers set, split where its words change speaker."""
    words = seg.words or []
    if not words:
        speaker = speaker_of_span(seg.start, seg.end, turns, params.max_gap_s)
        return [seg.model_copy(update={"speaker": speaker})]
    labels: list[str | None] = []
    for w in words:
        label = speaker_of_span(w.start, w.end, turns, params.max_gap_s)
        labels.append(label if label is not None else (labels[-1] if labels else None))
    if labels and labels[0] is None:  # leading words outside every turn: take the first known speaker
        first = next((lab for lab in labels if lab is not None), None)
        labels = [first if lab is None else lab for lab in labels]
    runs = _runs(words, labels)
    runs = _absorb_short_runs(runs, params.absorb_run_s)
    if len(runs) == 1:
        return [seg.model_copy(update={"speaker": runs[0][0]})]
    out = []
    for k, (speaker, run_words) in enumerate(runs):
        start = seg.start if k == 0 else run_words[0].start
        end = seg.end if k == len(runs) - 1 else run_words[-1].end
        confs = [w.confidence for w in run_words if w.confidence is not None]
        out.append(
            Segment(
                start=start,
                end=max(end, start + 0.001),
                speaker=speaker,
                text=" ".join(w.word for w in run_words),
                confidence=sum(confs) / len(confs) if confs else seg.confidence,
                words=run_words,
            )
        )
    return out


def _runs(words: list[Word], labels: list[str | None]) -> list[tuple[str | None, list[Word]]]:
    runs: list[tuple[str | None, list[Word]]] = []
    for w, label in zip(words, labels, strict=True):
        if runs and runs[-1][0] == label:
            runs[-1][1].append(w)
        else:
            runs.append((label, [w]))
    return runs


def _absorb_short_runs(runs, absorb_s: float):
    changed = True
    while changed and len(runs) > 2:
        changed = False
        for k in range(1, len(runs) - 1):
            speaker, ws = runs[k]
            if runs[k - 1][0] == runs[k + 1][0] != speaker and ws[-1].end - ws[0].start < absorb_s:
                merged = (runs[k - 1][0], runs[k - 1][1] + ws + runs[k + 1][1])
                runs = [*runs[: k - 1], merged, *runs[k + 2:]]
                changed = True
                break
    return runs
