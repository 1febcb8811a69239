"""Speaker-count accuracy: ``paralinguistics.recording.num_speakers`` (else the length of
``paralinguistics.speakers``) against the reference ``num_speakers``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import UASRecord
from .base import MetricFamily, fmt_pct, ratio, unscored
from .references import labels_of


def record_num_speakers(record: UASRecord) -> int | None:
    para = record.paralinguistics
    if para is None:
        return None
    if para.recording is not None and para.recording.num_speakers is not None:
        return para.recording.num_speakers
    return len(para.speakers) if para.speakers is not None else None


class SpeakerCount(MetricFamily):
    NAME = "speaker_count"
    TITLE = "speaker count"

    def applies(self, entry: dict[str, Any]) -> bool:
        value = labels_of(entry).get("num_speakers")
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        hyp = record_num_speakers(record)
        if hyp is None:
            return unscored("speakers not annotated")
        ref = labels_of(entry)["num_speakers"]
        return {"reference": ref, "hypothesis": hyp, "correct": hyp == ref, "error": hyp - ref}

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(per_clip)
        return {
            "accuracy": ratio(sum(r["correct"] for r in per_clip), n),
            "mean_abs_error": ratio(sum(abs(r["error"]) for r in per_clip), n),
            "mean_error": ratio(sum(r["error"] for r in per_clip), n),
            "over": sum(r["error"] > 0 for r in per_clip),
            "under": sum(r["error"] < 0 for r in per_clip),
            "clips": n,
        }

    def format_pooled(self, pooled: dict[str, Any]) -> list[str]:
        return [f"accuracy {fmt_pct(pooled['accuracy'])}  (mean |error| {pooled['mean_abs_error']:.2f},"
                f" over-counted {pooled['over']}, under-counted {pooled['under']} of {pooled['clips']})"]

    def format_clip(self, figures: dict[str, Any]) -> str:
        return f"reference {figures['reference']}, record {figures['hypothesis']}"
