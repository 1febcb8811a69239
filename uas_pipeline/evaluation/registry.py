"""The metric families ``uas-pipeline eval`` runs: the core ones of this package and plug-in modules.

A plug-in is a module with ``applies``, ``score_clip`` and ``pool`` (see :mod:`.base`), listed in
``PLUGIN_MODULES``; an absent module is skipped silently, one that fails to import is reported.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from .asr import WordErrorRate
from .diarization import DEFAULT_COLLAR_S, DiarizationError
from .keywords import KeywordRecall
from .language import LanguageId
from .speakers import SpeakerCount

PLUGIN_MODULES = ("uas_pipeline.eval_events", "uas_pipeline.eval_attributes")
_REQUIRED = ("applies", "score_clip", "pool")


@dataclass
class Family:
    """A metric family as the evaluation runs it."""

    name: str
    title: str
    impl: Any
    """An object or module with ``applies``, ``score_clip``, ``pool`` (``format_*`` optional)."""


@dataclass
class Families:
    families: list[Family]
    plugins_loaded: list[str] = field(default_factory=list)
    plugins_absent: list[str] = field(default_factory=list)
    plugins_failed: dict[str, str] = field(default_factory=dict)


def core_families(collar: float = DEFAULT_COLLAR_S) -> list[Family]:
    impls = [WordErrorRate(), KeywordRecall(), LanguageId(), DiarizationError(collar=collar), SpeakerCount()]
    return [Family(f.NAME, f.TITLE, f) for f in impls]


def plugin_family(module: Any) -> Family:
    """Wrap a plug-in module; raise ``TypeError`` when it lacks the interface."""
    missing = [name for name in _REQUIRED if not callable(getattr(module, name, None))]
    if missing:
        raise TypeError(f"{module.__name__} lacks {', '.join(missing)}")
    default = module.__name__.rsplit(".", 1)[-1].removeprefix("eval_")
    name = getattr(module, "NAME", None) or default
    return Family(name, getattr(module, "TITLE", None) or name, module)


def load_families(collar: float = DEFAULT_COLLAR_S,
                  plugin_modules: tuple[str, ...] = PLUGIN_MODULES) -> Families:
    """The core families, then every plug-in module that imports."""
    result = Families(core_families(collar))
    for modname in plugin_modules:
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (modname == exc.name or modname.startswith(exc.name + ".")):
                result.plugins_absent.append(modname)  # the plug-in itself is not installed
                continue
            result.plugins_failed[modname] = f"{type(exc).__name__}: {exc}"
            continue
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not stop the core metrics
            result.plugins_failed[modname] = f"{type(exc).__name__}: {exc}"
            continue
        try:
            family = plugin_family(module)
        except TypeError as exc:
            result.plugins_failed[modname] = str(exc)
            continue
        if any(f.name == family.name for f in result.families):
            result.plugins_failed[modname] = f"family name {family.name!r} is already taken"
            continue
        result.families.append(family)
        result.plugins_loaded.append(modname)
    return result
