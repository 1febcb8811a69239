"""Pluggable learned classifiers: a ``transformers`` audio-classification model (a local directory
or a hub id) and a label map from the model's labels to the UAS vocabulary.

Label maps are JSON files (``uas_pipeline/paralinguistics/data/labelmap-*.json`` or the user's):

    {"task": "emotion", "labels": {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"},
     "unmapped": "other"}

Model labels are matched case-insensitively; probabilities of model labels that map to the same
UAS label add up. A model label missing from the map goes to ``unmapped`` (or is dropped when
``unmapped`` is null, the remaining probabilities renormalised). For ``age`` a value may be
``{"label": "adult", "years": 35}`` (the years of a model class, averaged by probability). For
``accent`` the map may be ``"labels": "identity"``: the model's own labels are the UAS labels.

Long audio is cut into windows of at most ``max_window_s`` (default 10 s); window probabilities
are averaged weighted by duration. A speaker's result is the duration-weighted mean of the
probabilities of their units (segments or turns); confidence is the top probability.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

_DATA = Path(__file__).resolve().parent / "data"


class LabelTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    years: float | None = None


class LabelMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    labels: dict[str, str | LabelTarget] | str
    """Model label → UAS label (or ``LabelTarget``); ``"identity"`` keeps the model's labels."""
    unmapped: str | None = None
    description: str = ""

    def target(self, model_label: str) -> LabelTarget | None:
        if self.labels == "identity":
            return LabelTarget(label=model_label)
        assert isinstance(self.labels, dict)
        lowered = {k.lower(): v for k, v in self.labels.items()}
        value = lowered.get(model_label.lower())
        if value is None:
            return LabelTarget(label=self.unmapped) if self.unmapped else None
        return LabelTarget(label=value) if isinstance(value, str) else value


def load_label_map(source: str) -> LabelMap:
    """``bundled:<name>`` → ``data/labelmap-<name>.json``; anything else is a path."""
    if source.startswith("bundled:"):
        path = _DATA / f"labelmap-{source.split(':', 1)[1]}.json"
    else:
        path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"label map not found: {path}")
    return LabelMap.model_validate(json.loads(path.read_text()))


@dataclass(frozen=True)
class MappedScores:
    """Probabilities over UAS labels (summing to 1) and, for age maps, expected years."""

    scores: dict[str, float]
    years: float | None = None

    @property
    def top(self) -> tuple[str, float]:
        label = max(self.scores, key=lambda k: (self.scores[k], k))
        return label, self.scores[label]


def map_probabilities(probs: np.ndarray, id2label: dict[int, str], label_map: LabelMap) -> MappedScores | None:
    """Model class probabilities → UAS label probabilities via the label map."""
    scores: dict[str, float] = {}
    years_num = years_den = 0.0
    for idx, p in enumerate(np.asarray(probs, dtype=float)):
        target = label_map.target(id2label[idx])
        if target is None:
            continue
        scores[target.label] = scores.get(target.label, 0.0) + float(p)
        if target.years is not None:
            years_num += float(p) * target.years
            years_den += float(p)
    total = sum(scores.values())
    if total <= 0:
        return None
    return MappedScores({k: v / total for k, v in scores.items()}, years_num / years_den if years_den > 0 else None)


def aggregate(parts: Sequence[tuple[MappedScores, float]]) -> MappedScores | None:
    """Duration-weighted mean of several units' scores."""
    parts = [(s, w) for s, w in parts if s is not None and w > 0]
    if not parts:
        return None
    total = sum(w for _, w in parts)
    labels = sorted({k for s, _ in parts for k in s.scores})
    scores = {k: sum(s.scores.get(k, 0.0) * w for s, w in parts) / total for k in labels}
    with_years = [(s.years, w) for s, w in parts if s.years is not None]
    years = sum(y * w for y, w in with_years) / sum(w for _, w in with_years) if with_years else None
    return MappedScores(scores, years)


class AudioClassifier:
    """A ``transformers`` audio-classification model, loaded once per worker."""

    def __init__(self, source: str, device: str = "cpu", local_files_only: bool = True, threads: int = 1,
                 max_window_s: float = 10.0):
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        torch.set_num_threads(threads)
        self._torch = torch
        self.extractor = AutoFeatureExtractor.from_pretrained(source, local_files_only=local_files_only)
        self.model = AutoModelForAudioClassification.from_pretrained(source, local_files_only=local_files_only)
        self.model.eval().to(device)
        self.device = device
        self.max_window_s = max_window_s
        self.sample_rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}

    def probabilities(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Class probabilities of one stretch of audio (mean over windows, weighted by length)."""
        if sr != self.sample_rate:
            from scipy.signal import resample_poly

            audio = resample_poly(audio, self.sample_rate, sr).astype(np.float32)
        window = int(self.max_window_s * self.sample_rate)
        chunks = [audio[i:i + window] for i in range(0, max(1, len(audio)), window)]
        chunks = [c for c in chunks if len(c) >= 0.1 * self.sample_rate] or [audio]
        probs, weights = [], []
        for chunk in chunks:
            inputs = self.extractor(np.asarray(chunk, dtype=np.float32), sampling_rate=self.sample_rate,
                                    return_tensors="pt")
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            with self._torch.no_grad():
                logits = self.model(**inputs).logits[0]
            probs.append(self._torch.softmax(logits.float(), dim=-1).cpu().numpy())
            weights.append(len(chunk))
        return np.average(np.stack(probs), axis=0, weights=np.asarray(weights, dtype=float))

    def classify(self, audio: np.ndarray, sr: int, label_map: LabelMap) -> MappedScores | None:
        return map_probabilities(self.probabilities(audio, sr), self.id2label, label_map)


def describe_source(source: str) -> dict[str, Any]:
    """``model`` and ``model_version`` for provenance: a local directory's weights checksum, or the hub id."""
    from ..modelfiles import file_checksum

    path = Path(source)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                return {"model": str(path), "model_version": file_checksum(path / name)}
        return {"model": str(path), "model_version": None}
    return {"model": source, "model_version": None}


class EmbeddingClassifier:
    """A linear softmax classifier over resemblyzer speaker embeddings (256-d, the encoder ships in
    the ``resemblyzer`` wheel), stored as ``.npz``: ``classes`` (labels), ``weights`` (C × 256),
    ``bias`` (C). Train one on your own labelled clips with :func:`fit_embedding_classifier`.
    Loaded without pickle."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 1):
        import torch
        from resemblyzer import VoiceEncoder

        torch.set_num_threads(threads)
        with np.load(Path(path), allow_pickle=False) as data:
            self.classes = [str(c) for c in data["classes"]]
            self.weights = np.asarray(data["weights"], dtype=float)
            self.bias = np.asarray(data["bias"], dtype=float)
        if self.weights.shape != (len(self.classes), 256) or self.bias.shape != (len(self.classes),):
            raise ValueError(f"{path}: expected weights ({len(self.classes)}, 256) and bias ({len(self.classes)},)")
        self.encoder = VoiceEncoder(device=device, verbose=False)
        self.id2label = dict(enumerate(self.classes))
        self.sample_rate = 16000

    def probabilities(self, audio: np.ndarray, sr: int) -> np.ndarray:
        if sr != self.sample_rate:
            from scipy.signal import resample_poly

            audio = resample_poly(audio, self.sample_rate, sr)
        embedding = embed(self.encoder, np.asarray(audio, dtype=np.float32))
        logits = self.weights @ embedding + self.bias
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def classify(self, audio: np.ndarray, sr: int, label_map: LabelMap) -> MappedScores | None:
        return map_probabilities(self.probabilities(audio, sr), self.id2label, label_map)


def embed(encoder, audio: np.ndarray) -> np.ndarray:
    """The L2-normalised resemblyzer embedding of 16 kHz audio (padded to 1.6 s if shorter)."""
    if len(audio) < 25600:
        audio = np.pad(audio, (0, 25600 - len(audio)))
    return np.asarray(encoder.embed_utterance(audio), dtype=float)


def fit_embedding_classifier(embeddings: np.ndarray, labels: Sequence[str], path: str | Path, c: float = 1.0) -> Path:
    """Fit a multinomial logistic regression on resemblyzer embeddings and save it as ``.npz``."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=1000).fit(np.asarray(embeddings, dtype=float), list(labels))
    classes = [str(x) for x in model.classes_]
    weights, bias = model.coef_, model.intercept_
    if len(classes) == 2:  # binary: sklearn keeps one row for classes_[1]; softmax needs both
        weights = np.vstack([-weights[0] / 2, weights[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    path = Path(path)
    np.savez(path, classes=np.array(classes), weights=weights, bias=bias)
    return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")
