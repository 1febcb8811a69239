"""Events with YAMNet (TFLite, run with LiteRT): 521 AudioSet classes on 0.975 s windows.

``model`` is the path of ``yamnet.tflite`` (e.g. the TFLite YAMNet of TensorFlow Hub / Kaggle Models);
the class map ``yamnet_class_map.csv`` is read from next to it unless ``class_map`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field, field_validator

from ..events.detect import DetectionParams
from ..events.scores import FrameScores
from ..modelfiles import file_checksum, package_version
from ..resources import Resources
from .base import LocalPath
from .events_base import EventStage


class YamnetEventParams(DetectionParams):
    model: Annotated[str | None, LocalPath()] = None
    """Path of ``yamnet.tflite`` (required to run)."""
    class_map: Annotated[str | None, LocalPath()] = None
    """``yamnet_class_map.csv``; default: next to the model."""
    hop_s: float = Field(default=0.48, gt=0, le=0.975)
    """Hop between 0.975 s windows (0.48 s is YAMNet's own)."""
    num_threads: int | None = Field(default=None, ge=1)
    """LiteRT threads; default: the stage's reserved CPUs, rounded up."""

    @field_validator("model", "class_map")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().is_file():
            raise ValueError(f"no file at {v}")
        return v


class YamnetEventStage(EventStage):
    backend = "yamnet"
    sample_rate = 16000
    Params = YamnetEventParams
    default_resources = Resources(num_cpus=1.0, batch_size=16)
    needs_modules = ("ai_edge_litert",)
    extra = "events"

    def setup(self) -> None:
        from ..events.vocabulary import audioset_label_map
        from ..events.yamnet import YamnetModel

        p = self.params
        if p.model is None:
            raise ValueError("stages.events.model: the yamnet backend needs the path of yamnet.tflite "
                             "(see docs/events.md)")
        self._model = YamnetModel(p.model, p.class_map, num_threads=p.num_threads or self.torch_threads)
        self._label_map = audioset_label_map(self._model.classes)
        self._version = file_checksum(p.model)
        self._litert = package_version("ai-edge-litert")

    def model_name(self) -> str | None:
        return Path(self.params.model).name if self.params.model else None

    def model_version(self) -> str | None:
        return getattr(self, "_version", None)

    def run_params(self) -> dict:
        return {"ai_edge_litert": getattr(self, "_litert", None)}

    def frame_scores(self, audios: list[np.ndarray]) -> list[FrameScores]:
        from ..events.yamnet import WINDOW_S

        hop = self.params.hop_s
        return [FrameScores.from_class_scores(self._model.window_scores(a, hop), self._label_map, hop, WINDOW_S)
                for a in audios]
