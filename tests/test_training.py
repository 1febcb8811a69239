"""Training both variants on CPU with tiny configs: the loss falls, overfitted records come back as
schema-valid ``compact`` JSON through ``uas-pipeline generate``, checkpoints resume.

Each variant trains once per module (about 30–50 s on 2 shared cores); the tests share that run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from uas_pipeline.cli import main as cli_main
from uas_pipeline.targets import check_view_output
from uas_pipeline.training.cli import run_evaluation
from uas_pipeline.training.recipe import TrainRecipe, validate_train_recipe
from uas_pipeline.training.trainer import train

from .training_fixtures import DEMO_DIR, demo_manifest, write_demo_shards

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
OVERFIT_IDS = ["speech_01", "speech_music_01", "speech_beeps_01", "sound_01"]  # speech, music, beeps, no speech
STEPS = 90


def tiny_recipe(data: Path, out: Path, variant: str, **overrides) -> TrainRecipe:
    doc = {
        "name": f"test-{variant}",
        "data": {"train": [str(data)], "tasks": {"compact": 1.0}},
        "model": {
            "variant": variant,
            "lm": {"tiny": {"hidden_size": 128, "num_layers": 2, "num_heads": 4, "intermediate_size": 256}},
            "encoder": {"n_state": 64, "n_head": 2, "n_layer": 1},
            "audio_tokenizer": {"num_codes": 32},
        },
        "trainer": {"output_dir": str(out), "max_steps": STEPS, "batch_size": 4, "lr": 3e-3, "warmup_steps": 5,
                    "log_every": 10, "threads": 1, "save_every": 50},
        "eval": {"splits": ["train"], "max_new_tokens": 300},
    }
    for dotted, value in overrides.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return validate_train_recipe(doc)


@pytest.fixture(scope="module")
def overfit_data(tmp_path_factory) -> Path:
    return write_demo_shards(tmp_path_factory.mktemp("overfit") / "shards", OVERFIT_IDS)


@pytest.fixture(scope="module", params=["continuous", "discrete"])
def trained(request, overfit_data, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"train-{request.param}") / "out"
    recipe = tiny_recipe(overfit_data, out, request.param)
    return recipe, train(recipe, say=lambda _msg: None)


def test_loss_falls(trained):
    recipe, result = trained
    assert result.steps == STEPS and result.start_step == 0
    first, last = result.losses[0][1], result.losses[-1][1]
    assert first > 2.0, "an untrained model should not already know the targets"
    assert last < 0.25 * first, result.losses
    rows = [json.loads(line) for line in (Path(result.output_dir) / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(10, STEPS + 1, 10))
    assert all(r["audio_s_per_s"] > 0 and r["target_tokens_per_s"] > 0 and r["eta_s"] >= 0 for r in rows)


def test_checkpoint_directory(trained):
    recipe, result = trained
    ckpt = Path(result.checkpoint)
    assert ckpt.name == f"step-{STEPS:07d}"
    for name in ("meta.json", "model.pt", "lm_config/config.json", "train_recipe.yaml", "trainer_state.pt"):
        assert (ckpt / name).is_file(), name
    assert (ckpt / "text_tokenizer" / "byte_tokenizer.json").is_file()
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["variant"] == recipe.model.variant and meta["step"] == STEPS
    if recipe.model.variant == "discrete":
        assert meta["audio_tokenizer"]["num_codes"] == 32 and meta["audio_tokenizer"]["features"] == "log_mel"
    else:
        assert meta["encoder"]["n_state"] == 64 and meta["projector"] == {"downsample": 4}
    # keep_checkpoints=2: the step-50 checkpoint and the final one
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["step-0000050", f"step-{STEPS:07d}"]


def test_generate_gives_schema_valid_compact_json_for_overfitted_records(trained, capsys):
    recipe, result = trained
    entries = {e["id"]: e for e in demo_manifest()}
    audio = [str(DEMO_DIR / entries[i]["audio"]) for i in OVERFIT_IDS]
    assert cli_main(["generate", result.output_dir, *audio, "--device", "cpu", "--max-new-tokens", "300"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == len(audio)
    schema = json.loads((REPO / "schemas" / "compact-target.schema.json").read_text())
    validator = Draft202012Validator(schema)
    valid = 0
    for line in lines:
        doc = json.loads(line)  # every line is JSON, even a failed generation (then a string)
        ok = check_view_output("compact", json.dumps(doc)).valid
        assert ok == (isinstance(doc, dict) and not list(validator.iter_errors(doc)))
        valid += ok
    assert valid / len(lines) >= 0.9, captured.out
    # Memorised: the speech clips' transcripts come back (tolerantly compared).
    texts = {i: json.loads(line).get("text") for i, line in zip(OVERFIT_IDS, lines, strict=True)
             if line.startswith("{")}
    assert sum(entries[i]["text"].lower()[:10] == (texts.get(i) or "").lower()[:10] for i in OVERFIT_IDS) >= 3
    assert "valid compact outputs" in captured.err


def test_evaluation_after_training_reports_schema_validity(trained, capsys):
    recipe, result = trained
    metrics = run_evaluation(recipe.resolved(), result.checkpoint)
    out = capsys.readouterr().out
    assert metrics["train"]["records"] == 4
    assert metrics["train"]["schema_valid"] >= 0.9
    assert metrics["train"]["wer"] < 0.5 and metrics["train"]["gender_accuracy"] >= 0.5
    assert "  schema_valid: " in out
    rows = (Path(result.output_dir) / "eval-train.jsonl").read_text().splitlines()
    assert len(rows) == 5 and json.loads(rows[0])["metrics"]["records"] == 4


def test_resume_continues_from_the_newest_checkpoint(trained, tmp_path):
    recipe, result = trained
    out = tmp_path / "resumed"
    shutil.copytree(result.output_dir, out)
    more = recipe.model_copy(update={"trainer": recipe.trainer.model_copy(
        update={"output_dir": str(out), "max_steps": STEPS + 4, "log_every": 2})})
    again = train(more, say=lambda _msg: None)
    assert (again.start_step, again.steps) == (STEPS, STEPS + 4)
    # The restored optimizer keeps the memorised loss low (a fresh start would be near the first loss).
    assert again.losses[-1][1] < 0.5 * result.losses[0][1]
    assert Path(again.checkpoint).name == f"step-{STEPS + 4:07d}"


def test_whisper_checkpoint_initialises_the_encoder_and_discrete_encoder_features(overfit_data, tmp_path):
    """A random-weight openai-whisper checkpoint: continuous encoder weights come from it, and the
    discrete variant's tokenizer can use its encoder's features."""
    import torch

    whisper_model = pytest.importorskip("whisper.model")
    ModelDimensions, Whisper = whisper_model.ModelDimensions, whisper_model.Whisper

    from uas_pipeline.training.checkpoint import load_checkpoint
    from uas_pipeline.training.generate import generate_texts

    dims = ModelDimensions(n_mels=80, n_audio_ctx=400, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                           n_vocab=64, n_text_ctx=8, n_text_state=32, n_text_head=2, n_text_layer=1)
    torch.manual_seed(3)
    whisper = Whisper(dims)
    ckpt = tmp_path / "whisper-random.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": whisper.state_dict()}, ckpt)
    common = {"data__max_audio_s": 8.0, "trainer__max_steps": 2, "trainer__save_every": 0,
              "model__encoder__whisper_checkpoint": str(ckpt)}

    cont = tiny_recipe(overfit_data, tmp_path / "cont", "continuous", model__encoder__freeze=True, **common)
    res = train(cont, say=lambda _msg: None)
    loaded = load_checkpoint(res.checkpoint)
    assert torch.equal(loaded.model.encoder.encoder.conv1.weight, whisper.encoder.conv1.weight)  # frozen: unchanged
    assert loaded.meta["encoder"]["n_ctx"] == 400

    disc = tiny_recipe(overfit_data, tmp_path / "disc", "discrete", model__audio_tokenizer__num_codes=8, **common)
    res = train(disc, say=lambda _msg: None)
    loaded = load_checkpoint(res.checkpoint)
    assert loaded.meta["audio_tokenizer"]["features"] == "encoder" and loaded.meta["audio_tokenizer"]["dim"] == 32
    audio = torch.randn(16000).numpy() * 0.1
    (text,) = generate_texts(loaded, [audio], "compact", "x", max_new_tokens=5)
    assert isinstance(text, str)


def test_a_local_transformers_lm_with_its_own_tokenizer(overfit_data, tmp_path):
    """``model.lm.source`` as a local directory: the LM and its tokenizer load from it (no hub)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [json.dumps({"text": e["text"]}) for e in demo_manifest()] * 3
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    from tokenizers import decoders

    tk.decoder = decoders.ByteLevel()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                     unk_token="<unk>")
    lm_dir = tmp_path / "local-lm"
    hf_tok.save_pretrained(str(lm_dir))
    cfg = LlamaConfig(vocab_size=len(hf_tok), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    LlamaForCausalLM(cfg).save_pretrained(str(lm_dir))

    recipe = tiny_recipe(overfit_data, tmp_path / "out", "discrete", model__lm__source=str(lm_dir),
                         model__lm__local_files_only=True, data__tasks={"asr": 1.0}, trainer__max_steps=3,
                         trainer__save_every=0)
    res = train(recipe, say=lambda _msg: None)
    ckpt = Path(res.checkpoint)
    assert (ckpt / "text_tokenizer" / "tokenizer.json").is_file()
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["text_vocab_size"] == len(hf_tok)
    entries = {e["id"]: e for e in demo_manifest()}
    assert cli_main(["generate", str(ckpt), str(DEMO_DIR / entries["speech_01"]["audio"]), "--view", "asr",
                     "--max-new-tokens", "8", "--meta"]) == 0
