"""Evaluation of generated target views against the records' own values.

Pure scoring (:func:`score_outputs`, no model): for each record, the reference view and the generated
text. Reported:

* ``parse_ok`` — share of outputs that parse (JSON; a non-empty caption); ``schema_valid`` — share that
  also satisfy the view's schema and rules (:func:`uas_pipeline.targets.check_view_output`).
* ``wer`` — pooled WER of the transcription text (records whose reference has words; an output without
  a text counts as all deletions).
* ``gender_*``, ``age_*``, ``emotion_*`` — accuracy and macro F1 of the speaker labels, speakers matched
  by id; ``level_*`` — the same pooled over the pitch, speaking-rate, loudness, arousal and voice-quality
  levels; a missing prediction is wrong.
* ``event_precision / event_recall / event_f1`` — micro scores of clip-level event labels, over records
  whose events were annotated.

Content metrics read whatever parsed (a schema-invalid output may still name the right gender); the
format is judged by ``schema_valid`` alone. ``None`` means the references hold nothing to score.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation import normalize_text, pooled_wer
from ..schema import UASRecord
from ..targets import check_view_output, render_view

LABEL_ATTRS = ("gender", "age", "emotion")
LEVEL_ATTRS = ("pitch", "speaking_rate", "loudness", "arousal", "voice_quality")
MISSING = "<missing>"


@dataclass
class Facts:
    """What a view says about a clip, in comparable form."""

    text: str | None = None
    speakers: dict[str, dict[str, str | None]] | None = None
    events: set[str] | None = None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _speakers_compact(items: Any) -> dict[str, dict[str, str | None]] | None:
    if not isinstance(items, list):
        return None
    out = {}
    for s in items:
        if isinstance(s, dict) and isinstance(s.get("id"), str):
            out[s["id"]] = {a: _str_or_none(s.get(a)) for a in LABEL_ATTRS + LEVEL_ATTRS}
    return out


def _speakers_uas(items: Any) -> dict[str, dict[str, str | None]] | None:
    if not isinstance(items, list):
        return None
    out = {}
    for s in items:
        if isinstance(s, dict) and isinstance(s.get("id"), str):
            attrs = {a: _str_or_none(_get(s, a, "label")) for a in LABEL_ATTRS}
            attrs.update({a: _str_or_none(_get(s, a, "level")) for a in LEVEL_ATTRS})
            out[s["id"]] = attrs
    return out


def _event_labels(items: Any) -> set[str] | None:
    if not isinstance(items, list):
        return None
    return {e["label"] for e in items if isinstance(e, dict) and isinstance(e.get("label"), str)}


def facts_of(view: str, value: Any) -> Facts:
    """Extract comparable facts from a (reference or parsed) view value; tolerant of bad shapes."""
    if not isinstance(value, dict):
        return Facts()
    if view == "compact":
        return Facts(_str_or_none(value.get("text")), _speakers_compact(value.get("speakers")),
                     _event_labels(value.get("events")))
    if view == "full":
        return Facts(_str_or_none(_get(value, "transcription", "text")),
                     _speakers_uas(_get(value, "paralinguistics", "speakers")),
                     _event_labels(value.get("non_linguistic_events")))
    if view == "asr":
        return Facts(text=_str_or_none(value.get("text")))
    if view == "paralinguistics":
        return Facts(speakers=_speakers_uas(value.get("speakers")))
    if view == "events":
        return Facts(events=_event_labels(value.get("non_linguistic_events")))
    return Facts()


def accuracy_and_macro_f1(pairs: list[tuple[str, str]]) -> tuple[float | None, float | None]:
    """Accuracy and macro F1 (over the classes in references or predictions) of ``(ref, pred)`` pairs."""
    if not pairs:
        return None, None
    acc = sum(r == p for r, p in pairs) / len(pairs)
    classes = {r for r, _ in pairs} | {p for _, p in pairs if p != MISSING}
    f1s = []
    for c in sorted(classes):
        tp = sum(r == c and p == c for r, p in pairs)
        fp = sum(r != c and p == c for r, p in pairs)
        fn = sum(r == c and p != c for r, p in pairs)
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return acc, sum(f1s) / len(f1s)


def micro_prf(pairs: list[tuple[set[str], set[str]]]) -> tuple[float | None, float | None, float | None]:
    """Micro precision, recall and F1 of label sets ``(reference, prediction)``."""
    if not pairs:
        return None, None, None
    tp = sum(len(r & p) for r, p in pairs)
    fp = sum(len(p - r) for r, p in pairs)
    fn = sum(len(r - p) for r, p in pairs)
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0  # nothing to find and nothing claimed: perfect
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    return precision, recall, f1


def score_outputs(view: str, references: list[Any], outputs: list[str]) -> dict[str, Any]:
    """Metrics of generated ``outputs`` against the reference view values (see the module docstring)."""
    if len(references) != len(outputs):
        raise ValueError("references and outputs differ in length")
    n = len(outputs)
    checks = [check_view_output(view, text) for text in outputs]
    metrics: dict[str, Any] = {
        "records": n,
        "parse_ok": None if n == 0 else sum(c.parsed for c in checks) / n,
        "schema_valid": None if n == 0 else sum(c.valid for c in checks) / n,
    }
    refs = [facts_of(view, r) for r in references]
    preds = [facts_of(view, c.value) for c in checks]
    text_pairs = [(r.text, p.text or "") for r, p in zip(refs, preds, strict=True)
                  if r.text is not None and normalize_text(r.text)]
    metrics["wer"] = pooled_wer(text_pairs) if text_pairs else None
    metrics["wer_records"] = len(text_pairs)
    attr_pairs: dict[str, list[tuple[str, str]]] = {a: [] for a in LABEL_ATTRS + ("level",)}
    for r, p in zip(refs, preds, strict=True):
        for sid, ref_attrs in (r.speakers or {}).items():
            pred_attrs = (p.speakers or {}).get(sid, {})
            for a in LABEL_ATTRS + LEVEL_ATTRS:
                ref = ref_attrs.get(a)
                if ref is None:
                    continue
                pred = pred_attrs.get(a) or MISSING
                attr_pairs["level" if a in LEVEL_ATTRS else a].append((ref, pred))
    for a, pairs in attr_pairs.items():
        acc, f1 = accuracy_and_macro_f1(pairs)
        metrics[f"{a}_accuracy"], metrics[f"{a}_f1"] = acc, f1
    event_pairs = [(r.events, p.events or set()) for r, p in zip(refs, preds, strict=True) if r.events is not None]
    metrics["event_precision"], metrics["event_recall"], metrics["event_f1"] = micro_prf(event_pairs)
    return metrics


METRIC_ORDER = (
    "records", "parse_ok", "schema_valid", "wer", "wer_records", "gender_accuracy", "gender_f1", "age_accuracy",
    "age_f1", "emotion_accuracy", "emotion_f1", "level_accuracy", "level_f1", "event_precision", "event_recall",
    "event_f1",
)


def format_metrics(metrics: dict[str, Any]) -> list[str]:
    """``name: value`` lines (fractions with 3 decimals, ``n/a`` when there was nothing to score)."""
    lines = []
    for k in METRIC_ORDER:
        if k not in metrics:
            continue
        v = metrics[k]
        lines.append(f"{k}: {'n/a' if v is None else v if isinstance(v, int) else f'{v:.3f}'}")
    return lines


# --- with a model ------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    split: str
    view: str
    metrics: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    group: list[Any] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def evaluate_records(loaded: Any, records: Iterable[UASRecord], view: str, prompt: str, *, audio_root: str | None,
                     max_audio_s: float, max_records: int, max_new_tokens: int, batch_size: int,
                     device: Any, autocast_dtype: Any = None, split: str = "holdout") -> EvalRun:
    """Generate ``view`` for each record's audio and score it against the record's own view."""
    from ..audio import AudioError
    from .data import clip_audio
    from .generate import generate_texts

    pending: list[tuple[UASRecord, Any, Any]] = []
    skipped = 0
    for record in records:
        if len(pending) >= max_records:
            break
        ref = render_view(record, view)
        if ref is None:
            skipped += 1
            continue
        try:
            audio = clip_audio(record, audio_root, max_audio_s)
        except AudioError:
            skipped += 1
            continue
        if audio is None:
            skipped += 1
            continue
        pending.append((record, ref.value, audio))
    references, outputs, rows = [], [], []
    for group in _chunks(pending, batch_size):
        texts = generate_texts(loaded, [a for _, _, a in group], view, prompt, max_new_tokens=max_new_tokens,
                               batch_size=batch_size, device=device, autocast_dtype=autocast_dtype)
        for (record, ref, _), text in zip(group, texts, strict=True):
            references.append(ref)
            outputs.append(text)
            check = check_view_output(view, text)
            rows.append({"clip_id": record.clip.id, "valid": check.valid, "error": check.error, "output": text})
    return EvalRun(split, view, score_outputs(view, references, outputs), rows, skipped)


def write_eval(run: EvalRun, output_dir: Path) -> Path:
    path = Path(output_dir) / f"eval-{run.split}.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps({"split": run.split, "view": run.view, "skipped": run.skipped, "metrics": run.metrics}) + "\n")
        for row in run.outputs:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
