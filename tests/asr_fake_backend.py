"""A model-free :class:`~uas_pipeline.asr.decoding.WhisperBackend` for testing the ASR plumbing.

It "hears" runs of non-zero samples: each run becomes one segment whose single word names the run's
amplitude (``a12`` for 0.012), so a test can tell which clip a word came from. Like Whisper, it
leaves an utterance that starts after ``defer_after_s`` for the next window (it ends its output with
an opening timestamp), and ``skip`` makes it jump over the runs whose amplitude code is listed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uas_pipeline.asr.decoded import DecodedWord
from uas_pipeline.asr.decoding import DecodeSettings, Hypothesis
from uas_pipeline.asr.tokens import TokenSpan

TIMESTAMP_BEGIN = 10_000
EOT = 9_999
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

    def __init__(self, defer_after_s: float = 1e9, skip: Sequence[int] = (), language: tuple[str, float] = ("en", 1.0)):
        self.defer_after_s = defer_after_s
        self.skip = set(skip)
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
            for start, end, code in runs(audio):
                if code in self.skip:
                    continue
                ts = TIMESTAMP_BEGIN + int(round(start / 0.02))
                if start > self.defer_after_s:
                    tokens.append(ts)  # opens a segment it leaves for the next window
                    break
                tokens += [ts, code, TIMESTAMP_BEGIN + int(round(end / 0.02))]
            hyps.append(Hypothesis(tokens, -0.2, 0.01, temperature, " ".join(f"a{t}" for t in tokens
                                                                             if t < EOT)))
        return hyps

    def align(self, encoded, language, spans: Sequence[Sequence[TokenSpan]], num_frames, s):
        return [[[DecodedWord(f" a{sp.tokens[0]}", sp.start, sp.end, 0.9)] for sp in window] for window in spans]

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
