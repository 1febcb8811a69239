"""Planning a run without Ray: stage order, not-run provenance, resource checks, summary counters;
and the WER helpers used by the evaluation scripts."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from uas_pipeline.evaluation import edit_distance, normalize_text, pooled_wer
from uas_pipeline.recipe import STAGE_NAMES, Recipe, RecipeError, validate_recipe
from uas_pipeline.runner import (
    LIGHT_TASK_CPUS,
    RunSummary,
    _account,
    check_resources,
    not_run_provenance,
    stage_order,
)
from uas_pipeline.schema import StageProvenance
from uas_pipeline.stages import registry
from uas_pipeline.stages.base import ClipRef, ClipTask, Stage, StageError
from uas_pipeline.tasks import merge_tasks


class _Fake(Stage):
    backend = "fake"

    def process(self, batch: list[ClipTask]) -> list[Any]:
        return [{} for _ in batch]


class NeedsVad(_Fake):
    name = "diarization"
    requires = ("audio", "vad")


class NeedsEvents(_Fake):
    name = "diarization"
    requires = ("audio", "events")


class Events(_Fake):
    name = "events"
    uses = ("asr",)


class VadNeedsAsr(_Fake):
    name = "vad"
    requires = ("audio", "asr")


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake backends in a private copy of the registry; the original is restored afterwards."""
    monkeypatch.setattr(registry, "_BACKENDS", copy.deepcopy(registry._BACKENDS))
    registry.register_backend("diarization", "needs-vad", f"{__name__}:NeedsVad")
    registry.register_backend("diarization", "needs-events", f"{__name__}:NeedsEvents")
    registry.register_backend("events", "fake", f"{__name__}:Events")
    registry.register_backend("vad", "needs-asr", f"{__name__}:VadNeedsAsr")


def _recipe(stages: dict[str, Any], **extra: Any) -> Recipe:
    return validate_recipe({"stages": stages, **extra})


VAD = {"backend": "silero", "resources": {"num_cpus": 0.5, "concurrency": 1}}
ASR = {"backend": "faster-whisper", "resources": {"num_cpus": 1, "concurrency": 2}}


# --- stage order -----------------------------------------------------------------------------------


def test_stage_order_vad_before_asr() -> None:
    plan = stage_order(_recipe({"asr": ASR, "vad": VAD}))
    assert [name for name, _, _ in plan] == ["vad", "asr"]
    (_, vad_cfg, vad_cls), (_, asr_cfg, asr_cls) = plan
    assert (vad_cls.name, vad_cls.backend, asr_cls.backend) == ("vad", "silero", "faster-whisper")
    assert vad_cfg.resources.num_cpus == 0.5 and asr_cfg.resources.concurrency == 2


def test_stage_order_only_enabled_stages() -> None:
    recipe = _recipe({"vad": {**VAD, "enabled": False}, "asr": ASR, "diarization": {"enabled": False, "backend": "x"}})
    assert [name for name, _, _ in stage_order(recipe)] == ["asr"]  # asr only *uses* vad
    assert stage_order(_recipe({})) == []


def test_stage_order_follows_requirements(fake_backends: None) -> None:
    # diarization comes before events in STAGE_NAMES, but requires it; events uses asr
    recipe = _recipe({"diarization": {"backend": "needs-events"}, "events": {"backend": "fake"}, "asr": ASR,
                      "vad": VAD})
    assert [name for name, _, _ in stage_order(recipe)] == ["vad", "asr", "events", "diarization"]


def test_stage_order_required_stage_disabled(fake_backends: None) -> None:
    recipe = _recipe({"vad": {**VAD, "enabled": False}, "asr": ASR, "diarization": {"backend": "needs-vad"}})
    with pytest.raises(RecipeError, match=r"stages\.diarization: requires stage\(s\) vad to be enabled"):
        stage_order(recipe)
    with pytest.raises(RecipeError, match="requires stage"):
        stage_order(_recipe({"diarization": {"backend": "needs-vad"}}))  # or not configured at all
    ok = _recipe({"vad": VAD, "diarization": {"backend": "needs-vad"}})
    assert [name for name, _, _ in stage_order(ok)] == ["vad", "diarization"]


def test_stage_order_circular(fake_backends: None) -> None:
    with pytest.raises(RecipeError, match="circular"):
        stage_order(_recipe({"vad": {"backend": "needs-asr"}, "asr": ASR}))


def test_fake_backends_do_not_leak() -> None:
    assert registry.available_backends("diarization") == []
    assert "needs-asr" not in registry.available_backends("vad")


# --- provenance of stages that do not run ----------------------------------------------------------


def test_not_run_provenance_reasons(fake_backends: None) -> None:
    recipe = _recipe({
        "vad": {**VAD, "enabled": False},
        "asr": ASR,
        "diarization": {"enabled": False, "backend": "pyannote"},
        "events": {"enabled": False, "backend": "fake"},
    })
    entries = not_run_provenance(recipe)
    assert list(entries) == ["vad", "diarization", "paralinguistics", "events"]
    assert entries["vad"]["status"] == "skipped: stage disabled in recipe"
    assert entries["vad"]["backend"] == "silero"
    assert entries["diarization"]["status"] == (
        "skipped: stage disabled in recipe (backend 'pyannote' not available in this version)"
    )
    assert entries["diarization"]["backend"] == "pyannote"
    assert entries["paralinguistics"] == {"backend": None, "model": None, "model_version": None, "params": {},
                                          "status": "skipped: stage not configured in recipe"}
    assert entries["events"]["status"] == "skipped: stage disabled in recipe"
    for entry in entries.values():
        assert StageProvenance.model_validate(entry).status.startswith("skipped: ")


def test_not_run_provenance_all_enabled() -> None:
    assert not_run_provenance(_recipe({"vad": VAD, "asr": ASR})).keys() == set(STAGE_NAMES) - {"vad", "asr"}


# --- resources -------------------------------------------------------------------------------------


def test_check_resources_fits() -> None:
    recipe = _recipe({"vad": VAD, "asr": ASR})
    plan = stage_order(recipe)
    check_resources(plan, recipe, total_cpus=2.5 + LIGHT_TASK_CPUS, total_gpus=0)
    check_resources(plan, recipe, total_cpus=64, total_gpus=0)


def test_check_resources_no_cpu_left_for_decoding() -> None:
    recipe = _recipe({"vad": VAD, "asr": ASR})
    plan = stage_order(recipe)
    with pytest.raises(RecipeError) as ei:
        check_resources(plan, recipe, total_cpus=2.5, total_gpus=0)
    message = str(ei.value)
    assert "vad=0.5x1" in message and "asr=1.0x2" in message
    assert "reserve 2.5 CPUs" in message and "has 2.5" in message
    # a heavier decode reservation needs more room
    heavy = _recipe({"vad": VAD, "asr": ASR}, input={"decode_num_cpus": 1.0})
    with pytest.raises(RecipeError, match="at least 1 must stay free"):
        check_resources(plan, heavy, total_cpus=3.0, total_gpus=0)
    check_resources(plan, heavy, total_cpus=3.5, total_gpus=0)


def test_check_resources_gpus() -> None:
    recipe = _recipe({"vad": VAD, "asr": {**ASR, "resources": {"num_cpus": 1, "num_gpus": 0.5, "concurrency": 3}}})
    plan = stage_order(recipe)
    with pytest.raises(RecipeError, match=r"num_gpus: stages reserve 1.5 GPUs but the cluster has 1"):
        check_resources(plan, recipe, total_cpus=16, total_gpus=1)
    check_resources(plan, recipe, total_cpus=16, total_gpus=2)


# --- run summary -----------------------------------------------------------------------------------


def _limits(stage: float = 0.1, inputs: float = 1.0) -> Recipe:
    return _recipe({}, max_failure_ratio=stage, max_input_failure_ratio=inputs)


def test_run_summary_ratios() -> None:
    s = RunSummary(output_dir="out", ok=6, failed=4, skipped_already_done=5,
                   failures_by_stage={"decode": 2, "asr": 1, "merge": 1})
    assert s.input_clips == 15
    assert s.input_failures == 2
    assert s.stage_failure_ratio == pytest.approx(2 / 8)  # among the clips that decoded
    assert s.input_failure_ratio == pytest.approx(2 / 10)  # among all clips processed
    assert s.over_limits(_limits(stage=0.25, inputs=0.2)) is None
    assert s.over_limits(_limits(stage=0.2)) == (
        "2 clips failed in annotation stages (25% > max_failure_ratio 20%)"
    )
    assert s.over_limits(_limits(stage=0.5, inputs=0.1)) == (
        "2 clips could not be decoded (20% > max_input_failure_ratio 10%)"
    )


def test_run_summary_empty_and_input_only_failures() -> None:
    empty = RunSummary(output_dir="out", skipped_already_done=3)
    assert (empty.stage_failure_ratio, empty.input_failure_ratio, empty.input_clips) == (0.0, 0.0, 3)
    assert empty.over_limits(_limits(stage=0.0, inputs=0.0)) is None
    assert empty.realtime_factor is None
    broken_inputs = RunSummary(output_dir="out", ok=0, failed=4, failures_by_stage={"decode": 4})
    assert broken_inputs.stage_failure_ratio == 0.0  # nothing decoded: not a model failure
    assert broken_inputs.input_failure_ratio == 1.0
    assert broken_inputs.over_limits(_limits()) is None  # corrupt inputs only go to the ledger by default
    assert "could not be decoded" in broken_inputs.over_limits(_limits(inputs=0.5))
    assert RunSummary(output_dir="o", audio_s=30.0, wall_s=10.0).realtime_factor == 3.0


def test_account_counts_merged_rows() -> None:
    def done(clip_id: str, **kw: Any) -> ClipTask:
        return ClipTask(ref=ClipRef(id=clip_id, source=f"/{clip_id}.wav"), **kw)

    rows = merge_tasks(
        [
            done("ok", sample_rate=16000, channels=1, duration_s=2.0, audio=np.zeros(1, np.float32),
                 timings={"decode": 0.5, "asr": 1.0}),
            done("bad", duration_s=1.0, error=StageError("asr", "RuntimeError", "x")),
            done("gone", error=StageError("decode", "empty_file", "x")),
            done("r#r0001", skipped=True),
        ],
        recipe_hash="0123456789abcdef", created_at_mode="now", run_started="2025-01-01T00:00:00Z", not_run={},
    ).to_pylist()
    s = RunSummary(output_dir="out")
    for row in rows:
        _account(s, row)
    assert (s.ok, s.failed, s.skipped_already_done, s.input_clips) == (1, 2, 1, 4)
    assert s.failures_by_stage == {"asr": 1, "decode": 1}
    assert s.audio_s == 2.0
    assert s.stage_busy_s["decode"] == 0.5 and s.stage_busy_s["asr"] == 1.0 and "merge" in s.stage_busy_s
    assert s.stage_audio_s["asr"] == 2.0


# --- evaluation helpers ----------------------------------------------------------------------------


def test_normalize_text() -> None:
    assert normalize_text("Hello, World!") == "hello world"
    assert normalize_text("  It’s   a  'quoted'  test...  ") == "it's a quoted test"
    assert normalize_text("don't -- stop; rock'n'roll") == "do not stop rock'n'roll"  # contractions expanded
    assert normalize_text("Café AU lait") == "café au lait"
    assert normalize_text("?!. ,") == ""
    assert normalize_text("'''") == ""


def _w(text: str) -> list[str]:
    return text.split()


def test_edit_distance() -> None:
    assert edit_distance([], []) == 0
    assert edit_distance(["a", "b"], []) == 2
    assert edit_distance([], ["a"]) == 1
    assert edit_distance(_w("a b c"), _w("a b c")) == 0
    assert edit_distance(_w("a b c"), _w("a x c")) == 1  # substitution
    assert edit_distance(_w("a b c d"), _w("a c d")) == 1  # deletion
    assert edit_distance(_w("a b"), _w("a b c")) == 1  # insertion
    assert edit_distance(_w("the cat sat"), _w("sat the cat")) == 2
    assert edit_distance(list("kitten"), list("sitting")) == 3


def test_pooled_wer() -> None:
    pairs = [("The cat sat.", "the cat sat"), ("a b c d", "a x d"), ("Hello there", "hello there friend")]
    # errors 0 + 2 + 1 over 3 + 4 + 2 reference words: pooled, not the mean of per-clip WERs
    assert pooled_wer(pairs) == pytest.approx(3 / 9)
    assert pooled_wer([("one two", "")]) == 1.0
    assert pooled_wer([("", "noise"), ("a b", "a b")]) == 0.5  # insertions against an empty reference count
    assert pooled_wer(iter([("x", "x")])) == 0.0  # any iterable


@pytest.mark.parametrize("pairs", [[], [("", "")], [("", "something")], [("...", "x")]])
def test_pooled_wer_empty_references(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="no reference words"):
        pooled_wer(pairs)
