"""Scoring ``non_linguistic_events`` against references (a family of ``uas-pipeline eval``).

References are entries of a manifest in the shape of ``../shared/refdata/MANIFEST.jsonl``:

* clip-level labels, ``reference.labels`` (ESC-50 / UrbanSound8K classes, ``music``, ``speech``,
  ``silence``…), for categories ``sound_event``, ``music`` and ``audio_class``;
* or timed events, ``reference.events: [{label, start, end}]`` (any category).

Reference class names go through ``uas_pipeline/events/data/reference_labels.csv`` to the vocabulary
labels that count as finding them (``dog_bark`` → ``dog``; ``thunderstorm`` → ``thunder`` or ``rain``);
vocabulary labels stand for themselves; ``speech`` and ``silence`` expect no event.

Figures (all clip-level except timing):

* per-label **recall** (share of the clips with a reference class whose labels were found; keyed by
  the class's main label) and **precision** (share of predicted labels that a reference of the clip
  accepts; references list the main sound only, so this is a lower bound);
* **sound-event hit rate**: ``sound_event`` clips whose every reference class was found; the same
  with a predicted label of the same coarse *category* (``data/event_categories.csv``) counting;
* ``music`` predicted on clips whose reference includes music, and on ``silence`` clips;
* with timed references: onset and offset errors of each reference event, against the span of the
  predicted events of an accepted label that overlap it (first onset, last offset).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from .events.vocabulary import label_categories, reference_label_map
from .schema import UASRecord

NAME = "events"
TITLE = "Non-linguistic events"
CLIP_LEVEL_CATEGORIES = ("sound_event", "music", "audio_class")
TIMING_TOLERANCE_S = 0.5


def applies(entry: dict[str, Any]) -> bool:
    ref = entry.get("reference") or {}
    if isinstance(ref.get("events"), list):
        return True
    return entry.get("category") in CLIP_LEVEL_CATEGORIES and isinstance(ref.get("labels"), list)


def _accepted(name: str) -> tuple[str, ...] | None:
    return reference_label_map().get(name)


def score_clip(record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
    events = record.non_linguistic_events
    if events is None:
        return {"unscored": "events not annotated"}
    ref = entry.get("reference") or {}
    timed = ref.get("events") if isinstance(ref.get("events"), list) else None
    names = [e["label"] for e in timed] if timed is not None else list(ref.get("labels") or [])
    predicted = sorted({e.label for e in events})
    references: dict[str, dict[str, Any]] = {}  # by main label: "music" and "trumpet" count once
    unmapped, expected = [], set()
    for name in dict.fromkeys(names):
        accepted = _accepted(name)
        if accepted is None:
            unmapped.append(name)
            continue
        expected.update(accepted)
        if accepted and accepted[0] not in references:  # an empty set (speech, silence) expects no event
            references[accepted[0]] = {"class": name, "label": accepted[0], "accepted": list(accepted),
                                       "found": any(lab in predicted for lab in accepted),
                                       "category_found": _category_found(accepted, predicted)}
    out: dict[str, Any] = {
        "clip": record.clip.id,  # "clip_id" is the eval framework's own row key (not passed to pool)
        "category": entry.get("category"),
        "references": list(references.values()),
        "unmapped": unmapped,
        "predicted": predicted,
        "false_labels": [lab for lab in predicted if lab not in expected],
        "music_reference": "music" in references,
        "silence_reference": "silence" in names,
        "music_predicted": "music" in predicted,
    }
    if timed is not None:
        out["timing"] = [_timing(e, events) for e in timed if _accepted(e["label"])]
    return out


def _category_found(accepted: tuple[str, ...], predicted: list[str]) -> bool:
    cats = label_categories()
    wanted = {cats.get(lab) for lab in accepted} - {None, "other"}
    return any(cats.get(lab) in wanted for lab in predicted)


def _timing(ref_event: dict[str, Any], events) -> dict[str, Any]:
    accepted = _accepted(ref_event["label"]) or ()
    start, end = float(ref_event["start"]), float(ref_event["end"])
    hits = [e for e in events if e.label in accepted and e.start < end and e.end > start]
    row: dict[str, Any] = {"class": ref_event["label"], "start": start, "end": end, "found": bool(hits)}
    if hits:
        row["onset_error_s"] = round(min(e.start for e in hits) - start, 3)
        row["offset_error_s"] = round(max(e.end for e in hits) - end, 3)
    return row


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def pool(per_clip: list[dict[str, Any]]) -> dict[str, Any]:
    clips = [c for c in per_clip if "unscored" not in c]
    per_label: dict[str, dict[str, int]] = {}
    for c in clips:
        for r in c["references"]:
            d = per_label.setdefault(r["label"], {"references": 0, "found": 0, "predicted": 0, "correct": 0})
            d["references"] += 1
            d["found"] += r["found"]
        for lab in c["predicted"]:
            d = per_label.setdefault(lab, {"references": 0, "found": 0, "predicted": 0, "correct": 0})
            d["predicted"] += 1
            d["correct"] += lab not in c["false_labels"]
    labels = {lab: {"recall": _rate(d["found"], d["references"]), "references": d["references"],
                    "precision": _rate(d["correct"], d["predicted"]), "predicted": d["predicted"]}
              for lab, d in sorted(per_label.items())}
    sound = [c for c in clips if c["category"] == "sound_event" and c["references"]]
    hits = sum(all(r["found"] for r in c["references"]) for c in sound)
    cat_hits = sum(all(r["category_found"] for r in c["references"]) for c in sound)
    music = [c for c in clips if c["music_reference"]]
    silence = [c for c in clips if c["silence_reference"]]
    predicted = sum(len(c["predicted"]) for c in clips)
    correct = predicted - sum(len(c["false_labels"]) for c in clips)
    out: dict[str, Any] = {
        "clips": len(clips),
        "sound_event": {"clips": len(sound), "hits": hits, "hit_rate": _rate(hits, len(sound)),
                        "category_hits": cat_hits, "category_hit_rate": _rate(cat_hits, len(sound)),
                        "missed": [c["clip"] for c in sound if not all(r["found"] for r in c["references"])]},
        "music_clips": {"clips": len(music), "with_music": sum(c["music_predicted"] for c in music),
                        "rate": _rate(sum(c["music_predicted"] for c in music), len(music))},
        "silence_clips": {"clips": len(silence), "with_music": sum(c["music_predicted"] for c in silence)},
        "label_precision": _rate(correct, predicted),
        "per_label": labels,
    }
    timing = [t for c in clips for t in c.get("timing", [])]
    if timing:
        out["timing"] = _pool_timing(timing)
    return out


def _pool_timing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    found = [t for t in rows if t["found"]]
    on = [abs(t["onset_error_s"]) for t in found]
    off = [abs(t["offset_error_s"]) for t in found]
    within = sum(abs(t["onset_error_s"]) <= TIMING_TOLERANCE_S and abs(t["offset_error_s"]) <= TIMING_TOLERANCE_S
                 for t in found)
    return {
        "events": len(rows),
        "found": len(found),
        "onset_mean_abs_s": statistics.fmean(on) if on else None,
        "onset_median_abs_s": statistics.median(on) if on else None,
        "offset_mean_abs_s": statistics.fmean(off) if off else None,
        "offset_median_abs_s": statistics.median(off) if off else None,
        "within_tolerance": within,
        "within_tolerance_rate": _rate(within, len(rows)),
        "tolerance_s": TIMING_TOLERANCE_S,
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def format_pooled(pooled: dict[str, Any]) -> list[str]:
    se, mu, si = pooled["sound_event"], pooled["music_clips"], pooled["silence_clips"]
    lines = [
        f"sound_event clips with the reference label: {se['hits']}/{se['clips']} ({_pct(se['hit_rate'])}); "
        f"same category: {se['category_hits']}/{se['clips']} ({_pct(se['category_hit_rate'])})",
        f"music on music clips: {mu['with_music']}/{mu['clips']}; music on silence clips: "
        f"{si['with_music']}/{si['clips']}; predicted labels accepted by a reference: {_pct(pooled['label_precision'])}",
    ]
    if "timing" in pooled:
        t = pooled["timing"]
        lines.append(f"timing: {t['within_tolerance']}/{t['events']} events with onset and offset within "
                     f"{t['tolerance_s']} s ({_pct(t['within_tolerance_rate'])}); median |onset| "
                     f"{t['onset_median_abs_s']}, |offset| {t['offset_median_abs_s']} s")
    for lab, d in pooled["per_label"].items():
        lines.append(f"  {lab:18s} recall {_pct(d['recall']):>6s} of {d['references']:3d}   "
                     f"precision {_pct(d['precision']):>6s} of {d['predicted']:3d}")
    return lines


def format_clip(figures: dict[str, Any]) -> str:
    refs = ", ".join(f"{r['class']}{'✓' if r['found'] else '✗'}" for r in figures["references"]) or "-"
    return f"refs {refs}; predicted {', '.join(figures['predicted']) or '-'}"
