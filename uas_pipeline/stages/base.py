"""The one contract every annotator follows.

A stage declares what it reads (``requires``: ``"audio"`` and/or other stages' names) and what it
writes (its own ``name``), its backend parameters (a pydantic ``Params`` model, validated when the
recipe is loaded) and its resources. The runner creates one instance per worker, calls :meth:`setup`
once (model loading), then :meth:`process` on batches of :class:`ClipTask`. Stages never see Ray.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..recipe import Resources
from ..schema import StageProvenance


class StageParams(BaseModel):
    """Base of backend parameter models: unknown keys are recipe errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


@dataclass
class ClipRef:
    """What the input lister knows about a clip before decoding."""

    id: str
    source: str
    offset_s: float = 0.0
    duration_s: float | None = None
    """Length of the requested region; ``None`` means to the end of the file."""
    region: bool = False
    """True when the clip is a region of a longer file (``clip.offset_s`` is then recorded)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "offset_s": self.offset_s,
            "duration_s": self.duration_s,
            "region": self.region,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipRef:
        return cls(**d)


@dataclass
class StageError:
    stage: str
    error_type: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "error_type": self.error_type, "message": self.message}


@dataclass
class ClipTask:
    """One clip on its way through the stages.

    ``outputs`` maps a stage name to the JSON-able result of that stage; ``provenance`` maps it to
    the stage's provenance entry. A task with ``error`` set is passed through untouched.
    """

    ref: ClipRef
    audio: np.ndarray | None = None
    """Mono float32 at 16 kHz."""
    sample_rate: int = 0
    """Sample rate of the source file (recorded in the UAS clip)."""
    channels: int = 0
    duration_s: float = 0.0
    """Duration of this clip (the region), seconds."""
    source_mtime: float | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: StageError | None = None
    skipped: bool = False
    """Already in the output (resume); carried to the writer only to be counted."""

    @property
    def active(self) -> bool:
        return self.error is None and not self.skipped


class Stage(ABC):
    """Base class of annotators. Subclasses set the class attributes and implement process()."""

    name: ClassVar[str]
    backend: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ("audio",)
    uses: ClassVar[tuple[str, ...]] = ()
    """Stages whose outputs are used when they are enabled (ordering only)."""
    Params: ClassVar[type[StageParams]] = StageParams
    default_resources: ClassVar[Resources] = Resources()

    def __init__(self, params: StageParams | dict[str, Any] | None = None, resources: Resources | None = None):
        self.params = params if isinstance(params, StageParams) else self.Params.model_validate(params or {})
        self.resources = resources or self.default_resources

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models. Called once per worker before the first batch."""

    @abstractmethod
    def process(self, batch: list[ClipTask]) -> list[Any]:
        """Annotate a batch of active tasks; return one JSON-able output per task, in order."""

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

    @property
    def torch_threads(self) -> int:
        """Intra-op threads matching the CPUs this worker reserved."""
        return max(1, math.ceil(self.resources.num_cpus))
