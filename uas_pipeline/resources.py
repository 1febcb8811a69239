"""What a stage reserves on the cluster (a leaf module: recipes and stages both use it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Resources(BaseModel):
    """Per-worker reservation and batching of one stage."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    num_cpus: float = Field(default=1.0, gt=0)
    num_gpus: float = Field(default=0.0, ge=0)
    """Fractions pack several workers on one GPU (0.5 = two workers per GPU)."""
    concurrency: int = Field(default=1, ge=1)
    """Number of workers (actors) of this stage; each loads the model once."""
    batch_size: int = Field(default=4, ge=1)
    """Most clips in one ``process`` call (a worker splits the blocks it receives)."""
    batch_audio_s: float | None = Field(default=None, gt=0)
    """Upper bound on the audio seconds of one ``process`` call; a worker splits larger batches
    (a single longer clip still goes alone). ``None``: no bound beyond ``batch_size``."""
