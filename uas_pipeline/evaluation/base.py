"""The metric-family interface every scorer of ``uas-pipeline eval`` follows.

A family is any object (a class instance here, or a plug-in *module* with these functions):

* ``applies(entry) -> bool`` — whether a reference entry (refdata shape: ``entry["reference"]`` holds
  the labels, ``entry.get("category")``) carries labels this family scores;
* ``score_clip(record, entry, ref_dir) -> dict`` — the figures of one joined clip (JSON values);
  return ``{"unscored": "<reason>"}`` when this clip cannot be scored (e.g. the stage did not run),
  so it is counted by reason and left out of the pool;
* ``pool(per_clip) -> dict`` — pooled figures from the scored clips' dicts.

Optional: ``NAME`` (the family's key; a module defaults to its name without ``eval_``), ``TITLE``,
``format_pooled(pooled) -> list[str]`` and ``format_clip(figures) -> str`` for the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import UASRecord

UNSCORED = "unscored"


def unscored(reason: str) -> dict[str, str]:
    """The per-clip result of a clip a family cannot score."""
    return {UNSCORED: reason}


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


class MetricFamily:
    """Base of the core families (plug-in modules need not subclass it)."""

    NAME = ""
    TITLE = ""

    def applies(self, entry: dict[str, Any]) -> bool:
        raise NotImplementedError

    def score_clip(self, record: UASRecord, entry: dict[str, Any], ref_dir: Path) -> dict[str, Any]:
        raise NotImplementedError

    def pool(self, per_clip: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"
