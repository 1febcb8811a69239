"""Speaker embeddings of analysis windows.

Two encoders share one small interface (:class:`SpeakerEmbedder`): resemblyzer's ``VoiceEncoder``
(its weights ship inside the PyPI wheel, so it works offline; 256-d) and, when configured, a
pyannote embedding model (a local checkpoint or a hub id). Heavy libraries are imported when an
encoder is built, never at module import.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Protocol

import numpy as np

from .windows import Window

RESEMBLYZER_SAMPLE_RATE = 16000
_MEL_HOP = 160  # resemblyzer: 10 ms mel frames at 16 kHz
_TARGET_DBFS = -30.0  # resemblyzer's training-time volume normalisation


class SpeakerEmbedder(Protocol):
    name: str
    version: str | None
    sample_rate: int

    def embed(self, audio: np.ndarray, windows: list[Window]) -> np.ndarray:
        """L2-normalised embeddings, one row per window (``audio`` is mono at ``sample_rate``)."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def speech_gain(audio: np.ndarray, windows: list[Window], sample_rate: int) -> float:
    """Amplitude gain that brings the speech in ``windows`` to resemblyzer's -30 dBFS (never lowers it:
    the encoder saw loud utterances unchanged in training)."""
    if not windows:
        return 1.0
    parts = [audio[int(w.start * sample_rate): int(w.end * sample_rate)] for w in windows]
    speech = np.concatenate(parts) if parts else audio
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if speech.size else 0.0
    if rms <= 1e-6:
        return 1.0
    target = 10 ** (_TARGET_DBFS / 20)
    return max(1.0, target / rms)


class ResemblyzerEmbedder:
    """resemblyzer ``VoiceEncoder`` on windows: one mel spectrogram per clip, windows cut from it and
    run through the LSTM in batches of equal length."""

    name = "resemblyzer"
    sample_rate = RESEMBLYZER_SAMPLE_RATE

    def __init__(self, weights_path: str | None = None, device: str = "cpu", batch_size: int = 64):
        import resemblyzer
        import torch

        from ..modelfiles import file_checksum, package_version

        self._torch = torch
        self._mel = resemblyzer.audio.wav_to_mel_spectrogram
        self._encoder = resemblyzer.VoiceEncoder(device=device, verbose=False, weights_fpath=weights_path)
        self._encoder.eval()
        self._batch_size = batch_size
        path = Path(weights_path) if weights_path else Path(resemblyzer.__file__).parent / "pretrained.pt"
        self.weights_path = str(path)
        self.version = file_checksum(path) if weights_path else f"resemblyzer=={package_version('resemblyzer')}"

    def embed(self, audio: np.ndarray, windows: list[Window]) -> np.ndarray:
        if not windows:
            return np.zeros((0, 256), dtype=np.float32)
        gain = speech_gain(audio, windows, self.sample_rate)
        mel = self._mel(np.asarray(audio, dtype=np.float32) * gain)  # (frames, 40)
        frames_per_s = self.sample_rate / _MEL_HOP
        by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, w in enumerate(windows):
            first = int(round(w.start * frames_per_s))
            last = min(len(mel), max(first + 1, int(round(w.end * frames_per_s))))
            by_length[last - first].append((i, first))
        out = np.zeros((len(windows), 256), dtype=np.float32)
        with self._torch.inference_mode():
            for length, items in sorted(by_length.items()):
                for k in range(0, len(items), self._batch_size):
                    chunk = items[k: k + self._batch_size]
                    batch = np.stack([mel[f: f + length] for _, f in chunk])
                    emb = self._encoder(self._torch.from_numpy(batch).to(self._encoder.device)).cpu().numpy()
                    out[[i for i, _ in chunk]] = emb
        return l2_normalize(out)


class PyannoteEmbedder:
    """A pyannote.audio embedding model (e.g. WeSpeaker ResNet34) from a local checkpoint file or
    directory (``pytorch_model.bin``) or a hub id (needs a token and the network, or the HF cache)."""

    name = "pyannote"

    def __init__(self, model: str, token: str | None = None, cache_dir: str | None = None,
                 device: str = "cpu", batch_size: int = 32):
        import torch
        from pyannote.audio import Model
        from pyannote.audio.pipelines.speaker_verification import PretrainedSpeakerEmbedding

        from ..modelfiles import file_checksum

        loaded = Model.from_pretrained(model, token=token, cache_dir=cache_dir)
        if loaded is None:
            raise RuntimeError(f"pyannote embedding model {model!r} could not be loaded")
        self._torch = torch
        self._model = PretrainedSpeakerEmbedding(loaded, device=torch.device(device))
        self.sample_rate = int(self._model.sample_rate)
        self._batch_size = batch_size
        path = Path(model)
        if path.is_dir():
            path = path / "pytorch_model.bin"
        self.version = file_checksum(path) if path.is_file() else None
        self.model_id = model

    def embed(self, audio: np.ndarray, windows: list[Window]) -> np.ndarray:
        if not windows:
            return np.zeros((0, int(self._model.dimension)), dtype=np.float32)
        sr = self.sample_rate
        out = np.zeros((len(windows), int(self._model.dimension)), dtype=np.float32)
        by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, w in enumerate(windows):
            first = int(round(w.start * sr))
            last = min(len(audio), max(first + 1, int(round(w.end * sr))))
            by_length[last - first].append((i, first))
        for length, items in sorted(by_length.items()):
            for k in range(0, len(items), self._batch_size):
                chunk = items[k: k + self._batch_size]
                batch = np.stack([audio[f: f + length] for _, f in chunk])[:, None, :]
                emb = self._model(self._torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
                out[[i for i, _ in chunk]] = np.nan_to_num(np.asarray(emb, dtype=np.float32))
        return l2_normalize(out)
