"""The training recipe (``uas-pipeline train TRAIN_RECIPE.yaml``): a strict pydantic model.

Unknown keys are errors naming the dotted key; ``--set a.b=value`` overrides work as for annotation
recipes (:func:`uas_pipeline.recipe.apply_overrides`). Relative paths are relative to the working
directory; :meth:`TrainRecipe.resolved` makes them absolute before the recipe travels to Ray workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..recipe import RecipeError, apply_overrides
from ..targets import ViewName

DEFAULT_PROMPTS: dict[str, str] = {
    "full": "Output the full UAS JSON of this clip.",
    "compact": "Output a UAS JSON with the transcription, voice features and non-linguistic events of this clip.",
    "asr": "Transcribe the speech in this clip as JSON.",
    "paralinguistics": "Output the paralinguistic features of this clip as UAS JSON.",
    "events": "List the non-linguistic sound events of this clip as UAS JSON.",
    "caption": "Describe this clip in a paragraph.",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    train: list[str] = Field(min_length=1)
    """UAS output directories (their ``*.parquet`` shards) or single shard files."""
    produce_with: str | None = None
    """An annotation recipe to run into ``train[0]`` when that directory holds no shards yet."""
    eval: list[str] | None = None
    """Separate evaluation data (the ``eval`` split); otherwise use ``holdout_fraction``."""
    holdout_fraction: float = Field(default=0.0, ge=0, lt=1)
    """Records held out of training by a stable hash of their clip id (the ``holdout`` split)."""
    holdout_seed: int = 0
    audio_root: str | None = None
    """Resolves relative ``clip.source`` paths (default: the working directory)."""
    tasks: dict[ViewName, float] = Field(default_factory=lambda: {"compact": 1.0})
    """Task mix: target view → weight. Each record gets one view per epoch, drawn among the views
    it supports with these weights."""
    prompts: dict[ViewName, str] = Field(default_factory=dict)
    """Instruction prompt per view (defaults: ``DEFAULT_PROMPTS``)."""
    max_audio_s: float = Field(default=30.0, gt=0)
    """Longer clips are skipped (their targets describe audio the model would not see)."""
    max_target_tokens: int = Field(default=4096, ge=1)
    """Examples whose target is longer (in tokens, eos included) are skipped and counted."""
    shuffle_buffer: int = Field(default=64, ge=1)
    loader_workers: int = Field(default=0, ge=0)
    """PyTorch DataLoader worker processes (0: decode audio in the training process)."""
    loader: Literal["auto", "torch", "ray_data"] = "auto"
    """``auto``: Ray Data when Ray Train joins a cluster (``trainer.ray_address``), otherwise the PyTorch
    streaming dataset (each worker reads its own partition of the shards)."""

    @field_validator("train", "eval", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("tasks")
    @classmethod
    def _some_task(cls, v: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in v.values()) or not any(w > 0 for w in v.values()):
            raise ValueError("task weights must be >= 0 with at least one > 0")
        return v

    def prompt(self, view: str) -> str:
        return self.prompts.get(view, DEFAULT_PROMPTS[view])


class TinyLMConfig(_Strict):
    """A LlamaConfig built in code (no hub): used when ``model.lm.source`` is ``tiny``."""

    hidden_size: int = Field(default=128, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    intermediate_size: int = Field(default=384, ge=8)
    max_positions: int = Field(default=4096, ge=64)


class LMConfig(_Strict):
    source: str = "tiny"
    """``tiny`` (built from ``tiny``, with the byte tokenizer), or a local directory / hub id of a causal
    LM from ``transformers`` (its own tokenizer is used)."""
    tiny: TinyLMConfig = Field(default_factory=TinyLMConfig)
    local_files_only: bool = False
    """Never contact the hub when loading ``source`` (offline machines)."""
    freeze: bool = False


class EncoderConfig(_Strict):
    """Whisper-style log-mel encoder (``whisper.model.AudioEncoder``)."""

    whisper_checkpoint: str | None = None
    """A local openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``): its encoder weights and dims."""
    n_mels: Literal[80, 128] = 80
    n_state: int = Field(default=128, ge=8)
    n_head: int = Field(default=2, ge=1)
    n_layer: int = Field(default=2, ge=1)
    freeze: bool = False


class ProjectorConfig(_Strict):
    downsample: int = Field(default=4, ge=1)
    """Encoder frames (50 per second) stacked into one LM input embedding."""


class AudioTokenizerConfig(_Strict):
    """Discrete variant: k-means codebook over audio features, fitted on the training data."""

    num_codes: int = Field(default=64, ge=2)
    features: Literal["auto", "log_mel", "encoder"] = "auto"
    """``encoder``: features of the Whisper encoder (needs ``model.encoder.whisper_checkpoint``);
    ``log_mel``: stacked log-mel frames; ``auto``: ``encoder`` when a checkpoint is given."""
    pool: int = Field(default=4, ge=1)
    """Frames per token: log-mel frames (100/s) or encoder frames (50/s)."""
    dedupe: bool = True
    """Collapse runs of the same code into one token (shorter sequences)."""
    max_fit_frames: int = Field(default=50_000, ge=16)
    """Frames sampled (reservoir) from the training audio to fit the codebook."""
    max_fit_clips: int | None = Field(default=None, ge=1)
    kmeans_iterations: int = Field(default=25, ge=1)


class ModelConfig(_Strict):
    variant: Literal["continuous", "discrete"] = "continuous"
    lm: LMConfig = Field(default_factory=LMConfig)
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    projector: ProjectorConfig = Field(default_factory=ProjectorConfig)
    audio_tokenizer: AudioTokenizerConfig = Field(default_factory=AudioTokenizerConfig)


class TrainerConfig(_Strict):
    output_dir: str = "out/train"
    max_steps: int = Field(default=100, ge=1)
    batch_size: int = Field(default=4, ge=1)
    """Examples per micro-batch per worker."""
    grad_accum: int = Field(default=1, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_steps: int = Field(default=10, ge=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """``auto``: bf16 autocast on CUDA, fp32 on CPU."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``… (single-process path)."""
    seed: int = 0
    log_every: int = Field(default=10, ge=1)
    save_every: int = Field(default=0, ge=0)
    """Checkpoint every N steps (0: only at the end)."""
    keep_checkpoints: int = Field(default=2, ge=1)
    resume: bool = True
    """Continue from the newest checkpoint in ``output_dir`` when there is one."""
    threads: int | None = Field(default=None, ge=1)
    """``torch.set_num_threads`` (default: torch's choice)."""
    use_ray: bool = False
    """Train through Ray Train (``TorchTrainer``); implied by ``num_workers > 1``."""
    num_workers: int = Field(default=1, ge=1)
    """Ray Train workers (data-parallel processes, one GPU each with ``use_gpu``)."""
    use_gpu: bool | None = None
    """Ray Train workers reserve a GPU (default: when this machine has CUDA)."""
    cpus_per_worker: float = Field(default=1.0, gt=0)
    ray_address: str | None = None
    """``None``: start a local Ray; ``auto`` or ``ray://host:10001`` joins a cluster."""

    @property
    def ray(self) -> bool:
        return self.use_ray or self.num_workers > 1


class EvalConfig(_Strict):
    enabled: bool = True
    view: ViewName = "compact"
    splits: list[Literal["holdout", "eval", "train"]] = Field(default_factory=lambda: ["holdout"])
    """Record sets scored after training: ``holdout`` (``data.holdout_fraction``), ``eval``
    (``data.eval``), ``train`` (the training records: shows memorisation, not generalisation)."""
    max_records: int = Field(default=64, ge=1)
    max_new_tokens: int = Field(default=512, ge=1)
    batch_size: int = Field(default=8, ge=1)


class TrainRecipe(_Strict):
    name: str = "train"
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _consistent(self) -> TrainRecipe:
        enc = self.model.encoder
        if self.model.audio_tokenizer.features == "encoder" and enc.whisper_checkpoint is None:
            raise ValueError("model.audio_tokenizer.features=encoder needs model.encoder.whisper_checkpoint")
        if self.eval.enabled and "eval" in self.eval.splits and not self.data.eval:
            raise ValueError("eval.splits names 'eval' but data.eval is not set")
        return self

    def resolved(self) -> TrainRecipe:
        """A copy with every path absolute (relative to the current directory)."""

        def absolute(p: str | None) -> str | None:
            return None if p is None else str(Path(p).expanduser().resolve())

        data = self.data.model_copy(update={
            "train": [absolute(p) for p in self.data.train],
            "eval": None if self.data.eval is None else [absolute(p) for p in self.data.eval],
            "produce_with": absolute(self.data.produce_with),
            "audio_root": absolute(self.data.audio_root or "."),
        })
        enc = self.model.encoder.model_copy(update={"whisper_checkpoint": absolute(self.model.encoder.whisper_checkpoint)})
        lm = self.model.lm
        if lm.source != "tiny" and Path(lm.source).expanduser().exists():
            lm = lm.model_copy(update={"source": absolute(lm.source)})
        model = self.model.model_copy(update={"encoder": enc, "lm": lm})
        trainer = self.trainer.model_copy(update={"output_dir": absolute(self.trainer.output_dir)})
        return self.model_copy(update={"data": data, "model": model, "trainer": trainer})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "literal_error":
            msg = f"invalid value {err.get('input')!r}; {msg.lower()}"
        lines.append(f"{loc or '<recipe>'}: {msg}")
    return "invalid train recipe:\n  " + "\n  ".join(lines)


def validate_train_recipe(data: Any) -> TrainRecipe:
    if not isinstance(data, dict):
        raise RecipeError("invalid train recipe: the top level must be a mapping")
    try:
        return TrainRecipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_format_errors(exc)) from None


def load_train_recipe(path: str | Path, overrides: list[str] | None = None) -> TrainRecipe:
    """Read a YAML train recipe, apply ``--set`` overrides and validate it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise RecipeError(f"train recipe not found: {path}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: the top level must be a mapping")
    return validate_train_recipe(apply_overrides(data, overrides or []))

