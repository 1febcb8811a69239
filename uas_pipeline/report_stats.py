"""Dataset totals and distributions for the HTML report, accumulated one record at a time.

Counts only (no per-clip lists), so memory does not grow with the dataset. ``None`` parts are counted
under ``NOT_ANNOTATED``, never as an empty value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .schema import UASRecord

NOT_ANNOTATED = "not annotated"
DURATION_BINS_S = (1, 2, 5, 10, 30, 60, 300)
SPEECH_RATIO_BINS = (0.1, 0.25, 0.5, 0.75, 0.9)
SNR_BINS_DB = (0, 10, 20, 30, 40)
MOS_BINS = (2, 2.5, 3, 3.5, 4)
SPEAKER_ATTRIBUTES = (
    ("gender", ("gender", "label")),
    ("age", ("age", "label")),
    ("emotion", ("emotion", "label")),
    ("accent", ("accent", "label")),
    ("pitch level", ("pitch", "level")),
    ("speaking rate level", ("speaking_rate", "level")),
    ("loudness level", ("loudness", "level")),
    ("arousal level", ("arousal", "level")),
    ("voice quality level", ("voice_quality", "level")),
)


def bin_label(value: float | None, edges: tuple[float, ...], unit: str = "") -> str:
    """``"< 1 s"``, ``"1–2 s"`` … ``"≥ 300 s"`` for the bin holding ``value``."""
    if value is None:
        return NOT_ANNOTATED
    for i, edge in enumerate(edges):
        if value < edge:
            return f"< {edge}{unit}" if i == 0 else f"{edges[i - 1]}–{edge}{unit}"
    return f"≥ {edges[-1]}{unit}"


def bin_order(edges: tuple[float, ...], unit: str = "") -> list[str]:
    labels = [f"< {edges[0]}{unit}"] + [f"{a}–{b}{unit}" for a, b in zip(edges, edges[1:], strict=False)]
    return labels + [f"≥ {edges[-1]}{unit}", NOT_ANNOTATED]


def _walk(obj: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if obj is None:
            return None
        obj = getattr(obj, step)
    return obj


@dataclass
class DatasetStats:
    clips: int = 0
    audio_s: float = 0.0
    words: int = 0
    events: int = 0
    speakers: int = 0
    rejected_segments: int = 0
    language_s: Counter = field(default_factory=Counter)
    language_clips: Counter = field(default_factory=Counter)
    speakers_per_clip: Counter = field(default_factory=Counter)
    durations: Counter = field(default_factory=Counter)
    transcription: Counter = field(default_factory=Counter)
    speaker_attributes: dict[str, Counter] = field(
        default_factory=lambda: {name: Counter() for name, _ in SPEAKER_ATTRIBUTES})
    speech_ratio: Counter = field(default_factory=Counter)
    snr: Counter = field(default_factory=Counter)
    quality: Counter = field(default_factory=Counter)
    background: Counter = field(default_factory=Counter)
    event_clips: Counter = field(default_factory=Counter)
    event_count: Counter = field(default_factory=Counter)
    event_kinds: Counter = field(default_factory=Counter)
    stage_status: dict[str, Counter] = field(default_factory=dict)

    def add(self, record: UASRecord) -> None:
        duration = record.clip.duration_s
        self.clips += 1
        self.audio_s += duration
        self.durations[bin_label(duration, DURATION_BINS_S, " s")] += 1
        tr = record.transcription
        if tr is None:
            lang = NOT_ANNOTATED
            self.transcription[NOT_ANNOTATED] += 1
        else:
            lang = tr.language or "unknown"
            self.transcription["with speech" if tr.segments else "annotated, no speech"] += 1
            self.words += sum(len(s.words or ()) for s in tr.segments)
            self.rejected_segments += len(tr.rejected or ())
        self.language_s[lang] += duration
        self.language_clips[lang] += 1
        self._add_paralinguistics(record)
        events = record.non_linguistic_events
        if events is None:
            self.event_clips[NOT_ANNOTATED] += 1
        else:
            self.events += len(events)
            for label in {e.label for e in events}:
                self.event_clips[label] += 1
            for e in events:
                self.event_count[e.label] += 1
                self.event_kinds[e.kind or NOT_ANNOTATED] += 1
        for name, st in record.provenance.stages.items():
            self.stage_status.setdefault(name, Counter())[st.status] += 1

    def _add_paralinguistics(self, record: UASRecord) -> None:
        para = record.paralinguistics
        rec = para.recording if para is not None else None
        speakers = para.speakers if para is not None else None
        if speakers is None:
            count = rec.num_speakers if rec is not None else None
            self.speakers_per_clip[NOT_ANNOTATED if count is None else str(count)] += 1
            for name, _ in SPEAKER_ATTRIBUTES:
                self.speaker_attributes[name]["no speaker profiles"] += 1
        else:
            self.speakers += len(speakers)
            self.speakers_per_clip[str(len(speakers)) if len(speakers) < 5 else "5+"] += 1
            for speaker in speakers:
                for name, path in SPEAKER_ATTRIBUTES:
                    value = _walk(speaker, path)
                    self.speaker_attributes[name][NOT_ANNOTATED if value is None else str(value)] += 1
        self.speech_ratio[bin_label(rec.speech_ratio if rec else None, SPEECH_RATIO_BINS)] += 1
        self.snr[bin_label(rec.snr_db if rec else None, SNR_BINS_DB, " dB")] += 1
        ovrl = rec.quality.ovrl if rec is not None and rec.quality is not None else None
        self.quality[bin_label(ovrl, MOS_BINS)] += 1
        if rec is None or rec.background is None:
            self.background[NOT_ANNOTATED] += 1
        else:
            for label in rec.background or ["(none)"]:
                self.background[label] += 1

    def to_dict(self) -> dict[str, Any]:
        def ordered(counter: Counter, order: list[str] | None = None) -> list[tuple[str, float]]:
            if order:
                return [(k, counter[k]) for k in order if counter.get(k)]
            items = sorted(counter.items(), key=lambda kv: (kv[0] == NOT_ANNOTATED, -kv[1], kv[0]))
            return [(k, round(v, 3) if isinstance(v, float) else v) for k, v in items]

        return {
            "clips": self.clips, "audio_s": round(self.audio_s, 3), "words": self.words, "events": self.events,
            "speakers": self.speakers, "rejected_segments": self.rejected_segments,
            "language_hours": [(k, round(v / 3600, 4)) for k, v in ordered(self.language_s)],
            "language_clips": ordered(self.language_clips),
            "speakers_per_clip": ordered(self.speakers_per_clip,
                                         ["0", "1", "2", "3", "4", "5+", NOT_ANNOTATED]),
            "durations": ordered(self.durations, bin_order(DURATION_BINS_S, " s")),
            "transcription": ordered(self.transcription),
            "speaker_attributes": {k: ordered(v) for k, v in self.speaker_attributes.items()},
            "speech_ratio": ordered(self.speech_ratio, bin_order(SPEECH_RATIO_BINS)),
            "snr": ordered(self.snr, bin_order(SNR_BINS_DB, " dB")),
            "quality": ordered(self.quality, bin_order(MOS_BINS)),
            "background": ordered(self.background),
            "event_clips": ordered(self.event_clips),
            "event_count": ordered(self.event_count),
            "event_kinds": ordered(self.event_kinds),
            "stage_status": {k: ordered(v) for k, v in sorted(self.stage_status.items())},
        }


@dataclass
class FailureStats:
    """Ledger rows by stage and by (stage, error type), with a few examples of each."""

    examples_per_type: int = 3
    total: int = 0
    by_stage: Counter = field(default_factory=Counter)
    by_type: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        stage, kind = row.get("stage") or "?", row.get("error_type") or "?"
        self.total += 1
        self.by_stage[stage] += 1
        self.by_type[f"{stage} · {kind}"] += 1
        bucket = self.examples.setdefault(f"{stage} · {kind}", [])
        if len(bucket) < self.examples_per_type:
            bucket.append({"clip_id": str(row.get("clip_id")), "source": str(row.get("source")),
                           "message": str(row.get("message") or "")[:400]})

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_stage": sorted(self.by_stage.items(), key=lambda kv: -kv[1]),
            "by_type": [{"type": k, "count": v, "examples": self.examples.get(k, [])}
                        for k, v in sorted(self.by_type.items(), key=lambda kv: -kv[1])],
        }
