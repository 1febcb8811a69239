"""The ``transformers`` attribute backends end to end with tiny random-weight models built here
(label mapping and aggregation are under test, not the models' accuracy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_paraling_stages import _clip, _record, _run, dialogue  # noqa: F401  (module fixture)
from uas_pipeline.paralinguistics.learned import LabelMap, MappedScores, aggregate, map_probabilities


def _tiny_model(path, id2label: dict[int, str]):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, classifier_proj_size=8, use_weighted_layer_sum=False,
        id2label=id2label, label2id={v: k for k, v in id2label.items()}, num_labels=len(id2label))
    Wav2Vec2ForSequenceClassification(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True).save_pretrained(path)
    return str(path)


def test_label_map_merges_and_renormalises():
    lm = LabelMap(task="gender", labels={"Female": "female", "male": "male"}, unmapped=None)
    scores = map_probabilities(np.array([0.2, 0.3, 0.5]), {0: "female", 1: "MALE", 2: "child"}, lm)
    assert scores.scores == pytest.approx({"female": 0.4, "male": 0.6})
    lm = LabelMap(task="emotion", labels={"ang": "angry", "fru": "angry"}, unmapped="other")
    scores = map_probabilities(np.array([0.1, 0.2, 0.7]), {0: "ang", 1: "fru", 2: "xyz"}, lm)
    assert scores.scores == pytest.approx({"angry": 0.3, "other": 0.7})
    ages = LabelMap.model_validate({"task": "age", "labels": {"teens": {"label": "teen", "years": 16},
                                                              "sixties": {"label": "senior", "years": 65}}})
    scores = map_probabilities(np.array([0.5, 0.5]), {0: "teens", 1: "sixties"}, ages)
    assert scores.years == pytest.approx(40.5)


def test_aggregate_is_duration_weighted():
    a = MappedScores({"happy": 1.0})
    b = MappedScores({"sad": 1.0})
    agg = aggregate([(a, 3.0), (b, 1.0)])
    assert agg.scores == pytest.approx({"happy": 0.75, "sad": 0.25})
    assert agg.top == ("happy", 0.75)
    assert aggregate([]) is None


@pytest.mark.slow
def test_emotion_backend_segments_and_speaker_aggregate(tmp_path, dialogue):  # noqa: F811
    from uas_pipeline.stages.emotion_transformers import TransformersEmotion

    audio, inputs = dialogue
    model = _tiny_model(tmp_path / "emo", {0: "ang", 1: "hap", 2: "neu", 3: "sad", 4: "fru"})
    stage = TransformersEmotion({"model": model})
    assert stage.skipped_fields() == {}
    out = _run(stage, audio, inputs)
    record = _record(audio, {**inputs, "emotion": out})
    para = record.paralinguistics
    for seg in para.segments:
        assert seg.emotion.label in {"angry", "happy", "neutral", "sad"}
        assert sum(seg.emotion.scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert seg.emotion.confidence == pytest.approx(max(seg.emotion.scores.values()), abs=1e-4)
        assert set(seg.emotion.scores) <= {"angry", "happy", "neutral", "sad"}
    # Each speaker has one segment here: the speaker aggregate equals it.
    for spk, seg in zip(para.speakers, para.segments, strict=True):
        assert spk.emotion.scores == pytest.approx(seg.emotion.scores, abs=1e-3)
    assert stage.model_version().startswith("sha256:")


@pytest.mark.slow
def test_gender_age_accent_backends(tmp_path, dialogue):  # noqa: F811
    from uas_pipeline.stages.accent_transformers import TransformersAccent
    from uas_pipeline.stages.age_transformers import TransformersAge
    from uas_pipeline.stages.gender_transformers import TransformersGender

    audio, inputs = dialogue
    gender = _run(TransformersGender({"model": _tiny_model(tmp_path / "g", {0: "female", 1: "male", 2: "child"})}),
                  audio, inputs)
    age_map = tmp_path / "age.json"
    age_map.write_text(json.dumps({"task": "age", "labels": {"20s": {"label": "adult", "years": 25},
                                                             "70s": {"label": "senior", "years": 75}}}))
    age = _run(TransformersAge({"model": _tiny_model(tmp_path / "a", {0: "20s", 1: "70s"}), "label_map": str(age_map)}),
               audio, inputs)
    accent = _run(TransformersAccent({"model": _tiny_model(tmp_path / "c", {0: "scottish", 1: "us", 2: "indian"})}),
                  audio, inputs)
    record = _record(audio, {**inputs, "gender": gender, "age": age, "accent": accent})
    for spk in record.paralinguistics.speakers:
        assert spk.gender.label in ("female", "male") and 0.5 <= spk.gender.confidence <= 1
        assert spk.age.label in ("adult", "senior") and 25 <= spk.age.years <= 75
        assert spk.accent.label in ("scottish", "us", "indian")
    assert all(s.accent is not None for s in record.paralinguistics.segments)


def test_missing_model_directory_fails_at_setup(tmp_path):
    from uas_pipeline.stages.emotion_transformers import TransformersEmotion

    with pytest.raises(OSError):
        TransformersEmotion({"model": str(tmp_path / "nope")}).setup()


@pytest.mark.slow
def test_embedding_classifier_backend(tmp_path, dialogue):  # noqa: F811
    """A classifier fitted here on resemblyzer embeddings of the two test voices labels them back."""
    from resemblyzer import VoiceEncoder

    from uas_pipeline.paralinguistics.learned import embed, fit_embedding_classifier
    from uas_pipeline.stages.gender_embedding_classifier import EmbeddingGender

    audio, inputs = dialogue
    encoder = VoiceEncoder(device="cpu", verbose=False)
    turns = inputs["diarization"].turns
    emb, labels = [], []
    for turn, label in zip(turns, ("male", "female"), strict=True):
        seg = audio[int(turn.start * 16000):int(turn.end * 16000)]
        for k in range(3):  # three overlapping pieces of each voice
            piece = seg[k * len(seg) // 6: k * len(seg) // 6 + len(seg) // 2]
            emb.append(embed(encoder, piece))
            labels.append(label)
    model = fit_embedding_classifier(np.stack(emb), labels, tmp_path / "gender.npz", c=10.0)
    out = _run(EmbeddingGender({"model": str(model)}), audio, inputs)
    assert {k: v.label for k, v in out.speakers.items()} == {"SPEAKER_00": "male", "SPEAKER_01": "female"}
    assert all(v.confidence > 0.5 for v in out.speakers.values())
    bad = tmp_path / "bad.npz"
    np.savez(bad, classes=np.array(["a"]), weights=np.zeros((1, 3)), bias=np.zeros(1))
    with pytest.raises(ValueError):
        EmbeddingGender({"model": str(bad)}).setup()
