"""What an ASR backend hands back for one decoding window, in a form both backends share."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DecodedWord:
    text: str
    """As the model wrote it, leading space and attached punctuation included (``" Hello,"``)."""
    start: float
    end: float
    probability: float | None


@dataclass(frozen=True)
class DecodedSegment:
    """One timed segment of decoder output (window time, or clip time after stitching)."""

    start: float
    end: float
    text: str
    words: tuple[DecodedWord, ...] | None
    avg_logprob: float | None = None
    """Mean token log-probability of the decoder pass that produced the segment (the whole window
    for a packed window)."""
    no_speech_prob: float | None = None
    """Probability of the no-speech token at the start of the window's decoding pass."""
    temperature: float | None = None
    token_span: tuple[float, float] | None = None
    """The decoder's own timestamps around the segment (window time); its words' times may differ."""
    pieces_in_window: int = 1
    """How many pieces shared the window: pass-level scores say little about one piece of many."""
    crossed_pieces: bool = False
    """The decoder wrote this text as one segment across several pieces (it was split by words)."""
    uncertain_split: bool = False
    """Split across pieces with a word timed in the silence between them: which piece it belongs to
    is a guess."""

    @property
    def compression_ratio(self) -> float:
        return compression_ratio(self.text)

    def confidence(self) -> float | None:
        """Geometric mean of the word probabilities (a per-segment figure even in a packed window);
        without words, ``exp(avg_logprob)`` of the decoding pass."""
        probs = [w.probability for w in self.words or () if w.probability is not None]
        if probs:
            return math.exp(sum(math.log(max(p, 1e-6)) for p in probs) / len(probs))
        if self.avg_logprob is None or not math.isfinite(self.avg_logprob):
            return None
        return math.exp(self.avg_logprob)

    def shifted(self, **changes) -> DecodedSegment:
        return replace(self, **changes)


def compression_ratio(text: str) -> float:
    """Length of the UTF-8 text over its zlib-compressed length (Whisper's repetition measure)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def words_text(words: tuple[DecodedWord, ...] | list[DecodedWord]) -> str:
    return "".join(w.text for w in words).strip()
