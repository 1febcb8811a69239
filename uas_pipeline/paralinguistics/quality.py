"""DNSMOS P.835 (Reddy et al., ICASSP 2022): predicted mean opinion scores of the speech signal
(SIG), the background (BAK) and the whole (OVRL), 1–5, without a clean reference.

The ONNX model ``sig_bak_ovr.onnx`` ships inside the ``speechmos`` wheel (nothing is downloaded);
we run it with onnxruntime on 9.01-s windows of 16 kHz audio (shorter clips are repeated to fill a
window, as the reference implementation does) and map the raw outputs through DNSMOS's published
polynomial calibration (taken from ``speechmos`` at run time, not copied). The reference scorer
slides the window by 1 s; we hop by ``hop_s`` (default: a whole window) and score at most
``max_windows`` windows spread over the clip, which bounds the cost on long files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
WINDOW_S = 9.01


@dataclass(frozen=True)
class QualityScores:
    sig: float
    bak: float
    ovrl: float


def model_path(personalized: bool = False) -> Path:
    """The DNSMOS P.835 ONNX file inside the installed ``speechmos`` package."""
    import importlib.util

    spec = importlib.util.find_spec("speechmos")
    if spec is None or spec.origin is None:
        raise RuntimeError("the speechmos package is not installed (it ships the DNSMOS models)")
    folder = "pdnsmos_models" if personalized else "dnsmos_models"
    return Path(spec.origin).parent / folder / "sig_bak_ovr.onnx"


class Dnsmos:
    """One loaded DNSMOS P.835 model (create once per worker)."""

    def __init__(self, path: str | Path | None = None, personalized: bool = False, threads: int = 1):
        import onnxruntime as ort

        self.path = Path(path) if path else model_path(personalized)
        self.personalized = personalized
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def _calibrate(self, sig: float, bak: float, ovrl: float) -> tuple[float, float, float]:
        from speechmos.dnsmos import DNSMOS

        # get_polyfit_val uses no instance state: the published P.835 calibration polynomials.
        return DNSMOS.get_polyfit_val(None, sig, bak, ovrl, self.personalized)

    def score(self, audio: np.ndarray, sr: int = SR, hop_s: float = WINDOW_S, max_windows: int = 8
              ) -> QualityScores | None:
        """Mean calibrated scores over the windows; ``None`` for silent or empty audio."""
        if sr != SR:
            raise ValueError(f"DNSMOS needs {SR} Hz audio, got {sr}")
        x = np.asarray(audio, dtype=np.float32)
        if len(x) == 0 or not np.any(x):
            return None
        window = int(WINDOW_S * SR)
        if len(x) < window:
            x = np.tile(x, int(np.ceil(window / len(x))))[:window]
        starts = np.arange(0, len(x) - window + 1, max(1, int(hop_s * SR)))
        if len(starts) > max_windows:
            starts = starts[np.linspace(0, len(starts) - 1, max_windows).round().astype(int)]
        scores = []
        for start in starts:
            raw = self._session.run(None, {self._input: x[start:start + window][None, :]})[0][0]
            scores.append(self._calibrate(float(raw[0]), float(raw[1]), float(raw[2])))
        sig, bak, ovrl = (float(np.clip(np.mean(col), 1.0, 5.0)) for col in zip(*scores, strict=True))
        return QualityScores(sig, bak, ovrl)
