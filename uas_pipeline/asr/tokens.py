"""Reading Whisper's timestamp tokens: a decoded token sequence → timed text spans.

Whisper writes ``<|t0|> text <|t1|><|t1'|> text <|t2|>``: a timestamp opens a segment, the next one
after text closes it, and two in a row close one segment and open the next. Timestamp tokens are the
ids from ``timestamp_begin`` on, ``time_precision`` (0.02 s) apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenSpan:
    start: float
    end: float
    tokens: tuple[int, ...]
    """Text tokens only (no timestamps, no end-of-text)."""


@dataclass(frozen=True)
class TimedTokens:
    spans: list[TokenSpan]
    resume_at: float | None
    """Window time from which the audio was not transcribed, when the decoder stopped before the
    end of its input: its last span is closed and it had opened another, or it left text unclosed.
    ``None`` when the output covers the window (a final single timestamp, or no timestamps)."""


def split_by_timestamps(tokens: list[int], *, timestamp_begin: int, eot: int, window_s: float,
                        time_precision: float = 0.02) -> TimedTokens:
    """Cut ``tokens`` (the decoder's output after the prompt) into timed spans of text.

    Text closed by a timestamp becomes a span. Text still open at the end keeps running to the
    window end when it started the window, and is dropped with ``resume_at`` at its start otherwise
    (the decoder ran out of room; the rest of the window is decoded again from there). A final
    opening timestamp with no text after it also sets ``resume_at``.
    """
    spans: list[TokenSpan] = []
    open_at: float | None = None
    text: list[int] = []
    for tok in tokens:
        if tok == eot:
            break
        if tok < timestamp_begin:
            if tok < eot:  # special tokens (start-of-transcript, no-timestamps...) are not text
                text.append(tok)
            continue
        t = min((tok - timestamp_begin) * time_precision, window_s)
        if text:
            begin = open_at if open_at is not None else 0.0
            spans.append(TokenSpan(begin, max(t, begin), tuple(text)))
            open_at, text = None, []
        else:
            open_at = t
    if text:
        if open_at is not None and open_at > 0 and spans:
            return TimedTokens(spans, open_at)
        begin = open_at if open_at is not None else 0.0
        spans.append(TokenSpan(begin, window_s, tuple(text)))
        return TimedTokens(spans, None)
    if open_at is not None and spans and open_at < window_s:
        return TimedTokens(spans, open_at)
    return TimedTokens(spans, None)
