"""Joining the records of an output directory to references, streaming the shards.

Rules, in priority order (a reference takes the matches of its best rule only):

1. ``id``: the record's ``clip_id`` equals the reference key (refdata ``path``: running the pipeline
   on ``--input ../shared/refdata`` gives exactly these ids; or the simple format's ``id``).
2. ``regions``: the record is a region of a long file (``ID#r0000``…) and ``ID`` equals the key;
   all regions are stitched back into one record in file time (:mod:`.stitch`).
3. ``source``: the record's ``clip.source`` and the reference's audio are the same file (paths
   resolved) and cover the same part: both whole (no offset), or the same ``offset_s`` (±1 ms).
4. ``source-regions``: records of parts of that file (``clip.offset_s`` set) when the reference
   covers the whole file; stitched in file time.

Two records for one reference by rule 1 or 3 make the reference *ambiguous* (not scored). The
shards are read batch by batch; the matching uses ``clip_id, source, offset_s``, and only the rows
that match a reference keep their UAS JSON (as text) in memory; records are parsed one reference at a
time while scoring (:func:`load_joined`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..schema import UASRecord
from ..writer import data_shards
from .references import Reference, ReferenceSet, real
from .stitch import REGION_ID, StitchError, stitch_regions

OFFSET_TOLERANCE_S = 0.001
MAX_LISTED_IDS = 1000
"""Ids listed per category in the join report (counts are always complete)."""

_RULES = ("id", "regions", "source", "source-regions")
_GROUP_RULES = ("regions", "source-regions")


@dataclass
class _Row:
    clip_id: str
    uas: str
    speaker_turns: str | None = None
    """The diarization stage's ``speaker_turns`` side column (JSON), where the shard has it."""


@dataclass
class Match:
    """A reference and the rows joined to it, kept as JSON text until scored."""

    reference: Reference
    rule: str
    rows: list[_Row]

    @property
    def clip_ids(self) -> list[str]:
        return [r.clip_id for r in self.rows]


@dataclass
class Joined:
    """A reference and the record scored against it (stitched from regions where it says so)."""

    reference: Reference
    record: UASRecord
    rule: str
    clip_ids: list[str]
    """The record ids joined (several for stitched regions)."""
    speaker_turns: list[tuple[float, float, str]] | None = None
    """The diarization stage's own turns (``speaker_turns`` column) for a record joined whole;
    ``None`` where the shard has no such column or the record was stitched from regions."""


@dataclass
class _Candidates:
    rank: int
    rows: list[_Row] = field(default_factory=list)


@dataclass
class JoinReport:
    records: int = 0
    invalid_records: dict[str, str] = field(default_factory=dict)
    """clip id → why its UAS JSON could not be read (only records that matched a reference)."""
    unmatched_records: int = 0
    unmatched_ids: list[str] = field(default_factory=list)
    superseded_ids: list[str] = field(default_factory=list)
    """Records that matched a reference only by a lower-priority rule than another record."""
    missing: list[str] = field(default_factory=list)
    """References without any record."""
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    unjoinable: dict[str, str] = field(default_factory=dict)
    """References whose records could not be combined (e.g. overlapping regions), with the reason."""
    by_rule: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "records_read": self.records,
            "joined": sum(self.by_rule.values()),
            "joined_by_rule": dict(self.by_rule),
            "references_without_record": {"count": len(self.missing), "ids": self.missing},
            "records_without_reference": {
                "count": self.unmatched_records,
                "ids": self.unmatched_ids,
                "ids_truncated": self.unmatched_records > len(self.unmatched_ids),
            },
            "superseded_records": self.superseded_ids,
            "ambiguous_references": self.ambiguous,
            "unjoinable_references": self.unjoinable,
            "invalid_records": self.invalid_records,
        }


def iter_rows(out_dir: Path, batch_size: int = 256
              ) -> Iterator[tuple[str, str | None, float | None, Any, str | None]]:
    """Yield ``(clip_id, source, offset_s, uas, speaker_turns)`` per data row, batch by batch;
    ``uas`` is the Arrow scalar (``.as_py()`` decodes the JSON string only when asked for)."""
    for shard in data_shards(out_dir):
        pf = pq.ParquetFile(shard)
        names = set(pf.schema_arrow.names)
        columns = [c for c in ("clip_id", "source", "offset_s", "uas", "speaker_turns") if c in names]
        for batch in pf.iter_batches(columns=columns, batch_size=batch_size):
            ids = batch.column("clip_id").to_pylist()
            n = len(ids)
            sources = batch.column("source").to_pylist() if "source" in names else [None] * n
            offsets = batch.column("offset_s").to_pylist() if "offset_s" in names else [None] * n
            turns = batch.column("speaker_turns").to_pylist() if "speaker_turns" in names else [None] * n
            uas = batch.column("uas")
            for i in range(n):
                yield ids[i], sources[i], offsets[i], uas[i], turns[i]


def _matches(refs: ReferenceSet, clip_id: str, source: str | None,
             offset: float | None) -> list[tuple[Reference, str]]:
    found: list[tuple[Reference, str]] = []
    if clip_id in refs.by_key:
        found.append((refs.by_key[clip_id], "id"))
    region = REGION_ID.match(clip_id)
    if region and offset is not None and region["file"] in refs.by_key:
        found.append((refs.by_key[region["file"]], "regions"))
    if source is not None and refs.by_audio:
        for ref in refs.by_audio.get(real(source), ()):
            if ref.offset_s is None:
                found.append((ref, "source" if offset is None else "source-regions"))
            elif offset is not None and abs(ref.offset_s - offset) <= OFFSET_TOLERANCE_S:
                found.append((ref, "source"))
    return found


def join_records(out_dir: Path, refs: ReferenceSet) -> tuple[list[Match], JoinReport]:
    """Stream the shards once and match every reference to its rows (see the module docstring for
    the rules); the records are parsed later, one reference at a time, by :func:`load_joined`."""
    report = JoinReport()
    best: dict[str, _Candidates] = {}
    for clip_id, source, offset, uas, speaker_turns in iter_rows(out_dir):
        report.records += 1
        matches = _matches(refs, clip_id, source, offset)
        if not matches:
            report.unmatched_records += 1
            if len(report.unmatched_ids) < MAX_LISTED_IDS:
                report.unmatched_ids.append(clip_id)
            continue
        text = uas.as_py()
        ranks: dict[str, tuple[int, Reference]] = {}
        for ref, rule in matches:  # one record may match a reference by several rules: keep the best
            rank = _RULES.index(rule)
            if ref.key not in ranks or rank < ranks[ref.key][0]:
                ranks[ref.key] = (rank, ref)
        for rank, ref in ranks.values():
            cand = best.get(ref.key)
            if cand is None or rank < cand.rank:
                if cand is not None:
                    report.superseded_ids += [r.clip_id for r in cand.rows]
                best[ref.key] = cand = _Candidates(rank)
            if rank == cand.rank:
                cand.rows.append(_Row(clip_id, text, speaker_turns))
            else:
                report.superseded_ids.append(clip_id)
    found: list[Match] = []
    for ref in refs.references:
        cand = best.pop(ref.key, None)
        if cand is None:
            report.missing.append(ref.key)
            continue
        rule = _RULES[cand.rank]
        if rule not in _GROUP_RULES and len(cand.rows) > 1:
            report.ambiguous[ref.key] = [r.clip_id for r in cand.rows]
            continue
        found.append(Match(ref, rule, cand.rows))
    report.superseded_ids = sorted(set(report.superseded_ids))
    return found, report


def load_joined(matches: list[Match], report: JoinReport) -> Iterator[Joined]:
    """Parse (and stitch) the record of each match, one at a time; a match whose records are invalid
    or cannot be stitched is recorded in ``report`` and skipped."""
    for match in matches:
        ref, rule = match.reference, match.rule
        records = []
        for row in match.rows:
            try:
                records.append(UASRecord.from_json(row.uas))
            except ValueError as exc:  # pydantic's ValidationError and JSONDecodeError are ValueErrors
                report.invalid_records[row.clip_id] = str(exc).splitlines()[0]
        if len(records) < len(match.rows):
            report.unjoinable[ref.key] = "a matching record is invalid"
            continue
        if rule in _GROUP_RULES:
            try:
                record = stitch_regions(records, from_region_ids=rule == "regions", file_id=ref.key)
            except StitchError as exc:
                report.unjoinable[ref.key] = str(exc)
                continue
        else:
            record = records[0]
        turns = None
        if rule not in _GROUP_RULES and match.rows[0].speaker_turns:
            turns = [(float(a), float(b), str(spk)) for a, b, spk in json.loads(match.rows[0].speaker_turns)]
        report.by_rule[rule] = report.by_rule.get(rule, 0) + 1
        yield Joined(reference=ref, record=record, rule=rule, clip_ids=match.clip_ids, speaker_turns=turns)
