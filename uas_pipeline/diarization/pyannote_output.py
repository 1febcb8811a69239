"""Converting a pyannote.audio pipeline result into :class:`DiarizationOutput`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..outputs.diarization import DiarizationOutput
from .convert import to_output


def from_pyannote(result: Any, duration_s: float, link_threshold: float | None) -> DiarizationOutput:
    """``result``: a pyannote 4 ``DiarizeOutput`` (``speaker_diarization`` + ``speaker_embeddings``)
    or a bare ``Annotation`` (legacy pipelines)."""
    annotation = getattr(result, "speaker_diarization", result)
    turns = [(seg.start, seg.end, label) for seg, _, label in annotation.itertracks(yield_label=True)]
    embeddings = None
    vectors = getattr(result, "speaker_embeddings", None)
    if vectors is not None:
        labels = annotation.labels()
        vectors = np.asarray(vectors)
        if vectors.ndim == 2 and len(vectors) >= len(labels):
            embeddings = {label: vectors[i] for i, label in enumerate(labels) if np.all(np.isfinite(vectors[i]))}
    return to_output(turns, duration_s, embeddings, link_threshold)
