"""Shared fixtures: one Ray session per test run, demo clips, the shared reference data."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "uas_pipeline" / "data" / "demo"
SHARED = Path(os.environ.get("UAS_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def ray_session():
    """Start Ray once for the whole session; yields the address other drivers can join."""
    import ray

    # A short temp dir: Ray's unix socket paths must stay under ~107 characters.
    temp = Path(tempfile.mkdtemp(prefix="uasray", dir="/tmp"))
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING", _temp_dir=str(temp))
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def refdata() -> Path:
    path = SHARED / "refdata"
    if not (path / "MANIFEST.jsonl").is_file():
        pytest.skip(f"reference data not available at {path} (set UAS_SHARED_DIR)")
    return path
