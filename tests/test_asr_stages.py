"""The ASR stages on real models: faster-whisper tiny.en (bundled) on reference clips, and
openai-whisper on tiny random-weight checkpoints built here (plumbing only: any text is fine)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from uas_pipeline.assembly import RecordDraft
from uas_pipeline.audio import load_audio
from uas_pipeline.clips import ClipInfo
from uas_pipeline.evaluation import pooled_wer
from uas_pipeline.outputs.asr import AsrOutput
from uas_pipeline.resources import Resources
from uas_pipeline.stages.base import StageInput

SR = 16000


def _item(clip_id: str, audio: np.ndarray, hints: dict | None = None, inputs: dict | None = None) -> StageInput:
    clip = ClipInfo(id=clip_id, source=clip_id, duration_s=len(audio) / SR, sample_rate=SR, channels=1,
                    hints=hints or {})
    return StageInput(clip=clip, audio=audio, sample_rate=SR, inputs=inputs or {})


def _check_record(item: StageInput, out: AsrOutput) -> None:
    """The output assembles into a valid record; every time lies in the clip, words in their segment."""
    draft = RecordDraft()
    for name, dep in item.inputs.items():
        draft.apply(name, dep.record_fields())
    draft.apply("asr", out.record_fields())
    record = draft.build(item.clip)
    t = record.transcription
    for seg in t.segments:
        assert 0 <= seg.start < seg.end <= item.duration_s + 1e-3
        for w in seg.words or ():
            assert seg.start - 1e-3 <= w.start <= w.end <= seg.end + 1e-3
    for r in t.rejected or ():
        assert 0 <= r.start < r.end <= item.duration_s + 1e-3 and r.reason


def test_device_auto_falls_back_to_cpu_with_one_clear_line(caplog, monkeypatch) -> None:
    from uas_pipeline.stages.asr_faster_whisper import FasterWhisperStage

    stage = FasterWhisperStage({}, Resources(num_cpus=1, num_gpus=0.5))
    monkeypatch.setattr(stage, "_cuda_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="uas_pipeline.asr"):
        assert stage.whisper_model_kwargs()["device"] == "cpu"
    assert any("GPU reserved" in r.getMessage() and "running on CPU" in r.getMessage() for r in caplog.records)
    on_gpu = FasterWhisperStage({}, Resources(num_cpus=1, num_gpus=0.5))
    monkeypatch.setattr(on_gpu, "_cuda_available", lambda: True)
    kwargs = on_gpu.whisper_model_kwargs()
    assert kwargs["device"] == "cuda" and kwargs["compute_type"] == "float16"
    assert on_gpu.decode_settings().batch_windows == 16
    assert FasterWhisperStage({}).whisper_model_kwargs()["device"] == "cpu"  # no GPU reserved: no probe


# --- faster-whisper tiny.en on the reference data ------------------------------------------------------


@pytest.fixture(scope="module")
def fw_stages():
    from uas_pipeline.stages.asr_faster_whisper import FasterWhisperStage
    from uas_pipeline.stages.vad_silero import SileroVadStage

    vad = SileroVadStage({})
    vad.setup()
    packed = FasterWhisperStage({"cpu_threads": 2})
    packed.setup()
    alone = FasterWhisperStage({"cpu_threads": 2, "pack_clips": False})
    alone._backend, alone._device = packed._backend, packed._device  # same model, other packing
    return vad, packed, alone


def _with_vad(vad, item: StageInput) -> StageInput:
    item.inputs = {"vad": vad.process([item])[0]}
    return item


def test_faster_whisper_decodes_two_batches_at_once_on_cpu_and_the_bare_loop_does_not() -> None:
    from uas_pipeline.stages.asr_faster_whisper import FasterWhisperStage

    cpu = FasterWhisperStage({"cpu_threads": 2})
    assert cpu.decode_workers() == 2 and cpu.decode_settings().parallel_batches == 2
    assert "num_workers" not in cpu.whisper_model_kwargs()  # the bench's bare loop builds its model from these
    assert FasterWhisperStage({"num_workers": 1}).decode_settings().parallel_batches == 1
    gpu = FasterWhisperStage({}, Resources(num_gpus=0.5))
    gpu._device = "cuda"
    assert gpu.decode_workers() == 1 and gpu.decode_settings().batch_windows == 16


@pytest.mark.slow
def test_faster_whisper_stage_uses_its_decode_workers(fw_stages) -> None:
    _, packed, _ = fw_stages
    assert packed._backend.model.model.num_workers == 2  # CTranslate2 runs two batches at once


@pytest.mark.slow
def test_gold_clips_packed_and_clip_by_clip(refdata: Path, fw_stages) -> None:
    vad, packed, alone = fw_stages
    refs, items = {}, []
    for entry in map(json.loads, (refdata / "MANIFEST.jsonl").read_text().splitlines()):
        text = entry["reference"].get("text")
        if entry["category"] == "asr" and isinstance(text, str) and "stereo" not in entry["path"]:
            refs[entry["path"]] = text
            items.append(_with_vad(vad, _item(entry["path"], load_audio(refdata / entry["path"])[0])))
    assert len(items) >= 6
    outputs = {}
    for name, stage in (("packed", packed), ("alone", alone)):
        outs = stage.process(items)
        for item, out in zip(items, outs, strict=True):
            assert isinstance(out, AsrOutput), out
            _check_record(item, out)
            t = out.transcription
            assert t.language is None and t.language_confidence is None  # tiny.en, nothing declared
            assert t.rejected == []  # nothing in read speech is judged hallucinated
            assert all(s.words for s in t.segments) and all(0 < s.confidence <= 1 for s in t.segments)
        outputs[name] = {item.clip.id: out.transcription.text for item, out in zip(items, outs, strict=True)}
        assert pooled_wer((refs[k], outputs[name][k]) for k in refs) <= 0.05
    assert packed.last_stats.decoded_windows < alone.last_stats.decoded_windows
    wer_packed = pooled_wer((refs[k], outputs["packed"][k]) for k in refs)
    wer_alone = pooled_wer((refs[k], outputs["alone"][k]) for k in refs)
    assert wer_packed <= wer_alone + 0.005


@pytest.mark.slow
def test_music_gets_no_transcript_and_declared_language_is_recorded(refdata: Path, fw_stages) -> None:
    vad, packed, _ = fw_stages
    music = load_audio(refdata / "music/librosa/Kevin_MacLeod_-_Vibe_Ace.ogg", 0.0, 30.0)[0]
    german = load_audio(refdata / "emotion_paralinguistics/emodb/03a01Fa.wav")[0]
    items = [_with_vad(vad, _item("music", music)), _with_vad(vad, _item("de", german, hints={"language": "de"}))]
    out_music, out_de = packed.process(items)
    _check_record(items[0], out_music)
    _check_record(items[1], out_de)
    stock = ("thank", "watching", "subscribe", "next video")
    assert not any(s in out_music.transcription.text.lower() for s in stock)
    assert out_music.transcription.rejected is not None
    assert (out_de.transcription.language, out_de.transcription.language_confidence) == ("de", None)


@pytest.mark.slow
def test_hotwords_steer_the_spelling(refdata: Path, fw_stages) -> None:
    from uas_pipeline.stages.asr_faster_whisper import FasterWhisperStage

    _, packed, _ = fw_stages
    audio = load_audio(refdata / "asr/faster_whisper/hotwords.mp3")[0]
    steered = FasterWhisperStage({"cpu_threads": 2, "hotwords": "ComfyUI"})
    steered._backend, steered._device = packed._backend, packed._device
    plain, = packed.process([_item("plain", audio)])
    hot, = steered.process([_item("hot", audio)])
    assert "ComfyUI" not in plain.transcription.text and "ComfyUI" in hot.transcription.text


# --- openai-whisper on random-weight checkpoints ----------------------------------------------------


def _checkpoint(path: Path, n_vocab: int) -> Path:
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=n_vocab, n_text_ctx=64, n_text_state=64, n_text_head=2, n_text_layer=2)
    model = Whisper(dims)
    # openai-whisper leaves the decoder's positional embedding as torch.empty (uninitialised memory,
    # so runs differed); give it seeded values like every other weight
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("whisper")
    return {"en": _checkpoint(root / "tiny-en.pt", 51864), "multi": _checkpoint(root / "tiny-multi.pt", 51865)}


@pytest.mark.slow
def test_openai_whisper_random_checkpoint_plumbing(tiny_checkpoints) -> None:
    from uas_pipeline.asr.tokens import TokenSpan
    from uas_pipeline.stages.asr_openai_whisper import OpenAIWhisperStage

    stage = OpenAIWhisperStage({"model": str(tiny_checkpoints["en"]), "beam_size": 2, "temperature_fallback": False,
                                "cpu_threads": 1})
    stage.setup()
    assert stage.run_params()["device_resolved"] == "cpu" and stage.model_version().startswith("sha256:")
    rng = np.random.default_rng(0)
    items = [_item(f"c{k}", (0.1 * rng.standard_normal(int(d * SR))).astype(np.float32))
             for k, d in enumerate((2.5, 4.0, 3.2))]
    outs = stage.process(items)
    for item, out in zip(items, outs, strict=True):
        assert isinstance(out, AsrOutput), out
        _check_record(item, out)
        assert out.transcription.language is None and out.transcription.language_confidence is None
        assert all(s.words is not None and s.words for s in out.transcription.segments)
    assert stage.last_stats.decoded_windows >= 1 and stage.last_stats.pieces == 3
    # word timing itself, independent of what random weights write: cross-attention DTW on given tokens
    backend = stage._backend
    audio = [items[1].audio]
    encoded = backend.encode(audio)
    text = backend.tokenizer("en", "transcribe").encode(" hello there general kenobi")
    spans = [[TokenSpan(0.0, 2.0, tuple(text[:2])), TokenSpan(2.0, 4.0, tuple(text[2:]))]]
    (window,) = backend.align(encoded, "en", spans, [400], stage.decode_settings())
    assert [len(ws) for ws in window] == [2, 2]
    words = [w for ws in window for w in ws]
    assert "".join(w.text for w in words) == " hello there general kenobi"
    assert all(0 <= w.start <= w.end <= 4.0 and 0 <= w.probability <= 1 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


@pytest.mark.slow
def test_openai_whisper_multilingual_checkpoint_detects_a_language(tiny_checkpoints) -> None:
    from uas_pipeline.stages.asr_openai_whisper import OpenAIWhisperStage

    stage = OpenAIWhisperStage({"model": str(tiny_checkpoints["multi"]), "beam_size": 1,
                                "temperature_fallback": False, "word_timestamps": False})
    stage.setup()
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    detected, declared = stage.process([_item("a", audio), _item("b", audio, hints={"language": "fr"})])
    t = detected.transcription
    assert (t.language is None) == (t.language_confidence is None)  # a code Whisper has but ISO lacks: both null
    if t.language is not None:
        assert len(t.language) == 2 and 0 <= t.language_confidence <= 1
    assert (declared.transcription.language, declared.transcription.language_confidence) == ("fr", None)
    assert all(s.words is None for s in t.segments)


def test_openai_whisper_half_precision_keeps_layer_norms_in_float32(tiny_checkpoints) -> None:
    """What the stage does on CUDA with ``fp16``, checked on CPU (which has float16 kernels too): a plain
    ``model.half()`` breaks openai-whisper's float32 layer norms."""
    import torch
    import whisper

    from uas_pipeline.asr.backend_openai_whisper import OpenAIWhisperBackend, half_precision
    from uas_pipeline.asr.decoding import DecodeSettings
    from uas_pipeline.asr.tokens import TokenSpan

    rng = np.random.default_rng(2)
    audios = [(0.1 * rng.standard_normal(int(d * SR))).astype(np.float32) for d in (2.0, 3.5)]
    plain = whisper.load_model(str(tiny_checkpoints["en"]), device="cpu").half()
    with pytest.raises(RuntimeError):
        plain.embed_audio(OpenAIWhisperBackend(plain, "cpu").mel(audios).half())

    model = half_precision(whisper.load_model(str(tiny_checkpoints["en"]), device="cpu"))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(p.dtype == torch.float32 for m in norms for p in m.parameters())
    assert model.decoder.token_embedding.weight.dtype == torch.float16
    backend = OpenAIWhisperBackend(model, "cpu")
    assert backend.fp16
    encoded = backend.encode(audios)
    assert encoded.dtype == torch.float16 and encoded.shape[0] == 2
    settings = DecodeSettings(beam_size=2, temperatures=(0.0,), fixed_length=True)
    hypotheses = backend.generate(encoded, "en", 0.0, settings, 6)
    assert [len(h.tokens) for h in hypotheses] == [6, 6]
    text = backend.tokenizer("en", "transcribe").encode(" hello there")
    (window,) = backend.align(encoded[:1], "en", [[TokenSpan(0.0, 2.0, tuple(text))]], [200], settings)
    assert "".join(w.text for w in window[0]) == " hello there"
    assert not OpenAIWhisperBackend(whisper.load_model(str(tiny_checkpoints["en"]), device="cpu"), "cpu").fp16


def test_openai_whisper_refuses_to_download_by_default(tmp_path) -> None:
    from uas_pipeline.stages.asr_openai_whisper import OpenAIWhisperStage

    stage = OpenAIWhisperStage({"model": "tiny.en", "download_root": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="local_files_only"):
        stage.checkpoint()
    with pytest.raises(ValueError, match="no checkpoint file"):
        OpenAIWhisperStage({"model": str(tmp_path / "missing.pt")})
