"""Diarization with a pyannote.audio ``SpeakerDiarization`` pipeline.

The pipeline comes from a local directory (``config.yaml`` + checkpoints, referenced as
``$model/<subfolder>``), a local ``config.yaml`` file, or a hub id (gated: needs the token in
``$HF_TOKEN`` and the network, or the HF cache). It is fed waveforms, never paths (torchaudio's
file loading is not available here). Turns of different speakers may overlap: pyannote's
segmentation model is powerset (up to two speakers at once per frame), and the overlap spans of
the output are where its turns overlap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..modelfiles import file_checksum, package_version
from ..outputs.diarization import DIARIZATION_FIELDS, DiarizationOutput
from ..resources import Resources
from .base import LocalPath, Stage, StageFailure, StageInput, StageParams

DEFAULT_PIPELINE = "pyannote/speaker-diarization-community-1"


class PyannoteParams(StageParams):
    model: Annotated[str, LocalPath()] = DEFAULT_PIPELINE
    """A pipeline directory (with ``config.yaml``), a ``config.yaml`` file, or a hub id."""
    token_env: str = "HF_TOKEN"
    """Environment variable holding the hub token (never stored in records)."""
    cache_dir: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_speakers: int | None = Field(default=None, ge=1)
    min_speakers: int | None = Field(default=None, ge=1)
    max_speakers: int | None = Field(default=None, ge=1)
    segmentation_batch_size: int = Field(default=8, ge=1)
    embedding_batch_size: int = Field(default=8, ge=1)
    link_threshold: float = Field(default=0.5, ge=-1, le=1)
    """Cosine similarity of the pipeline's speaker embeddings above which speakers of different
    regions of one file are linked."""

    @model_validator(mode="after")
    def _consistent(self) -> PyannoteParams:
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        if self.model.startswith(("/", "./", "../", "~")) and not Path(self.model).expanduser().exists():
            raise ValueError(f"no pyannote pipeline at {self.model}")
        return self


def _config_path(model: str) -> Path | None:
    path = Path(model).expanduser()
    if path.is_dir():
        return path / "config.yaml"
    return path if path.is_file() else None


class PyannoteStage(Stage):
    """Who spoke when, with overlapped speech, from a pyannote.audio pipeline."""

    name = "diarization"
    backend = "pyannote"
    requires = ("audio",)
    sample_rate = 16000
    Params = PyannoteParams
    Output = DiarizationOutput
    fills = DIARIZATION_FIELDS
    default_resources = Resources(num_cpus=1.0, batch_size=1)
    extra = "diarization"
    needs_modules = ("torch", "torchaudio", "pyannote.audio")

    def _device(self) -> str:
        if self.params.device != "auto":
            return self.params.device
        return "cuda" if self.resources.num_gpus > 0 else "cpu"

    def setup(self) -> None:
        os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
        import torch
        from pyannote.audio import Pipeline

        torch.set_num_threads(self.torch_threads)
        p = self.params
        pipeline = Pipeline.from_pretrained(p.model, token=os.environ.get(p.token_env) or None, cache_dir=p.cache_dir)
        if pipeline is None:
            raise RuntimeError(f"pyannote pipeline {p.model!r} could not be loaded (gated model without a token?)")
        pipeline.to(torch.device(self._device()))
        for attr, value in (("segmentation_batch_size", p.segmentation_batch_size),
                            ("embedding_batch_size", p.embedding_batch_size)):
            if hasattr(pipeline, attr):
                setattr(pipeline, attr, value)
        self._torch = torch
        self._pipeline = pipeline

    def model_name(self) -> str:
        return self.params.model

    def model_version(self) -> str | None:
        config = _config_path(self.params.model)
        if config is not None and config.is_file():
            return file_checksum(config)
        v = package_version("pyannote.audio")
        return f"pyannote.audio=={v}" if v else None

    def run_params(self) -> dict[str, Any]:
        return {"device": self._device()}

    @classmethod
    def link_regions(cls, outputs: list[DiarizationOutput | None]) -> list[dict[str, str]]:
        """File-level speaker ids for the regions of one long file (the runner's per-file pass)."""
        from ..diarization.linking import link_region_mappings

        return link_region_mappings(outputs)

    def _count_kwargs(self, item: StageInput) -> dict[str, int]:
        hints = item.clip.hints or {}
        kwargs = {}
        for key in ("num_speakers", "min_speakers", "max_speakers"):
            value = hints.get(key)
            if value is None:
                value = getattr(self.params, key)
            if value is not None:
                kwargs[key] = int(value)
        if "num_speakers" in kwargs:
            kwargs.pop("min_speakers", None)
            kwargs.pop("max_speakers", None)
        return kwargs

    def process(self, batch: list[StageInput]) -> list[DiarizationOutput | StageFailure]:
        out: list[DiarizationOutput | StageFailure] = []
        for item in batch:
            try:
                out.append(self._diarize(item))
            except (ValueError, RuntimeError) as exc:
                out.append(StageFailure.from_exception(exc))
        return out

    def _diarize(self, item: StageInput) -> DiarizationOutput:
        from ..diarization.pyannote_output import from_pyannote

        waveform = self._torch.from_numpy(item.audio.copy()).unsqueeze(0)  # (channel, time)
        result = self._pipeline({"waveform": waveform, "sample_rate": self.sample_rate}, **self._count_kwargs(item))
        return from_pyannote(result, item.clip.duration_s, self.params.link_threshold)
