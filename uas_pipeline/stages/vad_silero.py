"""Voice activity detection with silero-vad (weights ship inside the ``silero-vad`` wheel).

The model is recurrent and reads 512-sample frames (32 ms at 16 kHz). silero-vad's own loop calls it
once per frame of one clip; here the clips of a batch advance together, one call per frame for all
of them (the model takes a batch), and silero-vad's rules turn each clip's frame probabilities into
speech regions. The model is causal, so the zeros that pad a shorter clip to its batch's length come
after its own frames and never change them (probabilities equal the one-clip loop's within float error).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
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


FRAME = 512
"""Samples per model frame at 16 kHz."""
MAX_BATCH_SAMPLES = 1 << 24
"""Padded samples of one batch of clips (64 MiB of float32)."""


def length_groups(frames: list[int], max_samples: int = MAX_BATCH_SAMPLES) -> Iterator[list[int]]:
    """Indices of ``frames`` (frame counts) in groups run as one batch: in order of length, the longest
    at most twice the shortest (so padding at most doubles the work), at most ``max_samples`` padded."""
    group: list[int] = []
    for i in sorted(range(len(frames)), key=frames.__getitem__):
        if group and (frames[i] > 2 * max(frames[group[0]], 1) or
                      (len(group) + 1) * frames[i] * FRAME > max_samples):
            yield group
            group = []
        group.append(i)
    if group:
        yield group


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
        self._timestamps_from_probs = silero_vad.get_speech_timestamps_from_probs
        self._model = silero_vad.load_silero_vad(onnx=self.params.onnx)
        self._version = package_version("silero-vad")

    def model_name(self) -> str:
        return "silero_vad.onnx" if self.params.onnx else "silero_vad.jit"

    def model_version(self) -> str | None:
        return f"silero-vad=={self._version}" if getattr(self, "_version", None) else None

    def process(self, batch: list[StageInput]) -> list[VadOutput]:
        probs = self.speech_probs([item.audio for item in batch])
        return [self._regions(item, p) for item, p in zip(batch, probs, strict=True)]

    def speech_probs(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        """Speech probability of each 512-sample frame of each clip (the last frame zero-padded)."""
        torch = self._torch
        frames = [-(-len(a) // FRAME) for a in audios]
        out: list[np.ndarray] = [np.zeros(0, np.float32) for _ in audios]
        for group in length_groups(frames):
            n = max(frames[i] for i in group)
            if n == 0:
                continue
            x = np.zeros((len(group), n * FRAME), np.float32)
            for row, i in enumerate(group):
                x[row, :len(audios[i])] = audios[i]
            x = torch.from_numpy(x)
            self._model.reset_states()
            with torch.inference_mode():
                probs = torch.cat([self._model(x[:, k * FRAME:(k + 1) * FRAME], self.sample_rate)
                                   for k in range(n)], dim=1).numpy()
            for row, i in enumerate(group):
                out[i] = probs[row, :frames[i]]
        self._model.reset_states()
        return out

    def _regions(self, item: StageInput, probs: np.ndarray) -> VadOutput:
        p = self.params
        sr = self.sample_rate
        stamps = self._timestamps_from_probs(
            probs.tolist(),
            sampling_rate=sr,
            threshold=p.threshold,
            min_speech_duration_ms=p.min_speech_duration_ms,
            min_silence_duration_ms=p.min_silence_duration_ms,
            speech_pad_ms=p.speech_pad_ms,
            audio_length_samples=len(item.audio),
        ) if len(probs) else []
        duration = item.duration_s
        speech = []
        for s in stamps:
            start, end = round(s["start"] / sr, 3), round(min(s["end"] / sr, duration), 3)
            if end > start:
                speech.append(Span(start=start, end=end))
        total = sum(s.duration for s in speech)
        ratio = min(1.0, total / duration) if duration > 0 else 0.0
        return VadOutput(speech=speech, speech_ratio=ratio)
