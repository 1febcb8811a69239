"""Language identification: ``transcription.language`` against the reference ``language``.

Codes are compared as ISO 639-1 (``en-US`` → ``en``). Outcomes: ``correct``, ``wrong``, or
``not_identified`` (the transcription exists but its language is null); accuracy counts
not-identified clips as errors, ``accuracy_identified`` leaves them out. A record without a
transcription is not scored (ASR did not run). Code-switched references (``languages_in_order`` /
``languages``, no single ``language``) are reported apart: the record's one language is checked for
membership in the set.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..schema import UASRecord
from .base import MetricFamily, fmt_pct, ratio, unscored
from .references import labels_of, normalise_language, reference_language


def _language_set(entry: dict[str, Any]) -> list[str]:
    labels = labels_of(entry)
    for key in ("languages_in_order", "languages"):
        value = labels.get(key)
        if isinstance(value, list) and value:
            return [normalise_language(v) for v in value if isinstance(v, str)]
    return []


class LanguageId(MetricFamily):
    NAME = "language"
    TITLE = "language identification"

    def applies(self, entry: dict[str, Any]) -> bool:
        return reference_language(entry) is not None or bool(_language_set(entry))

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        if record.transcription is None:
            return unscored("transcription not annotated")
        hyp = record.transcription.language
        conf = record.transcription.language_confidence
        ref = reference_language(entry)
        if ref is not None:
            outcome = "not_identified" if hyp is None else ("correct" if hyp == ref else "wrong")
            return {"kind": "single", "reference": ref, "hypothesis": hyp, "confidence": conf,
                    "outcome": outcome}
        options = _language_set(entry)
        outcome = "not_identified" if hyp is None else ("in_set" if hyp in options else "not_in_set")
        return {"kind": "code_switched", "reference": options, "hypothesis": hyp, "confidence": conf,
                "outcome": outcome}

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        single = [r for r in per_clip if r["kind"] == "single"]
        mixed = [r for r in per_clip if r["kind"] == "code_switched"]
        n = Counter(r["outcome"] for r in single)
        m = Counter(r["outcome"] for r in mixed)
        confusion = Counter(f"{r['reference']}->{r['hypothesis']}" for r in single if r["outcome"] == "wrong")
        return {
            "accuracy": ratio(n["correct"], len(single)),
            "accuracy_identified": ratio(n["correct"], n["correct"] + n["wrong"]),
            "clips": len(single),
            "correct": n["correct"],
            "wrong": n["wrong"],
            "not_identified": n["not_identified"],
            "confusions": dict(sorted(confusion.items())),
            "code_switched": {"clips": len(mixed), "in_set": m["in_set"], "not_in_set": m["not_in_set"],
                              "not_identified": m["not_identified"]},
        }

    def format_pooled(self, pooled: dict[str, Any]) -> list[str]:
        lines = [f"accuracy {fmt_pct(pooled['accuracy'])}  ({pooled['correct']} correct,"
                 f" {pooled['wrong']} wrong,"
                 f" {pooled['not_identified']} not identified of {pooled['clips']};"
                 f" of identified: {fmt_pct(pooled['accuracy_identified'])})"]
        if pooled["confusions"]:
            lines.append("  confusions: " + ", ".join(f"{k} {v}" for k, v in pooled["confusions"].items()))
        cs = pooled["code_switched"]
        if cs["clips"]:
            lines.append(f"  code-switched clips: {cs['in_set']} of {cs['clips']} with a language of the set"
                         f" ({cs['not_identified']} not identified)")
        return lines

    def format_clip(self, figures: dict[str, Any]) -> str:
        return f"{figures['outcome']}: reference {figures['reference']}, record {figures['hypothesis']}"
