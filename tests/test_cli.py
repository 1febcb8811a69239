"""The CLI's non-running commands on hand-made output directories (no Ray, no models)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from uas_pipeline.cli import main
from uas_pipeline.schema import json_schema
from uas_pipeline.tasks import flat_columns
from uas_pipeline.writer import DATA_COLUMNS

from .conftest import REPO
from .fixtures_records import canonical_dumps, minimal_record, rich_record


def _write_dataset(out, records, uas_override=None):
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, rec in enumerate(records):
        row = {"clip_id": rec.clip.id, "source": rec.clip.source, "offset_s": None, "recipe_hash": "0" * 16}
        row.update(flat_columns(rec))
        if uas_override and i in uas_override:
            row["uas"] = uas_override[i]
        rows.append({c: row.get(c) for c in DATA_COLUMNS})
    pq.write_table(pa.Table.from_pylist(rows), out / "part-test-00000.parquet")


def test_schema_command_prints_the_committed_schema(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json_schema()
    assert printed == json.loads((REPO / "schemas" / "uas.schema.json").read_text())


def test_validate_accepts_good_and_rejects_bad_records(tmp_path, capsys):
    good = [rich_record(), minimal_record().model_copy(update={"clip": minimal_record().clip.model_copy(
        update={"id": "other"})})]
    _write_dataset(tmp_path / "good", good)
    assert main(["validate", str(tmp_path / "good")]) == 0
    assert "records: 2 (2 valid, 0 invalid)" in capsys.readouterr().out

    doc = json.loads(good[0].to_json())
    doc["transcription"]["segments"][0]["end"] = doc["clip"]["duration_s"] + 5  # past the clip
    _write_dataset(tmp_path / "bad", good, uas_override={0: canonical_dumps(doc)})
    assert main(["validate", str(tmp_path / "bad")]) == 1
    out = capsys.readouterr().out
    assert "1 invalid" in out and "INVALID" in out and good[0].clip.id in out


def test_validate_rejects_duplicates_and_empty_dirs(tmp_path, capsys):
    rec = rich_record()
    _write_dataset(tmp_path / "dup", [rec, rec])
    assert main(["validate", str(tmp_path / "dup")]) == 1
    assert "duplicate clip_id" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 1
    assert main(["validate", str(tmp_path / "missing")]) == 2


def test_inspect_summary_and_record(tmp_path, capsys):
    rec = rich_record()
    _write_dataset(tmp_path / "d", [rec])
    assert main(["inspect", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "records: 1" in out and rec.transcription.text in out
    assert main(["inspect", str(tmp_path / "d"), rec.clip.id, "--json"]) == 0
    assert capsys.readouterr().out.strip() == rec.to_json()
    assert main(["inspect", str(tmp_path / "d"), "no-such-clip"]) == 1


def test_kuberay_example_runs_a_valid_recipe(tmp_path):
    """The RayJob's entrypoint names a recipe and overrides that the pipeline accepts."""
    import shlex

    import yaml

    from uas_pipeline.recipe import load_recipe

    job = yaml.safe_load((REPO / "docker" / "kuberay-rayjob.yaml").read_text())
    assert job["kind"] == "RayJob"
    args = shlex.split(job["spec"]["entrypoint"])
    assert args[:2] == ["uas-pipeline", "run"]
    recipe_path = REPO / "recipes" / args[2].rsplit("/", 1)[-1]
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    recipe = load_recipe(recipe_path, overrides)
    assert recipe.runtime.ray_address == "auto"
    images = {c["image"] for g in [job["spec"]["rayClusterSpec"]["headGroupSpec"],
                                   *job["spec"]["rayClusterSpec"]["workerGroupSpecs"]]
              for c in g["template"]["spec"]["containers"]}
    assert all("uas-pipeline" in image for image in images)


def test_progress_line_has_rate_and_eta():
    from uas_pipeline.cli import progress_line
    from uas_pipeline.runner import RunSummary

    s = RunSummary(output_dir="o", ok=3, failed=1, pending_entries=10, entries_done=4.0, audio_s=120.0)
    line = progress_line(s, elapsed=60.0)
    assert "4/10 inputs (40%)" in line and "2.0x real time" in line and "0.07 inputs/s" in line
    assert "01:00 elapsed" in line and "ETA 01:30" in line
    assert "ETA --:--" in progress_line(RunSummary(output_dir="o", pending_entries=5), elapsed=3.0)


def test_progress_is_throttled_off_a_terminal(capsys, monkeypatch):
    from uas_pipeline.cli import _progress_printer
    from uas_pipeline.runner import RunSummary

    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    show = _progress_printer(quiet=False, interval_s=10.0)
    s = RunSummary(output_dir="o", pending_entries=2)
    for t in (1.0, 5.0, 12.0, 15.0, 25.0):
        show(s, t)
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
    assert _progress_printer(quiet=True) is None
