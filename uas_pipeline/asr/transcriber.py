"""Transcribing a batch of clips with any :class:`~uas_pipeline.asr.decoding.WhisperBackend`:
language choice, speech pieces, packing into shared windows, decoding, stitching, hallucination rules."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from . import language as lang
from .decoded import DecodedSegment, compression_ratio
from .decoding import DecodeSettings, WhisperBackend, decode_windows
from .hallucination import HallucinationRules, judge
from .stitch import split_window
from .windows import SAMPLE_RATE, WINDOW_S, Piece, Window, pack, speech_pieces


@dataclass(frozen=True)
class PackingSettings:
    share_windows: bool = True
    """Pack the speech of several clips into one window (False: every piece has a window of its own)."""
    gap_s: float = 1.0
    """Silence between packed pieces."""
    pad_s: float = 0.3
    """Audio kept around each VAD speech region."""
    join_gap_s: float = 1.0
    """Speech regions closer than this stay in one piece (with the real audio between them)."""
    window_s: float = WINDOW_S
    recheck: bool = True
    """Decode again the pieces of shared windows whose result is :func:`doubtful` (False: keep it)."""


@dataclass
class ClipRequest:
    audio: np.ndarray
    speech: list[tuple[float, float]] | None
    """Speech regions from the VAD stage (clip time), or None when it did not run."""
    declared_language: str | None = None


@dataclass
class ClipTranscript:
    segments: list[DecodedSegment]
    rejected: list[tuple[DecodedSegment, str]]
    language: str | None
    language_confidence: float | None


MAX_SHARED_ATTEMPTS = 2
"""A piece the decoder did not reach, or whose split from a neighbour was a guess, is packed again at
most this often, then decoded alone."""
SHARED_RETRY_REASONS = frozenset({"guessed_split"})
"""Doubts that earn a piece one more shared window (away from the piece it was confused with)
instead of a window of its own: a guessed split is as often the neighbour's doing as the piece's."""
COPIED_MIN_WORDS = 3
COPIED_MIN_RECORDINGS = 3
"""A text of at least ``COPIED_MIN_WORDS`` words in the pieces of this many different recordings of
one window is a decoder loop, not speech: those pieces are decoded again alone (see :func:`copied_text`)."""
QUIET_RMS = 0.005
"""A piece this quiet (RMS about -46 dBFS; speech is usually -30 to -20) that got no word is accepted
as silence, not decoded again."""


@dataclass
class BatchStats:
    clips: int = 0
    pieces: int = 0
    decoded_windows: int = 0
    """Every window decoded, over all rounds."""
    rounds: int = 0
    deferred: int = 0
    """Pieces the decoder stopped before (or within) and that went to the next round."""
    doubtful: int = 0
    """Pieces of shared windows tried again (see :func:`doubt`)."""
    doubt_reasons: dict[str, int] = field(default_factory=dict)
    """How many pieces were tried again for each reason."""


@dataclass
class BatchTranscript:
    clips: list[ClipTranscript]
    stats: BatchStats


def transcribe_clips(backend: WhisperBackend, clips: Sequence[ClipRequest], decode: DecodeSettings,
                     packing: PackingSettings, rules: HallucinationRules,
                     min_speech_s: float = 0.0) -> BatchTranscript:
    """One transcript per clip, in order. Clips whose detected speech is under ``min_speech_s`` are
    not decoded (empty transcript).

    Decoding runs in rounds. Each round packs the pending pieces into windows and decodes them once.
    A piece the decoder did not reach (it stopped early, usually to leave an utterance near the end
    of the window for the next one, as Whisper does) goes back to the queue and starts a window of
    the next round (at most ``MAX_SHARED_ATTEMPTS`` shared windows, then alone); a piece it reached
    only in part is cut there and its rest goes back. A piece of a shared window whose result is
    doubtful (:func:`doubt`, :func:`copied_text`) is decoded again alone, with temperature fallback —
    except after a guessed split, which earns one more shared window without the other piece.
    """
    audios = [c.audio for c in clips]
    pieces_of: list[list[Piece]] = []
    for i, c in enumerate(clips):
        if c.speech is not None and sum(e - s for s, e in c.speech) < min_speech_s:
            pieces_of.append([])
        else:
            pieces_of.append(speech_pieces(i, c.audio, c.speech, max_piece_s=packing.window_s, pad_s=packing.pad_s,
                                           join_gap_s=packing.join_gap_s))
    choices = [lang.choose(backend.multilingual, c.declared_language) for c in clips]
    to_detect = [i for i, ch in enumerate(choices) if ch.needs_detection and pieces_of[i]]
    if to_detect:
        found = backend.detect_language([_leading_speech(audios[i], pieces_of[i]) for i in to_detect])
        for i, (code, prob) in zip(to_detect, found, strict=True):
            choices[i] = lang.detected(code, prob)
    pieces = [replace(p, group=choices[p.clip].decode) for ps in pieces_of for p in ps]
    pieces = [replace(p, index=k) for k, p in enumerate(pieces)]
    stats = BatchStats(clips=len(clips), pieces=len(pieces))
    # splitting a shared window needs word times; they are dropped again if not asked for
    settings = replace(decode, word_timestamps=True) if packing.share_windows else decode
    assigned = _decode_rounds(backend, pieces, clips, settings, packing, stats)
    per_clip: list[list[DecodedSegment]] = [[] for _ in clips]
    for clip, segments in assigned.values():
        per_clip[clip].extend(segments)
    results = []
    for i, c in enumerate(clips):
        segments = sorted(per_clip[i], key=lambda s: (s.start, s.end))
        judged = judge(segments, c.speech, rules)
        kept, rejected = judged.kept, judged.rejected
        if not decode.word_timestamps:
            kept = [s.shifted(words=None) for s in kept]
            rejected = [(s.shifted(words=None), r) for s, r in rejected]
        results.append(ClipTranscript(kept, rejected, choices[i].language, choices[i].confidence))
    return BatchTranscript(results, stats)


def _decode_rounds(backend: WhisperBackend, pieces: list[Piece], clips: Sequence[ClipRequest],
                   settings: DecodeSettings, packing: PackingSettings,
                   stats: BatchStats) -> dict[int, tuple[int, list[DecodedSegment]]]:
    """Piece index → (clip, segments in clip time), decoding round after round until no piece is pending."""
    audios = [c.audio for c in clips]
    assigned: dict[int, tuple[int, list[DecodedSegment]]] = {}
    attempts = {p.index: 0 for p in pieces}
    confused: dict[int, set[int]] = {}  # piece → pieces it was split from by a guess: packed apart
    pending = list(pieces)
    next_index = len(pieces)
    while pending:
        stats.rounds += 1
        together = [p for p in pending if packing.share_windows and attempts[p.index] < MAX_SHARED_ATTEMPTS]
        alone = [p for p in pending if p not in together]
        windows = pack(together, window_s=packing.window_s, gap_s=packing.gap_s, share=True, apart=confused)
        windows += pack(alone, window_s=packing.window_s, share=False)
        pending = []
        for out in decode_windows(backend, windows, audios, settings):
            stats.decoded_windows += 1
            shared = len(out.window.placements) > 1
            by_piece: dict[int, list[DecodedSegment]] = {}
            for piece, seg in split_window(out.window, out.segments):
                by_piece.setdefault(piece.index, []).append(seg)
            stop = out.resume_at
            if stop is not None and out.window.duration - stop < settings.min_resume_s:
                stop = None
            recheck = shared and packing.recheck
            copied = copied_text(out.window, by_piece, audios) if recheck else set()
            if recheck:
                _note_guessed_splits(out.window, by_piece, confused)
            for pl in out.window.placements:
                p, segs = pl.piece, by_piece.get(pl.piece.index, [])
                if stop is not None and pl.window_end > stop:
                    cut = pl.to_clip(stop)
                    if cut - p.start < 0.1:  # not reached at all
                        if shared:
                            stats.deferred += 1
                            attempts[p.index] += 1
                            pending.append(p)
                            continue
                    else:
                        assigned[p.index] = (p.clip, [_until(s, cut) for s in segs if s.start < cut])
                        if p.end - cut >= settings.min_resume_s:
                            stats.deferred += 1
                            rest = replace(p, start=round(cut, 3), index=next_index)
                            attempts[rest.index] = attempts[p.index]
                            next_index += 1
                            pending.append(rest)
                        continue
                why = None
                if recheck:
                    why = "copied_text" if p.index in copied else \
                        doubt(p, segs, clips[p.clip].speech, settings, audio=audios[p.clip])
                if why is not None:
                    stats.doubtful += 1
                    stats.doubt_reasons[why] = stats.doubt_reasons.get(why, 0) + 1
                    # one more shared window for a guessed split, else alone: the other doubts come
                    # with the piece (speech the model cannot read, a loop) and would recur
                    attempts[p.index] = attempts[p.index] + 1 if why in SHARED_RETRY_REASONS else MAX_SHARED_ATTEMPTS
                    pending.append(p)
                    continue
                assigned[p.index] = (p.clip, segs)
    return assigned


def _until(seg: DecodedSegment, cut: float) -> DecodedSegment:
    """A segment kept before the point where decoding resumes, held to end there (its rest is decoded again)."""
    if seg.end <= cut:
        return seg
    words = tuple(w for w in seg.words or () if w.start < cut) if seg.words is not None else None
    words = tuple(replace(w, end=min(w.end, cut)) for w in words) if words is not None else None
    return seg.shifted(end=max(cut, seg.start + 0.001), words=words)


def doubt(piece: Piece, segments: list[DecodedSegment], speech: Sequence[tuple[float, float]] | None,
          settings: DecodeSettings | None = None, uncovered_s: float = 1.0, margin_s: float = 0.5,
          audio: np.ndarray | None = None) -> str | None:
    """Why a piece decoded in a shared window must be decoded again, or None. Shared windows are
    decoded once, at temperature 0, so each piece is judged here as Whisper judges a window: its text
    is too repetitive (``repetitive``: compression ratio) or too improbable (``improbable``: mean
    log-probability of its words, from the alignment) — or the decoder wrote no word in it although it
    is not silent (``no_words``: it may have jumped over it), timed a word of a segment it ran across
    pieces well into the silence between them (``guessed_split``), or (with VAD) left more than
    ``uncovered_s`` of detected speech before its first or after its last word (``uncovered_speech``)."""
    words = [w for s in segments for w in s.words or ()]
    if not words:
        return "no_words" if audio is None or _rms(audio, piece) >= QUIET_RMS else None
    if settings is not None:
        text = " ".join(s.text for s in segments)
        if settings.compression_ratio_threshold is not None and \
                compression_ratio(text) > settings.compression_ratio_threshold:
            return "repetitive"
        probs = [w.probability for w in words if w.probability is not None]
        if settings.logprob_threshold is not None and probs and \
                sum(math.log(max(p, 1e-6)) for p in probs) / len(probs) < settings.logprob_threshold:
            return "improbable"
    if any(s.uncertain_split for s in segments):
        return "guessed_split"
    if speech is None:
        return None
    first, last = min(w.start for w in words) - margin_s, max(w.end for w in words) + margin_s
    uncovered = sum(max(0.0, min(e, first, piece.end) - max(s, piece.start)) +
                    max(0.0, min(e, piece.end) - max(s, last, piece.start)) for s, e in speech)
    return "uncovered_speech" if uncovered > uncovered_s else None


def _words_of(segments: list[DecodedSegment]) -> tuple[str, ...]:
    return tuple(re.findall(r"[\w']+", " ".join(s.text for s in segments).lower()))


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[k:k + n] == shorter for k in range(len(longer) - n + 1))


def copied_text(window: Window, by_piece: dict[int, list[DecodedSegment]], audios: Sequence[np.ndarray],
                min_words: int = COPIED_MIN_WORDS, min_recordings: int = COPIED_MIN_RECORDINGS) -> set[int]:
    """Pieces of a shared window caught in a decoder loop: a text of ``min_words`` words or more found
    in the pieces of ``min_recordings`` different recordings or more (audio compared by hash; copies of
    one recording may share their text, and so may two readings of one prompt). A decoder that has
    written a sentence twice in a window tends to write it for every piece after (seen on two copies
    of a clip followed by three other clips); the aligner then squeezes the copies into whatever audio
    is there, so no per-piece test notices."""
    words = {pl.piece.index: _words_of(by_piece.get(pl.piece.index, [])) for pl in window.placements}
    pieces = {pl.piece.index: pl.piece for pl in window.placements}
    prints: dict[int, bytes] = {}

    def recording(i: int) -> bytes:
        if i not in prints:
            p = pieces[i]
            chunk = audios[p.clip][round(p.start * SAMPLE_RATE):round(p.end * SAMPLE_RATE)]
            prints[i] = hashlib.blake2b(np.ascontiguousarray(chunk).tobytes(), digest_size=16).digest()
        return prints[i]

    found: set[int] = set()
    for mine in words.values():
        if len(mine) < min_words:
            continue
        holders = [j for j, theirs in words.items() if len(theirs) >= len(mine) and _contains(theirs, mine)]
        if len(holders) >= min_recordings and len({recording(j) for j in holders}) >= min_recordings:
            found.update(holders)
    return found


def _note_guessed_splits(window: Window, by_piece: dict[int, list[DecodedSegment]],
                         confused: dict[int, set[int]]) -> None:
    """Record which pieces a guessed split joined (neighbours in the window, both with a guessed part),
    so the next round packs them apart."""
    guessed = {pl.piece.index for pl in window.placements
               if any(s.uncertain_split for s in by_piece.get(pl.piece.index, []))}
    order = [pl.piece.index for pl in window.placements]
    for a, b in zip(order, order[1:], strict=False):
        if a in guessed and b in guessed:
            confused.setdefault(a, set()).add(b)
            confused.setdefault(b, set()).add(a)


def _rms(audio: np.ndarray, piece: Piece) -> float:
    chunk = audio[round(piece.start * SAMPLE_RATE):round(piece.end * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64)))) if len(chunk) else 0.0


def _leading_speech(audio: np.ndarray, pieces: list[Piece], limit_s: float = WINDOW_S) -> np.ndarray:
    """The clip's speech pieces joined, up to ``limit_s``: what language identification listens to."""
    parts, total = [], 0
    for p in pieces:
        chunk = audio[round(p.start * SAMPLE_RATE):round(p.end * SAMPLE_RATE)]
        chunk = chunk[: int(limit_s * SAMPLE_RATE) - total]
        parts.append(chunk)
        total += len(chunk)
        if total >= limit_s * SAMPLE_RATE:
            break
    return np.concatenate(parts) if parts else audio[: int(limit_s * SAMPLE_RATE)]
