"""Scoring helpers for evaluation scripts and tests: text normalization and pooled WER."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_WORD = re.compile(r"[^\w\s']+")


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation (keep apostrophes inside words), collapse whitespace."""
    text = _NON_WORD.sub(" ", text.lower().replace("’", "'"))
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word sequences."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def pooled_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Total word errors over total reference words, for ``(reference, hypothesis)`` pairs."""
    errors = words = 0
    for ref, hyp in pairs:
        r, h = normalize_text(ref).split(), normalize_text(hyp).split()
        errors += edit_distance(r, h)
        words += len(r)
    if words == 0:
        raise ValueError("no reference words")
    return errors / words
