"""Diarization that works offline: speech regions → speaker embeddings on sliding windows →
spectral clustering with an automatic speaker count → turns, with overlapped speech detected from
mixed windows. Embeddings come from resemblyzer (weights inside its wheel) or, when configured, a
pyannote embedding model. The algorithms live in :mod:`uas_pipeline.diarization`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..modelfiles import file_checksum, package_version
from ..outputs.diarization import DIARIZATION_FIELDS, DiarizationOutput
from ..outputs.vad import VadOutput
from ..resources import Resources
from .base import LocalPath, Stage, StageFailure, StageInput, StageParams

BUNDLED_RESEMBLYZER = "bundled:resemblyzer"


class EmbeddingClusterParams(StageParams):
    embedding: Literal["resemblyzer", "pyannote"] = "resemblyzer"
    """Speaker encoder: resemblyzer (bundled, offline) or a pyannote embedding model."""
    model: Annotated[str, LocalPath()] = BUNDLED_RESEMBLYZER
    """resemblyzer: ``bundled:resemblyzer`` or a ``.pt`` weights file; pyannote: a checkpoint
    (``pytorch_model.bin`` or its directory) or a hub id such as ``pyannote/wespeaker-voxceleb-resnet34-LM``."""
    token_env: str = "HF_TOKEN"
    """Environment variable holding the hub token (pyannote hub ids only; never stored in records)."""
    cache_dir: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    window_s: float = Field(default=1.0, gt=0.1, le=10)
    hop_s: float = Field(default=0.25, gt=0.01, le=10)
    min_window_s: float = Field(default=0.4, gt=0)
    join_gap_s: float = Field(default=0.5, ge=0)
    num_speakers: int | None = Field(default=None, ge=1)
    min_speakers: int = Field(default=1, ge=1)
    max_speakers: int = Field(default=8, ge=1)
    min_speech_per_speaker_s: float = Field(default=3.0, ge=0.1)
    merge_threshold: float | None = Field(default=None, ge=-1, le=1)
    min_turn_s: float = Field(default=0.3, ge=0)
    overlap: bool = True
    overlap_threshold: float = Field(default=-0.1, ge=-1, le=1)
    min_overlap_s: float = Field(default=0.1, ge=0)
    link_threshold: float | None = Field(default=None, ge=-1, le=1)
    """Cross-region linking threshold (default: 0.8 for resemblyzer, 0.5 for pyannote embeddings)."""
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    """Silero threshold used only when the ``vad`` stage is not enabled."""

    @model_validator(mode="after")
    def _consistent(self) -> EmbeddingClusterParams:
        if self.hop_s > self.window_s:
            raise ValueError("hop_s must not exceed window_s")
        if self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        if self.embedding == "pyannote" and self.model == BUNDLED_RESEMBLYZER:
            raise ValueError("embedding: pyannote needs model: a checkpoint path or a hub id")
        if self.embedding == "resemblyzer" and self.model != BUNDLED_RESEMBLYZER and not Path(self.model).is_file():
            raise ValueError(f"no resemblyzer weights file at {self.model}")
        return self


class EmbeddingClusterStage(Stage):
    """Who spoke when, from speaker embeddings clustered per clip."""

    name = "diarization"
    backend = "embedding-cluster"
    requires = ("audio",)
    uses = ("vad",)
    sample_rate = 16000
    Params = EmbeddingClusterParams
    Output = DiarizationOutput
    fills = DIARIZATION_FIELDS
    default_resources = Resources(num_cpus=1.0, batch_size=4)
    extra = "diarization"
    needs_modules = ("torch", "resemblyzer", "webrtcvad", "librosa", "sklearn", "silero_vad")

    def _device(self) -> str:
        if self.params.device != "auto":
            return self.params.device
        return "cuda" if self.resources.num_gpus > 0 else "cpu"

    def setup(self) -> None:
        import torch

        from ..diarization.embedding_cluster import EmbeddingClusterDiarizer, EmbeddingClusterSettings
        from ..diarization.embeddings import PyannoteEmbedder, ResemblyzerEmbedder

        torch.set_num_threads(self.torch_threads)
        p = self.params
        if p.embedding == "resemblyzer":
            weights = None if p.model == BUNDLED_RESEMBLYZER else p.model
            embedder = ResemblyzerEmbedder(weights, device=self._device())
            default_link = 0.8
        else:
            os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
            embedder = PyannoteEmbedder(p.model, token=os.environ.get(p.token_env) or None,
                                        cache_dir=p.cache_dir, device=self._device())
            default_link = 0.5
        if embedder.sample_rate != self.sample_rate:
            raise ValueError(f"embedding model expects {embedder.sample_rate} Hz audio, the stage reads {self.sample_rate} Hz")
        settings = EmbeddingClusterSettings(
            window_s=p.window_s, hop_s=p.hop_s, min_window_s=p.min_window_s, join_gap_s=p.join_gap_s,
            min_speech_per_speaker_s=p.min_speech_per_speaker_s, merge_threshold=p.merge_threshold,
            min_turn_s=p.min_turn_s, overlap=p.overlap, overlap_threshold=p.overlap_threshold,
            min_overlap_s=p.min_overlap_s,
            link_threshold=p.link_threshold if p.link_threshold is not None else default_link,
        )
        self._diarizer = EmbeddingClusterDiarizer(embedder, settings)
        self._silero = None  # loaded on first clip without VAD input

    def model_name(self) -> str:
        return "resemblyzer VoiceEncoder" if self.params.model == BUNDLED_RESEMBLYZER else self.params.model

    def model_version(self) -> str | None:
        p = self.params
        if p.model == BUNDLED_RESEMBLYZER:
            v = package_version("resemblyzer")
            return f"resemblyzer=={v}" if v else None
        path = Path(p.model)
        if path.is_dir():
            path = path / "pytorch_model.bin"
        return file_checksum(path) if path.is_file() else None

    def run_params(self) -> dict[str, Any]:
        return {"device": self._device()}

    @classmethod
    def link_regions(cls, outputs: list[DiarizationOutput | None]) -> list[dict[str, str]]:
        """File-level speaker ids for the regions of one long file (the runner's per-file pass)."""
        from ..diarization.linking import link_region_mappings

        return link_region_mappings(outputs)

    def _speech_regions(self, item: StageInput) -> list[tuple[float, float]]:
        vad = item.inputs.get("vad")
        if isinstance(vad, VadOutput):
            return [(s.start, s.end) for s in vad.speech]
        import silero_vad
        import torch

        if self._silero is None:
            self._silero = silero_vad.load_silero_vad()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # silero runs 32 ms chunks one by one: more threads only add sync cost
        try:
            stamps = silero_vad.get_speech_timestamps(torch.from_numpy(item.audio.copy()), self._silero,
                                                      threshold=self.params.vad_threshold,
                                                      sampling_rate=self.sample_rate)
        finally:
            torch.set_num_threads(threads)
            self._silero.reset_states()
        return [(s["start"] / self.sample_rate, s["end"] / self.sample_rate) for s in stamps]

    def _count(self, item: StageInput):
        from ..diarization.clustering import SpeakerCount

        p, hints = self.params, item.clip.hints or {}

        def pick(key: str):  # a per-clip manifest hint overrides the recipe
            return hints[key] if hints.get(key) is not None else getattr(p, key)

        num, lo, hi = pick("num_speakers"), pick("min_speakers"), pick("max_speakers")
        if num is not None:
            return SpeakerCount(num_speakers=int(num))
        return SpeakerCount(None, int(lo), max(int(lo), int(hi)))

    def process(self, batch: list[StageInput]) -> list[DiarizationOutput | StageFailure]:
        out: list[DiarizationOutput | StageFailure] = []
        for item in batch:
            try:
                out.append(self._diarizer.diarize(item.audio, self._speech_regions(item), self._count(item)))
            except (ValueError, RuntimeError) as exc:  # a clip the model cannot handle; the batch goes on
                out.append(StageFailure.from_exception(exc))
        return out
