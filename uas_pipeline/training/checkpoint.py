"""Checkpoints: one directory per saved step, written to a temporary name and renamed into place.

Layout of ``OUTPUT/checkpoints/step-0000200/``::

    meta.json           variant, dims, vocab sizes, step, prompts (what ``generate`` needs)
    model.pt            the whole model's state dict (LM, encoder + projector or audio tokenizer)
    lm_config/          the LM's ``transformers`` config (``config.json``)
    text_tokenizer/     the byte tokenizer's phrase list, or the LM's own tokenizer files
    train_recipe.yaml   the recipe that trained it
    trainer_state.pt    optimizer, schedule, step and RNG states (for resume; not needed to generate)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .model import AudioLM, build_from_meta, model_meta, read_meta
from .text_tokenizer import TextTokenizer, load_text_tokenizer

CHECKPOINTS = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    """Complete checkpoints of a training output, oldest first."""
    root = Path(output_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / "meta.json").is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(output_dir: Path) -> Path | None:
    dirs = checkpoint_dirs(output_dir)
    return dirs[-1] if dirs else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory, or a training output directory (its newest checkpoint)."""
    p = Path(path)
    if (p / "meta.json").is_file():
        return p
    latest = latest_checkpoint(p)
    if latest is None:
        raise FileNotFoundError(f"{path}: neither a checkpoint nor a training output with checkpoints")
    return latest


def save_checkpoint(
    output_dir: Path,
    step: int,
    model: AudioLM,
    text_tokenizer: TextTokenizer,
    recipe_yaml: str,
    meta_extra: dict[str, Any],
    trainer_state: dict[str, Any] | None,
    keep: int,
) -> Path:
    root = Path(output_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(model.state_dict(), tmp / "model.pt")
    model.lm.config.save_pretrained(str(tmp / "lm_config"))
    (tmp / "text_tokenizer").mkdir()
    text_tokenizer.save(tmp / "text_tokenizer")
    (tmp / "train_recipe.yaml").write_text(recipe_yaml)
    if trainer_state is not None:
        torch.save(trainer_state, tmp / "trainer_state.pt")
    meta = model_meta(model, {"step": step, **meta_extra})
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


@dataclass
class LoadedCheckpoint:
    path: Path
    model: AudioLM
    text_tokenizer: TextTokenizer
    meta: dict[str, Any]

    @property
    def eos_id(self) -> int:
        return self.text_tokenizer.eos_id


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model of a checkpoint (or of a training output's newest one) with its weights."""
    ckpt = resolve_checkpoint(path)
    meta = read_meta(ckpt)
    model = build_from_meta(meta, ckpt / "lm_config")
    state = torch.load(ckpt / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedCheckpoint(ckpt, model, load_text_tokenizer(ckpt / "text_tokenizer"), meta)
