"""Diarization error rate (DER) and Jaccard error rate (JER) with pyannote.metrics.

Reference turns: ``rttm`` (else ``rttm_derived``, inline ``turns``, or a diarization ``segments``
file). Hypothesis: the diarization stage's own turns, from the data shard's ``speaker_turns``
column, where the row has it and the record was joined whole (``hypothesis: "turns"``). Otherwise
(shards of older versions, records stitched from a long file's regions) the turns are rebuilt from
the speaker-attributed transcript (``hypothesis: "transcript"``): each word (each segment without
word timings) is a span of its segment's speaker, and consecutive spans of one speaker less than
``merge_gap_s`` apart are merged. DER measured that way includes ASR segmentation: speech the ASR
did not transcribe counts as missed, words' timing errors as boundary errors. Both are reported
when both can be computed (``der`` / ``der_transcript``). Segments without a speaker are left out
(reported as ``unattributed_s``).

Scoring: ``DiarizationErrorRate(collar, skip_overlap=False)`` and ``JaccardErrorRate(collar)``
over the whole clip (``[0, duration]``, or the reference's ``uem``). pyannote's collar is the
*total* width removed around each reference boundary: 0.25 s removes ±0.125 s (md-eval ``-c
0.125``). Pooled DER = summed (missed + false alarm + confusion) / summed reference speech; pooled
JER = summed per-speaker errors / number of reference speakers (pyannote's accumulation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import UASRecord
from .base import UNSCORED, MetricFamily, fmt_pct, ratio, unscored
from .join import Joined
from .references import Turn, is_diarization_segments, labels_of, reference_turns, reference_uem

DEFAULT_COLLAR_S = 0.25
MERGE_GAP_S = 0.5


def hypothesis_turns(record: UASRecord, merge_gap_s: float = MERGE_GAP_S) -> tuple[list[Turn], float] | str:
    """Speaker turns rebuilt from the record's transcript and the unattributed seconds, or the reason
    the record cannot give any."""
    para, tr = record.paralinguistics, record.transcription
    if para is None or para.speakers is None:
        return "speakers not annotated"
    if tr is None:
        return "speakers but no transcript: diarization turns are not in the record"
    if tr.segments and para.speakers and all(seg.speaker is None for seg in tr.segments):
        return "transcript segments carry no speaker (attribution did not run)"
    spans: list[Turn] = []
    unattributed = 0.0
    for seg in tr.segments:
        if seg.speaker is None:
            unattributed += seg.end - seg.start
            continue
        pieces = [(w.start, w.end) for w in seg.words] if seg.words else [(seg.start, seg.end)]
        spans += [(s, e, seg.speaker) for s, e in pieces if e > s]
    turns: list[Turn] = []
    for start, end, spk in sorted(spans):
        if turns and turns[-1][2] == spk and start - turns[-1][1] < merge_gap_s:
            turns[-1] = (turns[-1][0], max(turns[-1][1], end), spk)
        else:
            turns.append((start, end, spk))
    return turns, unattributed


def _annotation(turns: list[Turn], uri: str):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for k, (s, e, spk) in enumerate(turns):
        ann[Segment(s, e), k] = spk
    return ann


def score_turns(reference: list[Turn], hypothesis: list[Turn], uem: list[tuple[float, float]],
                collar: float = DEFAULT_COLLAR_S) -> dict[str, float]:
    """DER and JER components of one file (pyannote.metrics)."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    ref, hyp = _annotation(reference, "clip"), _annotation(hypothesis, "clip")
    scored = Timeline([Segment(s, e) for s, e in uem], uri="clip")
    der = DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=scored, detailed=True)
    jer = JaccardErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=scored, detailed=True)
    return {
        "der": der["diarization error rate"],
        "jer": jer["jaccard error rate"],
        "missed_s": der["missed detection"],
        "false_alarm_s": der["false alarm"],
        "confusion_s": der["confusion"],
        "reference_s": der["total"],
        "jer_speaker_error": jer["speaker error"],
        "jer_speakers": jer["speaker count"],
    }


class DiarizationError(MetricFamily):
    NAME = "diarization"

    def __init__(self, collar: float = DEFAULT_COLLAR_S, merge_gap_s: float = MERGE_GAP_S) -> None:
        self.collar = collar
        self.merge_gap_s = merge_gap_s
        self.TITLE = f"DER / JER (collar {collar} s, overlap scored)"

    def applies(self, entry: dict[str, Any]) -> bool:
        labels = labels_of(entry)
        return (any(isinstance(labels.get(k), str) for k in ("rttm", "rttm_derived"))
                or isinstance(labels.get("turns"), list) or is_diarization_segments(entry))

    def score_joined(self, joined: Joined, ref_dir: Path) -> dict[str, Any]:
        """Score the stage's turns when the row has them (with the transcript's DER beside them)."""
        from_transcript = self.score_clip(joined.record, joined.reference.entry, ref_dir)
        if joined.speaker_turns is None or UNSCORED in from_transcript and "reference" in from_transcript[UNSCORED]:
            return from_transcript
        figures = self._score(joined.record, joined.reference.entry, ref_dir, joined.speaker_turns)
        if isinstance(figures, dict) and UNSCORED not in figures:
            figures["hypothesis"] = "turns"
            if UNSCORED not in from_transcript:
                figures["der_transcript"] = from_transcript["der"]
                figures["der_transcript_errors_s"] = round(
                    from_transcript["missed_s"] + from_transcript["false_alarm_s"] + from_transcript["confusion_s"], 3)
                figures["unattributed_s"] = from_transcript["unattributed_s"]
        return figures

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        hyp = hypothesis_turns(record, self.merge_gap_s)
        if isinstance(hyp, str):
            return unscored(hyp)
        turns, unattributed = hyp
        figures = self._score(record, entry, ref_dir, turns)
        if UNSCORED not in figures:
            figures.update(hypothesis="transcript", unattributed_s=round(unattributed, 3))
        return figures

    def _score(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path,
               turns: list[Turn]) -> dict[str, Any]:
        reference = reference_turns(entry, ref_dir) or []
        if not reference:
            return unscored("reference has no speaker turns")
        uem = reference_uem(entry) or [(0.0, max(record.clip.duration_s, max(e for _, e, _ in reference)))]
        figures = score_turns(reference, turns, uem, self.collar)
        figures.update(reference_speakers=len({t[2] for t in reference}),
                       hypothesis_speakers=len({t[2] for t in turns}))
        return figures

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        total = sum(r["reference_s"] for r in per_clip)
        with_both = [r for r in per_clip if "der_transcript_errors_s" in r]
        miss = sum(r["missed_s"] for r in per_clip)
        fa = sum(r["false_alarm_s"] for r in per_clip)
        conf = sum(r["confusion_s"] for r in per_clip)
        return {
            "der": ratio(miss + fa + conf, total),
            "missed": ratio(miss, total),
            "false_alarm": ratio(fa, total),
            "confusion": ratio(conf, total),
            "jer": ratio(sum(r["jer_speaker_error"] for r in per_clip),
                         sum(r["jer_speakers"] for r in per_clip)),
            "reference_s": total,
            "clips": len(per_clip),
            "hypothesis_from_turns": sum(r.get("hypothesis") == "turns" for r in per_clip),
            "der_transcript": ratio(sum(r["der_transcript_errors_s"] for r in with_both),
                                    sum(r["reference_s"] for r in with_both)) if with_both else None,
            "collar_s": self.collar,
            "skip_overlap": False,
        }

    def format_pooled(self, pooled: dict[str, Any]) -> list[str]:
        return [f"DER {fmt_pct(pooled['der'])}  (missed {fmt_pct(pooled['missed'])}, false alarm"
                f" {fmt_pct(pooled['false_alarm'])}, confusion {fmt_pct(pooled['confusion'])};"
                f" {pooled['reference_s']:.1f} s of reference speech)",
                f"JER {fmt_pct(pooled['jer'])}",
                f"hypothesis: the diarization stage's turns on {pooled.get('hypothesis_from_turns', 0)} of"
                f" {pooled['clips']} clips, the attributed transcript on the others"
                + (f"; DER of the attributed transcript {fmt_pct(pooled['der_transcript'])}"
                   if pooled.get("der_transcript") is not None else "")]

    def format_clip(self, figures: dict[str, Any]) -> str:
        extra = (f" (attributed transcript {fmt_pct(figures['der_transcript'])})"
                 if figures.get("der_transcript") is not None else "")
        return (f"DER {fmt_pct(figures['der'])}{extra} JER {fmt_pct(figures['jer'])}  speakers"
                f" {figures['reference_speakers']} ref / {figures['hypothesis_speakers']} hyp"
                f"  [{figures.get('hypothesis', 'transcript')}]")
