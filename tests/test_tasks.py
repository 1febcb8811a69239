"""Per-clip work without Ray: region probing, decode into audio columns, running a step with
per-clip failures and output checks, merging rows into records and ledger rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from uas_pipeline.clips import ClipRef
from uas_pipeline.plan import build_plan, record_field_sources
from uas_pipeline.recipe import validate_recipe
from uas_pipeline.schema import UASRecord
from uas_pipeline.stages import registry
from uas_pipeline.tasks import (
    MAX_MESSAGE,
    OUTPUT_SCHEMA,
    StepRunner,
    audio_views,
    created_at,
    decode_rows,
    merge_rows,
    probe_rows,
    refs_table,
    split_regions,
)
from uas_pipeline.validate import record_problems

RECIPE_HASH = "0123456789abcdef"
RUN_STARTED = "2025-02-03T04:05:06Z"
MTIME_ISO = "2023-11-14T22:13:20Z"


# --- split_regions ---------------------------------------------------------------------------------


def test_split_regions_exact_multiple() -> None:
    assert split_regions(0.0, 1200.0, 600.0) == [(0.0, 600.0), (600.0, 600.0)]
    assert len(split_regions(0.0, 3 * 0.1 * 10, 1.0)) == 3  # no sliver region from float noise


def test_split_regions_remainder_gives_equal_regions() -> None:
    regions = split_regions(10.0, 1300.0, 600.0)
    assert [d for _, d in regions] == pytest.approx([1300.0 / 3] * 3)
    assert [s for s, _ in regions] == pytest.approx([10.0, 10.0 + 1300.0 / 3, 10.0 + 2600.0 / 3])


def test_split_regions_single_region() -> None:
    assert split_regions(2.5, 599.0, 600.0) == [(2.5, 599.0)]
    assert split_regions(0.0, 600.0, 600.0) == [(0.0, 600.0)]


# --- probe: one row per region ---------------------------------------------------------------------


def _write(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> Path:
    t = np.arange(round(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, subtype="PCM_16")
    return path


def _probe(refs: list[ClipRef], max_s: float = 600.0, done: frozenset[str] = frozenset()) -> list[dict]:
    return probe_rows(refs_table(refs), max_s, done).to_pylist()


def test_probe_good_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "stereo.wav", 1.0, sr=44100, channels=2)
    (row,) = _probe([ClipRef(id="stereo.wav", source=str(path))])
    assert row["status"] == "active" and row["clip_id"] == "stereo.wav"
    assert (row["sample_rate"], row["channels"], row["region"], row["region_count"]) == (44100, 2, False, 1)
    assert row["duration_s"] is None  # to the end of the file
    assert row["source_mtime"] == path.stat().st_mtime


def test_probe_splits_long_files_and_skips_done_regions(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.wav", 5.0)
    rows = _probe([ClipRef(id="long", source=str(path))], max_s=2.0, done=frozenset({"long#r0001"}))
    assert [r["clip_id"] for r in rows] == ["long#r0000", "long#r0001", "long#r0002"]
    assert [r["status"] for r in rows] == ["active", "skipped", "active"]
    assert [r["offset_s"] for r in rows] == pytest.approx([0.0, 5 / 3, 10 / 3])
    assert all(r["region"] and r["region_count"] == 3 and r["file_id"] == "long" for r in rows)
    assert [r["region_index"] for r in rows] == [0, 1, 2]


def test_probe_manifest_region_split_from_its_offset(tmp_path: Path) -> None:
    path = _write(tmp_path / "five.wav", 5.0)
    rows = _probe([ClipRef(id="m", source=str(path), offset_s=1.0, duration_s=3.0, region=True)], max_s=2.0)
    assert [(r["clip_id"], r["offset_s"], r["duration_s"]) for r in rows] == [("m#r0000", 1.0, 1.5),
                                                                            ("m#r0001", 2.5, 1.5)]


@pytest.mark.parametrize(
    ("make", "reasons"),
    [
        (lambda p: p.write_bytes(b""), {"empty_file"}),
        (lambda p: p.write_text("this is not audio\n" * 50), {"unsupported_format", "decode_error"}),
        (lambda p: None, {"not_found"}),
    ],
    ids=["empty", "text", "missing"],
)
def test_probe_bad_files_become_decode_errors(tmp_path: Path, make, reasons: set[str]) -> None:
    good, bad = _write(tmp_path / "good.wav", 0.5), tmp_path / "bad.wav"
    make(bad)
    rows = _probe([ClipRef(id="bad", source=str(bad)), ClipRef(id="good", source=str(good))])
    assert [r["status"] for r in rows] == ["error", "active"]
    assert rows[0]["error_stage"] == "decode" and rows[0]["error_type"] in reasons
    assert str(bad) in rows[0]["error_message"]


def test_probe_offset_past_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.wav", 1.0)
    (row,) = _probe([ClipRef(id="past", source=str(path), offset_s=2.0, region=True)])
    assert (row["status"], row["error_type"]) == ("error", "too_short")


# --- decode ----------------------------------------------------------------------------------------


def _decoded(tmp_path: Path, rates=(16000,), max_batch_audio_s: float = 1e9, **probe_kw) -> list[pa.Table]:
    rows = probe_rows(refs_table(probe_kw.pop("refs")), probe_kw.pop("max_s", 600.0), frozenset())
    return list(decode_rows(rows, list(rates), 0.05, max_batch_audio_s))


def test_decode_each_rate_once_from_the_source(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.wav", 1.0, sr=44100, channels=2)
    (table,) = _decoded(tmp_path, rates=(16000, 32000), refs=[ClipRef(id="a", source=str(path))])
    assert table.schema.field("audio_16000").type == pa.large_list(pa.float32())
    (a16,), (a32,) = audio_views(table, 16000), audio_views(table, 32000)
    assert (len(a16), len(a32)) == (16000, 32000)
    assert a16.dtype == np.float32 and not a16.flags.writeable  # a view into the Arrow buffer
    row = table.to_pylist()[0]
    assert row["duration_s"] == pytest.approx(1.0) and row["t_decode"] >= 0


def test_decode_regions_tile_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.wav", 5.0)
    tables = _decoded(tmp_path, refs=[ClipRef(id="long", source=str(path))], max_s=2.0)
    views = [v for t in tables for v in audio_views(t, 16000)]
    assert sum(len(v) for v in views) == 80000
    full = sf.read(path, dtype="float32")[0]
    np.testing.assert_allclose(np.concatenate(views), full, atol=1e-4)


def test_decode_batches_are_bounded_by_audio_seconds(tmp_path: Path) -> None:
    refs = [ClipRef(id=f"c{k}", source=str(_write(tmp_path / f"c{k}.wav", 1.0))) for k in range(5)]
    tables = _decoded(tmp_path, refs=refs, max_batch_audio_s=2.0)
    assert [t.num_rows for t in tables] == [2, 2, 1]


def test_decode_failure_after_probe_is_a_row_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.wav", 1.0)
    rows = probe_rows(refs_table([ClipRef(id="a", source=str(path))]), 600.0, frozenset())
    (table,) = decode_rows(rows, [16000], 5.0, 600.0)  # min length 5 s
    row = table.to_pylist()[0]
    assert (row["status"], row["error_stage"], row["error_type"]) == ("error", "decode", "too_short")
    assert len(audio_views(table, 16000)[0]) == 0


# --- running a step --------------------------------------------------------------------------------


@pytest.fixture
def test_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    monkeypatch.setattr(registry, "_BACKENDS", copy.deepcopy(registry._BACKENDS))
    registry.register_backend("paralinguistics", "test-peak", "tests.fake_stages:PeakStage")
    registry.register_backend("diarization", "test-halves", "tests.fake_stages:HalvesDiarization")


def _plan(stages: dict[str, Any]):
    recipe = validate_recipe({"stages": stages})
    return recipe, build_plan(recipe)


def _clips(tmp_path: Path, n: int = 3, rate: int = 8000) -> pa.Table:
    refs = [ClipRef(id=f"c{k}", source=str(_write(tmp_path / f"c{k}.wav", 0.5 + 0.25 * k))) for k in range(n)]
    (table,) = decode_rows(probe_rows(refs_table(refs), 600.0, frozenset()), [rate], 0.05, 1e9)
    return table


def _runner(plan, name: str, **kw) -> StepRunner:
    step = next(s for s in plan if s.name == name)
    runner = StepRunner(step, [s for s in plan if s.name in step.deps()], **kw)
    runner.setup()
    return runner


class _Spy:
    """Wraps a stage's process() to record the clip ids of each call."""

    def __init__(self, runner: StepRunner):
        self.calls: list[list[str]] = []
        inner = runner.stage.process

        def process(batch):
            self.calls.append([i.clip.id for i in batch])
            return inner(batch)

        runner.stage.process = process


def test_step_appends_its_columns(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak"}})
    out = _runner(plan, "paralinguistics", drop_rates=(8000,))(_clips(tmp_path))
    assert "audio_8000" not in out.column_names  # the last reader drops the audio
    outputs = [json.loads(t) for t in out.column("out_paralinguistics").to_pylist()]
    assert all(o["snr_db"] == pytest.approx(20.3, abs=0.01) for o in outputs)
    assert all(json.loads(p)["backend"] == "test-peak" for p in out.column("prov_paralinguistics").to_pylist())
    assert all(t is not None and t >= 0 for t in out.column("t_paralinguistics").to_pylist())


def test_step_reports_one_failed_clip_without_rerunning_the_batch(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "fail_on": "c1"}})
    runner = _runner(plan, "paralinguistics")
    spy = _Spy(runner)
    out = runner(_clips(tmp_path)).to_pylist()
    assert spy.calls == [["c0", "c1", "c2"]]  # one call: the healthy clips' results are kept
    assert [r["status"] for r in out] == ["active", "error", "active"]
    assert (out[1]["error_stage"], out[1]["error_type"]) == ("paralinguistics", "too_quiet")
    assert out[1]["out_paralinguistics"] is None and out[0]["out_paralinguistics"] is not None


def test_step_that_raises_is_retried_clip_by_clip(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "raise_on": "c2"}})
    runner = _runner(plan, "paralinguistics")
    spy = _Spy(runner)
    out = runner(_clips(tmp_path)).to_pylist()
    assert spy.calls == [["c0", "c1", "c2"], ["c0"], ["c1"], ["c2"]]
    assert [r["status"] for r in out] == ["active", "active", "error"]
    assert out[2]["error_type"] == "RuntimeError" and "boom on c2" in out[2]["error_message"]


def test_invalid_output_is_blamed_on_its_stage(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "invalid_on": "c0"}})
    out = _runner(plan, "paralinguistics")(_clips(tmp_path)).to_pylist()
    assert out[0]["status"] == "error" and out[0]["error_stage"] == "paralinguistics"
    assert out[0]["error_type"].startswith("invalid_output.") and "peak" in out[0]["error_message"]
    assert [r["status"] for r in out[1:]] == ["active", "active"]


def test_batches_are_split_by_audio_seconds(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak",
                                         "resources": {"num_cpus": 0.25, "batch_audio_s": 1.3}}})
    runner = _runner(plan, "paralinguistics")
    spy = _Spy(runner)
    runner(_clips(tmp_path, n=4))  # 0.5, 0.75, 1.0, 1.25 s
    assert spy.calls == [["c0", "c1"], ["c2"], ["c3"]]


def test_process_calls_hold_at_most_batch_size_clips(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "resources": {"num_cpus": 0.25, "batch_size": 2}}})
    runner = _runner(plan, "paralinguistics")
    spy = _Spy(runner)
    runner(_clips(tmp_path, n=5))
    assert spy.calls == [["c0", "c1"], ["c2", "c3"], ["c4"]]


def test_a_worker_hands_on_parts_of_at_most_batch_audio_s(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak",
                                         "resources": {"num_cpus": 0.25, "batch_audio_s": 1.3}}})
    runner = _runner(plan, "paralinguistics")
    table = _clips(tmp_path, n=4)  # 0.5, 0.75, 1.0, 1.25 s
    parts = list(runner.parts(table))
    assert [p.column("clip_id").to_pylist() for p in parts] == [["c0", "c1"], ["c2"], ["c3"]]
    outs = [runner(p) for p in parts]
    assert pa.concat_tables(outs).column("status").to_pylist() == ["active"] * 4
    _, unbounded = _plan({"paralinguistics": {"backend": "test-peak"}})
    assert [p.num_rows for p in _runner(unbounded, "paralinguistics").parts(table)] == [4]


def test_error_and_skipped_rows_pass_through_untouched(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "fail_on": "c0"}})
    runner = _runner(plan, "paralinguistics")
    once = runner(_clips(tmp_path))
    again = _runner(plan, "paralinguistics")(once.drop_columns(["out_paralinguistics", "prov_paralinguistics",
                                                                "t_paralinguistics"]))
    assert again.column("status").to_pylist() == once.column("status").to_pylist()
    assert again.column("error_type").to_pylist()[0] == "too_quiet"


def test_message_is_truncated(tmp_path: Path, test_backends: None) -> None:
    _, plan = _plan({"paralinguistics": {"backend": "test-peak", "raise_on": "c0" * 3000}})
    runner = _runner(plan, "paralinguistics")
    runner.stage.process = lambda batch: (_ for _ in ()).throw(ValueError("x" * 5000))
    row = runner(_clips(tmp_path, n=1)).to_pylist()[0]
    assert len(row["error_message"]) == MAX_MESSAGE and row["error_message"].endswith("...")


# --- merge -----------------------------------------------------------------------------------------


def _context(recipe, plan) -> dict[str, Any]:
    from uas_pipeline.plan import not_run_provenance

    return {"order": [s.name for s in plan], "recipe_hash": RECIPE_HASH, "pipeline_version": "9.9.9",
            "created_at_mode": "source_mtime", "run_started": RUN_STARTED,
            "not_run": not_run_provenance(recipe, plan), "fields": record_field_sources(recipe, plan)}


def test_merge_builds_records_ledger_rows_and_side_columns(tmp_path: Path, test_backends: None) -> None:
    recipe, plan = _plan({"paralinguistics": {"backend": "test-peak", "fail_on": "c1"}})
    table = _runner(plan, "paralinguistics", drop_rates=(8000,))(_clips(tmp_path))
    merged = merge_rows(table, plan, _context(recipe, plan))
    assert merged.schema.names == [*OUTPUT_SCHEMA.names, "test_peak"]
    rows = merged.to_pylist()
    assert [r["kind"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["stage"] == "paralinguistics" and rows[1]["uas"] is None
    assert rows[0]["test_peak"] == pytest.approx(0.3, abs=1e-3)
    record = UASRecord.from_json(rows[0]["uas"])
    assert record_problems(rows[0]["uas"]) == []
    assert record.uas_version == "1.1" and record.provenance.pipeline_version == "9.9.9"
    rec = record.paralinguistics.recording
    assert rec.snr_db == pytest.approx(20.3, abs=0.01) and rec.quality.ovrl == 2.5
    assert rec.speech_ratio is None and record.paralinguistics.speakers is None  # not annotated
    assert record.transcription is None and record.non_linguistic_events is None
    fields = record.provenance.fields
    assert fields["paralinguistics.recording.snr_db"] == "paralinguistics"
    assert fields["non_linguistic_events"].startswith("skipped: ")
    assert fields["transcription.text"] == "skipped: stages.asr not in recipe"
    assert record.provenance.stages["asr"].status == "skipped: stage not configured in recipe"
    assert json.loads(rows[0]["timings"]).keys() >= {"decode", "paralinguistics", "merge"}


def test_records_are_byte_identical_across_runs(tmp_path: Path, test_backends: None) -> None:
    recipe, plan = _plan({"paralinguistics": {"backend": "test-peak"}})
    texts, clips = [], _clips(tmp_path)
    for _ in range(2):
        table = _runner(plan, "paralinguistics")(clips)
        texts.append(merge_rows(table, plan, _context(recipe, plan)).column("uas").to_pylist())
    assert texts[0] == texts[1]


def test_created_at_modes() -> None:
    assert created_at("source_mtime", 1_700_000_000.75, RUN_STARTED) == MTIME_ISO
    assert created_at("source_mtime", None, RUN_STARTED) == "1970-01-01T00:00:00Z"
    assert created_at("now", 1.0, RUN_STARTED) == RUN_STARTED
    assert created_at("2024-01-01T00:00:00Z", 1.0, RUN_STARTED) == "2024-01-01T00:00:00Z"


# --- a derived step: speaker attribution -----------------------------------------------------------


def test_attribution_runs_between_asr_and_diarization(tmp_path: Path, test_backends: None) -> None:
    from uas_pipeline.outputs.asr import AsrOutput
    from uas_pipeline.schema import Segment, Transcription, Word

    recipe, plan = _plan({"asr": {"backend": "faster-whisper"}, "diarization": {"backend": "test-halves"}})
    assert [s.name for s in plan] == ["asr", "diarization", "attribution"]
    table = _clips(tmp_path, n=1, rate=16000)  # c0: 0.5 s
    words = [Word(word=w, start=s, end=e, confidence=0.9)
             for w, s, e in [("hello", 0.0, 0.1), ("there", 0.12, 0.2), ("general", 0.3, 0.4), ("kenobi", 0.41, 0.5)]]
    seg = Segment(start=0.0, end=0.5, speaker=None, text="hello there general kenobi", confidence=0.9, words=words)
    asr = AsrOutput(transcription=Transcription(text=seg.text, language="en", language_confidence=None,
                                                segments=[seg], rejected=[]))
    table = table.append_column("out_asr", pa.array([asr.model_dump_json()], pa.large_string()))
    table = table.append_column("prov_asr", pa.array(['{"backend":"faster-whisper","model":null,'
                                                      '"model_version":null,"params":{},"status":"ok"}']))
    table = _runner(plan, "diarization")(table)
    table = _runner(plan, "attribution")(table)
    row = merge_rows(table, plan, _context(recipe, plan)).to_pylist()[0]
    assert row["kind"] == "ok", row["message"]
    record = UASRecord.from_json(row["uas"])
    segs = record.transcription.segments
    assert [(s.speaker, s.text) for s in segs] == [("SPEAKER_00", "hello there"), ("SPEAKER_01", "general kenobi")]
    assert record.transcription.text == "hello there general kenobi"
    assert [s.id for s in record.paralinguistics.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert record.paralinguistics.recording.num_speakers == 2
    assert record.provenance.fields["transcription.segments"] == "attribution"
    assert record.provenance.fields["paralinguistics.speakers"] == "diarization"
    assert row["num_speakers"] == 2


@pytest.mark.parametrize("module", ["tasks", "runner", "assembly", "plan"])
def test_no_stage_specific_branches_in_the_run_machinery(module: str) -> None:
    import importlib

    source = Path(importlib.import_module(f"uas_pipeline.{module}").__file__).read_text()
    names = ["vad", "asr", "diarization", "events", "attribution", "silero", "whisper"]
    if module != "assembly":  # the assembler maps the record's structure, whose parts share these names
        names += ["paralinguistics", "transcription"]
    for name in names:
        assert f'"{name}"' not in source and f"'{name}'" not in source, (module, name)
