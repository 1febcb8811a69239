"""Planning a run without Ray: stage order, derived steps, field ownership, provenance reasons,
resource checks and the run summary."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from uas_pipeline.assembly import FIELD_PATHS, AssemblyError, PlannedStage, check_ownership, overlaps
from uas_pipeline.outputs.asr import AsrOutput
from uas_pipeline.plan import build_plan, not_run_provenance, ownership_table, record_field_sources
from uas_pipeline.recipe import Recipe, RecipeError, validate_recipe
from uas_pipeline.runner import LIGHT_TASK_CPUS, RunSummary, _account, check_resources
from uas_pipeline.stages import registry
from uas_pipeline.stages.base import DerivedStep, Stage, StageInput


class _Fake(Stage):
    backend = "fake"
    Output = AsrOutput

    def process(self, batch: list[StageInput]) -> list[Any]:
        raise NotImplementedError


class NeedsVad(_Fake):
    name = "diarization"
    requires = ("audio", "vad")


class Events(_Fake):
    name = "events"
    uses = ("asr",)
    fills = ("non_linguistic_events",)


class AlsoEvents(_Fake):
    name = "paralinguistics"
    fills = ("non_linguistic_events",)


class TextToo(_Fake):
    name = "paralinguistics"
    fills = ("transcription",)  # covers every transcription field


class BadPath(_Fake):
    name = "paralinguistics"
    fills = ("paralinguistics.recording.mood",)


class VadNeedsAsr(_Fake):
    name = "vad"
    requires = ("audio", "asr")


class Refiner(DerivedStep):
    name = "refiner"
    requires = ("events",)
    refines = ("transcription.text",)  # not filled by events: invalid

    def process(self, batch):
        raise NotImplementedError


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_BACKENDS", copy.deepcopy(registry._BACKENDS))
    monkeypatch.setattr(registry, "_DERIVED", copy.deepcopy(registry._DERIVED))
    for stage, backend, cls in [("diarization", "needs-vad", "NeedsVad"), ("events", "fake", "Events"),
                                ("paralinguistics", "also-events", "AlsoEvents"),
                                ("paralinguistics", "text-too", "TextToo"), ("paralinguistics", "bad-path", "BadPath"),
                                ("vad", "needs-asr", "VadNeedsAsr")]:
        registry.register_backend(stage, backend, f"{__name__}:{cls}")


def _recipe(stages: dict[str, Any], **extra: Any) -> Recipe:
    return validate_recipe({"stages": stages, **extra})


VAD = {"backend": "silero", "resources": {"num_cpus": 0.5, "concurrency": 1}}
ASR = {"backend": "faster-whisper", "resources": {"num_cpus": 1, "concurrency": 2}}


# --- order and requirements ------------------------------------------------------------------------


def test_order_vad_before_asr() -> None:
    assert [s.name for s in build_plan(_recipe({"asr": ASR, "vad": VAD}))] == ["vad", "asr"]
    assert [s.name for s in build_plan(_recipe({"asr": ASR, "vad": {**VAD, "enabled": False}}))] == ["asr"]


def test_order_follows_requirements(fake_backends: None) -> None:
    plan = build_plan(_recipe({"diarization": {"backend": "needs-vad"}, "vad": VAD}))
    assert [s.name for s in plan] == ["vad", "diarization"]


def test_required_stage_disabled_is_a_recipe_error(fake_backends: None) -> None:
    with pytest.raises(RecipeError, match=r"stages.diarization: requires stage\(s\) vad to be enabled"):
        _recipe({"diarization": {"backend": "needs-vad"}, "vad": {**VAD, "enabled": False}})


def test_circular_requirements(fake_backends: None) -> None:
    with pytest.raises(RecipeError, match="circular"):
        _recipe({"vad": {"backend": "needs-asr"}, "asr": {"backend": "faster-whisper"},
                 "diarization": {"backend": "needs-vad"}})


def test_derived_step_is_enabled_with_its_inputs_and_can_be_disabled(fake_backends: None,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register_backend("diarization", "halves", "tests.fake_stages:HalvesDiarization")
    both = {"asr": ASR, "diarization": {"backend": "halves"}}
    assert [s.name for s in build_plan(_recipe(both))] == ["asr", "diarization", "attribution"]
    assert [s.name for s in build_plan(_recipe({"asr": ASR}))] == ["asr"]
    off = build_plan(_recipe({**both, "attribution": {"enabled": False}}))
    assert [s.name for s in off] == ["asr", "diarization"]
    tuned = build_plan(_recipe({**both, "attribution": {"absorb_run_s": 0.0}}))
    assert tuned[-1].params.absorb_run_s == 0.0
    with pytest.raises(RecipeError, match="derived step"):
        _recipe({**both, "attribution": {"backend": "other"}})
    with pytest.raises(RecipeError, match=r"stages.attribution.max_gap: unknown key"):
        _recipe({**both, "attribution": {"max_gap": 1}})


# --- field ownership -------------------------------------------------------------------------------


def test_two_stages_filling_one_field_is_a_recipe_error(fake_backends: None) -> None:
    with pytest.raises(RecipeError, match="stages.paralinguistics and stages.events both fill non_linguistic_events"):
        _recipe({"events": {"backend": "fake"}, "paralinguistics": {"backend": "also-events"}})
    with pytest.raises(RecipeError, match="both fill transcription"):
        _recipe({"asr": ASR, "paralinguistics": {"backend": "text-too"}})
    _recipe({"events": {"backend": "fake"}, "paralinguistics": {"backend": "also-events", "enabled": False}})


def test_unknown_field_path_is_a_recipe_error(fake_backends: None) -> None:
    with pytest.raises(RecipeError, match="unknown field path 'paralinguistics.recording.mood'"):
        _recipe({"paralinguistics": {"backend": "bad-path"}})


def test_refines_only_fields_of_required_stages() -> None:
    with pytest.raises(AssemblyError, match="refines transcription.text"):
        check_ownership([PlannedStage("events", ("non_linguistic_events",)),
                         PlannedStage("refiner", (), ("transcription.text",))], {"refiner": ("events",)})
    check_ownership([PlannedStage("asr", ("transcription.text",)),
                     PlannedStage("refiner", (), ("transcription.text",))], {"refiner": ("asr",)})


def test_overlap_rules() -> None:
    assert overlaps("transcription", "transcription.text")
    assert not overlaps("transcription.text", "transcription.text_extra")
    assert not overlaps("paralinguistics.speakers", "paralinguistics.speakers[].pitch")
    assert not overlaps("paralinguistics.speakers[].pitch", "paralinguistics.segments[].pitch")


def test_field_sources_name_the_filler_or_the_reason() -> None:
    recipe = _recipe({"vad": VAD, "asr": ASR, "events": {"enabled": False, "backend": "panns"}})
    fields = record_field_sources(recipe, build_plan(recipe))
    assert set(fields) == set(FIELD_PATHS)
    assert fields["transcription.segments"] == "asr"
    assert fields["paralinguistics.recording.speech_ratio"] == "vad"
    assert all(v.startswith("skipped: ") for k, v in fields.items() if not k.startswith("transcription")
               and k != "paralinguistics.recording.speech_ratio")


def test_skipped_fields_reason_reaches_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    from uas_pipeline.stages.vad_silero import SileroVadStage

    monkeypatch.setattr(SileroVadStage, "skipped_fields",
                        lambda self: {"paralinguistics.recording.speech_ratio": "no model configured"})
    recipe = _recipe({"vad": VAD})
    fields = record_field_sources(recipe, build_plan(recipe))
    assert fields["paralinguistics.recording.speech_ratio"] == "skipped: stages.vad: no model configured"


def test_ownership_table_lists_registered_fillers() -> None:
    rows = ownership_table()
    assert ("transcription.segments", "asr (faster-whisper)", "fills") in rows
    assert ("transcription.segments", "attribution (builtin)", "refines") in rows


def test_not_run_provenance_reasons() -> None:
    recipe = _recipe({"vad": VAD, "asr": {**ASR, "enabled": False}, "events": {"enabled": False, "backend": "nope"}})
    entries = not_run_provenance(recipe, build_plan(recipe))
    assert entries["asr"]["status"] == "skipped: stage disabled in recipe"
    assert "not available in this version" in entries["events"]["status"]
    assert entries["diarization"]["status"] == "skipped: stage not configured in recipe"
    assert "vad" not in entries


# --- resources -------------------------------------------------------------------------------------


def test_check_resources_fits() -> None:
    recipe = _recipe({"vad": VAD, "asr": ASR})
    plan = build_plan(recipe)
    check_resources(plan, recipe, total_cpus=2.5 + LIGHT_TASK_CPUS, total_gpus=0)


def test_check_resources_no_cpu_left_for_decoding() -> None:
    recipe = _recipe({"vad": VAD, "asr": ASR})
    plan = build_plan(recipe)
    with pytest.raises(RecipeError) as ei:
        check_resources(plan, recipe, total_cpus=2.5, total_gpus=0)
    assert "vad=0.5x1" in str(ei.value) and "asr=1.0x2" in str(ei.value)
    heavy = _recipe({"vad": VAD, "asr": ASR}, input={"decode_num_cpus": 1.0})
    with pytest.raises(RecipeError, match="at least 1 must stay free"):
        check_resources(plan, heavy, total_cpus=3.0, total_gpus=0)


def test_check_resources_gpus() -> None:
    recipe = _recipe({"vad": VAD, "asr": {**ASR, "resources": {"num_cpus": 1, "num_gpus": 0.5, "concurrency": 3}}})
    plan = build_plan(recipe)
    with pytest.raises(RecipeError, match=r"num_gpus: stages reserve 1.5 GPUs but the cluster has 1"):
        check_resources(plan, recipe, total_cpus=16, total_gpus=1)
    check_resources(plan, recipe, total_cpus=16, total_gpus=2)


# --- run summary -----------------------------------------------------------------------------------


def _limits(stage: float = 0.1, inputs: float = 1.0) -> Recipe:
    return _recipe({}, max_failure_ratio=stage, max_input_failure_ratio=inputs)


def test_run_summary_ratios() -> None:
    s = RunSummary(output_dir="out", ok=6, failed=4, skipped_already_done=5,
                   failures_by_stage={"decode": 2, "asr": 1, "merge": 1})
    assert s.input_clips == 15 and s.input_failures == 2
    assert s.stage_failure_ratio == pytest.approx(2 / 8)
    assert s.input_failure_ratio == pytest.approx(2 / 10)
    assert s.over_limits(_limits(stage=0.25, inputs=0.2)) is None
    assert s.over_limits(_limits(stage=0.2)) == "2 clips failed in annotation stages (25% > max_failure_ratio 20%)"
    assert s.over_limits(_limits(stage=0.5, inputs=0.1)) == (
        "2 clips could not be decoded (20% > max_input_failure_ratio 10%)")


def test_run_summary_empty_and_input_only_failures() -> None:
    empty = RunSummary(output_dir="out", skipped_already_done=3)
    assert (empty.stage_failure_ratio, empty.input_failure_ratio, empty.input_clips) == (0.0, 0.0, 3)
    assert empty.realtime_factor is None
    broken = RunSummary(output_dir="out", ok=0, failed=4, failures_by_stage={"decode": 4})
    assert broken.stage_failure_ratio == 0.0 and broken.input_failure_ratio == 1.0
    assert broken.over_limits(_limits()) is None
    assert "could not be decoded" in broken.over_limits(_limits(inputs=0.5))


def test_account_counts_rows_and_nodes() -> None:
    rows = [
        {"kind": "ok", "duration_s": 2.0, "timings": '{"decode": 0.5, "asr": 1.0}',
         "nodes": '{"asr": "n1", "decode": "n2"}'},
        {"kind": "error", "stage": "asr", "duration_s": 1.0, "timings": "{}", "nodes": '{"decode": "n2"}'},
        {"kind": "error", "stage": "decode", "timings": "{}", "nodes": None},
        {"kind": "skipped", "timings": "{}"},
    ]
    s = RunSummary(output_dir="out")
    for row in rows:
        _account(s, row)
    assert (s.ok, s.failed, s.skipped_already_done, s.input_clips) == (1, 2, 1, 4)
    assert s.failures_by_stage == {"asr": 1, "decode": 1}
    assert s.audio_s == 2.0 and s.stage_busy_s == {"decode": 0.5, "asr": 1.0}
    assert s.nodes == {"n1": {"asr": 1}, "n2": {"decode": 2}}


def test_stage_that_fills_nothing_is_left_out_with_its_reason() -> None:
    recipe = _recipe({"vad": VAD, "emotion": {"backend": "transformers", "model": None}})
    plan = build_plan(recipe)
    assert [s.name for s in plan] == ["vad"]  # no worker held for a stage with no model
    assert not_run_provenance(recipe, plan)["emotion"]["status"] == "skipped: no model configured"
    fields = record_field_sources(recipe, plan)
    assert fields["paralinguistics.segments[].emotion"] == "skipped: stages.emotion: no model configured"
