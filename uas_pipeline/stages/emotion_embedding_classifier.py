"""Emotion from a linear classifier over resemblyzer speaker embeddings (``model``: an ``.npz``
made with :func:`uas_pipeline.paralinguistics.learned.fit_embedding_classifier`)."""

from __future__ import annotations

from ._learned import EmbeddingClassifierMixin
from .emotion_transformers import TransformersEmotion


class EmbeddingEmotion(EmbeddingClassifierMixin, TransformersEmotion):
    backend = "embedding-classifier"
