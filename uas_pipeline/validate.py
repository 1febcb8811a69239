"""Checking an output directory: JSON Schema, the spec's cross-field rules, canonical form, no duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from .schema import SUPPORTED_VERSIONS, UAS_VERSION, UASRecord, json_schema
from .writer import data_shards, error_shards

MAX_REPORTED = 20


@dataclass
class ValidationReport:
    records: int = 0
    valid: int = 0
    errors_in_ledger: int = 0
    shards: int = 0
    problems: list[str] = field(default_factory=list)
    invalid_count: int = 0

    @property
    def ok(self) -> bool:
        return self.invalid_count == 0 and self.records > 0

    def add_problem(self, message: str) -> None:
        self.invalid_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(message)


class SchemaValidators:
    """One JSON Schema validator per ``uas_version`` (1.0 records stay valid), built on first use."""

    def __init__(self) -> None:
        self._by_version: dict[str, Draft202012Validator] = {}

    def for_doc(self, doc: object) -> Draft202012Validator:
        version = doc.get("uas_version") if isinstance(doc, dict) else None
        if version not in SUPPORTED_VERSIONS:
            version = UAS_VERSION  # its schema reports the bad version
        if version not in self._by_version:
            self._by_version[version] = Draft202012Validator(json_schema(version))
        return self._by_version[version]


def record_problems(text: str, validators: SchemaValidators | Draft202012Validator | None = None) -> list[str]:
    """Every way one canonical UAS JSON string breaks the schema or the spec's rules."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(validators, Draft202012Validator):
        validators = (validators or SchemaValidators()).for_doc(doc)
    validator = validators
    problems = [
        f"schema: {'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in validator.iter_errors(doc)
    ]
    try:
        record = UASRecord.from_json(text)
    except ValidationError as exc:
        problems += [f"rule: {'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
    else:
        if record.to_json() != text:
            problems.append("not canonical: re-serializing the record gives different bytes")
    return problems


def iter_records(out_dir: str | Path) -> Iterator[tuple[Path, str, str]]:
    """Yield ``(shard, clip_id, uas_json)`` batch by batch (constant memory)."""
    for shard in data_shards(out_dir):
        pf = pq.ParquetFile(shard)
        for batch in pf.iter_batches(columns=["clip_id", "uas"], batch_size=256):
            for clip_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                yield shard, clip_id, text


def validate_output(out_dir: str | Path) -> ValidationReport:
    out_dir = Path(out_dir)
    report = ValidationReport(shards=len(data_shards(out_dir)))
    validator = SchemaValidators()
    seen: set[str] = set()
    for shard, clip_id, text in iter_records(out_dir):
        report.records += 1
        problems = record_problems(text, validator)
        if not problems and json.loads(text)["clip"]["id"] != clip_id:
            problems.append("clip_id column differs from clip.id in the record")
        if clip_id in seen:
            problems.append("duplicate clip_id")
        seen.add(clip_id)
        if problems:
            report.add_problem(f"{shard.name} {clip_id}: " + "; ".join(problems))
        else:
            report.valid += 1
    for shard in error_shards(out_dir):
        ids = pq.read_table(shard, columns=["clip_id"]).column("clip_id").to_pylist()
        report.errors_in_ledger += len(ids)
        for clip_id in ids:
            if clip_id in seen:
                report.add_problem(f"errors/{shard.name} {clip_id}: clip is both in the data and in the ledger")
    if report.records == 0:
        report.problems.append(f"no records found in {out_dir}")
    return report
