"""Deterministic canonical JSON for UAS records and the generated JSON Schema."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from .models import SUPPORTED_VERSIONS, UAS_VERSION, UASRecord


def to_canonical_json(record: UASRecord) -> str:
    """Serialize a record: spec key order, UTF-8, no whitespace, rounded floats, NaN impossible.

    Field order comes from the models (which follow the spec); free-form dicts are key-sorted by
    their validators, so the same record always gives the same bytes.
    """
    return record.to_json()



def json_schema(version: str = UAS_VERSION) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a UAS record of ``version``.

    The current version is generated from the pydantic models; 1.0 is the schema as it was
    released, frozen in ``schemas/uas-1.0.schema.json`` (packaged as ``uas_pipeline/schema/data``)."""
    if version != UAS_VERSION:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"unknown uas_version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}")
        return json.loads(files(__package__).joinpath(f"data/uas-{version}.schema.json").read_text())
    schema = UASRecord.model_json_schema(mode="validation")
    # The models also read 1.0 records (upgraded on read); the schema of this version names only it.
    schema["properties"]["uas_version"] = {"const": UAS_VERSION, "title": "Uas Version", "type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/uas-pipeline/uas-pipeline/schemas/uas.schema.json",
        **schema,
    }


def json_schema_text() -> str:
    """The schema as committed in ``schemas/uas.schema.json`` (stable formatting)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
