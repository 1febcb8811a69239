"""PANNs (Kong et al. 2020, AudioSet, 527 classes) built from ``panns_inference.models`` and a local
checkpoint; the package's ``AudioTagging`` / ``SoundEventDetection`` wrappers are not used because
they download (and overwrite small files) with ``wget``.

* ``Cnn14`` (``Cnn14_mAP=0.431.pth``) tags a whole input: run on sliding windows, one score row per
  window.
* ``Cnn14_DecisionLevelMax`` (``Cnn14_DecisionLevelMax_mAP=0.385.pth``) scores every 10 ms frame:
  run on chunks of the clip, frames concatenated.

Both at 32 kHz (window 1024, hop 320, 64 mel bands, 50 Hz–14 kHz), as the checkpoints were trained.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .vocabulary import DATA_DIR, audioset_classes

SAMPLE_RATE = 32000
HOP_SAMPLES = 320
FRAME_S = HOP_SAMPLES / SAMPLE_RATE
MIN_INPUT_SAMPLES = SAMPLE_RATE  # six conv blocks pool time by 32: shorter inputs are zero-padded to 1 s
MODEL_KWARGS = {"sample_rate": SAMPLE_RATE, "window_size": 1024, "hop_size": HOP_SAMPLES, "mel_bins": 64,
                "fmin": 50, "fmax": 14000, "classes_num": 527}
Architecture = Literal["Cnn14", "Cnn14_DecisionLevelMax"]


def ensure_label_file(home: Path | None = None) -> Path:
    """Make sure ``~/panns_data/class_labels_indices.csv`` is a valid AudioSet class list before
    ``panns_inference`` is imported (its import runs ``wget`` when the file is missing and leaves a
    0-byte file when that fails). An existing valid file is left alone; a broken one is replaced with
    the class list this package ships (same content as the AudioSet release)."""
    target = (home or Path.home()) / "panns_data" / "class_labels_indices.csv"
    shipped = (DATA_DIR / "audioset_classes.csv").read_bytes()
    if target.is_file() and _valid_label_file(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".class_labels_indices.")
    with os.fdopen(fd, "wb") as f:
        f.write(shipped)
    os.replace(tmp, target)
    return target


def _valid_label_file(path: Path) -> bool:
    try:
        lines = path.read_text().strip().splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return len(lines) == 528 and lines[0].startswith("index,mid,display_name")


def architecture_for(checkpoint: str, architecture: str) -> Architecture:
    """``auto``: ``Cnn14_DecisionLevelMax`` when the file name says so (the official names do), else ``Cnn14``."""
    if architecture != "auto":
        return architecture  # type: ignore[return-value]
    return "Cnn14_DecisionLevelMax" if "decisionlevel" in Path(checkpoint).name.lower() else "Cnn14"


def load_state_dict(checkpoint: str | Path) -> dict[str, Any]:
    """The model weights of a checkpoint: ``{"model": state_dict, ...}`` (the official files) or a bare
    state dict. Tries a weights-only load first; the official files also hold the training sampler's
    state (numpy objects), which only a full unpickling reads, so only use checkpoints you trust."""
    import torch

    try:
        obj = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError):
        obj = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or "fc_audioset.weight" not in state:
        raise ValueError(f"{checkpoint}: not a PANNs Cnn14 checkpoint (no fc_audioset weights)")
    return state


class PannsModel:
    """A PANNs network on one device, with batched inference helpers."""

    def __init__(self, checkpoint: str | Path, architecture: Architecture, device: str = "cpu"):
        ensure_label_file()
        import torch
        from panns_inference.models import Cnn14, Cnn14_DecisionLevelMax

        cls = Cnn14_DecisionLevelMax if architecture == "Cnn14_DecisionLevelMax" else Cnn14
        self.architecture = architecture
        self.classes = audioset_classes()
        self.device = torch.device(device)
        self._torch = torch
        model = cls(**MODEL_KWARGS)
        model.load_state_dict(load_state_dict(checkpoint))
        self.model = model.to(self.device).eval()

    def _run(self, batch: np.ndarray, key: str) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return self.model(x)[key].float().cpu().numpy()

    def window_scores(self, audios: list[np.ndarray], window_s: float, hop_s: float,
                      max_batch: int) -> list[np.ndarray]:
        """``Cnn14``: for each clip, ``(windows, 527)`` clip-wise scores of ``window_s`` windows every
        ``hop_s`` (zero-padded at the end; a clip shorter than a window is one window). Windows of all
        clips are run together in batches of at most ``max_batch``."""
        win, hop = round(window_s * SAMPLE_RATE), max(1, round(hop_s * SAMPLE_RATE))
        windows: list[np.ndarray] = []
        counts = []
        for audio in audios:
            n = 1 if len(audio) <= win else -(-(len(audio) - win) // hop) + 1
            padded = np.zeros((n - 1) * hop + win, dtype=np.float32)
            padded[: len(audio)] = audio
            windows.extend(padded[i * hop: i * hop + win] for i in range(n))
            counts.append(n)
        scores = np.concatenate([self._run(np.stack(windows[i: i + max_batch]), "clipwise_output")
                                 for i in range(0, len(windows), max_batch)]) if windows else np.zeros((0, 527))
        out, at = [], 0
        for n in counts:
            out.append(scores[at: at + n])
            at += n
        return out

    def frame_scores(self, audios: list[np.ndarray], chunk_s: float, max_batch: int) -> list[np.ndarray]:
        """``Cnn14_DecisionLevelMax``: for each clip, ``(frames, 527)`` scores, one frame per 10 ms.
        Clips are cut into ``chunk_s`` chunks; full chunks of all clips are batched together, the
        shorter last chunk of each clip runs alone (zero-padded to at least 1 s)."""
        chunk = max(MIN_INPUT_SAMPLES, round(chunk_s * SAMPLE_RATE))
        pieces: list[tuple[int, int, np.ndarray]] = []  # clip, order, samples
        for c, audio in enumerate(audios):
            for j, s in enumerate(range(0, max(len(audio), 1), chunk)):
                pieces.append((c, j, np.asarray(audio[s: s + chunk], dtype=np.float32)))
        results: dict[tuple[int, int], np.ndarray] = {}
        full = [p for p in pieces if len(p[2]) == chunk]
        for i in range(0, len(full), max_batch):
            group = full[i: i + max_batch]
            framewise = self._run(np.stack([p[2] for p in group]), "framewise_output")
            for (c, j, samples), fw in zip(group, framewise, strict=True):
                results[(c, j)] = fw[: _frames(len(samples))]
        for c, j, samples in pieces:
            if (c, j) in results:
                continue
            padded = np.zeros(max(len(samples), MIN_INPUT_SAMPLES), dtype=np.float32)
            padded[: len(samples)] = samples
            results[(c, j)] = self._run(padded[None], "framewise_output")[0][: _frames(len(samples))]
        out = []
        for c in range(len(audios)):
            parts = [results[k] for k in sorted(k for k in results if k[0] == c)]
            out.append(np.concatenate(parts) if parts else np.zeros((0, 527), dtype=np.float32))
        return out


def _frames(num_samples: int) -> int:
    """10 ms frames that cover ``num_samples`` (at least one)."""
    return max(1, -(-num_samples // HOP_SAMPLES))
