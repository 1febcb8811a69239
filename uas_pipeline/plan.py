"""From a recipe to the ordered steps of a run, with field ownership checked.

The plan holds every enabled model stage and every derived step whose required stages are all
enabled (unless the recipe disables it), ordered so each step runs after what it requires or uses.
It also answers, for the records, who fills which field (``provenance.fields``) and why a stage
did not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .assembly import FIELD_PATHS, AssemblyError, PlannedStage, check_ownership, covers, field_sources
from .recipe import Recipe, RecipeError, StageConfig
from .resources import Resources
from .stages.base import Stage, StageParams
from .stages.registry import (
    all_backend_classes,
    available_backends,
    derived_step_names,
    get_backend,
    load_stage_class,
    model_stage_names,
)


@dataclass(frozen=True)
class PlannedStep:
    name: str
    cls: type[Stage]
    params: StageParams
    resources: Resources

    @property
    def backend(self) -> str:
        return self.cls.backend

    @property
    def derived(self) -> bool:
        return self.cls.derived

    @property
    def reads_audio(self) -> bool:
        return "audio" in self.cls.requires and self.cls.sample_rate is not None

    def deps(self) -> tuple[str, ...]:
        return tuple(d for d in (*self.cls.requires, *self.cls.uses) if d != "audio")

    def instantiate(self) -> Stage:
        return self.cls(self.params, self.resources)

    def config(self) -> dict[str, Any]:
        """What a worker needs to rebuild this step (JSON-able). The class travels by import path,
        so backends registered at run time (plug-ins, tests) need no registry entry in the worker."""
        return {"name": self.name, "target": f"{self.cls.__module__}:{self.cls.__qualname__}",
                "params": self.params.model_dump(mode="json"), "resources": self.resources.model_dump()}

    def planned(self) -> PlannedStage:
        stage = self.instantiate()
        return PlannedStage(self.name, self.cls.fills_for(self.params), self.cls.refines,
                            tuple(sorted(stage.skipped_fields().items())))


def step_from_config(config: dict[str, Any]) -> PlannedStep:
    cls = load_stage_class(config["target"])
    return PlannedStep(config["name"], cls, cls.Params.model_validate(config["params"]),
                       Resources.model_validate(config["resources"]))


def _step(name: str, cfg: StageConfig | None) -> PlannedStep:
    cls = get_backend(name, cfg.backend if cfg else None)
    params = cls.Params.model_validate(cfg.backend_params() if cfg else {})
    resources = (cfg.resources if cfg and cfg.resources else None) or cls.default_resources
    return PlannedStep(name, cls, params, resources)


def build_plan(recipe: Recipe) -> list[PlannedStep]:
    """The run's steps in execution order; :class:`RecipeError` for impossible recipes.

    An enabled stage whose configuration fills nothing (every field in its ``skipped_fields``, e.g.
    a learned attribute with no model configured) and that no other step reads is left out: it would
    hold a worker for nothing. Its reasons still reach ``provenance`` (:func:`idle_stages`)."""
    steps = _enabled_steps(recipe)
    for name in idle_stages(recipe):
        steps.pop(name, None)
    return _ordered_checked(steps)


def idle_stages(recipe: Recipe) -> dict[str, str]:
    """Enabled stages left out of the run because they would fill nothing: name → reason."""
    steps = _enabled_steps(recipe)
    readers = {d for s in steps.values() for d in s.deps()}
    idle = {}
    for name, step in steps.items():
        if step.derived or name in readers:
            continue
        skipped = step.instantiate().skipped_fields()
        fills = step.cls.fills_for(step.params)
        if fills and all(f in skipped for f in fills):
            reasons = sorted({skipped[f] for f in fills})
            idle[name] = "; ".join(reasons)
    return idle


def _enabled_steps(recipe: Recipe) -> dict[str, PlannedStep]:
    steps = {name: _step(name, cfg) for name, cfg in recipe.enabled_stages().items()}
    for name, step in steps.items():
        missing = [d for d in step.cls.requires if d != "audio" and d not in steps]
        if missing:
            raise RecipeError(f"stages.{name}: requires stage(s) {', '.join(missing)} to be enabled")
    added = True
    while added:  # derived steps may build on other derived steps
        added = False
        for name in derived_step_names():
            cfg = recipe.stages.get(name)
            if name in steps or (cfg is not None and not cfg.enabled):
                continue
            cls = get_backend(name, None)
            if all(d in steps for d in cls.requires if d != "audio"):
                steps[name] = _step(name, cfg)
                added = True
    _ordered_checked(steps)  # a recipe error even when some stage later turns out idle
    return steps


def _ordered_checked(steps: dict[str, PlannedStep]) -> list[PlannedStep]:
    order = _topological(steps)
    plan = [steps[n] for n in order]
    try:
        check_ownership([s.planned() for s in plan], {s.name: s.cls.requires for s in plan})
    except AssemblyError as exc:
        raise RecipeError(str(exc)) from None
    return plan


def _topological(steps: dict[str, PlannedStep]) -> list[str]:
    rank = {n: i for i, n in enumerate((*model_stage_names(), *derived_step_names()))}
    order: list[str] = []
    pending = sorted(steps, key=lambda n: rank.get(n, len(rank)))
    while pending:
        for name in pending:
            if all(d in order for d in steps[name].deps() if d in steps):
                order.append(name)
                pending.remove(name)
                break
        else:
            raise RecipeError(f"stages {', '.join(pending)}: circular requirements")
    return order


def sample_rates(plan: list[PlannedStep]) -> list[int]:
    """Audio rates the run's stages read; decode produces each once."""
    return sorted({s.cls.sample_rate for s in plan if s.reads_audio})


def last_readers(plan: list[PlannedStep]) -> dict[int, str]:
    """For each audio rate, the last step that reads it (the audio column is dropped after it)."""
    out: dict[int, str] = {}
    for step in plan:
        if step.reads_audio:
            out[step.cls.sample_rate] = step.name
    return out


def _possible_fillers(path: str) -> list[str]:
    """Stage names whose registered backends could fill ``path``."""
    names = []
    for name in (*model_stage_names(), *derived_step_names()):
        for cls in all_backend_classes(name):
            if any(covers(owner, path) for owner in (*cls.fills, *cls.refines)):
                names.append(name)
                break
    return names


def record_field_sources(recipe: Recipe, plan: list[PlannedStep]) -> dict[str, str]:
    """``provenance.fields`` of this run's records."""
    planned = {s.name for s in plan}
    idle = idle_stages(recipe)

    def reason(path: str) -> str:
        fillers = [n for n in _possible_fillers(path) if n not in planned]
        if not fillers:
            return "no stage in this version fills it"
        for name in fillers:
            if name in idle:
                return f"stages.{name}: {idle[name]}"
        name = fillers[0]
        cfg = recipe.stages.get(name)
        if name in derived_step_names():
            return (f"stages.{name} disabled in recipe" if cfg is not None and not cfg.enabled
                    else f"stages.{name} needs {', '.join(get_backend(name, None).requires)}")
        if cfg is None:
            return f"stages.{name} not in recipe"
        return f"stages.{name} disabled in recipe"

    return field_sources([s.planned() for s in plan], reason)


def not_run_provenance(recipe: Recipe, plan: list[PlannedStep]) -> dict[str, dict[str, Any]]:
    """Provenance entries for every known model stage that does not run, with the reason."""
    planned = {s.name for s in plan}
    idle = idle_stages(recipe)
    entries = {}
    for name in model_stage_names():
        if name in planned:
            continue
        cfg = recipe.stages.get(name)
        if name in idle:
            reason = f"skipped: {idle[name]}"
        elif cfg is None:
            reason = "skipped: stage not configured in recipe"
        elif cfg.backend not in available_backends(name):
            reason = f"skipped: stage disabled in recipe (backend {cfg.backend!r} not available in this version)"
        else:
            reason = "skipped: stage disabled in recipe"
        entries[name] = {"backend": cfg.backend if cfg else None, "model": None, "model_version": None,
                         "params": {}, "status": reason}
    return entries


def ownership_table() -> list[tuple[str, str, str]]:
    """``(field path, stage, how)`` for every registered backend and derived step (README table)."""
    rows = []
    for name in (*model_stage_names(), *derived_step_names()):
        for cls in all_backend_classes(name):
            for path in cls.fills:
                rows.append((path, f"{name} ({cls.backend})", "fills"))
            for path in cls.refines:
                rows.append((path, f"{name} ({cls.backend})", "refines"))
    return rows


def ownership_markdown() -> str:
    """The field-ownership table of the README, generated from the registered stages."""
    by_path: dict[str, list[str]] = {}
    for path, stage, how in ownership_table():
        by_path.setdefault(path, []).append(stage if how == "fills" else f"{stage}, refines")
    lines = ["| record field | filled by (stage (backend)) |", "|---|---|"]
    for path in FIELD_PATHS:
        owners = sorted({o for known, os_ in by_path.items() if covers(known, path) for o in os_})
        lines.append(f"| `{path}` | {'; '.join(owners) if owners else '— (no stage yet: stays null)'} |")
    return "\n".join(lines) + "\n"


def stages_markdown() -> str:
    """One row per registered backend: what it reads and at which rate."""
    lines = ["| stage | backend | requires | uses | audio | derived |", "|---|---|---|---|---|---|"]
    for name in (*model_stage_names(), *derived_step_names()):
        for cls in all_backend_classes(name):
            rate = f"{cls.sample_rate // 1000} kHz" if cls.sample_rate else "—"
            lines.append(f"| {name} | {cls.backend} | {', '.join(cls.requires) or '—'} | "
                         f"{', '.join(cls.uses) or '—'} | {rate} | {'yes' if cls.derived else 'no'} |")
    return "\n".join(lines) + "\n"
