"""Training module parts that need no training run: recipe, tokenizers, data stream, metrics, encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from uas_pipeline.recipe import RecipeError
from uas_pipeline.targets import render_view
from uas_pipeline.training.data import (
    ExampleBuilder,
    ExampleStream,
    choose_view,
    in_holdout,
    iter_rows,
    list_shards,
)
from uas_pipeline.training.evaluate import accuracy_and_macro_f1, format_metrics, micro_prf, score_outputs
from uas_pipeline.training.recipe import load_train_recipe, validate_train_recipe
from uas_pipeline.training.text_tokenizer import ByteTokenizer, default_phrases
from uas_pipeline.training.trainer import lr_factor

from .fixtures_records import rich_record
from .training_fixtures import write_demo_shards

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_demo_shards(tmp_path_factory.mktemp("shards") / "demo")


# --- recipe ----------------------------------------------------------------------------------------


def test_train_tiny_recipe_loads_and_overrides_apply():
    recipe = load_train_recipe(REPO / "recipes" / "train-tiny.yaml", ["trainer.max_steps=7", "model.variant=discrete"])
    assert recipe.trainer.max_steps == 7 and recipe.model.variant == "discrete"
    assert recipe.data.train == ["out/demo"] and recipe.eval.splits[0] == "holdout"
    resolved = recipe.resolved()
    assert Path(resolved.trainer.output_dir).is_absolute() and Path(resolved.data.train[0]).is_absolute()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.max_stepz=3"], "trainer.max_stepz: unknown key"),
        (["model.lm.tiny.depth=3"], "model.lm.tiny.depth: unknown key"),
        (["data.tasks={summary: 1}"], "data.tasks.summary"),
        (["data.tasks={compact: 0}"], "at least one > 0"),
        (["model.variant=hybrid"], "model.variant: invalid value 'hybrid'"),
        (["model.audio_tokenizer.features=encoder"], "needs model.encoder.whisper_checkpoint"),
        (["trainer.lr=-1"], "trainer.lr"),
    ],
)
def test_recipe_errors_name_the_dotted_key(overrides, message):
    with pytest.raises(RecipeError, match="invalid train recipe") as info:
        load_train_recipe(REPO / "recipes" / "train-tiny.yaml", overrides)
    assert message in str(info.value)


def test_recipe_needs_training_data():
    with pytest.raises(RecipeError, match="data: Field required"):
        validate_train_recipe({"trainer": {"max_steps": 1}})


# --- byte tokenizer --------------------------------------------------------------------------------


def test_byte_tokenizer_round_trips_and_packs_schema_phrases(tmp_path):
    tok = ByteTokenizer(default_phrases(["Transcribe this.\n"]))
    target = render_view(rich_record(), "compact").text()
    ids = tok.encode(target)
    assert tok.decode(ids) == target
    assert len(ids) < 0.6 * len(target.encode())  # keys and labels are single tokens
    assert tok.encode('"gender":') == [tok.encode('"gender":')[0]]  # one phrase token
    assert len(tok.encode("Transcribe this.\n")) == 1
    for text in ("", "plain ascii", "Grüße 日本語 🎵", '"genderx":"femalex"', "nullnull"):
        assert tok.decode(tok.encode(text)) == text
    tok.save(tmp_path)
    again = ByteTokenizer.load(tmp_path)
    assert again.encode(target) == ids and again.vocab_size == tok.vocab_size
    # specials and ids past the text vocabulary (audio tokens) decode to nothing
    assert tok.decode([tok.bos_id, *tok.encode("ok"), tok.eos_id, tok.vocab_size + 5]) == "ok"


# --- data ------------------------------------------------------------------------------------------


def test_holdout_split_is_stable_and_disjoint(shards):
    ids = [cid for cid, _ in iter_rows(list_shards([str(shards)]))]
    assert len(ids) == 8
    held = {i for i in ids if in_holdout(i, 0.25, 1)}
    assert held == {i for i in ids if in_holdout(i, 0.25, 1)}  # same answer every time
    assert 0 < len(held) < len(ids)
    assert not any(in_holdout(i, 0.0, 1) for i in ids)


def test_choose_view_follows_weights_and_support():
    record = rich_record()
    tasks = {"compact": 3.0, "asr": 1.0}
    draws = [choose_view(record, tasks, seed=0, epoch=e) for e in range(400)]
    assert set(draws) == {"compact", "asr"}
    assert 0.65 < draws.count("compact") / len(draws) < 0.85
    assert draws == [choose_view(record, tasks, seed=0, epoch=e) for e in range(400)]  # deterministic
    assert choose_view(record, {"events": 1.0}, 0, 0) == "events"
    no_events = rich_record().model_copy(update={"non_linguistic_events": None})
    assert choose_view(no_events, {"events": 1.0}, 0, 0) is None


def _builder(recipe_data, tok):
    return ExampleBuilder(recipe_data, tok.encode, tok.eos_id, 0, 4096)


def test_stream_partitions_ranks_and_skips_consistently(shards):
    recipe = validate_train_recipe({"data": {"train": [str(shards)], "tasks": {"compact": 1, "asr": 1},
                                             "shuffle_buffer": 3}})
    tok = ByteTokenizer(default_phrases())
    b = _builder(recipe.data, tok)

    def take(n, **kw):
        stream = iter(ExampleStream(recipe.data, "train", b, **kw))
        return [next(stream) for _ in range(n)]

    full = take(20, batch_size=2)
    assert {e.clip_id for e in full[:8]} == {e.clip_id for e in full[8:16]}  # each epoch covers every record
    ex = full[0]
    assert ex.target_ids[-1] == tok.eos_id and ex.audio.dtype == np.float32 and ex.audio_s > 1
    assert tok.decode(ex.prompt_ids) == recipe.data.prompt(ex.view) + "\n"
    resumed = take(14, batch_size=2, skip_batches=3)  # a resumed run continues where it stopped
    assert [(e.clip_id, e.view) for e in resumed] == [(e.clip_id, e.view) for e in full[6:]]
    rank0 = {e.clip_id for e in take(4, rank=0, world_size=2)}
    rank1 = {e.clip_id for e in take(4, rank=1, world_size=2)}
    assert not rank0 & rank1 and len(rank0 | rank1) == 8


def test_one_pass_stream_skips_clips_longer_than_max_audio_and_long_targets(shards):
    recipe = validate_train_recipe({"data": {"train": [str(shards)], "max_audio_s": 4.0}})
    tok = ByteTokenizer(default_phrases())
    got = list(ExampleStream(recipe.data, "train", _builder(recipe.data, tok), repeat=False))
    assert 0 < len(got) < 8 and all(e.audio_s <= 4.0 for e in got)
    recipe = validate_train_recipe({"data": {"train": [str(shards)], "max_target_tokens": 100}})
    builder = ExampleBuilder(recipe.data, tok.encode, tok.eos_id, 0, recipe.data.max_target_tokens)
    got = list(ExampleStream(recipe.data, "train", builder, repeat=False))
    assert 0 < len(got) < 8 and all(len(e.target_ids) <= 100 for e in got)


# --- metrics ---------------------------------------------------------------------------------------


def _compact(text, speakers=None, events=None):
    return {"text": text, "language": "en", "speakers": speakers, "events": events, "recording": None}


def _spk(sid, gender, emotion, pitch):
    return {"id": sid, "gender": gender, "age": "adult", "emotion": emotion, "accent": None, "pitch": pitch,
            "speaking_rate": None, "loudness": None, "arousal": None, "voice_quality": None}


def test_score_outputs_on_hand_made_predictions():
    refs = [
        _compact("the cat sat", [_spk("SPEAKER_00", "female", "happy", "high")], [{"label": "dog", "start": 0.0,
                 "end": 1.0, "kind": None}]),
        _compact("hello world", [_spk("SPEAKER_00", "male", "sad", "low")], []),
        _compact("", [], [{"label": "music", "start": 0.0, "end": 2.0, "kind": "background"}]),
    ]
    outs = [
        json.dumps(_compact("the cat sat", [_spk("SPEAKER_00", "female", "neutral", "high")],
                            [{"label": "dog", "start": 0.0, "end": 1.0, "kind": None},
                             {"label": "siren", "start": 0.0, "end": 1.0, "kind": None}])),
        '{"text": "hello', # truncated: counts as no text, no speakers
        json.dumps(_compact("", [], [{"label": "music", "start": 0.0, "end": 2.0, "kind": "background"}]))
        .replace('"language": "en"', '"language": "english"'),  # parses, invalid, content still scored
    ]
    m = score_outputs("compact", refs, outs)
    assert m["records"] == 3 and m["parse_ok"] == pytest.approx(2 / 3) and m["schema_valid"] == pytest.approx(1 / 3)
    assert m["wer"] == pytest.approx(2 / 5) and m["wer_records"] == 2  # 0 errors of 3 words, 2 deletions of 2
    assert m["gender_accuracy"] == pytest.approx(0.5)
    assert m["emotion_accuracy"] == 0.0
    assert m["level_accuracy"] == pytest.approx(0.5)
    # events: tp dog+music = 2, fp siren = 1, fn 0
    assert m["event_precision"] == pytest.approx(2 / 3) and m["event_recall"] == 1.0
    assert m["event_f1"] == pytest.approx(0.8)
    lines = format_metrics(m)
    assert "schema_valid: 0.333" in lines and "records: 3" in lines


def test_score_outputs_for_asr_and_nothing_to_score():
    m = score_outputs("asr", [{"text": "a b c d"}], ['{"text":"a b x d"}'])
    assert m["wer"] == pytest.approx(0.25) and m["gender_accuracy"] is None and m["event_f1"] is None
    assert "gender_accuracy: n/a" in format_metrics(m)
    empty = score_outputs("compact", [], [])
    assert empty["schema_valid"] is None and empty["wer"] is None


def test_f1_helpers():
    acc, f1 = accuracy_and_macro_f1([("a", "a"), ("a", "b"), ("b", "b"), ("b", "<missing>")])
    assert acc == 0.5 and f1 == pytest.approx((2 / 3 + 1 / 2) / 2)  # a: 2tp/(2tp+fp+fn) = 2/3; b: 2/4
    assert micro_prf([]) == (None, None, None)
    assert micro_prf([(set(), set())]) == (1.0, 1.0, 1.0)
    assert micro_prf([({"x"}, set())]) == (0.0, 0.0, 0.0)


def test_lr_schedule():
    assert lr_factor(0, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100, "cosine", 0.1) == pytest.approx(1.0)
    assert lr_factor(100, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(55, 10, 100, "linear", 0.0) == pytest.approx(0.5)
    assert lr_factor(70, 0, 100, "constant", 0.0) == 1.0


# --- encoder and audio tokenizer -------------------------------------------------------------------


def test_encoder_output_does_not_depend_on_batch_padding():
    from uas_pipeline.training.encoder import EncoderDims, Projector, WhisperStyleEncoder

    torch.manual_seed(0)
    enc = WhisperStyleEncoder(EncoderDims(n_mels=80, n_ctx=300, n_state=32, n_head=2, n_layer=2)).eval()
    proj = Projector(32, 48, 4)
    a, b = torch.randn(16000) * 0.1, torch.randn(37000) * 0.1
    batch = torch.zeros(2, 37000)
    batch[0, :16000], batch[1] = a, b
    with torch.no_grad():
        both, n = enc(batch, torch.tensor([16000, 37000]))
        alone, n_a = enc(a[None], torch.tensor([16000]))
        p_both, m = proj(both, n)
    assert n.tolist() == [50, 116] and n_a.tolist() == [50]
    assert torch.allclose(both[0, :50], alone[0, :50], atol=1e-4)
    assert torch.count_nonzero(both[0, 50:]) == 0
    assert m.tolist() == [13, 29] and p_both.shape == (2, 29, 48)


def test_log_mel_front_end_equals_openai_whisper():
    whisper_audio = pytest.importorskip("whisper.audio")
    from uas_pipeline.training.encoder import log_mel, mel_filters

    for n_mels in (80, 128):
        assert torch.allclose(mel_filters(n_mels), whisper_audio.mel_filters("cpu", n_mels), atol=1e-6)
    g = torch.Generator().manual_seed(0)
    audio = torch.sin(torch.arange(23456) * 0.05) * 0.3 + torch.randn(23456, generator=g) * 0.01
    ours, theirs = log_mel(audio, 80), whisper_audio.log_mel_spectrogram(audio, 80)
    assert ours.shape == theirs.shape == (80, 23456 // 160)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_whisper_checkpoint_encoder_weights_are_loaded(tmp_path):
    """A random-weight checkpoint in openai-whisper's format, as ``whisper.load_model`` reads it."""
    whisper_model = pytest.importorskip("whisper.model")
    ModelDimensions, Whisper = whisper_model.ModelDimensions, whisper_model.Whisper

    from uas_pipeline.training.encoder import WhisperStyleEncoder, read_whisper_checkpoint

    dims = ModelDimensions(n_mels=80, n_audio_ctx=200, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                           n_vocab=100, n_text_ctx=16, n_text_state=32, n_text_head=2, n_text_layer=1)
    torch.manual_seed(1)
    whisper = Whisper(dims)
    path = tmp_path / "tiny-random.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": whisper.state_dict()}, path)
    enc_dims, state = read_whisper_checkpoint(path)
    assert (enc_dims.n_ctx, enc_dims.n_state, enc_dims.n_layer) == (200, 32, 1)
    enc = WhisperStyleEncoder(enc_dims)
    enc.load_whisper_weights(state)
    assert torch.equal(enc.encoder.conv1.weight, whisper.encoder.conv1.weight)
    # On a full-context input our masked forward equals whisper's own encoder.
    mel = torch.randn(1, 80, 400)
    with torch.no_grad():
        ours, _ = enc.encode_mel(mel, torch.tensor([400]))
        theirs = whisper.encoder(mel)
    assert torch.allclose(ours, theirs, atol=1e-4)
    bad = tmp_path / "bad.pt"
    torch.save({"weights": {}}, bad)
    with pytest.raises(ValueError, match="not an openai-whisper checkpoint"):
        read_whisper_checkpoint(bad)


def test_kmeans_finds_separated_clusters():
    from uas_pipeline.training.audio_tokenizer import kmeans

    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([c + torch.randn(200, 2, generator=g) * 0.3 for c in centers])
    found = kmeans(x, 3, iterations=20, seed=0)
    dist = torch.cdist(centers, found).min(dim=1).values
    assert bool((dist < 0.3).all())
    with pytest.raises(ValueError, match="only 5 feature frames"):
        kmeans(x[:5], 8, 5, 0)


def test_cli_help_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from uas_pipeline.cli import build_parser; p = build_parser(); "
            "p.parse_args(['train', 'r.yaml']); p.parse_args(['generate', 'ckpt', 'a.wav', '--view', 'asr']); "
            "print(sorted(m for m in ('torch', 'transformers', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
