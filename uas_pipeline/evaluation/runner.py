"""Scoring an output directory against references: join, score every family, pool, render."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from .base import UNSCORED
from .join import Joined, JoinReport, join_records, load_joined
from .references import load_references
from .registry import Families, Family, load_families
from .text import NORMALISER

ROW_KEYS = ("clip_id", "reference_id", "join_rule")
"""Keys the runner adds to every per-clip row (families must not use them)."""


@dataclass
class FamilyResult:
    family: Family
    references: int
    """References this family applies to."""
    joined: int
    """Of those, references with a record."""
    clips: list[dict[str, Any]]
    """One row per joined clip: the family's figures plus ``clip_id``, ``reference_id``, ``join_rule``."""
    pooled: dict[str, Any]
    pool_error: str | None = None

    @property
    def scored(self) -> list[dict[str, Any]]:
        return [c for c in self.clips if UNSCORED not in c]

    def unscored_reasons(self) -> dict[str, int]:
        return dict(Counter(c[UNSCORED] for c in self.clips if UNSCORED in c).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.family.title,
            "references": self.references,
            "with_record": self.joined,
            "scored": len(self.scored),
            "unscored": self.unscored_reasons(),
            "pooled": self.pooled,
            **({"pool_error": self.pool_error} if self.pool_error else {}),
            "clips": self.clips,
        }


def _score_clip(family: Family, joined: Joined, ref_dir: Path) -> dict[str, Any]:
    try:
        if hasattr(family.impl, "score_joined"):  # a family that reads more of the row than the record
            out = family.impl.score_joined(joined, ref_dir)
        else:
            out = family.impl.score_clip(joined.record, joined.reference.entry, ref_dir)
    except Exception as exc:  # noqa: BLE001 - one clip's failure is reported, the others still count
        out = {UNSCORED: f"error: {type(exc).__name__}: {exc}"}
    row = {"clip_id": joined.record.clip.id, "reference_id": joined.reference.key, "join_rule": joined.rule}
    return {**row, **{k: v for k, v in out.items() if k not in ROW_KEYS}}


def _pool(result: FamilyResult) -> None:
    figures = [{k: v for k, v in c.items() if k not in ROW_KEYS} for c in result.clips if UNSCORED not in c]
    if not figures:
        return
    try:
        result.pooled = result.family.impl.pool(figures)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in pool must not hide the other families
        result.pool_error = f"{type(exc).__name__}: {exc}"


@dataclass
class EvalResult:
    """Everything ``uas-pipeline eval`` reports."""

    output_dir: Path
    references: Path
    reference_count: int
    join: JoinReport
    families: Families
    results: list[FamilyResult]

    def to_dict(self) -> dict[str, Any]:
        """Every figure, JSON-ready (non-finite floats become null)."""
        return _finite({
            "pipeline_version": __version__,
            "output_dir": str(self.output_dir.resolve()),
            "references": str(self.references.resolve()),
            "reference_count": self.reference_count,
            "normaliser": NORMALISER,
            "join": self.join.to_dict(),
            "plugins": {"loaded": self.families.plugins_loaded, "absent": self.families.plugins_absent,
                        "failed": self.families.plugins_failed},
            "metrics": {r.family.name: r.to_dict() for r in self.results},
        })


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def evaluate(out_dir: str | Path, references: str | Path, families: Families | None = None) -> EvalResult:
    """Join the records of ``out_dir`` to ``references`` and score every family (raises
    ``ReferencesError`` for unreadable references)."""
    out_dir, references = Path(out_dir), Path(references)
    refs = load_references(references)
    families = families or load_families()
    matches, join_report = join_records(out_dir, refs)
    results = [FamilyResult(f, sum(1 for r in refs.references if f.impl.applies(r.entry)), 0, [], {})
               for f in families.families]
    for joined in load_joined(matches, join_report):  # one parsed record in memory at a time
        for result in results:
            if result.family.impl.applies(joined.reference.entry):
                result.joined += 1
                result.clips.append(_score_clip(result.family, joined, refs.ref_dir))
    for result in results:
        _pool(result)
    return EvalResult(out_dir, references, len(refs.references), join_report, families, results)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:57] + "...")
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            rows += _flatten(v, f"{prefix}{k}.")
        else:
            rows.append((f"{prefix}{k}", v))
    return rows


def render_table(result: EvalResult, per_clip: bool = False) -> str:
    """The human-readable report: the join, then one section per metric family."""
    j = result.join.to_dict()
    rules = ", ".join(f"{k} {v}" for k, v in j["joined_by_rule"].items()) or "none"
    lines = [
        f"uas-pipeline eval: {result.output_dir}",
        f"references: {result.references} ({result.reference_count})",
        f"records read: {j['records_read']}; joined: {j['joined']} ({rules})",
        f"references without a record: {j['references_without_record']['count']};"
        f" records without a reference: {j['records_without_reference']['count']}",
    ]
    if j["ambiguous_references"] or j["unjoinable_references"]:
        lines.append(f"not joined: {len(j['ambiguous_references'])} ambiguous,"
                     f" {len(j['unjoinable_references'])} unjoinable (see --json)")
    for name, err in result.families.plugins_failed.items():
        lines.append(f"plug-in {name} not loaded: {err}")
    for res in result.results:
        fam = res.family
        lines.append("")
        lines.append(f"[{fam.name}] {fam.title}")
        if res.references == 0:
            lines.append("  no reference carries these labels")
            continue
        lines.append(f"  references {res.references}, with a record {res.joined}, scored {len(res.scored)}")
        reasons = res.unscored_reasons()
        if reasons:
            lines.append("  not scored: " + "; ".join(f"{k} ({v})" for k, v in reasons.items()))
        if res.pool_error:
            lines.append(f"  pool failed: {res.pool_error}")
        elif res.pooled:
            fmt = getattr(fam.impl, "format_pooled", None)
            body = fmt(res.pooled) if fmt else [f"{k}: {_plain(v)}" for k, v in _flatten(res.pooled)]
            lines += [f"  {line}" for line in body]
        if per_clip and res.clips:
            lines.append("  per clip:")
            fmt_clip = getattr(fam.impl, "format_clip", None)
            for clip in res.clips:
                figures = {k: v for k, v in clip.items() if k not in ROW_KEYS}
                if UNSCORED in figures:
                    text = f"not scored: {figures[UNSCORED]}"
                elif fmt_clip:
                    text = fmt_clip(figures)
                else:
                    text = "  ".join(f"{k}={_plain(v)}" for k, v in _flatten(figures))
                lines.append(f"    {clip['clip_id']}: {text}")
    return "\n".join(lines) + "\n"


def write_json(result: EvalResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
