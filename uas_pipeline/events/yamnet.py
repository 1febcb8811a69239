"""YAMNet (AudioSet, 521 classes) as a TFLite model run with LiteRT (``ai-edge-litert``).

The TFLite conversion takes a fixed window of 15,600 samples (0.975 s at 16 kHz, mono float32 in
[-1, 1]) and returns 521 class scores. The class map (``yamnet_class_map.csv``: index, AudioSet id,
display name) is read from next to the model unless given.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .vocabulary import SourceClass

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 15600
WINDOW_S = WINDOW_SAMPLES / SAMPLE_RATE


def read_class_map(path: str | Path) -> tuple[SourceClass, ...]:
    with Path(path).open(newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    return tuple(SourceClass(r["display_name"], r["mid"]) for r in rows)


def window_starts(num_samples: int, hop: int, window: int = WINDOW_SAMPLES) -> np.ndarray:
    """Start samples of the windows covering ``num_samples`` (the last one may run past the end; it
    is zero-padded). At least one window."""
    if num_samples <= window:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, -(-(num_samples - window) // hop) * hop + 1, hop, dtype=np.int64)


class YamnetModel:
    """One LiteRT interpreter (not thread-safe: one per worker)."""

    def __init__(self, model_path: str | Path, class_map: str | Path | None = None, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        model_path = Path(model_path)
        class_map = Path(class_map) if class_map else model_path.with_name("yamnet_class_map.csv")
        if not class_map.is_file():
            raise FileNotFoundError(f"no YAMNet class map at {class_map} (yamnet_class_map.csv: index, mid, "
                                    "display_name); set stages.events.class_map")
        self.classes = read_class_map(class_map)
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        if tuple(inp["shape"]) != (1, WINDOW_SAMPLES):
            raise ValueError(f"{model_path}: expected a YAMNet TFLite model with input (1, {WINDOW_SAMPLES}), "
                             f"got {tuple(inp['shape'])}")
        self._input = inp["index"]
        outputs = self._interpreter.get_output_details()
        scores = [o for o in outputs if tuple(o["shape"]) == (1, len(self.classes))]
        if not scores:
            raise ValueError(f"{model_path}: no output of shape (1, {len(self.classes)}) matching the class map")
        self._output = scores[0]["index"]

    def window_scores(self, audio: np.ndarray, hop_s: float) -> np.ndarray:
        """``(windows, classes)`` scores of 0.975 s windows every ``hop_s``, zero-padded at the end."""
        hop = max(1, round(hop_s * SAMPLE_RATE))
        starts = window_starts(len(audio), hop)
        padded = np.zeros(int(starts[-1]) + WINDOW_SAMPLES, dtype=np.float32)
        padded[: len(audio)] = audio
        out = np.empty((len(starts), len(self.classes)), dtype=np.float32)
        for i, s in enumerate(starts):
            self._interpreter.set_tensor(self._input, padded[None, s: s + WINDOW_SAMPLES])
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output)[0]
        return out
