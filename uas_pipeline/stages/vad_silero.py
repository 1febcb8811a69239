"""Voice activity detection with silero-vad (weights ship inside the ``silero-vad`` wheel)."""

from __future__ import annotations

from pydantic import Field

from ..modelfiles import package_version
from ..outputs.common import Span
from ..outputs.vad import VadOutput
from ..resources import Resources
from .base import Stage, StageInput, StageParams


class SileroVadParams(StageParams):
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_speech_duration_ms: int = Field(default=250, ge=0)
    min_silence_duration_ms: int = Field(default=100, ge=0)
    speech_pad_ms: int = Field(default=30, ge=0)
    onnx: bool = False


class SileroVadStage(Stage):
    """Speech regions and the speech ratio of each clip."""

    name = "vad"
    backend = "silero"
    requires = ("audio",)
    sample_rate = 16000
    Params = SileroVadParams
    Output = VadOutput
    fills = ("paralinguistics.recording.speech_ratio",)
    default_resources = Resources(num_cpus=0.5, batch_size=8)
    needs_modules = ("torch", "silero_vad")

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

    def process(self, batch: list[StageInput]) -> list[VadOutput]:
        return [self._detect(item) for item in batch]

    def _detect(self, item: StageInput) -> VadOutput:
        p = self.params
        sr = self.sample_rate
        stamps = self._get_speech_timestamps(
            self._torch.from_numpy(item.audio.copy()),  # arrays arrive read-only
            self._model,
            threshold=p.threshold,
            sampling_rate=sr,
            min_speech_duration_ms=p.min_speech_duration_ms,
            min_silence_duration_ms=p.min_silence_duration_ms,
            speech_pad_ms=p.speech_pad_ms,
        )
        self._model.reset_states()
        duration = item.duration_s
        speech = []
        for s in stamps:
            start, end = round(s["start"] / sr, 3), round(min(s["end"] / sr, duration), 3)
            if end > start:
                speech.append(Span(start=start, end=end))
        total = sum(s.duration for s in speech)
        ratio = min(1.0, total / duration) if duration > 0 else 0.0
        return VadOutput(speech=speech, speech_ratio=ratio)
