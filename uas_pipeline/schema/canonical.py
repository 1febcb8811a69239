"""Deterministic canonical JSON for UAS records and the generated JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from .models import UASRecord


def to_canonical_json(record: UASRecord) -> str:
    """Serialize a record: spec key order, UTF-8, no whitespace, rounded floats, NaN impossible.

    Field order comes from the models (which follow the spec); free-form dicts are key-sorted by
    their validators, so the same record always gives the same bytes.
    """
    return json.dumps(
        record.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a UAS record, generated from the pydantic models."""
    schema = UASRecord.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/uas-pipeline/uas-pipeline/schemas/uas.schema.json",
        **schema,
    }


def json_schema_text() -> str:
    """The schema as committed in ``schemas/uas.schema.json`` (stable formatting)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
