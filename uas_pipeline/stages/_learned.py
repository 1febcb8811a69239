"""Shared machinery of the learned-attribute stages (``gender``, ``age``, ``emotion``, ``accent``
with the ``transformers`` backend): parameters, model loading, units, aggregation.

With ``model: null`` (the default) the stage runs but fills nothing: its fields stay null and
``provenance.fields`` says ``skipped: stages.<name>: no model configured`` — never a guess.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from ..paralinguistics.spans import Region
from ..resources import Resources
from .base import LocalPath, Stage, StageFailure, StageInput, StageOutput, StageParams

NO_MODEL = "no model configured"


class LearnedParams(StageParams):
    model: Annotated[str | None, LocalPath()] = None
    """A local ``transformers`` model directory or a hub id (``null``: the stage fills nothing)."""
    label_map: Annotated[str, LocalPath()] = "bundled:default"
    """Model labels → UAS vocabulary: ``bundled:<task>`` or a JSON file (see docs)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    local_files_only: bool = True
    """Never download: hub ids must already be in the local cache."""
    max_window_s: float = Field(default=10.0, gt=0)
    min_unit_s: float = Field(default=0.3, ge=0)
    """Units (segments, speakers) with less speech than this stay null."""
    max_speaker_s: float = Field(default=30.0, gt=0)
    """At most this much of a speaker's speech is classified when no segments are scored."""


class LearnedAttributeStage(Stage):
    """Base of the ``transformers`` attribute stages. Subclasses set ``name``, ``fills``, ``Output``,
    ``task`` (the bundled label map) and implement :meth:`build_output`."""

    backend = "transformers"
    requires: ClassVar[tuple[str, ...]] = ("audio",)
    uses: ClassVar[tuple[str, ...]] = ("asr", "diarization", "attribution")
    sample_rate = 16000
    Params = LearnedParams
    task: ClassVar[str] = ""
    segment_level: ClassVar[bool] = False
    default_resources = Resources(num_cpus=1, batch_size=4)
    extra = "paralinguistics"
    needs_modules = ("torch", "transformers")

    def skipped_fields(self) -> dict[str, str]:
        return {} if self.params.model else dict.fromkeys(self.fills, NO_MODEL)

    def label_map_source(self) -> str:
        lm = self.params.label_map
        return f"bundled:{self.task}" if lm == "bundled:default" else lm

    def setup(self) -> None:
        self._classifier = None
        if not self.params.model:
            return
        from ..paralinguistics.learned import load_label_map

        self._label_map = load_label_map(self.label_map_source())
        device = self.params.device
        if device == "auto":
            import torch

            device = "cuda" if self.resources.num_gpus > 0 and torch.cuda.is_available() else "cpu"
        self._device = device
        self._classifier = self.load_classifier(device)

    def load_classifier(self, device: str):
        from ..paralinguistics.learned import AudioClassifier

        return AudioClassifier(self.params.model, device=device, local_files_only=self.params.local_files_only,
                               threads=self.torch_threads, max_window_s=self.params.max_window_s)

    def model_name(self) -> str | None:
        if not self.params.model:
            return None
        from ..paralinguistics.learned import describe_source

        return describe_source(self.params.model)["model"]

    def model_version(self) -> str | None:
        if not self.params.model:
            return None
        from ..paralinguistics.learned import describe_source

        return describe_source(self.params.model)["model_version"]

    def run_params(self) -> dict[str, Any]:
        return {"device": getattr(self, "_device", None), "label_map_resolved": self.label_map_source()}

    def process(self, batch: list[StageInput]) -> list[StageOutput | StageFailure]:
        if self._classifier is None:
            return [self.Output() for _ in batch]  # every field None: not annotated
        out: list[StageOutput | StageFailure] = []
        for item in batch:
            try:
                out.append(self._annotate(item))
            except (ValueError, RuntimeError) as exc:
                out.append(StageFailure.from_exception(exc))
        return out

    def classify(self, item: StageInput, regions: list[Region], max_s: float | None = None):
        """Mapped scores of the speech in ``regions`` (``None`` when shorter than ``min_unit_s``)."""
        import numpy as np

        from ..paralinguistics.spans import concat, merge_regions, total_s

        regions = merge_regions(regions)
        if total_s(regions) < self.params.min_unit_s:
            return None
        audio = concat(item.audio, self.sample_rate, regions)
        if max_s is not None:
            audio = audio[: int(max_s * self.sample_rate)]
        return self._classifier.classify(np.asarray(audio, dtype=np.float32), self.sample_rate, self._label_map)

    def _annotate(self, item: StageInput) -> StageOutput:
        from ..paralinguistics.learned import aggregate
        from ..paralinguistics.units import record_segments, record_speakers, speaker_regions

        segments = record_segments(item)
        speakers = record_speakers(item)
        seg_scores = None
        if self.segment_level and segments is not None:
            seg_scores = [self.classify(item, [(s.start, s.end)]) for s in segments]
        spk_scores = None
        if speakers is not None:
            regions = speaker_regions(speakers, segments or [], item.inputs.get("diarization"))
            spk_scores = {}
            for sid in speakers:
                own = [(sc, s.end - s.start) for s, sc in zip(segments or [], seg_scores or [], strict=False)
                       if s.speaker == sid and sc is not None]
                spk_scores[sid] = (aggregate(own) if own
                                   else self.classify(item, regions[sid], self.params.max_speaker_s))
        return self.build_output(spk_scores, seg_scores)

    def build_output(self, speakers, segments) -> StageOutput:
        raise NotImplementedError


class EmbeddingParams(LearnedParams):
    """``model``: an ``.npz`` linear classifier over resemblyzer embeddings (see
    :func:`~uas_pipeline.paralinguistics.learned.fit_embedding_classifier`)."""


class EmbeddingClassifierMixin:
    """Switches a learned stage to the ``embedding-classifier`` backend."""

    backend = "embedding-classifier"
    Params = EmbeddingParams
    extra = "paralinguistics"
    needs_modules = ("torch", "resemblyzer", "sklearn")

    def load_classifier(self, device: str):
        from ..paralinguistics.learned import EmbeddingClassifier

        return EmbeddingClassifier(self.params.model, device=device, threads=self.torch_threads)
