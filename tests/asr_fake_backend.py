"""A model-free :class:`~uas_pipeline.asr.decoding.WhisperBackend` for testing the ASR plumbing.

It "hears" runs of non-zero samples: each run becomes one segment whose single word names the run's
amplitude (``a12`` for 0.012), so a test can tell which clip a word came from. Like Whisper, it
leaves an utterance that starts after ``defer_after_s`` for the next window (it ends its output with
an opening timestamp), ``skip`` makes it jump over the runs whose amplitude code is listed, and
``bridge=(x, y)`` makes it run one segment from run ``x`` into the run ``y`` right after it, with a
word (``a9000``) timed in the silence between them (the split between their clips is then a guess).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uas_pipeline.asr.decoded import DecodedWord
from uas_pipeline.asr.decoding import DecodeSettings, Hypothesis
from uas_pipeline.asr.tokens import TokenSpan

TIMESTAMP_BEGIN = 10_000
EOT = 9_999
GAP_WORD = 9_000
SR = 16000


def runs(audio: np.ndarray) -> list[tuple[float, float, int]]:
    """(start s, end s, amplitude code) of the non-silent runs of ``audio``."""
    loud = np.concatenate([[False], np.abs(audio) > 1e-6, [False]])
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    return [(a / SR, b / SR, int(round(float(np.abs(audio[a:b]).max()) * 1000)))
            for a, b in zip(edges[::2], edges[1::2], strict=True)]


class FakeBackend:
    multilingual = False
    timestamp_begin = TIMESTAMP_BEGIN
    eot = EOT

    def __init__(self, defer_after_s: float = 1e9, skip: Sequence[int] = (), language: tuple[str, float] = ("en", 1.0),
                 bridge: tuple[int, int] | None = None):
        self.defer_after_s = defer_after_s
        self.skip = set(skip)
        self.bridge = bridge
        self.language = language
        self.encoded_windows = 0
        self.generate_calls = 0

    def encode(self, audios):
        self.encoded_windows += len(audios)
        return [np.asarray(a) for a in audios]

    def subset(self, encoded, audios, indices):
        return [encoded[i] for i in indices]

    def generate(self, encoded, language: str, temperature: float, s: DecodeSettings,
                 max_new_tokens: int | None) -> list[Hypothesis]:
        self.generate_calls += 1
        hyps = []
        for audio in encoded:
            tokens: list[int] = []
            heard = [r for r in runs(audio) if r[2] not in self.skip]
            for k, (start, end, code) in enumerate(heard):
                ts = TIMESTAMP_BEGIN + int(round(start / 0.02))
                if start > self.defer_after_s:
                    tokens.append(ts)  # opens a segment it leaves for the next window
                    break
                if tokens and tokens[-1] == code:  # bridged into from the run before
                    tokens.append(TIMESTAMP_BEGIN + int(round(end / 0.02)))
                    continue
                if self.bridge == (code, heard[k + 1][2] if k + 1 < len(heard) else None):
                    tokens += [ts, code, GAP_WORD, self.bridge[1]]
                    continue
                tokens += [ts, code, TIMESTAMP_BEGIN + int(round(end / 0.02))]
            hyps.append(Hypothesis(tokens, -0.2, 0.01, temperature, " ".join(f"a{t}" for t in tokens
                                                                             if t < EOT)))
        return hyps

    def align(self, encoded, language, spans: Sequence[Sequence[TokenSpan]], num_frames, s):
        return [[self._words(audio, sp) for sp in window] for audio, window in zip(encoded, spans, strict=True)]

    def _words(self, audio: np.ndarray, span: TokenSpan) -> list[DecodedWord]:
        if len(span.tokens) == 1:
            return [DecodedWord(f" a{span.tokens[0]}", span.start, span.end, 0.9)]
        first, _, second = span.tokens  # a bridged segment: each run's word at its run, one in the gap
        a, b = (next(r for r in runs(audio) if r[2] == code and span.start - 0.02 <= r[0] < span.end)
                for code in (first, second))
        return [DecodedWord(f" a{first}", a[0], a[1], 0.9), DecodedWord(f" a{GAP_WORD}", a[1] + 0.1, b[0] - 0.1, 0.9),
                DecodedWord(f" a{second}", b[0], b[1], 0.9)]

    def text(self, tokens) -> str:
        return " ".join(f"a{t}" for t in tokens if t < EOT)

    def detect_language(self, audios):
        return [self.language for _ in audios]


def tone_clip(seconds: float, code: int, speech: tuple[float, float] | None = None) -> np.ndarray:
    """``seconds`` of silence holding a constant run of amplitude ``code``/1000 over ``speech``."""
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    s, e = speech or (0.5, seconds - 0.5)
    audio[int(s * SR):int(e * SR)] = code / 1000
    return audio
