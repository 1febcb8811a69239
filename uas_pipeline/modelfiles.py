"""Identifying model files and package versions for provenance."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_FULL_HASH_LIMIT = 512 * 1024 * 1024
_SAMPLE = 16 * 1024 * 1024


@lru_cache(maxsize=64)
def file_checksum(path: str | Path) -> str:
    """``sha256:<hex>`` of a weights file; over 512 MB, a sampled hash (head, tail and size) labelled
    ``sha256-sampled:`` to keep worker start-up fast on multi-GB checkpoints."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as f:
        if size <= _FULL_HASH_LIMIT:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
            return f"sha256:{h.hexdigest()}"
        h.update(f.read(_SAMPLE))
        f.seek(size - _SAMPLE)
        h.update(f.read(_SAMPLE))
        h.update(str(size).encode())
    return f"sha256-sampled:{h.hexdigest()}"


def package_version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None
