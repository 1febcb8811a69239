"""Keyword recall for partial references that only assert words the transcript must contain
(``text_contains``, e.g. a hotword): a keyword is found when its normalised words occur, in order
and adjacent, in the normalised transcript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import UASRecord
from .base import MetricFamily, fmt_pct, ratio, unscored
from .references import labels_of, reference_language
from .text import normalize_text


def _contains(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


class KeywordRecall(MetricFamily):
    NAME = "keywords"
    TITLE = "keyword recall (text_contains)"

    def applies(self, entry: dict[str, Any]) -> bool:
        value = labels_of(entry).get("text_contains")
        return isinstance(value, list) and any(isinstance(v, str) and v.strip() for v in value)

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        if record.transcription is None:
            return unscored("transcription not annotated")
        language = reference_language(entry) or record.transcription.language
        words = normalize_text(record.transcription.text, language).split()
        keywords = [k for k in labels_of(entry)["text_contains"] if isinstance(k, str) and k.strip()]
        missing = [k for k in keywords if not _contains(words, normalize_text(k, language).split())]
        return {"keywords": len(keywords), "found": len(keywords) - len(missing), "missing": missing}

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        total = sum(r["keywords"] for r in per_clip)
        found = sum(r["found"] for r in per_clip)
        return {"recall": ratio(found, total), "found": found, "keywords": total, "clips": len(per_clip)}

    def format_pooled(self, pooled: dict[str, Any]) -> list[str]:
        return [f"recall {fmt_pct(pooled['recall'])}  ({pooled['found']} of {pooled['keywords']} keywords)"]
