"""Events with PANNs (AudioSet, 527 classes, 32 kHz) from a local checkpoint.

* ``Cnn14_DecisionLevelMax`` (default checkpoint ``Cnn14_DecisionLevelMax_mAP=0.385.pth``): frame-level
  detection, 10 ms frames averaged over ``score_hop_s``.
* ``Cnn14`` (``Cnn14_mAP=0.431.pth``): clip tagging, run on ``window_s`` windows every ``hop_s``.

Checkpoints: https://zenodo.org/record/3987831 (see docs/events.md). ``architecture: auto`` picks the
network from the file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from ..events.detect import DetectionParams
from ..events.scores import FrameScores
from ..modelfiles import file_checksum, package_version
from ..resources import Resources
from .base import LocalPath
from .events_base import EventStage

DEFAULT_CHECKPOINT = "~/panns_data/Cnn14_DecisionLevelMax_mAP=0.385.pth"


class PannsEventParams(DetectionParams):
    model: Annotated[str, LocalPath()] = DEFAULT_CHECKPOINT
    """Checkpoint path (default: where panns-inference keeps the detection checkpoint)."""
    architecture: Literal["auto", "Cnn14", "Cnn14_DecisionLevelMax"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when the stage reserves a GPU and one is visible."""
    score_hop_s: float = Field(default=0.1, ge=0.01)
    """Cnn14_DecisionLevelMax: 10 ms frames are averaged over this many seconds."""
    chunk_s: float = Field(default=10.0, ge=1.0)
    """Cnn14_DecisionLevelMax: clips are scored in chunks of this length (the training clip length)."""
    window_s: float = Field(default=2.0, ge=1.0)
    """Cnn14: length of the tagged windows."""
    hop_s: float = Field(default=0.5, gt=0)
    """Cnn14: hop between windows."""
    max_batch: int = Field(default=16, ge=1)
    """Windows or chunks per forward pass."""

    @field_validator("model")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not Path(v).expanduser().is_file():
            raise ValueError(f"no checkpoint at {v} (download it: see docs/events.md)")
        return v


class PannsEventStage(EventStage):
    backend = "panns"
    sample_rate = 32000
    Params = PannsEventParams
    default_resources = Resources(num_cpus=1.0, batch_size=8, batch_audio_s=600)
    needs_modules = ("torch", "panns_inference", "torchlibrosa")
    extra = "events"

    @property
    def architecture(self) -> str:
        from ..events.panns import architecture_for

        return architecture_for(self.params.model, self.params.architecture)

    def _device(self) -> str:
        if self.params.device != "auto":
            return self.params.device
        import torch

        return "cuda" if self.resources.num_gpus > 0 and torch.cuda.is_available() else "cpu"

    def setup(self) -> None:
        import torch

        from ..events.panns import PannsModel
        from ..events.vocabulary import audioset_label_map

        path = Path(self.params.model).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"stages.events.model: no PANNs checkpoint at {path}; download "
                                    "Cnn14_DecisionLevelMax_mAP=0.385.pth or Cnn14_mAP=0.431.pth (docs/events.md)")
        torch.set_num_threads(self.torch_threads)
        self._device_name = self._device()
        self._model = PannsModel(path, self.architecture, self._device_name)
        self._label_map = audioset_label_map(self._model.classes)
        self._version = file_checksum(path)
        self._package = package_version("panns-inference")

    def model_name(self) -> str:
        return f"{self.architecture}:{Path(self.params.model).name}"

    def model_version(self) -> str | None:
        return getattr(self, "_version", None)

    def run_params(self) -> dict:
        return {"resolved_architecture": self.architecture, "resolved_device": getattr(self, "_device_name", None),
                "panns_inference": getattr(self, "_package", None)}

    def frame_scores(self, audios: list[np.ndarray]) -> list[FrameScores]:
        from ..events.panns import FRAME_S

        p = self.params
        if self.architecture == "Cnn14_DecisionLevelMax":
            factor = max(1, round(p.score_hop_s / FRAME_S))
            frames = self._model.frame_scores(audios, p.chunk_s, p.max_batch)
            return [FrameScores.from_class_scores(f, self._label_map, FRAME_S).pooled(factor) for f in frames]
        windows = self._model.window_scores(audios, p.window_s, p.hop_s, p.max_batch)
        hop = min(p.hop_s, p.window_s)
        return [FrameScores.from_class_scores(w, self._label_map, hop, p.window_s) for w in windows]
