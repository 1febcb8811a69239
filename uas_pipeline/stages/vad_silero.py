"""Voice activity detection with silero-vad (weights ship inside the ``silero-vad`` wheel)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..modelfiles import package_version
from ..recipe import Resources
from .base import ClipTask, Stage, StageParams


class SileroVadParams(StageParams):
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_speech_duration_ms: int = Field(default=250, ge=0)
    min_silence_duration_ms: int = Field(default=100, ge=0)
    speech_pad_ms: int = Field(default=30, ge=0)
    onnx: bool = False


class SileroVadStage(Stage):
    """Speech regions and the speech ratio of each clip.

    Output: ``{"speech": [[start, end], ...], "speech_ratio": float}`` (seconds, clip time).
    """

    name = "vad"
    backend = "silero"
    requires = ("audio",)
    Params = SileroVadParams
    default_resources = Resources(num_cpus=0.5, batch_size=8)

    def setup(self) -> None:
        import silero_vad
        import torch

        torch.set_num_threads(self.torch_threads)
        self._torch = torch
        self._get_speech_timestamps = silero_vad.get_speech_timestamps
        self._model = silero_vad.load_silero_vad(onnx=self.params.onnx)
        self._version = package_version("silero-vad")

    def model_name(self) -> str:
        return "silero_vad.onnx" if self.params.onnx else "silero_vad.jit"

    def model_version(self) -> str | None:
        return f"silero-vad=={self._version}" if getattr(self, "_version", None) else None

    def process(self, batch: list[ClipTask]) -> list[dict[str, Any]]:
        p = self.params
        results = []
        for task in batch:
            audio = self._torch.from_numpy(task.audio)
            stamps = self._get_speech_timestamps(
                audio,
                self._model,
                threshold=p.threshold,
                sampling_rate=16000,
                min_speech_duration_ms=p.min_speech_duration_ms,
                min_silence_duration_ms=p.min_silence_duration_ms,
                speech_pad_ms=p.speech_pad_ms,
            )
            self._model.reset_states()
            speech = [[round(s["start"] / 16000, 3), round(s["end"] / 16000, 3)] for s in stamps]
            speech = [[s, min(e, task.duration_s)] for s, e in speech if min(e, task.duration_s) > s]
            total = sum(e - s for s, e in speech)
            ratio = min(1.0, total / task.duration_s) if task.duration_s > 0 else 0.0
            results.append({"speech": speech, "speech_ratio": ratio})
        return results
