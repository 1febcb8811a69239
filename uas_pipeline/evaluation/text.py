"""Text normalisation for WER and word-error counting.

The normaliser (``NORMALISER``; rules in docs/evaluation.md) is applied to the reference and the
hypothesis alike, so that only *what was said* is compared, not how it was written:

1. Unicode NFKC, then case folding (``Straße`` = ``STRASSE``); typographic apostrophes become ``'``.
2. Non-speech tags in square or angle brackets (``[laughter]``, ``<unk>``) are removed.
3. English only (language ``en`` or unknown): ``%`` → ``percent``; ``$5``/``€5``/``£5`` →
   ``5 dollars``/``euros``/``pounds``; the unambiguous contractions are expanded (``n't`` → ``not``,
   ``won't`` → ``will not``, ``can't``/``cannot`` → ``can not``, ``'re`` → ``are``, ``'m`` → ``am``,
   ``'ll`` → ``will``, ``'ve`` → ``have``; ``'s`` and ``'d`` are ambiguous and kept); thousands
   separators between digit groups are dropped (``1,000`` → ``1000``).
4. Punctuation and symbols (Unicode categories P and S) become spaces, except an apostrophe inside a
   word (``rock'n'roll``) and a ``.`` or ``,`` between two digits (``3.5``).
5. English only: runs of cardinal number words become digits (``twenty-one`` → ``21``, ``two
   hundred and five`` → ``205``, ``three point five`` → ``3.5``), so ``two`` and ``2`` match. A run
   is cut where a number could not continue (``one two three`` → ``1 2 3``, ``nineteen ninety`` →
   ``19 90``); ordinals, years read as pairs and ``oh`` for zero are not converted.
6. Words are the whitespace-separated tokens; diacritics are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

NORMALISER = "uas-text-v1"
"""Name and version of the normalisation rules (reported with every WER)."""

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_TAGS = re.compile(r"\[[^\]]*\]|<[^>]*>")
_CONTRACTIONS = [
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"(\w)n't\b"), r"\1 not"),
    (re.compile(r"(\w)'re\b"), r"\1 are"),
    (re.compile(r"(\w)'m\b"), r"\1 am"),
    (re.compile(r"(\w)'ll\b"), r"\1 will"),
    (re.compile(r"(\w)'ve\b"), r"\1 have"),
]
_CURRENCY = re.compile(r"([$€£])\s?(\d[\d,.]*)")
_CURRENCY_WORDS = {"$": "dollars", "€": "euros", "£": "pounds"}
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")

_UNITS = {w: i for i, w in enumerate([
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"])}
_TENS = {w: 10 * i for i, w in enumerate(
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2)}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def _is_english(language: str | None) -> bool:
    return language is None or language.lower().split("-")[0].split("_")[0] == "en"


def _strip_punctuation(text: str) -> str:
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        kept = ch == "'" or unicodedata.category(ch)[0] not in "PS"
        decimal = ch in ".," and 0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        out.append(ch if kept or decimal else " ")
    return "".join(out)


class _Number:
    """A cardinal number being read word by word (English)."""

    def __init__(self) -> None:
        self.total = 0
        self.current = 0
        self.last: str | None = None  # unit | zero | teen | tens | hundred | scale
        self.last_scale = 0
        self.decimals = ""

    def accepts(self, word: str) -> bool:
        last = self.last
        if self.decimals or last == "zero":
            return False
        if word in _UNITS:
            value = _UNITS[word]
            if value == 0:
                return last is None
            if value < 10:
                return last in (None, "hundred", "scale") or (last == "tens" and self.current % 10 == 0)
            return last in (None, "hundred", "scale")
        if word in _TENS:
            return last in (None, "hundred", "scale")
        if word == "hundred":
            return last is None or (last in ("unit", "teen") and self.current < 100)
        if word in _SCALES:
            bigger = self.last_scale == 0 or _SCALES[word] < self.last_scale
            return bigger and (last is None or last in ("unit", "teen", "tens", "hundred"))
        return False

    def add(self, word: str) -> None:
        if word in _UNITS:
            value = _UNITS[word]
            self.current += value
            self.last = "zero" if value == 0 else ("unit" if value < 10 else "teen")
        elif word in _TENS:
            self.current += _TENS[word]
            self.last = "tens"
        elif word == "hundred":
            self.current = max(self.current, 1) * 100
            self.last = "hundred"
        else:
            scale = _SCALES[word]
            self.total += max(self.current, 1) * scale
            self.current = 0
            self.last_scale = scale
            self.last = "scale"

    def text(self) -> str:
        whole = str(self.total + self.current)
        return f"{whole}.{self.decimals}" if self.decimals else whole


def _numbers_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    number: _Number | None = None
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if number is not None and number.accepts(word):
            number.add(word)
        elif (number is not None and word == "and" and number.last in ("hundred", "scale")
              and nxt is not None and (nxt in _UNITS or nxt in _TENS) and number.accepts(nxt)):
            pass  # "two hundred and five": the "and" belongs to the number
        elif (number is not None and not number.decimals and word == "point" and nxt is not None
              and _UNITS.get(nxt, 10) < 10):
            while i + 1 < len(words) and _UNITS.get(words[i + 1], 10) < 10:
                i += 1
                number.decimals += str(_UNITS[words[i]])
        else:
            if number is not None:
                out.append(number.text())
                number = None
            if word in _UNITS or word in _TENS or word == "hundred" or word in _SCALES:
                number = _Number()
                number.add(word)
            else:
                out.append(word)
        i += 1
    if number is not None:
        out.append(number.text())
    return out


def normalize_text(text: str, language: str | None = None) -> str:
    """Normalise ``text`` for WER (see the module docstring); ``language`` is an ISO 639-1 code or
    ``None`` (unknown: the English rules apply). Returns words joined by single spaces."""
    english = _is_english(language)
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    text = _TAGS.sub(" ", text)
    if english:
        text = text.replace("%", " percent ")
        text = _CURRENCY.sub(lambda m: f"{m.group(2)} {_CURRENCY_WORDS[m.group(1)]}", text)
        for pattern, repl in _CONTRACTIONS:
            text = pattern.sub(repl, text)
        text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    words = [w.strip("'") for w in _strip_punctuation(text).split()]
    words = [w for w in words if w]
    if english:
        words = _numbers_to_digits(words)
    return " ".join(words)


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word sequences."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class WordErrors:
    """Alignment counts of one hypothesis against one reference (normalised words)."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    hypothesis_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """Errors over reference words; raises ``ZeroDivisionError`` for an empty reference."""
        return self.errors / self.reference_words


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Substitutions, deletions and insertions of a minimum-edit alignment (jiwer) of two already
    normalised texts."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref:
        return WordErrors(0, 0, len(hyp), 0, len(hyp))
    if not hyp:
        return WordErrors(0, len(ref), 0, len(ref), 0)
    import jiwer

    out = jiwer.process_words(reference, hypothesis)
    return WordErrors(out.substitutions, out.deletions, out.insertions, len(ref), len(hyp))


def pooled_wer(pairs: Iterable[tuple[str, str]], language: str | None = None) -> float:
    """Total word errors over total reference words, for ``(reference, hypothesis)`` pairs
    (both normalised with :func:`normalize_text`)."""
    errors = words = 0
    for ref, hyp in pairs:
        r, h = normalize_text(ref, language).split(), normalize_text(hyp, language).split()
        errors += edit_distance(r, h)
        words += len(r)
    if words == 0:
        raise ValueError("no reference words")
    return errors / words
