"""Scoring paralinguistic attributes against reference labels (for ``uas-pipeline eval``).

A references manifest line (the format of ``../shared/refdata/MANIFEST.jsonl``) applies when its
``reference`` has a ``gender``, an ``emotion`` or an ``arousal``. Per clip we take the record's
*main speaker* (the one with the most speech; the clips are single-speaker) and compare:

* gender: the main speaker's ``gender.label`` with the reference (a missing or ``unknown`` label
  counts as wrong: coverage is part of accuracy);
* arousal: the main speaker's ``arousal.value`` (else the duration-weighted mean of the segments')
  with the reference rating: Spearman correlation over the clips (rank-based, so any monotone
  rating scale works);
* emotion: reference emotions normalised to the UAS vocabulary (``anger`` → ``angry`` …); per
  dataset and speaker, the mean arousal per emotion, and whether the high-arousal emotions
  (angry, happy) all lie above the low-arousal ones (sad, bored, calm) present for that speaker;
  if an emotion model ran, its accuracy too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .schema import UASRecord

NAME = "attributes"
TITLE = "Paralinguistic attributes (gender, arousal, emotion)"
HIGH_AROUSAL = ("angry", "happy")
LOW_AROUSAL = ("sad", "bored", "calm")
_DATASETS = ("emodb", "ravdess", "audiomnist", "pyaudioanalysis", "crema", "iemocap", "tess", "savee")


def applies(entry: dict) -> bool:
    ref = entry.get("reference") or {}
    return any(ref.get(k) is not None for k in ("gender", "emotion", "arousal"))


def _dataset(entry: dict) -> str:
    path = str(entry.get("path") or entry.get("audio") or "").lower()
    for name in _DATASETS:
        if name in path:
            return name
    return str(entry.get("category") or "other")


def _emotion(label: str | None) -> str | None:
    if label is None:
        return None
    from .paralinguistics.learned import load_label_map

    target = load_label_map("bundled:emotion").target(str(label))
    return target.label if target is not None else None


def _main_speaker(record: UASRecord):
    para = record.paralinguistics
    if para is None or not para.speakers:
        return None
    return max(para.speakers, key=lambda s: (s.speech_duration_s or 0.0, s.id))


def _arousal(record: UASRecord) -> float | None:
    speaker = _main_speaker(record)
    if speaker is not None and speaker.arousal is not None and speaker.arousal.value is not None:
        return speaker.arousal.value
    para = record.paralinguistics
    pairs = [(s.arousal.value, s.end - s.start) for s in (para.segments or []) if s.arousal is not None
             and s.arousal.value is not None] if para is not None else []
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total > 0 else None


def score_clip(record: UASRecord, entry: dict, ref_dir: Path) -> dict:
    """One clip's attribute comparison (JSON-able); ``{"unscored": reason}`` when no
    paralinguistic stage ran for it."""
    if record.paralinguistics is None:
        return {"unscored": "no paralinguistics in the record"}
    ref = entry.get("reference") or {}
    speaker = _main_speaker(record)
    out: dict[str, Any] = {
        "clip": entry.get("path") or entry.get("id") or record.clip.id,
        "dataset": _dataset(entry),
        "speaker": str(ref.get("speaker") if ref.get("speaker") is not None else ref.get("actor", "")) or None,
    }
    if ref.get("gender") is not None:
        hyp = speaker.gender if speaker is not None else None
        out["gender_ref"] = str(ref["gender"]).lower()
        out["gender_hyp"] = hyp.label if hyp is not None else None
        out["gender_confidence"] = hyp.confidence if hyp is not None else None
        out["gender_correct"] = out["gender_hyp"] == out["gender_ref"]
    arousal = _arousal(record)
    out["arousal_hyp"] = arousal
    if ref.get("arousal") is not None:
        out["arousal_ref"] = float(ref["arousal"])
    if ref.get("emotion") is not None:
        out["emotion_ref"] = _emotion(ref["emotion"])
        emo = speaker.emotion if speaker is not None else None
        out["emotion_hyp"] = emo.label if emo is not None else None
    return out


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); ``None`` for fewer than 3 pairs."""
    if len(x) < 3:
        return None

    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2.0
            i = j + 1
        return r

    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def pool(per_clip: list[dict]) -> dict:
    """Gender accuracy (overall, per dataset), arousal Spearman, per-speaker emotion ordering."""
    result: dict[str, Any] = {}
    gender = [c for c in per_clip if "gender_ref" in c]
    if gender:
        by_ds: dict[str, list[bool]] = defaultdict(list)
        for c in gender:
            by_ds[c["dataset"]].append(bool(c["gender_correct"]))
        result["gender"] = {
            "clips": len(gender),
            "accuracy": sum(c["gender_correct"] for c in gender) / len(gender),
            "missing": sum(c["gender_hyp"] in (None, "unknown") for c in gender),
            "by_dataset": {k: {"clips": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(by_ds.items())},
        }
    rated = [c for c in per_clip if "arousal_ref" in c]
    if rated:
        pairs = [(c["arousal_ref"], c["arousal_hyp"]) for c in rated if c.get("arousal_hyp") is not None]
        result["arousal"] = {
            "clips": len(rated),
            "missing": len(rated) - len(pairs),
            "spearman": spearman([p[0] for p in pairs], [p[1] for p in pairs]),
        }
    emo = [c for c in per_clip if c.get("emotion_ref") and c.get("arousal_hyp") is not None]
    if emo:
        groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for c in emo:
            groups[(c["dataset"], c.get("speaker") or "?")][c["emotion_ref"]].append(c["arousal_hyp"])
        speakers = []
        for (ds, spk), by_emotion in sorted(groups.items()):
            means = {e: sum(v) / len(v) for e, v in sorted(by_emotion.items())}
            high = [means[e] for e in HIGH_AROUSAL if e in means]
            low = [means[e] for e in LOW_AROUSAL if e in means]
            holds = min(high) > max(low) if high and low else None
            speakers.append({"dataset": ds, "speaker": spk, "mean_arousal": means, "order_holds": holds})
        judged = [s for s in speakers if s["order_holds"] is not None]
        result["emotion_arousal"] = {
            "speakers": speakers,
            "order_holds": sum(s["order_holds"] for s in judged),
            "speakers_judged": len(judged),
        }
    with_model = [c for c in per_clip if c.get("emotion_ref") and c.get("emotion_hyp")]
    if with_model:
        result["emotion"] = {"clips": len(with_model),
                             "accuracy": sum(c["emotion_hyp"] == c["emotion_ref"] for c in with_model) / len(with_model)}
    return result


def format_pooled(pooled: dict) -> list[str]:
    """Table lines for ``uas-pipeline eval``."""
    lines = []
    g = pooled.get("gender")
    if g:
        per = ", ".join(f"{k} {100 * v['accuracy']:.1f}% ({v['clips']})" for k, v in g["by_dataset"].items())
        lines.append(f"gender accuracy: {100 * g['accuracy']:.1f}% of {g['clips']} clips ({per}); "
                     f"{g['missing']} without a label")
    a = pooled.get("arousal")
    if a:
        rho = "n/a" if a["spearman"] is None else f"{a['spearman']:.3f}"
        lines.append(f"arousal Spearman: {rho} over {a['clips'] - a['missing']} of {a['clips']} rated clips")
    e = pooled.get("emotion_arousal")
    if e:
        lines.append(f"emotion order (angry/happy above sad/bored/calm): holds for {e['order_holds']} of "
                     f"{e['speakers_judged']} speakers")
        for spk in e["speakers"]:
            means = ", ".join(f"{k} {v:.2f}" for k, v in sorted(spk["mean_arousal"].items(), key=lambda kv: -kv[1]))
            lines.append(f"  {spk['dataset']} {spk['speaker']}: {means} -> {spk['order_holds']}")
    m = pooled.get("emotion")
    if m:
        lines.append(f"emotion accuracy: {100 * m['accuracy']:.1f}% of {m['clips']} clips")
    return lines


def format_clip(figures: dict) -> str:
    parts = []
    if "gender_ref" in figures:
        parts.append(f"gender {figures['gender_hyp']} (ref {figures['gender_ref']})")
    if figures.get("arousal_hyp") is not None:
        parts.append(f"arousal {figures['arousal_hyp']:.2f}")
    if figures.get("emotion_ref"):
        parts.append(f"emotion ref {figures['emotion_ref']}")
    return ", ".join(parts)
