"""Speech recognition with openai-whisper (PyTorch).

``model`` is a local checkpoint file (``.pt`` with ``dims`` and ``model_state_dict``, as
``whisper.load_model`` reads it) or one of openai-whisper's names (``tiny.en``, ``base``, ``small``,
``large-v3`` …) looked up in ``download_root`` (default ``~/.cache/whisper``); a name missing there is
downloaded only when ``local_files_only`` is false. Windowing, packing, batching, language and
hallucination rules are shared with the faster-whisper backend (:mod:`uas_pipeline.asr`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from ..asr.stage import WhisperParams, WhisperStage
from ..modelfiles import file_checksum, package_version
from .base import LocalPath

WHISPER_NAMES = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium", "large-v1",
                 "large-v2", "large-v3", "large", "large-v3-turbo", "turbo")


class OpenAIWhisperParams(WhisperParams):
    model: Annotated[str, LocalPath()] = "tiny.en"
    """A checkpoint file (``.pt``) or an openai-whisper model name."""
    download_root: str | None = None
    """Where named models are cached (default ``$XDG_CACHE_HOME/whisper`` or ``~/.cache/whisper``)."""
    local_files_only: bool = True
    """Refuse to download a named model that is not in ``download_root``."""
    cpu_threads: int | None = Field(default=None, ge=1)
    """torch threads on CPU; default: the stage's reserved CPUs, rounded up."""
    fp16: bool = True
    """Half precision on CUDA (always float32 on CPU)."""

    @field_validator("model")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v in WHISPER_NAMES:
            return v
        if not Path(v).expanduser().is_file():
            raise ValueError(f"no checkpoint file at {v}; use a .pt file or one of: {', '.join(WHISPER_NAMES)}")
        return v


def whisper_cache_dir(download_root: str | None) -> Path:
    if download_root:
        return Path(download_root).expanduser()
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.getenv("XDG_CACHE_HOME", default)) / "whisper"


class OpenAIWhisperStage(WhisperStage):
    backend = "openai-whisper"
    Params = OpenAIWhisperParams
    extra = "asr-openai"
    needs_modules = ("whisper", "tiktoken")

    def checkpoint(self) -> str:
        """What ``whisper.load_model`` is given: a file path, or a name it finds in its cache."""
        p = self.params
        if p.model in WHISPER_NAMES:
            cached = whisper_cache_dir(p.download_root) / f"{p.model}.pt"
            if p.local_files_only and not cached.is_file():
                raise FileNotFoundError(f"openai-whisper model {p.model!r} is not in {cached.parent} and "
                                        "local_files_only is true; put the checkpoint there or give a .pt path")
            return p.model
        return str(Path(p.model).expanduser().resolve())

    def setup(self) -> None:
        import torch
        import whisper

        from ..asr.backend_openai_whisper import OpenAIWhisperBackend, half_precision

        self._device = self.choose_device(torch.cuda.is_available(), "torch")
        if self._device == "cpu":
            torch.set_num_threads(self.params.cpu_threads or self.torch_threads)
        source = self.checkpoint()
        model = whisper.load_model(source, device=self._device, download_root=self.params.download_root)
        if self._device == "cuda" and self.params.fp16:
            model = half_precision(model)
        model.eval()
        self._backend = OpenAIWhisperBackend(model, self._device)
        self._model_label = source if self.params.model not in WHISPER_NAMES else self.params.model
        path = Path(source) if Path(source).is_file() else whisper_cache_dir(self.params.download_root) / f"{source}.pt"
        self._version = file_checksum(path) if path.is_file() else None
        self._ow_version = package_version("openai-whisper")

    def model_name(self) -> str:
        return getattr(self, "_model_label", None) or self.params.model

    def model_version(self) -> str | None:
        return getattr(self, "_version", None)

    def run_params(self) -> dict[str, Any]:
        return {**super().run_params(), "openai_whisper": getattr(self, "_ow_version", None)}
