"""The one contract every annotator follows.

A stage declares

* what it reads: ``requires`` (``"audio"`` and/or other stages, which must be enabled) and ``uses``
  (stages read when enabled), and the ``sample_rate`` of the audio it wants;
* what it writes: a typed ``Output`` (a :class:`StageOutput` pydantic model) and the record fields
  it fills (``fills``) or, for a derived step, the fields of its inputs it rewrites (``refines``);
* its backend parameters (a :class:`StageParams` model, validated when the recipe is loaded) and
  its ``default_resources``.

The runner creates one instance per worker, calls :meth:`Stage.setup` once (model loading), then
:meth:`Stage.process` on batches of :class:`StageInput`. ``process`` returns one output per input,
or a :class:`StageFailure` for a clip it could not annotate (the rest of the batch is kept). Stages
never see Ray, Arrow or other stages' serialized forms: inputs arrive as typed outputs.

A *derived step* (:class:`DerivedStep`) needs no audio: it combines the outputs of the stages it
requires (e.g. ASR words × diarization turns), runs in the light task pool, and is enabled
automatically when everything it requires is enabled.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..clips import ClipInfo
from ..resources import Resources
from ..schema import StageProvenance


class LocalPath:
    """Marks a parameter that may name a local file or directory (``Annotated[str, LocalPath()]``):
    a relative path is made absolute on the driver when the recipe is loaded."""


class StageParams(BaseModel):
    """Base of backend parameter models: unknown keys are recipe errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class StageOutput(BaseModel):
    """Base of typed stage outputs. Validated in the worker, so a bad output is blamed on its stage."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    def record_fields(self) -> dict[str, Any]:
        """The record fields this output fills, by field path (see :mod:`uas_pipeline.assembly`).

        Values are schema models, plain JSON values or ``None`` (not annotated). Per-speaker paths
        (``paralinguistics.speakers[].pitch``) take a mapping speaker id → value; per-segment paths
        (``paralinguistics.segments[].pitch``) a list aligned with ``transcription.segments``."""
        return {}

    SIDE_COLUMNS: ClassVar[dict[str, str]] = {}
    """Extra data-shard columns (not part of the UAS JSON) this output provides, name → Arrow type:
    ``binary``, ``string``, ``float64``, ``int64`` or ``list<string>`` (e.g. frame scores kept so
    events can be re-thresholded without the model). Names must be unique across stages."""

    def side_columns(self) -> dict[str, Any]:
        """Values of ``SIDE_COLUMNS`` for this clip (missing names are null)."""
        return {}

    @classmethod
    def relabel_side_columns(cls, values: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
        """``values`` of this output's side columns with speaker ids renamed by ``mapping`` (the
        per-file pass that links a long file's regions renames speakers in records and side columns
        alike). Default: no speaker ids in them."""
        return values


@dataclass(frozen=True)
class StageFailure:
    """One clip a stage could not annotate; it becomes a ledger row with the stage's name."""

    error_type: str
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> StageFailure:
        return cls(type(exc).__name__, str(exc) or repr(exc))


@dataclass
class StageInput:
    """One clip as a stage receives it."""

    clip: ClipInfo
    audio: np.ndarray | None = None
    """Mono float32 at ``sample_rate`` (the stage's declared rate); read-only; ``None`` for derived steps."""
    sample_rate: int | None = None
    inputs: dict[str, StageOutput] = field(default_factory=dict)
    """Typed outputs of the required and used stages that ran, by stage name, in run order."""
    _partial: Any = field(default=None, repr=False, compare=False)

    @property
    def duration_s(self) -> float:
        return self.clip.duration_s

    def record(self):
        """The record as far as this clip's inputs filled it (:class:`~uas_pipeline.assembly.PartialRecord`):
        e.g. ``inp.record().transcription.segments`` after speaker attribution."""
        if self._partial is None:
            from ..assembly import RecordDraft

            draft = RecordDraft()
            for name, output in self.inputs.items():
                draft.apply(name, output.record_fields())
            self._partial = draft.partial()
        return self._partial


class Stage(ABC):
    """Base class of annotators. Subclasses set the class attributes and implement :meth:`process`."""

    name: ClassVar[str]
    """The recipe key (``stages.<name>``); backends of one stage share it and its ``Output`` type."""
    backend: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ("audio",)
    uses: ClassVar[tuple[str, ...]] = ()
    sample_rate: ClassVar[int | None] = 16000
    """Rate of the audio this stage reads (``None``: reads no audio)."""
    Params: ClassVar[type[StageParams]] = StageParams
    Output: ClassVar[type[StageOutput]] = StageOutput
    fills: ClassVar[tuple[str, ...]] = ()
    """Record field paths this stage owns; two enabled stages claiming one field is a recipe error."""
    refines: ClassVar[tuple[str, ...]] = ()
    """Fields owned by a required stage that this stage rewrites (derived steps, e.g. splitting
    transcript segments at speaker changes)."""
    derived: ClassVar[bool] = False
    default_resources: ClassVar[Resources] = Resources()
    extra: ClassVar[str | None] = None
    """The install extra that brings this backend's libraries (``pip install 'uas-pipeline[extra]'``)."""
    needs_modules: ClassVar[tuple[str, ...]] = ()
    """Modules ``setup()`` imports; a recipe enabling this backend without them is refused at load."""

    @classmethod
    def missing_modules(cls) -> list[str]:
        """Those of ``needs_modules`` that cannot be imported here (checked without importing them)."""
        import importlib.util

        missing = []
        for name in cls.needs_modules:
            try:
                found = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(name)
        return missing

    def __init__(self, params: StageParams | dict[str, Any] | None = None, resources: Resources | None = None):
        self.params = params if isinstance(params, StageParams) else self.Params.model_validate(params or {})
        self.resources = resources or self.default_resources

    @classmethod
    def fills_for(cls, params: StageParams) -> tuple[str, ...]:
        """The fields filled with these parameters (default: ``fills``)."""
        return cls.fills

    def skipped_fields(self) -> dict[str, str]:
        """Fields of ``fills`` this configuration leaves null, with the reason (e.g. ``age``:
        ``no model configured``). Must not need :meth:`setup`."""
        return {}

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models. Called once per worker before the first batch."""

    @abstractmethod
    def process(self, batch: list[StageInput]) -> list[StageOutput | StageFailure]:
        """Annotate a batch; one output (or failure) per input, in order."""

    def model_name(self) -> str | None:
        return None

    def model_version(self) -> str | None:
        return None

    def run_params(self) -> dict[str, Any]:
        """Settings resolved at set-up (e.g. the device) recorded next to the recipe params."""
        return {}

    def provenance(self, status: str = "ok") -> StageProvenance:
        params = self.params.model_dump(mode="json")
        params.update(self.run_params())
        return StageProvenance(
            backend=self.backend,
            model=self.model_name(),
            model_version=self.model_version(),
            params=params,
            status=status,
        )

    def torch_device(self, requested: str = "auto") -> str:
        """``cuda`` when asked for or when ``auto`` and this worker reserved a GPU that torch can
        use; else ``cpu``, with one log line when a reserved GPU cannot be used."""
        if requested == "cpu":
            return "cpu"
        wants_gpu = requested == "cuda" or self.resources.num_gpus > 0
        if not wants_gpu:
            return "cpu"
        import torch

        if torch.cuda.is_available():
            return "cuda"
        logging.getLogger("uas_pipeline").warning(
            "stages.%s (%s): a GPU was requested (resources.num_gpus=%s, device=%s) but CUDA is not "
            "available in this worker; running on CPU", self.name, self.backend, self.resources.num_gpus, requested)
        return "cpu"

    @property
    def torch_threads(self) -> int:
        """Intra-op threads matching the CPUs this worker reserved."""
        return max(1, math.ceil(self.resources.num_cpus))


class DerivedStep(Stage):
    """A step that combines other stages' outputs without audio; enabled when its inputs are."""

    backend = "builtin"
    requires: ClassVar[tuple[str, ...]] = ()
    sample_rate = None
    derived = True
    default_resources = Resources(num_cpus=0.25, batch_size=16)
