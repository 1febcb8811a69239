"""Word error rate against gold transcripts.

Gold text: the reference's ``text`` (a non-empty string), else the transcript of its ``stm`` file
(utterances in start order). Left out, with the reason counted: references marked silver or partial
(``reference_type`` mentioning either, or ``"silver": true``), and per-channel references
(``channels``: one text per stereo channel — the pipeline transcribes the downmix, where the
channels' utterances overlap, so no single reference word order exists). Keyword-only references
(``text_contains``) are the ``keywords`` family's.

Both texts are normalised (:func:`..text.normalize_text`) in the reference's language (else the
record's); WER = (substitutions + deletions + insertions) / reference words, per clip and pooled
over all clips (total errors over total reference words), also per language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import UASRecord
from .base import MetricFamily, fmt_pct, ratio, unscored
from .references import is_silver, labels_of, read_stm_text, reference_language, resolve
from .text import NORMALISER, normalize_text, word_errors

_TEXT_KEYS = ("text", "stm", "channels", "segments_asserted")


def gold_text(entry: dict[str, Any], ref_dir: Path) -> str | None:
    labels = labels_of(entry)
    text = labels.get("text")
    if isinstance(text, str) and text.strip():
        return text
    if isinstance(labels.get("stm"), str):
        return read_stm_text(resolve(ref_dir, labels["stm"]))
    return None


class WordErrorRate(MetricFamily):
    NAME = "asr"
    TITLE = f"word error rate (normaliser {NORMALISER})"

    def applies(self, entry: dict[str, Any]) -> bool:
        labels = labels_of(entry)
        text = labels.get("text")
        return (isinstance(text, str) and bool(text.strip())) or any(
            labels.get(k) is not None for k in _TEXT_KEYS[1:])

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        if is_silver(entry):
            return unscored("silver or partial reference")
        text = gold_text(entry, ref_dir)
        if text is None:
            if labels_of(entry).get("channels") is not None:
                return unscored("per-channel reference")
            return unscored("no gold transcript")
        if record.transcription is None:
            return unscored("transcription not annotated")
        language = reference_language(entry) or record.transcription.language
        ref = normalize_text(text, language)
        hyp = normalize_text(record.transcription.text, language)
        if not ref:
            return unscored("empty reference after normalisation")
        e = word_errors(ref, hyp)
        return {
            "wer": e.wer,
            "errors": e.errors,
            "substitutions": e.substitutions,
            "deletions": e.deletions,
            "insertions": e.insertions,
            "reference_words": e.reference_words,
            "hypothesis_words": e.hypothesis_words,
            "language": language,
            "category": entry.get("category"),
            "reference": ref,
            "hypothesis": hyp,
        }

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
            words = sum(r["reference_words"] for r in rows)
            errors = sum(r["errors"] for r in rows)
            return {"wer": ratio(errors, words), "errors": errors, "reference_words": words,
                    "clips": len(rows)}

        out = totals(per_clip)
        for key in ("substitutions", "deletions", "insertions"):
            out[key] = sum(r[key] for r in per_clip)
        out["normaliser"] = NORMALISER
        languages = sorted({str(r["language"]) for r in per_clip})
        out["by_language"] = {lang: totals([r for r in per_clip if str(r["language"]) == lang])
                              for lang in languages}
        categories = sorted({str(r.get("category")) for r in per_clip})
        out["by_category"] = {c: totals([r for r in per_clip if str(r.get("category")) == c]) for c in categories}
        return out

    def format_pooled(self, pooled: dict[str, Any]) -> list[str]:
        lines = [f"WER {fmt_pct(pooled['wer'])}  ({pooled['errors']} errors /"
                 f" {pooled['reference_words']} words: S {pooled['substitutions']}, D {pooled['deletions']}, I {pooled['insertions']})"]
        if len(pooled["by_language"]) > 1:
            lines += [f"  {lang}: WER {fmt_pct(t['wer'])} ({t['reference_words']} words, {t['clips']} clips)"
                      for lang, t in pooled["by_language"].items()]
        if len(pooled.get("by_category", {})) > 1:
            lines += [f"  category {c}: WER {fmt_pct(t['wer'])} ({t['reference_words']} words, {t['clips']} clips)"
                      for c, t in pooled["by_category"].items()]
        return lines

    def format_clip(self, figures: dict[str, Any]) -> str:
        return (f"WER {fmt_pct(figures['wer'])} ({figures['errors']}/{figures['reference_words']})"
                f"  ref: {figures['reference']!r}  hyp: {figures['hypothesis']!r}")
