"""The core install (``pip install uas-pipeline`` without extras) imports, runs a VAD-only recipe,
and refuses a stage whose extra is missing with a message naming the extra.

Builds the wheel and installs it with its core dependencies only into a fresh virtual environment
(pins from constraints.txt, the CPU torch), so extras installed in the development environment
cannot hide a missing core dependency.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .conftest import DEMO_DIR, REPO

pytestmark = pytest.mark.slow
EXTRA_MODULES = ("librosa", "parselmouth", "resemblyzer", "pyannote.audio", "transformers", "lhotse",
                 "jiwer", "ai_edge_litert", "matplotlib")


def _run(cmd: list[str], cwd: Path, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})})
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("core")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work), str(REPO)],
         cwd=work)
    (wheel,) = work.glob("uas_pipeline-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt")]
    _run([*pip, "torch==2.13.0"], cwd=work)
    _run([*pip, str(wheel)], cwd=work)
    return venv


def test_core_install_has_no_extras_and_imports(core_env):
    python = str(core_env / "bin" / "python")
    code = ("import importlib.util, json; import uas_pipeline.cli, uas_pipeline.runner, uas_pipeline.schema; "
            f"print(json.dumps([m for m in {EXTRA_MODULES!r} if importlib.util.find_spec(m.split('.')[0])]))")
    found = json.loads(_run([python, "-c", code], cwd=core_env).stdout)
    assert found == [], f"extras leaked into the core install: {found}"
    _run([str(core_env / "bin" / "uas-pipeline"), "--help"], cwd=core_env)


def test_core_install_runs_a_vad_only_recipe(core_env, tmp_path):
    manifest = tmp_path / "two.jsonl"
    manifest.write_text("".join(json.dumps({"audio": str(DEMO_DIR / n)}) + "\n"
                                for n in ("speech_01.flac", "sound_01.flac")))
    out = tmp_path / "out"
    cli = str(core_env / "bin" / "uas-pipeline")
    ray_temp = tempfile.mkdtemp(prefix="uascore", dir="/tmp")  # short: Ray's socket paths must fit
    _run([cli, "run", str(REPO / "recipes" / "demo.yaml"), "--input", str(manifest), "--output", str(out), "--quiet",
          "--set", "stages.asr.enabled=false", "--set", "stages.events.enabled=false",
          "--set", f"runtime.temp_dir={ray_temp}", "--set", "runtime.num_cpus=2"], cwd=tmp_path)
    shutil.rmtree(ray_temp, ignore_errors=True)
    check = _run([cli, "validate", str(out)], cwd=tmp_path)
    assert "records: 2 (2 valid" in check.stdout


def test_core_install_names_the_missing_extra(core_env, tmp_path):
    done = subprocess.run([str(core_env / "bin" / "uas-pipeline"), "run", str(REPO / "recipes" / "full.yaml"),
                           "--output", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "needs the [diarization] extra: pip install 'uas-pipeline[diarization]'" in done.stderr, done.stderr
