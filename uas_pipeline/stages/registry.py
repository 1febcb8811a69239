"""Backends looked up by ``(stage name, backend name)``; recipes choose them by name.

Backend modules are imported lazily so that loading a recipe does not import torch or CTranslate2.
"""

from __future__ import annotations

import importlib

from .base import Stage

# stage name -> backend name -> "module:Class"
_BACKENDS: dict[str, dict[str, str]] = {
    "vad": {"silero": "uas_pipeline.stages.vad_silero:SileroVadStage"},
    "asr": {"faster-whisper": "uas_pipeline.stages.asr_faster_whisper:FasterWhisperStage"},
    "diarization": {},
    "paralinguistics": {},
    "events": {},
}


def register_backend(stage: str, backend: str, target: str) -> None:
    """Register ``module:Class`` as ``backend`` of ``stage`` (for plug-ins and tests)."""
    _BACKENDS.setdefault(stage, {})[backend] = target


def available_backends(stage: str) -> list[str]:
    return sorted(_BACKENDS.get(stage, {}))


def get_backend(stage: str, backend: str) -> type[Stage]:
    try:
        target = _BACKENDS[stage][backend]
    except KeyError:
        allowed = ", ".join(available_backends(stage)) or "none"
        raise KeyError(f"stages.{stage}.backend: unknown backend {backend!r}; allowed: {allowed}") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{target} is not a Stage")
    return cls
