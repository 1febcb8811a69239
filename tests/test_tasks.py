"""Per-clip work without Ray: region splitting, Arrow round trip, decode, stage isolation, merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from uas_pipeline import tasks as tasks_mod
from uas_pipeline.recipe import validate_recipe
from uas_pipeline.runner import not_run_provenance
from uas_pipeline.schema import Event, UASRecord
from uas_pipeline.stages.base import ClipRef, ClipTask, Stage, StageError
from uas_pipeline.tasks import (
    MAX_MESSAGE,
    OUTPUT_SCHEMA,
    build_record,
    created_at,
    decode_refs,
    decode_tasks,
    encode_tasks,
    flat_columns,
    merge_tasks,
    run_stage,
    split_regions,
)
from uas_pipeline.validate import record_problems

RECIPE_HASH = "0123456789abcdef"
RUN_STARTED = "2025-02-03T04:05:06Z"
MTIME = 1_700_000_000.75  # 2023-11-14T22:13:20Z once truncated to whole seconds
MTIME_ISO = "2023-11-14T22:13:20Z"


# --- split_regions ---------------------------------------------------------------------------------


def test_split_regions_exact_multiple() -> None:
    assert split_regions(0.0, 1200.0, 600.0) == [(0.0, 600.0), (600.0, 600.0)]
    # floating-point noise just above a multiple does not add a sliver region
    assert len(split_regions(0.0, 3 * 0.1 * 10, 1.0)) == 3


def test_split_regions_remainder_gives_equal_regions() -> None:
    regions = split_regions(10.0, 1300.0, 600.0)
    assert len(regions) == 3
    starts = [s for s, _ in regions]
    lengths = [d for _, d in regions]
    assert lengths == pytest.approx([1300.0 / 3] * 3)
    assert starts == pytest.approx([10.0, 10.0 + 1300.0 / 3, 10.0 + 2600.0 / 3])
    assert max(lengths) <= 600.0
    assert starts[-1] + lengths[-1] == pytest.approx(1310.0)


def test_split_regions_single_region() -> None:
    assert split_regions(2.5, 599.0, 600.0) == [(2.5, 599.0)]
    assert split_regions(0.0, 600.0, 600.0) == [(0.0, 600.0)]
    assert split_regions(0.0, 0.0, 600.0) == [(0.0, 0.0)]


# --- Arrow round trip ------------------------------------------------------------------------------


def test_encode_decode_round_trip() -> None:
    audio = np.linspace(-1.0, 1.0, 1601, dtype=np.float32)
    good = ClipTask(
        ref=ClipRef(id="a#r0001", source="/data/a.wav", offset_s=12.5, duration_s=7.25, region=True),
        audio=audio,
        sample_rate=44100,
        channels=2,
        duration_s=7.25,
        source_mtime=MTIME,
        outputs={"vad": {"speech": [[0.1, 0.5]], "speech_ratio": 0.4}},
        provenance={"vad": {"backend": "x", "model": None, "model_version": None, "params": {}, "status": "ok"}},
        timings={"decode": 0.01, "vad": 0.02},
    )
    failed = ClipTask(
        ref=ClipRef(id="b", source="/data/b.wav"),
        audio=np.ones(10, np.float32),  # dropped: inactive tasks carry no audio
        error=StageError("decode", "truncated", "cut short"),
    )
    skipped = ClipTask(ref=ClipRef(id="c#r0000", source="/data/c.wav", region=True), skipped=True)
    table = encode_tasks([good, failed, skipped])
    assert isinstance(table, pa.Table)
    assert table.column_names == ["task", "audio"]

    back = decode_tasks(table)
    assert [t.ref for t in back] == [good.ref, failed.ref, skipped.ref]
    a = back[0]
    assert a.audio.dtype == np.float32
    np.testing.assert_array_equal(a.audio, audio)
    assert a.audio.flags.writeable  # torch.from_numpy needs a writable array
    a.audio[0] = 0.5  # and it is a copy, not a view of the Arrow buffer
    assert (a.sample_rate, a.channels, a.duration_s, a.source_mtime) == (44100, 2, 7.25, MTIME)
    assert a.outputs == good.outputs
    assert a.provenance == good.provenance
    assert a.timings == good.timings
    assert a.error is None and not a.skipped and a.active

    b = back[1]
    assert b.error == StageError("decode", "truncated", "cut short")
    assert b.audio is None and not b.active
    c = back[2]
    assert c.skipped and c.audio is None and c.error is None and not c.active


def test_encode_converts_audio_to_float32() -> None:
    audio64 = np.array([0.25, -0.5, 1.0 / 3.0])
    (back,) = decode_tasks(encode_tasks([ClipTask(ref=ClipRef(id="x", source="/x"), audio=audio64)]))
    assert back.audio.dtype == np.float32
    np.testing.assert_array_equal(back.audio, audio64.astype(np.float32))


def test_new_input_table_rows_decode_to_fresh_tasks() -> None:
    refs = [ClipRef(id="a", source="/a.wav"), ClipRef(id="b", source="/b.wav", offset_s=1.0, region=True)]
    rows = tasks_mod.new_input_table(refs)
    assert len(rows) == 2 and set(rows[0]) == {"task", "audio"}
    back = decode_tasks(pa.Table.from_pylist(rows, schema=encode_tasks([]).schema))
    assert [t.ref for t in back] == refs
    assert all(t.active and t.audio is None and t.outputs == {} for t in back)


# --- decode_refs on real files ---------------------------------------------------------------------


def _write(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> Path:
    n = round(seconds * sr)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    sf.write(path, data, sr, subtype="PCM_16")
    return path


def _task(path: Path, clip_id: str | None = None, **ref: Any) -> ClipTask:
    return ClipTask(ref=ClipRef(id=clip_id or path.name, source=str(path), **ref))


def test_decode_good_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "stereo.wav", 1.0, sr=44100, channels=2)
    (task,) = decode_refs([_task(path)], 600.0, 0.05, frozenset())
    assert task.error is None and task.active
    assert task.ref == ClipRef(id="stereo.wav", source=str(path))  # not a region: no offset recorded
    assert task.audio.dtype == np.float32 and task.audio.ndim == 1
    assert len(task.audio) == 16000
    assert task.duration_s == pytest.approx(1.0)
    assert (task.sample_rate, task.channels) == (44100, 2)
    assert task.source_mtime == path.stat().st_mtime
    assert task.timings["decode"] >= 0


def test_decode_long_file_is_split_into_regions(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.wav", 5.0)
    out = decode_refs([_task(path, "long")], 2.0, 0.05, frozenset())
    assert [t.ref.id for t in out] == ["long#r0000", "long#r0001", "long#r0002"]
    third = 5.0 / 3
    assert [t.ref.offset_s for t in out] == pytest.approx([0.0, third, 2 * third])
    for t in out:
        assert t.error is None
        assert t.ref.region is True
        assert t.ref.duration_s == pytest.approx(third)
        assert t.ref.source == str(path)
        assert t.duration_s == pytest.approx(third, abs=1e-3)
        assert len(t.audio) == pytest.approx(third * 16000, abs=2)
    full = sf.read(path, dtype="float32")[0]
    for t in out:
        start = round(t.ref.offset_s * 16000)
        np.testing.assert_allclose(t.audio, full[start : start + len(t.audio)], atol=1e-4)


def test_regions_tile_the_file_exactly(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.wav", 5.0)
    out = decode_refs([_task(path, "long")], 2.0, 0.05, frozenset())
    assert sum(len(t.audio) for t in out) == 80000


def test_decode_skips_regions_already_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "long.wav", 5.0)
    loaded: list[float] = []
    real_load = tasks_mod.load_audio

    def spy(source, offset, *args, **kwargs):
        loaded.append(offset)
        return real_load(source, offset, *args, **kwargs)

    monkeypatch.setattr(tasks_mod, "load_audio", spy)
    out = decode_refs([_task(path, "long")], 2.0, 0.05, frozenset({"long#r0001", "other#r0000"}))
    assert [t.ref.id for t in out] == ["long#r0000", "long#r0001", "long#r0002"]
    assert [t.skipped for t in out] == [False, True, False]
    done = out[1]
    assert done.audio is None and done.error is None and done.ref.region
    assert len(loaded) == 2  # the done region was not decoded
    assert out[0].active and out[2].active


def test_decode_manifest_region(tmp_path: Path) -> None:
    path = _write(tmp_path / "five.wav", 5.0)
    (t,) = decode_refs([_task(path, "m@1.000", offset_s=1.0, duration_s=1.5, region=True)], 600.0, 0.05, frozenset())
    assert t.error is None
    assert t.ref.id == "m@1.000"
    assert (t.ref.offset_s, t.ref.duration_s, t.ref.region) == (1.0, 1.5, True)
    assert len(t.audio) == 24000
    np.testing.assert_allclose(t.audio, sf.read(path, dtype="float32")[0][16000:40000], atol=1e-4)

    # an offset without a duration runs to the end of the file
    (t,) = decode_refs([_task(path, "tail", offset_s=4.0, region=True)], 600.0, 0.05, frozenset())
    assert t.error is None and t.ref.duration_s == pytest.approx(1.0) and len(t.audio) == 16000

    # a duration past the end is clipped to what the file holds
    (t,) = decode_refs([_task(path, "over", offset_s=4.5, duration_s=10.0, region=True)], 600.0, 0.05, frozenset())
    assert t.error is None and t.ref.duration_s == pytest.approx(0.5) and len(t.audio) == 8000


def test_decode_long_manifest_region_is_split_from_its_offset(tmp_path: Path) -> None:
    path = _write(tmp_path / "five.wav", 5.0)
    out = decode_refs([_task(path, "m", offset_s=1.0, duration_s=3.0, region=True)], 2.0, 0.05, frozenset())
    assert [t.ref.id for t in out] == ["m#r0000", "m#r0001"]
    assert [(t.ref.offset_s, t.ref.duration_s) for t in out] == [(1.0, 1.5), (2.5, 1.5)]
    assert all(t.active and len(t.audio) == 24000 for t in out)


@pytest.mark.parametrize(
    ("make", "reasons"),
    [
        (lambda p: p.write_bytes(b""), {"empty_file"}),
        (lambda p: p.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
         {"unsupported_format", "decode_error"}),
        (lambda p: p.write_text("this is not audio\n" * 50), {"unsupported_format", "decode_error"}),
        (lambda p: None, {"not_found"}),
    ],
    ids=["empty", "random-bytes", "text", "missing"],
)
def test_decode_bad_files_become_errors(tmp_path: Path, make, reasons: set[str]) -> None:
    good = _write(tmp_path / "good.wav", 0.5)
    bad = tmp_path / "bad.wav"
    make(bad)
    out = decode_refs([_task(bad), _task(good)], 600.0, 0.05, frozenset())
    assert [t.ref.id for t in out] == ["bad.wav", "good.wav"]
    err = out[0].error
    assert err is not None and err.stage == "decode"
    assert err.error_type in reasons
    assert str(bad) in err.message
    assert out[0].audio is None and not out[0].active
    assert out[1].active and len(out[1].audio) == 8000  # one bad file does not take its batch down


def test_decode_offset_past_end_and_too_short(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.wav", 1.0)
    (past,) = decode_refs([_task(path, "past", offset_s=2.0, region=True)], 600.0, 0.05, frozenset())
    assert past.error is not None
    assert (past.error.stage, past.error.error_type) == ("decode", "too_short")
    # failing in load_audio (after probing) is reported the same way
    (short,) = decode_refs([_task(path)], 600.0, 5.0, frozenset())
    assert short.error is not None
    assert (short.error.stage, short.error.error_type) == ("decode", "too_short")
    assert short.audio is None and short.sample_rate == 16000


# --- run_stage -------------------------------------------------------------------------------------


class FakeStage(Stage):
    """Returns the clip's sample count; raises on ``fail_on``; records every batch it sees."""

    name = "asr"
    backend = "fake"

    def __init__(self, fail_on: str | None = None, drop: int = 0, always_one: bool = False):
        super().__init__()
        self.fail_on = fail_on
        self.drop = drop
        self.always_one = always_one
        self.calls: list[list[str]] = []

    def process(self, batch: list[ClipTask]) -> list[Any]:
        self.calls.append([t.ref.id for t in batch])
        if self.always_one:
            return [{"n": len(batch[0].audio)}]
        for t in batch:
            if t.ref.id == self.fail_on:
                raise ValueError(f"cannot handle {t.ref.id}")
        outputs = [{"n": len(t.audio)} for t in batch]
        return outputs[: len(outputs) - self.drop]


def _active(ids: list[str]) -> list[ClipTask]:
    return [ClipTask(ref=ClipRef(id=i, source=f"/{i}.wav"), audio=np.zeros(10 * (k + 1), np.float32))
            for k, i in enumerate(ids)]


PROV = FakeStage().provenance().model_dump(mode="json")


def test_run_stage_whole_batch() -> None:
    stage = FakeStage()
    batch = _active(["a", "b", "c"])
    assert run_stage(stage, batch, PROV) is batch
    assert stage.calls == [["a", "b", "c"]]
    assert [t.outputs["asr"] for t in batch] == [{"n": 10}, {"n": 20}, {"n": 30}]
    assert all(t.provenance["asr"] == PROV and t.timings["asr"] >= 0 and t.error is None for t in batch)


def test_run_stage_isolates_the_failing_clip() -> None:
    stage = FakeStage(fail_on="b")
    batch = _active(["a", "b", "c"])
    run_stage(stage, batch, PROV)
    assert stage.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    a, b, c = batch
    assert b.error == StageError("asr", "ValueError", "cannot handle b")
    assert "asr" not in b.outputs and "asr" not in b.provenance and "asr" not in b.timings
    for t, n in ((a, 10), (c, 30)):
        assert t.error is None
        assert t.outputs["asr"] == {"n": n}
        assert t.provenance["asr"] == PROV
        assert t.timings["asr"] >= 0


def test_run_stage_wrong_number_of_outputs() -> None:
    # too few outputs for every batch: each clip ends in the ledger instead of silently misaligning
    short = _active(["a", "b"])
    run_stage(FakeStage(drop=1), short, PROV)
    assert all(t.error is not None and t.error.stage == "asr" and "asr" not in t.outputs for t in short)
    # one output whatever the batch size: the batch fails, the per-clip retry recovers every clip
    stage = FakeStage(always_one=True)
    batch = _active(["a", "b", "c"])
    run_stage(stage, batch, PROV)
    assert stage.calls == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert [t.outputs["asr"] for t in batch] == [{"n": 10}, {"n": 20}, {"n": 30}]
    assert all(t.error is None for t in batch)


def test_run_stage_passes_only_active_tasks() -> None:
    errored = ClipTask(ref=ClipRef(id="e", source="/e.wav"), error=StageError("decode", "truncated", "x"))
    skipped = ClipTask(ref=ClipRef(id="s", source="/s.wav"), skipped=True)
    live = _active(["a"])[0]
    stage = FakeStage()
    out = run_stage(stage, [errored, live, skipped], PROV)
    assert [t.ref.id for t in out] == ["e", "a", "s"]
    assert stage.calls == [["a"]]
    assert errored.outputs == {} and skipped.outputs == {}
    assert errored.error == StageError("decode", "truncated", "x") and skipped.error is None

    idle = FakeStage()
    run_stage(idle, [errored, skipped], PROV)
    assert idle.calls == []


def test_run_stage_truncates_long_messages() -> None:
    class Loud(FakeStage):
        def process(self, batch):
            raise RuntimeError("x" * 5000)

    class Silent(FakeStage):
        def process(self, batch):
            raise KeyError

    (t,) = run_stage(Loud(), _active(["a"]), PROV)
    assert t.error.error_type == "RuntimeError"
    assert len(t.error.message) == MAX_MESSAGE and t.error.message.endswith("...")
    (t,) = run_stage(Silent(), _active(["a"]), PROV)
    assert t.error == StageError("asr", "KeyError", "KeyError()")


# --- build_record / merge_tasks --------------------------------------------------------------------


def _asr_output() -> dict[str, Any]:
    return {
        "text": "hello world",
        "language": "en",
        "language_confidence": 0.98,
        "segments": [
            {
                "start": 0.1,
                "end": 1.2,
                "speaker": None,
                "text": "hello world",
                "confidence": 0.9,
                "words": [
                    {"word": "hello", "start": 0.1, "end": 0.5, "confidence": 0.95},
                    {"word": "world", "start": 0.6, "end": 1.2, "confidence": 0.9},
                ],
            }
        ],
    }


def _prov(backend: str) -> dict[str, Any]:
    return {"backend": backend, "model": "m", "model_version": "1", "params": {"b": 2, "a": 1.5}, "status": "ok"}


def _not_run() -> dict[str, dict[str, Any]]:
    recipe = validate_recipe({
        "stages": {
            "vad": {"backend": "silero"},
            "asr": {"backend": "faster-whisper"},
            "diarization": {"enabled": False, "backend": "pyannote"},
        }
    })
    return not_run_provenance(recipe)


def _finished(clip_id: str = "c1", *, region: bool = False, **outputs: Any) -> ClipTask:
    outputs = outputs or {"vad": {"speech": [[0.1, 1.5]], "speech_ratio": 0.7}, "asr": _asr_output()}
    return ClipTask(
        ref=ClipRef(id=clip_id, source=f"/data/{clip_id}.wav", offset_s=30.0 if region else 0.0,
                    duration_s=2.0 if region else None, region=region),
        sample_rate=44100,
        channels=2,
        duration_s=2.0,
        source_mtime=MTIME,
        outputs=outputs,
        provenance={name: _prov(name + "-backend") for name in outputs},
        timings={"decode": 0.01, **{name: 0.1 for name in outputs}},
    )


def _context(mode: str = "source_mtime") -> dict[str, Any]:
    return {"recipe_hash": RECIPE_HASH, "created_at_mode": mode, "run_started": RUN_STARTED, "not_run": _not_run()}


def test_build_record_from_vad_and_asr() -> None:
    record = build_record(_finished(), **_context())
    assert record.clip.id == "c1" and record.clip.source == "/data/c1.wav"
    assert (record.clip.duration_s, record.clip.sample_rate, record.clip.channels) == (2.0, 44100, 2)
    assert record.clip.offset_s is None
    assert record.transcription.text == "hello world"
    para = record.paralinguistics
    assert para.speakers is None and para.segments is None
    assert para.recording.speech_ratio == 0.7
    assert para.recording.num_speakers is None and para.recording.snr_db is None
    assert record.non_linguistic_events is None
    stages = record.provenance.stages
    assert list(stages) == sorted(["asr", "vad", "diarization", "paralinguistics", "events"])
    assert stages["vad"].status == "ok" and stages["asr"].backend == "asr-backend"
    for name in ("diarization", "paralinguistics", "events"):
        assert stages[name].status.startswith("skipped: "), name
        assert stages[name].model is None
    assert stages["diarization"].backend == "pyannote"
    assert record.provenance.recipe_hash == RECIPE_HASH
    assert record.provenance.created_at == MTIME_ISO
    assert record_problems(record.to_json()) == []


def test_build_record_region_and_missing_stages() -> None:
    record = build_record(_finished(region=True), **_context())
    assert record.clip.offset_s == 30.0
    # no VAD, no ASR output: those parts stay null (not annotated)
    bare = _finished(vad=None)
    bare.outputs, bare.provenance = {}, {}
    record = build_record(bare, **_context())
    assert record.transcription is None and record.paralinguistics is None
    assert record_problems(record.to_json()) == []


def test_created_at_modes() -> None:
    assert created_at("source_mtime", MTIME, RUN_STARTED) == MTIME_ISO
    assert created_at("source_mtime", None, RUN_STARTED) == "1970-01-01T00:00:00Z"
    assert created_at("now", MTIME, RUN_STARTED) == RUN_STARTED
    assert created_at("2024-01-02T03:04:05+02:00", MTIME, RUN_STARTED) == "2024-01-02T03:04:05+02:00"
    # deterministic: the same source gives byte-identical records
    first = build_record(_finished(), **_context()).to_json()
    assert build_record(_finished(), **_context()).to_json() == first
    assert build_record(_finished(), **_context("now")).provenance.created_at == RUN_STARTED
    fixed = build_record(_finished(), **_context("2024-01-02T03:04:05Z"))
    assert fixed.provenance.created_at == "2024-01-02T03:04:05Z"


def test_merge_tasks_rows() -> None:
    ok = _finished("ok")
    broken = _finished("broken", asr={**_asr_output(), "text": "not the segments"})
    failed = ClipTask(ref=ClipRef(id="failed", source="/data/failed.wav"), duration_s=1.5,
                      error=StageError("vad", "RuntimeError", "model exploded"), timings={"decode": 0.2})
    undecoded = ClipTask(ref=ClipRef(id="undecoded", source="/data/undecoded.wav"),
                         error=StageError("decode", "truncated", "cut"))
    skipped = ClipTask(ref=ClipRef(id="r#r0001", source="/data/r.wav", offset_s=600.0, duration_s=600.0,
                                   region=True), skipped=True)
    table = merge_tasks([ok, broken, failed, undecoded, skipped], **_context())
    assert table.schema == OUTPUT_SCHEMA
    rows = {r["clip_id"]: r for r in table.to_pylist()}
    assert [r["clip_id"] for r in table.to_pylist()] == ["ok", "broken", "failed", "undecoded", "r#r0001"]

    r = rows["ok"]
    assert r["kind"] == "ok" and r["stage"] is None and r["error_type"] is None and r["message"] is None
    record = UASRecord.from_json(r["uas"])
    assert record_problems(r["uas"]) == []
    assert record.clip.id == "ok"
    assert (r["text"], r["language"], r["language_confidence"]) == ("hello world", "en", 0.98)
    assert (r["num_segments"], r["num_words"], r["num_speakers"]) == (1, 2, None)
    assert r["speech_ratio"] == 0.7 and r["event_labels"] is None
    assert r["duration_s"] == 2.0 and r["offset_s"] is None and r["source"] == "/data/ok.wav"
    assert set(json.loads(r["timings"])) == {"decode", "vad", "asr", "merge"}

    r = rows["broken"]
    assert r["kind"] == "error" and r["uas"] is None and r["text"] is None
    assert (r["stage"], r["error_type"]) == ("merge", "ValidationError")
    assert "segment texts" in r["message"]
    assert r["duration_s"] == 2.0
    assert broken.error is not None and broken.error.stage == "merge"

    r = rows["failed"]
    assert (r["kind"], r["stage"], r["error_type"], r["message"]) == ("error", "vad", "RuntimeError", "model exploded")
    assert r["duration_s"] == 1.5 and r["uas"] is None
    assert json.loads(r["timings"]) == {"decode": 0.2}
    assert rows["undecoded"]["kind"] == "error" and rows["undecoded"]["duration_s"] is None
    assert rows["undecoded"]["stage"] == "decode"

    r = rows["r#r0001"]
    assert r["kind"] == "skipped" and r["offset_s"] == 600.0
    assert r["uas"] is None and r["stage"] is None and r["duration_s"] is None


def test_merge_error_for_missing_vad_key() -> None:
    task = _finished("novad", vad={"speech": []}, asr=_asr_output())
    (row,) = merge_tasks([task], **_context()).to_pylist()
    assert (row["kind"], row["stage"], row["error_type"]) == ("error", "merge", "KeyError")


def test_flat_columns() -> None:
    record = build_record(_finished(region=True), **_context())
    record.non_linguistic_events = [
        Event(label="music", start=0.0, end=1.0, confidence=0.9, source_label="Music", ontology_id=None),
        Event(label="cough", start=0.5, end=0.7, confidence=0.8, source_label="Cough", ontology_id=None),
        Event(label="music", start=1.2, end=1.9, confidence=0.7, source_label="Music", ontology_id=None),
    ]
    cols = flat_columns(record)
    assert set(cols) == set(OUTPUT_SCHEMA.names) - {
        "kind", "clip_id", "source", "offset_s", "stage", "error_type", "message", "timings"
    }
    assert cols["event_labels"] == ["cough", "music"]
    assert cols["uas"] == record.to_json()
    assert (cols["num_segments"], cols["num_words"], cols["speech_ratio"]) == (1, 2, 0.7)

    record.transcription = None
    record.paralinguistics = None
    record.non_linguistic_events = []
    cols = flat_columns(record)
    assert cols["text"] is None and cols["num_words"] is None and cols["speech_ratio"] is None
    assert cols["event_labels"] == []  # annotated, nothing found (not the same as null)
