"""Which language a clip is decoded in, and what the record says about it.

* An English-only model (``tiny.en``, ``small.en`` …) cannot identify a language: it is decoded as
  English, and the record's ``language`` is the language *declared* for the clip (the manifest's
  per-clip ``language`` hint, else the recipe's ``language``) or null; ``language_confidence`` is null.
* A multilingual model decodes in the declared language when there is one (``language`` = it,
  ``language_confidence`` null: nothing was measured); otherwise it identifies the language from the
  clip's speech (its first 30 s) and the record holds the detected code and its probability.
* Whisper codes that are not ISO 639-1 (``haw``, ``yue``) are decoded as detected but recorded as null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ISO_639_1 = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class LanguageChoice:
    decode: str
    """Language token the decoder is given."""
    language: str | None
    """What the record says."""
    confidence: float | None
    needs_detection: bool = False


def declared_language(recipe_language: str | None, hint: object) -> str | None:
    """The per-clip hint when it is a usable code, else the recipe's setting."""
    if isinstance(hint, str) and hint.strip():
        return hint.strip().lower()
    return recipe_language


def choose(multilingual: bool, declared: str | None) -> LanguageChoice:
    """The language rule before any detection (see the module docstring)."""
    if not multilingual:
        return LanguageChoice("en", _iso(declared), None)
    if declared:
        return LanguageChoice(declared, _iso(declared), None)
    return LanguageChoice("en", None, None, needs_detection=True)


def detected(code: str, probability: float) -> LanguageChoice:
    return LanguageChoice(code, _iso(code), min(1.0, max(0.0, float(probability))) if _iso(code) else None)


def _iso(code: str | None) -> str | None:
    return code if code and _ISO_639_1.match(code) else None
