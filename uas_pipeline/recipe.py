"""Recipes: a YAML file → a validated :class:`Recipe`, with ``--set`` overrides and a stable hash.

Every key is checked before any work starts. Errors name the dotted key and, where a closed set
exists, the allowed values (:class:`RecipeError`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .resources import Resources


class RecipeError(ValueError):
    """An invalid recipe; the message names the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputConfig(_Strict):
    path: str | None = None
    """A directory (searched recursively) or a JSONL manifest; ``--input`` overrides it."""
    extensions: list[str] = Field(
        default_factory=lambda: ["wav", "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "webm", "mp4"]
    )
    max_clip_duration_s: float = Field(default=600.0, gt=1.0)
    """Longer files (or manifest regions) are split into regions of at most this length."""
    min_clip_duration_s: float = Field(default=0.05, ge=0.0)
    decode_num_cpus: float = Field(default=0.25, gt=0)
    decode_batch_size: int | None = Field(default=None, ge=1)
    """Clips per decode task, and so the most clips of a block. Default: the largest
    ``resources.batch_size`` of the enabled model stages, so that stage receives full batches."""
    decode_batch_audio_s: float = Field(default=600.0, gt=0)
    """Blocks of decoded audio hold about this many audio seconds at most (one longer clip goes
    alone). Model stages receive whole blocks, so memory in flight is bounded by seconds of audio,
    not by clip count."""
    decode_concurrency: int | None = Field(default=None, ge=1)
    """Decode (and merge) tasks in flight. Default: the largest stage worker pool, so light tasks
    keep the model workers fed without spawning a Ray worker process per spare CPU fraction."""


class OutputConfig(_Strict):
    dir: str = "uas_output"
    rows_per_shard: int = Field(default=1000, ge=1)
    flush_interval_s: float = Field(default=60.0, gt=0)
    """A partial shard is written at least this often, so a killed run loses little work."""
    created_at: str = "source_mtime"
    """``source_mtime`` (reproducible records), ``now``, or a fixed ISO 8601 timestamp."""

    @field_validator("created_at", mode="before")
    @classmethod
    def _timestamp_text(cls, v: Any) -> Any:
        if isinstance(v, datetime):  # YAML parses unquoted timestamps
            v = v if v.tzinfo else v.replace(tzinfo=timezone.utc)
            return v.isoformat().replace("+00:00", "Z")
        if isinstance(v, str) and v not in ("source_mtime", "now"):
            try:
                datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("expected source_mtime, now, or an ISO 8601 timestamp") from None
        return v


class RuntimeConfig(_Strict):
    ray_address: str | None = None
    """``None`` starts an embedded local Ray; ``auto`` or ``ray://host:10001`` joins a cluster."""
    num_cpus: int | None = Field(default=None, ge=1)
    """CPUs of the embedded Ray (default: all); ignored when joining a cluster."""
    num_gpus: int | None = Field(default=None, ge=0)
    temp_dir: str | None = None
    progress: bool = True
    resources_lost_grace_s: float = Field(default=120.0, gt=0)
    """When nodes leave the cluster and the rest cannot host the stage workers for this long, the
    run stops with a clear error (an autoscaler may bring nodes back within the grace)."""


class StageConfig(BaseModel):
    """Common stage keys; backend parameters are the remaining keys, validated by the backend."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    backend: str | None = None
    """Required for model stages; derived steps have none (``builtin``)."""
    resources: Resources | None = None
    """``None``: the backend's ``default_resources``."""

    def backend_params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Recipe(_Strict):
    name: str = "uas"
    input: InputConfig = Field(default_factory=InputConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    stages: dict[str, StageConfig] = Field(default_factory=dict)
    max_failure_ratio: float = Field(default=0.1, ge=0, le=1)
    """Exit non-zero when more than this share of decoded clips fail in an annotation stage."""
    max_input_failure_ratio: float = Field(default=1.0, ge=0, le=1)
    """Exit non-zero when more than this share of clips cannot be decoded (corrupt files are
    expected in crawled data, so by default they only go to the ledger)."""

    @field_validator("stages", mode="before")
    @classmethod
    def _known_stages(cls, v: Any) -> Any:
        from .stages.registry import stage_names

        if not isinstance(v, dict):
            raise RecipeError("stages: must be a mapping of stage name to settings")
        known = stage_names()
        for name in v:
            if name not in known:
                raise RecipeError(f"stages.{name}: unknown stage; allowed: {', '.join(known)}")
        return v

    def hash(self) -> str:
        """Stable hash of what changes records: the planned stages (derived steps included) with
        their validated parameters (defaults filled in), region length, minimum clip length and
        ``created_at``; not input/output paths, resources, runtime, output layout or failure limits."""
        from .plan import build_plan

        stages = {step.name: {"backend": step.backend, "params": step.params.model_dump(mode="json")}
                  for step in build_plan(self)}
        payload = {
            "input": {"max_clip_duration_s": self.input.max_clip_duration_s,
                      "min_clip_duration_s": self.input.min_clip_duration_s},
            "created_at": self.output.created_at,
            "stages": dict(sorted(stages.items())),
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def enabled_stages(self) -> dict[str, StageConfig]:
        """Stages the recipe turns on (derived steps are added by the plan)."""
        from .stages.registry import is_derived

        return {k: v for k, v in self.stages.items() if v.enabled and not is_derived(k)}


# --- loading ---------------------------------------------------------------------------------------


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` → (["a", "b", "c"], value parsed as a YAML scalar/flow value)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set {item!r}: expected dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise RecipeError(f"--set {key}: cannot parse value {raw!r}: {exc}") from exc
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item)
        node = data
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise RecipeError(f"--set {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a mapping")
            node = child
        node[path[-1]] = value
    return data


def _format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error":
            msg = f"invalid value {err.get('input')!r}; {msg.lower()}"
        lines.append(f"{loc or '<recipe>'}: {msg}")
    return "invalid recipe:\n  " + "\n  ".join(lines)


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(sorted(model.model_fields))


def validate_recipe(data: dict[str, Any]) -> Recipe:
    """Validate a recipe mapping, including every stage's backend and backend parameters."""
    from .stages.registry import available_backends, get_backend, is_derived

    if not isinstance(data, dict):
        raise RecipeError("invalid recipe: the top level must be a mapping")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        message = _format_validation_error(exc)
        for err in exc.errors():
            if err["type"] == "extra_forbidden":
                section = err["loc"][0] if len(err["loc"]) > 1 else None
                model = Recipe.model_fields[section].annotation if section else Recipe
                if isinstance(model, type) and issubclass(model, BaseModel):
                    message += f"\n  allowed keys{' in ' + str(section) if section else ''}: {_allowed_keys(model)}"
                break
        raise RecipeError(message) from None
    for name, stage in recipe.stages.items():
        if is_derived(name):
            if stage.backend not in (None, "builtin"):
                raise RecipeError(f"stages.{name}.backend: {name} is a derived step; it has no backend to choose")
            params_model = get_backend(name, None).Params
        else:
            backends = available_backends(name)
            if stage.backend is None:
                raise RecipeError(f"stages.{name}.backend: missing; allowed: {', '.join(backends) or 'none'}")
            if stage.backend not in backends:
                if not stage.enabled:
                    continue  # a disabled stage may name a backend this version does not ship
                allowed = ", ".join(backends) or "none in this version"
                raise RecipeError(f"stages.{name}.backend: unknown backend {stage.backend!r}; allowed: {allowed}")
            params_model = get_backend(name, stage.backend).Params
        try:
            params = params_model.model_validate(stage.backend_params())
        except ValidationError as exc:
            message = _format_validation_error(exc, prefix=f"stages.{name}")
            if any(e["type"] == "extra_forbidden" for e in exc.errors()):
                common = "enabled, backend, resources"
                message += f"\n  allowed keys in stages.{name}: {common}, {_allowed_keys(params_model)}"
            raise RecipeError(message) from None
        _resolve_local_paths(stage, params)
        if stage.enabled:
            _check_installed(name, stage.backend, get_backend(name, stage.backend))
    if recipe.stages:
        from .plan import build_plan

        build_plan(recipe)  # ordering, requirements and field ownership are recipe errors too
    return recipe


def _check_installed(name: str, backend: str | None, cls: type) -> None:
    missing = cls.missing_modules()
    if missing:
        extra = f"the [{cls.extra}] extra: pip install 'uas-pipeline[{cls.extra}]'" if cls.extra else "more packages"
        raise RecipeError(f"stages.{name}: backend {backend or 'builtin'!r} needs {extra} "
                          f"(missing: {', '.join(missing)})")


def _resolve_local_paths(stage: StageConfig, params: BaseModel) -> None:
    """Rewrite relative model paths to absolute ones, here on the driver, so a worker on another
    node (another working directory) loads the same file."""
    from .stages.base import LocalPath

    for field_name, info in type(params).model_fields.items():
        if not any(isinstance(m, LocalPath) for m in info.metadata):
            continue
        value = getattr(params, field_name)
        if isinstance(value, str) and looks_like_path(value):
            setattr(stage, field_name, str(Path(value).expanduser().resolve()))


def looks_like_path(value: str) -> bool:
    """A local file or directory (rather than a model name or hub id)."""
    return value.startswith(("/", "./", "../", "~")) or Path(value).expanduser().exists()


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply ``--set`` overrides and validate it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise RecipeError(f"recipe not found: {path}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    data = apply_overrides(data, overrides or [])
    # Relative input/output paths are relative to the working directory, like CLI arguments.
    return validate_recipe(data)
