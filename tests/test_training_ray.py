"""Training through Ray: ``uas-pipeline train recipes/train-tiny.yaml`` end to end (annotating the demo
set first because the data directory is empty), the Ray Train path with one worker, Ray Data ingestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uas_pipeline.cli import main as cli_main
from uas_pipeline.schema import UASRecord
from uas_pipeline.training.checkpoint import load_checkpoint
from uas_pipeline.training.data import iter_rows, list_shards

from .test_training import tiny_recipe
from .training_fixtures import write_demo_shards

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_train_tiny_annotates_the_demo_then_trains_through_ray_train_and_evaluates(ray_session, tmp_path, capsys):
    """One run covers the CLI, the demo annotation of an empty data directory, the Ray Train path
    (``TorchTrainer``, one worker) and the evaluation after training."""
    demo = tmp_path / "demo"
    out = tmp_path / "train"
    rc = cli_main([
        "train", str(REPO / "recipes" / "train-tiny.yaml"),
        "--set", f"data.train={demo}", "--output", str(out),
        "--set", "trainer.use_ray=true", "--set", "trainer.num_workers=1",
        "--set", "trainer.max_steps=4", "--set", "trainer.log_every=2", "--set", "trainer.save_every=0",
        "--set", "eval.max_new_tokens=24",
    ])
    captured = capsys.readouterr()
    assert rc == 0, captured.err[-2000:]
    records = [UASRecord.from_json(text) for _, text in iter_rows(list_shards([str(demo)]))]
    assert len(records) == 8 and all(r.transcription is not None for r in records)
    assert "annotating with" in captured.err and "Ray Train: 1 worker(s)" in captured.err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and all(r["loss"] > 0 for r in rows)
    assert load_checkpoint(out).meta["step"] == 4
    lines = captured.out.splitlines()
    assert any(line.startswith("loss: ") for line in lines)
    valid_lines = [line for line in lines if line.strip().startswith("schema_valid: ")]
    assert len(valid_lines) == 2  # holdout, then train
    for line in valid_lines:
        assert 0.0 <= float(line.split(":")[1]) <= 1.0
    assert (out / "eval-holdout.jsonl").is_file() and (out / "checkpoints" / "step-0000004").is_dir()


def test_ray_data_rows_become_the_same_examples(ray_session, tmp_path):
    """The Ray Data ingestion (used when Ray Train joins a cluster): split filter, audio decoding in Ray
    tasks, examples built in the worker exactly as the PyTorch stream builds them."""
    from uas_pipeline.training.data import ExampleBuilder, ExampleStream, examples_from_ray_rows, ray_dataset
    from uas_pipeline.training.text_tokenizer import ByteTokenizer, default_phrases

    data = write_demo_shards(tmp_path / "shards", ["speech_01", "speech_02", "sound_01", "silence_01"])
    recipe = tiny_recipe(data, tmp_path / "out", "continuous", data__holdout_fraction=0.25, data__holdout_seed=1,
                         data__tasks={"compact": 1.0, "caption": 1.0})
    tok = ByteTokenizer(default_phrases())
    builder = ExampleBuilder(recipe.data, tok.encode, tok.eos_id, 0, 4096)
    rows = ray_dataset(recipe.data, "train").take_all()
    assert {r["clip_id"] for r in rows} == {"speech_01", "speech_02", "sound_01"}  # silence_01 held out
    from_ray = {e.clip_id: e for e in examples_from_ray_rows(iter(rows), builder, epoch=0)}
    local = {e.clip_id: e for e in ExampleStream(recipe.data, "train", builder, repeat=False)}
    assert set(from_ray) == set(local)
    for cid, e in local.items():
        assert (from_ray[cid].view, from_ray[cid].target_ids) == (e.view, e.target_ids)
        assert from_ray[cid].audio.shape == e.audio.shape
