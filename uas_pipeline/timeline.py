"""``uas-pipeline plot DIR CLIP_ID -o clip.png``: one clip's annotations on one time axis.

Panels, top to bottom, sharing the time axis (seconds from the clip start):

1. waveform, with the transcription segments (speech) shaded and rejected (hallucinated) ASR
   segments hatched;
2. spectrogram (log-mel, 0–8 kHz);
3. speaker turns, one lane per speaker, labelled with the speaker's gender, age and emotion;
4. words (or segment texts where the record has no word timings);
5. pitch: an f0 contour computed from the audio with ``librosa.pyin`` (the record holds no contour,
   only means) and the record's per-segment pitch mean ± std (per-speaker means where there are no
   segment values); the legend says which is which;
6. non-linguistic events, one lane per label, opacity = confidence, hatched for ``background`` kind.

A part that is ``null`` in the record is drawn as a grey hatched band saying *not annotated* and why
(from ``provenance``); an empty list says *annotated: none found*. Unreadable audio is said as such.
Drawing uses matplotlib's object API (no pyplot state, no display needed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .schema import UASRecord

PLOT_SR = 16000
PITCH_FMIN_HZ = 60.0
PITCH_FMAX_HZ = 600.0
PITCH_HOP_S = 0.02
MAX_CONTOUR_S = 120.0  # pyin runs at about 3x real time here: a 10-minute region would take minutes
MAX_WORD_LABELS = 160
ABSENT_FACE = "#eeeeee"
SPEECH_COLOR = "#4caf50"
REJECTED_COLOR = "#e53935"
SPEAKER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
PANELS = ("waveform", "spectrogram", "speakers", "words", "pitch", "events")


@dataclass
class ClipAudio:
    """Mono samples of the clip at :data:`PLOT_SR`, or why there are none."""

    samples: np.ndarray | None
    sample_rate: int = PLOT_SR
    problem: str | None = None


@dataclass
class TimelineSummary:
    """What each panel shows: ``drawn``, ``none found``, ``not annotated: <why>`` or ``no audio: <why>``."""

    path: str
    panels: dict[str, str] = field(default_factory=dict)
    legend: list[str] = field(default_factory=list)


def load_clip_audio(source: str | None, offset_s: float | None, duration_s: float | None) -> ClipAudio:
    """Decode the clip's region (never the whole file) as 16 kHz mono; problems are returned, not raised."""
    from .audio import AudioError, load_audio

    if not source:
        return ClipAudio(None, problem="no source path")
    try:
        samples, _ = load_audio(source, offset_s or 0.0, duration_s, target_sr=PLOT_SR, min_duration_s=0.0)
    except (AudioError, ValueError) as exc:
        return ClipAudio(None, problem=str(exc))
    return ClipAudio(samples)


def pitch_contour(samples: np.ndarray, sample_rate: int = PLOT_SR) -> tuple[np.ndarray, np.ndarray]:
    """``(times_s, f0_hz)`` from ``librosa.pyin``; unvoiced frames are NaN (drawn as gaps)."""
    import librosa

    hop = int(round(PITCH_HOP_S * sample_rate))
    frame = 2048 if sample_rate > 22050 else 1024
    if len(samples) < frame:
        return np.zeros(0), np.zeros(0)
    f0, voiced, _ = librosa.pyin(samples.astype(np.float32), fmin=PITCH_FMIN_HZ, fmax=PITCH_FMAX_HZ,
                                 sr=sample_rate, frame_length=frame, hop_length=hop, center=True)
    f0 = np.where(voiced, f0, np.nan)
    return librosa.frames_to_time(np.arange(len(f0)), sr=sample_rate, hop_length=hop), f0


def _why(record: UASRecord, field_path: str, stage: str) -> str:
    """Why a part is null: the v1.1 ``provenance.fields`` entry, else the stage's status."""
    fields = record.provenance.fields or {}
    reason = fields.get(field_path)
    if reason and reason.startswith("skipped"):
        return reason
    st = record.provenance.stages.get(stage)
    if st is not None and not st.ok:
        return f"{stage} {st.status}"
    return f"{stage} produced no value"


def _absent(ax, duration: float, text: str) -> None:
    ax.axvspan(0, duration, facecolor=ABSENT_FACE, edgecolor="#c8c8c8", hatch="///", linewidth=0)
    ax.text(duration / 2, 0.5, text, transform=ax.get_xaxis_transform(), ha="center", va="center",
            fontsize=9, color="#555555", bbox={"facecolor": "white", "edgecolor": "#bbbbbb", "pad": 3})
    ax.set_yticks([])


def _none_found(ax, duration: float, text: str) -> None:
    ax.text(duration / 2, 0.5, text, transform=ax.get_xaxis_transform(), ha="center", va="center",
            fontsize=9, color="#555555", style="italic")
    ax.set_yticks([])


def _short(value: Any) -> str:
    return "–" if value is None else str(value)


def _speaker_colors(record: UASRecord) -> dict[str, str]:
    ids: list[str] = []
    para = record.paralinguistics
    if para is not None and para.speakers:
        ids = [s.id for s in para.speakers]
    if record.transcription is not None:
        ids += [s.speaker for s in record.transcription.segments if s.speaker and s.speaker not in ids]
    return {sid: SPEAKER_COLORS[i % len(SPEAKER_COLORS)] for i, sid in enumerate(ids)}


def _title(record: UASRecord) -> str:
    clip, tr, para = record.clip, record.transcription, record.paralinguistics
    lang = "language: not annotated" if tr is None else (
        f"language: {_short(tr.language)}" + (f" ({tr.language_confidence:.2f})" if tr.language_confidence else ""))
    first = f"{clip.id}   {clip.duration_s:.2f} s   {clip.sample_rate} Hz × {clip.channels} ch   {lang}"
    rec = para.recording if para is not None else None
    if rec is None:
        second = "recording attributes: not annotated"
    else:
        snr = "–" if rec.snr_db is None else f"{rec.snr_db:.1f} dB"
        parts = [f"speech ratio {_short(rec.speech_ratio)}", f"SNR {snr}",
                 f"overlap {_short(rec.overlap_ratio)}", f"speakers {_short(rec.num_speakers)}"]
        if rec.quality is not None:
            parts.append(f"DNSMOS ovrl {rec.quality.ovrl}")
        if rec.background:
            parts.append("background: " + ", ".join(rec.background))
        second = "   ".join(parts) + "   (– = not annotated)"
    return first + "\n" + second


def _draw_waveform(ax, record: UASRecord, audio: ClipAudio, duration: float, summary: TimelineSummary) -> None:
    if audio.samples is None:
        _absent(ax, duration, f"no audio: {audio.problem}")
        summary.panels["waveform"] = f"no audio: {audio.problem}"
    else:
        t = np.arange(len(audio.samples)) / audio.sample_rate
        step = max(1, len(t) // 20000)  # enough points for a 1400-px-wide figure
        ax.plot(t[::step], audio.samples[::step], color="#455a64", linewidth=0.5)
        peak = float(np.max(np.abs(audio.samples))) or 1.0
        ax.set_ylim(-peak * 1.05, peak * 1.05)
        ax.set_yticks([])
        summary.panels["waveform"] = "drawn"
    tr = record.transcription
    if tr is None:
        ax.text(0.01, 0.92, "speech segments: not annotated (" + _why(record, "transcription", "asr") + ")",
                transform=ax.transAxes, fontsize=8, color="#555555", va="top")
        return
    for seg in tr.segments:
        ax.axvspan(seg.start, seg.end, color=SPEECH_COLOR, alpha=0.18, linewidth=0)
    for rej in tr.rejected or ():
        ax.axvspan(rej.start, rej.end, facecolor="none", edgecolor=REJECTED_COLOR, hatch="xx", linewidth=0.8)
    ax.text(0.01, 0.92, f"shaded: {len(tr.segments)} transcription segment(s)"
            + ("" if tr.rejected is None else f"; hatched red: {len(tr.rejected)} rejected ASR segment(s)"),
            transform=ax.transAxes, fontsize=8, color="#33691e", va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    summary.legend.append("waveform: green = transcription segments, red hatch = rejected ASR output")


def _draw_spectrogram(ax, audio: ClipAudio, duration: float, summary: TimelineSummary) -> None:
    if audio.samples is None or len(audio.samples) < 512:
        _absent(ax, duration, f"no audio: {audio.problem or 'too short'}")
        summary.panels["spectrogram"] = f"no audio: {audio.problem or 'too short'}"
        return
    import librosa

    hop = 160
    mel = librosa.feature.melspectrogram(y=audio.samples, sr=audio.sample_rate, n_fft=512, hop_length=hop,
                                         n_mels=64, fmax=audio.sample_rate / 2)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
              extent=(0, db.shape[1] * hop / audio.sample_rate, 0, db.shape[0]))
    ax.set_yticks([0, 32, 64], ["0", "mel", f"{audio.sample_rate // 2000} kHz"], fontsize=7)
    summary.panels["spectrogram"] = "drawn"


def _speaker_lanes(record: UASRecord) -> list[tuple[str | None, float, float]]:
    turns: list[tuple[str | None, float, float]] = []
    tr, para = record.transcription, record.paralinguistics
    if tr is not None:
        turns = [(s.speaker, s.start, s.end) for s in tr.segments if s.speaker]
    if not turns and para is not None and para.segments:
        turns = [(s.speaker, s.start, s.end) for s in para.segments if s.speaker]
    return turns


def _speaker_label(record: UASRecord, sid: str) -> str:
    para = record.paralinguistics
    profile = next((s for s in (para.speakers or ()) if s.id == sid), None) if para else None
    if profile is None:
        return sid
    bits = [profile.gender.label if profile.gender else "gender –", profile.age.label if profile.age else "age –",
            profile.emotion.label if profile.emotion else "emotion –"]
    return f"{sid}\n" + " · ".join(bits)


def _draw_speakers(ax, record: UASRecord, colors: dict[str, str], duration: float,
                   summary: TimelineSummary) -> None:
    para = record.paralinguistics
    turns = _speaker_lanes(record)
    if not turns:
        if para is not None and para.speakers == []:
            _none_found(ax, duration, "speakers: annotated, none found")
            summary.panels["speakers"] = "none found"
        else:
            why = _why(record, "paralinguistics.speakers", "diarization")
            _absent(ax, duration, f"speaker turns: not annotated ({why})")
            summary.panels["speakers"] = f"not annotated: {why}"
        return
    lanes = list(dict.fromkeys([sid for sid, _, _ in turns if sid in colors] + list(colors)))
    for sid, start, end in turns:
        y = lanes.index(sid)
        ax.broken_barh([(start, end - start)], (y - 0.35, 0.7), facecolors=colors.get(sid, "#888888"))
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_yticks(range(len(lanes)), [_speaker_label(record, s) for s in lanes], fontsize=7)
    ax.invert_yaxis()
    summary.panels["speakers"] = "drawn"


def _draw_words(ax, record: UASRecord, colors: dict[str, str], duration: float, summary: TimelineSummary) -> None:
    tr = record.transcription
    if tr is None:
        why = _why(record, "transcription", "asr")
        _absent(ax, duration, f"transcription: not annotated ({why})")
        summary.panels["words"] = f"not annotated: {why}"
        return
    if not tr.segments:
        _none_found(ax, duration, "transcription: annotated, no speech found")
        summary.panels["words"] = "none found"
        return
    words = [(w, s.speaker) for s in tr.segments for w in (s.words or ())]
    ax.set_ylim(0, 3)
    ax.set_yticks([])
    if words and len(words) <= MAX_WORD_LABELS and all(s.words is not None for s in tr.segments):
        size = 8 if len(words) <= 60 else 6
        for i, (w, spk) in enumerate(words):
            row = 2.3 - (i % 3) * 0.8
            color = colors.get(spk or "", "#263238")
            ax.plot([w.start, w.end], [row - 0.25, row - 0.25], color=color, linewidth=1.5)
            ax.text((w.start + w.end) / 2, row, w.word.strip(), ha="center", va="bottom", fontsize=size,
                    color=color, clip_on=True)
        summary.panels["words"] = "drawn"
    else:
        for s in tr.segments:
            ax.plot([s.start, s.end], [1.2, 1.2], color=colors.get(s.speaker or "", "#263238"), linewidth=2)
            ax.text(s.start, 1.4, s.text[:90] + ("…" if len(s.text) > 90 else ""), fontsize=7, va="bottom",
                    clip_on=True)
        note = "word timings not annotated: segment texts shown" if any(s.words is None for s in tr.segments) \
            else f"{len(words)} words: segment texts shown"
        ax.text(0.99, 0.05, note, transform=ax.transAxes, ha="right", fontsize=7, color="#555555")
        summary.panels["words"] = "segments"


def _draw_pitch(ax, record: UASRecord, audio: ClipAudio, colors: dict[str, str], duration: float,
                contour: bool, summary: TimelineSummary) -> None:
    handles = []
    values: list[float] = []
    too_long = audio.samples is not None and len(audio.samples) > MAX_CONTOUR_S * audio.sample_rate
    if too_long and contour:
        ax.text(0.99, 0.05, f"f0 contour skipped: clip longer than {MAX_CONTOUR_S:.0f} s", transform=ax.transAxes,
                ha="right", fontsize=7, color="#555555")
    if contour and audio.samples is not None and not too_long:
        times, f0 = pitch_contour(audio.samples, audio.sample_rate)
        if np.isfinite(f0).any():
            (line,) = ax.plot(times, f0, color="#37474f", linewidth=1.0,
                              label="f0 contour (librosa.pyin on the audio, not in the record)")
            handles.append(line)
            values += list(f0[np.isfinite(f0)])
    para = record.paralinguistics
    seg_pitch = [s for s in (para.segments or ()) if s.pitch and s.pitch.mean_hz] if para else []
    spk_pitch = [s for s in (para.speakers or ()) if s.pitch and s.pitch.mean_hz] if para else []
    if seg_pitch:
        for s in seg_pitch:
            color = colors.get(s.speaker or "", "#c62828")
            mean, std = s.pitch.mean_hz, s.pitch.std_hz or 0.0
            ax.fill_between([s.start, s.end], mean - std, mean + std, color=color, alpha=0.15, linewidth=0)
            line = ax.hlines(mean, s.start, s.end, colors=color, linewidth=2.5,
                             label="segment pitch mean ± std (record)")
            ax.text(s.end, mean, f" {mean:.0f} Hz" + (f" ({s.pitch.level})" if s.pitch.level else ""),
                    fontsize=7, va="center", color=color, clip_on=True)
            values += [mean - std, mean + std]
        handles.append(line)
    elif spk_pitch:
        for sp in spk_pitch:
            line = ax.axhline(sp.pitch.mean_hz, color=colors.get(sp.id, "#c62828"), linestyle="--", linewidth=1.5,
                              label="speaker pitch mean (record)")
            values.append(sp.pitch.mean_hz)
        handles.append(line)
    record_state = "drawn" if (seg_pitch or spk_pitch) else "not annotated: " + _why(
        record, "paralinguistics.segments", "paralinguistics")
    if not handles:
        why = audio.problem if audio.samples is None else (
            "contour off" if not contour else f"clip over {MAX_CONTOUR_S:.0f} s" if too_long else "no voiced frames")
        _absent(ax, duration, f"pitch: not in the record ({record_state.split(': ', 1)[-1]}); contour: {why}")
        summary.panels["pitch"] = record_state
        return
    if not (seg_pitch or spk_pitch):
        ax.text(0.01, 0.92, "record pitch: not annotated (" + record_state.split(": ", 1)[1] + ")",
                transform=ax.transAxes, fontsize=8, color="#555555", va="top")
    low, high = (min(values), max(values)) if values else (PITCH_FMIN_HZ, PITCH_FMAX_HZ)
    ax.set_ylim(max(0.0, low * 0.85), high * 1.15)
    ax.set_ylabel("Hz", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)
    summary.panels["pitch"] = record_state
    summary.legend += [h.get_label() for h in handles]


def _draw_events(ax, record: UASRecord, duration: float, summary: TimelineSummary) -> None:
    events = record.non_linguistic_events
    if events is None:
        why = _why(record, "non_linguistic_events", "events")
        _absent(ax, duration, f"events: not annotated ({why})")
        summary.panels["events"] = f"not annotated: {why}"
        return
    if not events:
        _none_found(ax, duration, "events: annotated, none found")
        summary.panels["events"] = "none found"
        return
    labels = sorted({e.label for e in events})
    cmap = dict(zip(labels, SPEAKER_COLORS[::-1] * (len(labels) // len(SPEAKER_COLORS) + 1), strict=False))
    for e in events:
        y = labels.index(e.label)
        ax.broken_barh([(e.start, e.end - e.start)], (y - 0.35, 0.7), facecolors=cmap[e.label],
                       alpha=0.25 + 0.75 * e.confidence, hatch="//" if e.kind == "background" else None,
                       edgecolor="white" if e.kind == "background" else None)
        ax.text(e.start, y, f" {e.confidence:.2f}", fontsize=7, va="center", clip_on=True)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    summary.panels["events"] = "drawn"
    summary.legend.append("events: opacity = confidence, hatched = background kind")


def render_timeline(record: UASRecord, audio: ClipAudio, out_path: str | Path, *, contour: bool = True,
                    width_in: float = 14.0, dpi: int = 100) -> TimelineSummary:
    """Draw the clip's timeline picture to ``out_path`` (PNG, or any format matplotlib knows)."""
    from matplotlib.figure import Figure

    duration = record.clip.duration_s
    summary = TimelineSummary(path=str(out_path))
    colors = _speaker_colors(record)
    fig = Figure(figsize=(width_in, 10.5), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(PANELS), 1, sharex=True, height_ratios=[1.1, 1.3, 0.9, 1.0, 1.3, 0.9])
    titles = ("waveform · speech", "spectrogram", "speakers", "words", "pitch", "events")
    for ax, name in zip(axes, titles, strict=True):
        ax.set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center", labelpad=8)
        ax.set_xlim(0, duration)
    _draw_waveform(axes[0], record, audio, duration, summary)
    _draw_spectrogram(axes[1], audio, duration, summary)
    _draw_speakers(axes[2], record, colors, duration, summary)
    _draw_words(axes[3], record, colors, duration, summary)
    _draw_pitch(axes[4], record, audio, colors, duration, contour, summary)
    _draw_events(axes[5], record, duration, summary)
    for ax in axes:
        ax.yaxis.label.set_rotation(0)
    axes[-1].set_xlabel("time (s from clip start)", fontsize=9)
    fig.suptitle(_title(record), fontsize=10, x=0.01, ha="left")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # scripts the font lacks render as boxes; one warning per glyph is noise
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.savefig(out_path)
    return summary


def plot_clip(out_dir: str | Path, clip_id: str, out_path: str | Path, *, contour: bool = True) -> TimelineSummary:
    """Find the clip's row in an output directory, decode its audio and draw its timeline."""
    from .output_reader import check_output_dir, find_row

    check_output_dir(out_dir)
    row = find_row(out_dir, clip_id)
    if row is None:
        raise KeyError(f"no record with clip_id {clip_id!r} in {out_dir}")
    record = UASRecord.from_json(row["uas"])
    audio = load_clip_audio(row["source"], record.clip.offset_s, record.clip.duration_s)
    return render_timeline(record, audio, out_path, contour=contour)
