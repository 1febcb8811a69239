"""Rules that judge decoded segments hallucinated; judged segments go to ``transcription.rejected``.

Whisper writes fluent text where there is none: stock phrases from subtitled videos after the speech
ends or over music ("Thank you for watching."), loops ("the rest of the rest of the rest of"), text
over silence. Each rule below has its own ``reason`` string in the record; thresholds are parameters
(defaults chosen on principle: Whisper's own decoding thresholds where it has them). The rules run in
this order on every segment of a clip, in clip time:

``no_speech``
    The decoder's no-speech probability is above ``no_speech_threshold`` *and* its mean token
    log-probability is below ``logprob_threshold`` (Whisper's silence test). Only for segments that
    had their window to themselves: in a packed window both figures describe the whole window.
``outside_speech``
    (VAD stage ran) the segment overlaps no detected speech region, allowing ``speech_tolerance_s``.
``repetition``
    A run of words repeats an n-gram (n ≤ ``repetition_max_n``) at least ``repetition_min_repeats``
    times in a row (a partial last copy counts by its share), the repeats after the first copy
    covering at least ``repetition_min_words`` words: "the rest of the rest of the rest of", "and I
    will see you in the next video, and I will see you in the next video"; "no, no, no" and "I said
    no, I said no" stay (their repeats are shorter than 6 words). The first occurrence is kept
    (it may be what was said); the repeats move to ``rejected`` and any words after the loop stay.
    Without word timestamps the whole segment is rejected.
``compression_ratio``
    The segment's text compresses by more than ``max_compression_ratio`` with zlib (Whisper's
    repetition measure: normal text is below 2).
``stock_phrase``
    The whole segment is made of phrases Whisper learned from subtitle credits and video outros
    ("thank you for watching", "please subscribe", "see you in the next video", "subtitles by …",
    a lone "you" …), *and* there is a second sign it was not said: its confidence (geometric mean of
    the word probabilities) is below ``stock_phrase_min_confidence``, or less than
    ``stock_phrase_min_speech`` of it lies in detected speech, or it is too short to have been
    spoken (under ``min_word_s`` per word). A clearly spoken "Thank you." stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .decoded import DecodedSegment, DecodedWord, words_text

_THANKS = r"(?:thank you|thanks)(?: (?:so|very) much)?(?: (?:all|everyone|guys|everybody))?" \
          r"(?: for (?:watching|listening|viewing|your attention|joining(?: us)?))?(?: (?:all|everyone|guys))?"
_SUBSCRIBE = r"(?:(?:please|don't forget to) )?(?:like(?: comment)? and )?subscribe(?: to (?:my|our|the) channel)?"
_SEE_YOU = r"(?:(?:i'll|we'll|i will|we will) )?see you(?: (?:all|guys))?" \
           r"(?: (?:in|at) the next (?:one|video|episode|time)| next time| soon| later| then)?"
_BYE = r"(?:bye(?: bye)?|goodbye)"
_CREDITS = r"(?:(?:subtitles|captions|transcription|transcribed|translated|translation) by .+|amara org(?: .+)?)"
_FILLER = r"(?:you|and|so|oh|okay)"
STOCK_PHRASE = re.compile(
    rf"^(?:{_THANKS}|{_SUBSCRIBE}|{_SEE_YOU}|{_BYE}|{_CREDITS})(?: (?:and |so )?(?:{_THANKS}|{_SUBSCRIBE}|"
    rf"{_SEE_YOU}|{_BYE}|{_CREDITS}))*$|^{_FILLER}$"
)
"""Whole normalized segment texts (see :func:`plain_words`) that are stock hallucinations."""

_NOT_WORD = re.compile(r"[^\w\s']+")


def plain_words(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes inside words kept): what the rules compare."""
    text = _NOT_WORD.sub(" ", text.lower().replace("’", "'"))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def normalize_text(text: str) -> str:
    return " ".join(plain_words(text))


@dataclass(frozen=True)
class HallucinationRules:
    no_speech_threshold: float | None = 0.6
    logprob_threshold: float | None = -1.0
    outside_speech: bool = True
    speech_tolerance_s: float = 0.2
    repetition_min_repeats: float = 2.0
    repetition_min_words: int = 6
    repetition_max_n: int = 12
    max_compression_ratio: float | None = 2.4
    stock_phrases: bool = True
    stock_phrase_min_confidence: float = 0.5
    stock_phrase_min_speech: float = 0.5
    min_word_s: float = 0.08

    @classmethod
    def none(cls) -> HallucinationRules:
        """Rules that reject nothing."""
        return cls(no_speech_threshold=None, outside_speech=False, repetition_min_repeats=0,
                   max_compression_ratio=None, stock_phrases=False)


@dataclass(frozen=True)
class Judged:
    kept: list[DecodedSegment]
    rejected: list[tuple[DecodedSegment, str]]


def judge(segments: Sequence[DecodedSegment], speech: Sequence[tuple[float, float]] | None,
          rules: HallucinationRules) -> Judged:
    """Split a clip's segments (time order) into kept and rejected-with-reason."""
    kept: list[DecodedSegment] = []
    rejected: list[tuple[DecodedSegment, str]] = []
    for seg in segments:
        if _no_speech(seg, rules):
            rejected.append((seg, "no_speech"))
            continue
        if rules.outside_speech and speech is not None and not _overlaps(seg, speech, rules.speech_tolerance_s):
            rejected.append((seg, "outside_speech"))
            continue
        for part, reason in split_repetition(seg, rules):
            if reason:
                rejected.append((part, reason))
            elif rules.max_compression_ratio is not None and part.compression_ratio > rules.max_compression_ratio:
                rejected.append((part, "compression_ratio"))
            elif rules.stock_phrases and is_unspoken_stock_phrase(part, speech, rules):
                rejected.append((part, "stock_phrase"))
            else:
                kept.append(part)
    return Judged(kept, rejected)


def _no_speech(seg: DecodedSegment, rules: HallucinationRules) -> bool:
    if rules.no_speech_threshold is None or rules.logprob_threshold is None or seg.pieces_in_window != 1:
        return False
    if seg.no_speech_prob is None or seg.avg_logprob is None:
        return False
    return seg.no_speech_prob > rules.no_speech_threshold and seg.avg_logprob < rules.logprob_threshold


def _overlaps(seg: DecodedSegment, speech: Sequence[tuple[float, float]], tolerance: float) -> bool:
    return any(seg.start < e + tolerance and s - tolerance < seg.end for s, e in speech)


def speech_fraction(seg: DecodedSegment, speech: Sequence[tuple[float, float]]) -> float:
    """Share of the segment's time inside detected speech."""
    length = seg.end - seg.start
    if length <= 0:
        return 0.0
    inside = sum(max(0.0, min(seg.end, e) - max(seg.start, s)) for s, e in speech)
    return min(1.0, inside / length)


def is_unspoken_stock_phrase(seg: DecodedSegment, speech: Sequence[tuple[float, float]] | None,
                             rules: HallucinationRules) -> bool:
    text = normalize_text(seg.text)
    if not text or not STOCK_PHRASE.match(text):
        return False
    confidence = seg.confidence()
    if confidence is not None and confidence < rules.stock_phrase_min_confidence:
        return True
    if speech is not None and speech_fraction(seg, speech) < rules.stock_phrase_min_speech:
        return True
    return seg.end - seg.start < rules.min_word_s * len(text.split())


def find_loop(tokens: Sequence[str], min_repeats: float, min_words: int, max_n: int) -> tuple[int, int] | None:
    """``(first, end)``: tokens ``[first, end)`` repeat the n-gram just before ``first``, for the
    earliest loop found, or ``None``. A loop is at least ``min_repeats`` copies of an n-gram in a row
    (a partial last copy counts by its share: 2 copies and half of a third make 2.5), whose repeats
    after the first copy cover at least ``min_words`` words."""
    tokens = list(tokens)
    best: tuple[int, int, int] | None = None  # (loop start, first repeat, end)
    for n in range(1, max_n + 1):
        for i in range(len(tokens) - 2 * n + 1):
            if best is not None and i >= best[0]:
                break
            gram = tokens[i:i + n]
            j, count = i + n, 1
            while tokens[j:j + n] == gram:
                j, count = j + n, count + 1
            k = 0
            while j + k < len(tokens) and k < n and tokens[j + k] == gram[k]:
                k += 1
            if count + k / n >= min_repeats and (count - 1) * n + k >= min_words:
                best = (i, i + n, j + k)
                break
    return best[1:] if best else None


def split_repetition(seg: DecodedSegment, rules: HallucinationRules) -> list[tuple[DecodedSegment, str | None]]:
    """The segment cut around its first repetition loop: ``[(part, None | "repetition"), ...]``."""
    if rules.repetition_min_repeats < 2:
        return [(seg, None)]
    if not seg.words:
        loop = find_loop(normalize_text(seg.text).split(), rules.repetition_min_repeats,
                         rules.repetition_min_words, rules.repetition_max_n)
        return [(seg, "repetition" if loop else None)]
    words = list(seg.words)
    tokens = [normalize_text(w.text) for w in words]
    loop = find_loop(tokens, rules.repetition_min_repeats, rules.repetition_min_words, rules.repetition_max_n)
    if loop is None:
        return [(seg, None)]
    first, end = loop
    parts: list[tuple[DecodedSegment, str | None]] = []
    for chunk, reason in ((words[:first], None), (words[first:end], "repetition"), (words[end:], None)):
        if chunk:
            parts.append((_part(seg, chunk), reason))
    return parts


def _part(seg: DecodedSegment, words: list[DecodedWord]) -> DecodedSegment:
    start = seg.start if words[0] is seg.words[0] else words[0].start
    end = seg.end if words[-1] is seg.words[-1] else words[-1].end
    return seg.shifted(start=start, end=max(end, start + 0.001), text=words_text(words), words=tuple(words))
