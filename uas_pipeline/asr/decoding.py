"""Decoding windows with a Whisper-family model, backend-neutral.

A backend (:class:`WhisperBackend`) encodes a batch of windows and generates token sequences; this
module drives it the way Whisper's own ``transcribe`` decides things, but over a batch of windows:

* **temperature fallback**: a window whose output is too repetitive (gzip compression ratio above
  ``compression_ratio_threshold``) or too improbable (mean token log-probability below
  ``logprob_threshold``) is decoded again at the next temperature, unless the no-speech probability
  says it is silence; when every temperature fails, the most probable output under the compression
  threshold is kept (the hallucination rules judge it afterwards);
* **where it stopped**: when the decoder stops before the end of a window (see
  :func:`~uas_pipeline.asr.tokens.split_by_timestamps`), the window time is reported so the caller can
  decode the rest again (:mod:`uas_pipeline.asr.transcriber`). Unlike ``transcribe`` with word
  timestamps, decoding never restarts after the last word just to look at the few hundred
  milliseconds of silence that end a clip (that pass is where stock phrases like "Thank you." come
  from, and it costs a second encoder pass per clip).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from .decoded import DecodedSegment, DecodedWord, compression_ratio
from .tokens import TokenSpan, split_by_timestamps
from .windows import SAMPLE_RATE, Window


@dataclass(frozen=True)
class DecodeSettings:
    beam_size: int = 5
    best_of: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    logprob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    word_timestamps: bool = True
    initial_prompt: str | None = None
    hotwords: str | None = None
    task: str = "transcribe"
    max_initial_timestamp: float = 1.0
    min_resume_s: float = 1.0
    """Less audio than this left after the decoder stopped is not decoded again."""
    fixed_length: bool = False
    """Benchmarks with random weights only: suppress end-of-text and timestamps so that every window
    decodes exactly its token cap (``max_tokens_per_s``), the same work a real model would do."""
    max_tokens_per_s: float | None = 12.0
    """Cap on generated tokens per second of audio in the window (the silence between pieces not
    counted; plus 16): far above speech (English is about 4–6 tokens per second, timestamps
    included), it only cuts decoding loops short."""
    batch_windows: int = 1
    """Windows encoded and generated together."""
    parallel_batches: int = 1
    """Batches decoded at once from as many threads; only for a backend that runs concurrent calls
    (CTranslate2 with ``inter_threads`` of at least this)."""


@dataclass
class Hypothesis:
    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    temperature: float
    text: str

    @property
    def compression_ratio(self) -> float:
        return compression_ratio(self.text)


class WhisperBackend(Protocol):
    """What a model library provides to decode windows (see the faster-whisper and openai-whisper
    backends)."""

    multilingual: bool
    timestamp_begin: int
    eot: int

    def encode(self, audios: Sequence[np.ndarray]) -> Any:
        """Encoder output for a batch of windows (each at most 30 s at 16 kHz), padded to 30 s."""

    def generate(self, encoded: Any, language: str, temperature: float, settings: DecodeSettings,
                 max_new_tokens: int | None) -> list[Hypothesis]:
        """One hypothesis per window of ``encoded`` at ``temperature`` (beam search at 0), at most
        ``max_new_tokens`` tokens each (None: the model's limit)."""

    def align(self, encoded: Any, language: str, spans: Sequence[Sequence[TokenSpan]],
              num_frames: Sequence[int], settings: DecodeSettings) -> list[list[list[DecodedWord]]]:
        """Timed words of every span of every window (window time)."""

    def subset(self, encoded: Any, audios: Sequence[np.ndarray], indices: list[int]) -> Any:
        """Encoder output of some windows of a batch (may encode them again)."""

    def text(self, tokens: Sequence[int]) -> str:
        """The text of text tokens."""

    def detect_language(self, audios: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Most probable language and its probability, per audio (first 30 s)."""


def needs_fallback(h: Hypothesis, s: DecodeSettings) -> bool:
    """Whisper's rule: too repetitive or too improbable, unless it is probably silence."""
    if s.no_speech_threshold is not None and s.logprob_threshold is not None and \
            h.no_speech_prob > s.no_speech_threshold and h.avg_logprob < s.logprob_threshold:
        return False
    if s.compression_ratio_threshold is not None and h.compression_ratio > s.compression_ratio_threshold:
        return True
    return s.logprob_threshold is not None and h.avg_logprob < s.logprob_threshold


def generate_with_fallback(backend: WhisperBackend, encoded: Any, audios: Sequence[np.ndarray], language: str,
                           s: DecodeSettings, speech_s: Sequence[float] | None = None) -> list[Hypothesis]:
    """One hypothesis per window, raising the temperature for the windows that need it. ``speech_s``:
    seconds of audio in each window (without the silence between pieces), for the token cap."""
    speech_s = list(speech_s) if speech_s is not None else [len(a) / SAMPLE_RATE for a in audios]
    tried: list[list[Hypothesis]] = [[] for _ in audios]
    pending = list(range(len(audios)))
    for k, temperature in enumerate(s.temperatures):
        batch = encoded if k == 0 else backend.subset(encoded, audios, pending)
        limit = token_limit([speech_s[i] for i in pending], s)
        for i, h in zip(pending, backend.generate(batch, language, temperature, s, limit), strict=True):
            tried[i].append(h)
        pending = [i for i in pending if needs_fallback(tried[i][-1], s)]
        if not pending:
            break
    chosen = []
    for i, hyps in enumerate(tried):
        if i not in pending:
            chosen.append(hyps[-1])
            continue
        acceptable = [h for h in hyps if s.compression_ratio_threshold is None
                      or h.compression_ratio <= s.compression_ratio_threshold]
        chosen.append(max(acceptable or hyps, key=lambda h: h.avg_logprob))
    return chosen


def token_limit(speech_s: Sequence[float], s: DecodeSettings) -> int | None:
    """Tokens a batch may generate: ``max_tokens_per_s`` per second of audio of its longest window, + 16."""
    if s.max_tokens_per_s is None or not speech_s:
        return None
    return 16 + int(np.ceil(s.max_tokens_per_s * max(speech_s)))


@dataclass
class WindowOutput:
    window: Window
    segments: list[DecodedSegment]
    resume_at: float | None
    """Window time where the decoder stopped early (see :class:`~uas_pipeline.asr.tokens.TimedTokens`)."""


def decode_windows(backend: WhisperBackend, windows: Sequence[Window], clips: Sequence[np.ndarray],
                   s: DecodeSettings) -> list[WindowOutput]:
    """Decode windows in batches of ``s.batch_windows`` (one language per batch, shared and single-piece
    windows apart), one pass each; temperature fallback only for single-piece windows. With
    ``s.parallel_batches`` > 1 that many batches are decoded at once; outputs keep the batches' order."""
    jobs: list[tuple[list[Window], DecodeSettings]] = []
    queue = list(windows)
    while queue:
        key = (queue[0].group, _shared(queue[0]))
        batch = [w for w in queue if (w.group, _shared(w)) == key][: max(1, s.batch_windows)]
        queue = [w for w in queue if not any(w is b for b in batch)]
        # a shared window is never re-sampled as a whole: one bad piece would drag the others into
        # temperature sampling; the caller judges its pieces one by one instead (see the transcriber)
        jobs.append((batch, replace(s, temperatures=s.temperatures[:1]) if key[1] else s))
    if s.parallel_batches > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(min(s.parallel_batches, len(jobs)), thread_name_prefix="asr-decode") as pool:
            done = list(pool.map(lambda job: _decode_batch(backend, job[0], clips, job[1]), jobs))
    else:
        done = [_decode_batch(backend, batch, clips, settings) for batch, settings in jobs]
    return [out for outs in done for out in outs]


def _shared(window: Window) -> bool:
    return len(window.placements) > 1


def _decode_batch(backend: WhisperBackend, batch: list[Window], clips: Sequence[np.ndarray],
                  s: DecodeSettings) -> list[WindowOutput]:
    audios = [w.audio(clips) for w in batch]
    language = batch[0].group or "en"
    encoded = backend.encode(audios)
    speech_s = [sum(pl.piece.duration for pl in w.placements) for w in batch]
    hyps = generate_with_fallback(backend, encoded, audios, language, s, speech_s)
    timed = [split_by_timestamps(h.tokens, timestamp_begin=backend.timestamp_begin, eot=backend.eot,
                                 window_s=len(a) / SAMPLE_RATE) for h, a in zip(hyps, audios, strict=True)]
    words: list[list[list[DecodedWord]] | None] = [None] * len(batch)
    if s.word_timestamps:
        with_text = [i for i, t in enumerate(timed) if any(sp.tokens for sp in t.spans)]
        if with_text:
            sub = encoded if len(with_text) == len(batch) else backend.subset(encoded, audios, with_text)
            aligned = backend.align(sub, language, [timed[i].spans for i in with_text],
                                    [_frames(audios[i]) for i in with_text], s)
            for i, w in zip(with_text, aligned, strict=True):
                words[i] = w
    outputs = []
    for k, (window, h, t) in enumerate(zip(batch, hyps, timed, strict=True)):
        segments = []
        for j, span in enumerate(t.spans):
            text = backend.text(span.tokens).strip()
            if not text:
                continue
            span_words = None
            token_span = (span.start, span.end)
            if s.word_timestamps:
                span_words = tuple(w for w in (words[k][j] if words[k] else []) if w.text.strip())
                if span_words:  # as Whisper does: the segment spans its aligned words
                    span = TokenSpan(span_words[0].start, span_words[-1].end, span.tokens)
            segments.append(DecodedSegment(
                start=span.start, end=max(span.end, span.start + 0.001), text=text, words=span_words,
                avg_logprob=h.avg_logprob, no_speech_prob=h.no_speech_prob, temperature=h.temperature,
                token_span=token_span))
        outputs.append(WindowOutput(window, segments, t.resume_at))
    return outputs


def _frames(audio: np.ndarray) -> int:
    """Mel frames (10 ms hop) holding the audio, as Whisper counts them for alignment."""
    return min(3000, int(np.ceil(len(audio) / 160)))
