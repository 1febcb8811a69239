"""Gender from a linear classifier over resemblyzer speaker embeddings (``model``: an ``.npz``
made with :func:`uas_pipeline.paralinguistics.learned.fit_embedding_classifier`)."""

from __future__ import annotations

from ._learned import EmbeddingClassifierMixin
from .gender_transformers import TransformersGender


class EmbeddingGender(EmbeddingClassifierMixin, TransformersGender):
    backend = "embedding-classifier"
