"""Generation: a checkpoint + audio clips → one target view per clip (greedy decoding)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..targets import check_view_output
from .checkpoint import LoadedCheckpoint
from .data import SAMPLE_RATE, collate
from .data import Example as _Example


def generate_texts(loaded: LoadedCheckpoint, audios: Sequence[np.ndarray], view: str, prompt: str, *,
                   max_new_tokens: int = 512, batch_size: int = 8, device: Any = "cpu",
                   autocast_dtype: torch.dtype | None = None) -> list[str]:
    """The model's text for each clip (16 kHz mono float32 arrays), in order."""
    tok = loaded.text_tokenizer
    prompt_ids = tok.encode(prompt + "\n")
    device = torch.device(device)
    model = loaded.model
    model.eval()
    texts: list[str] = []
    for start in range(0, len(audios), batch_size):
        group = audios[start : start + batch_size]
        batch = collate([_Example(str(i), view, prompt_ids, [], a) for i, a in enumerate(group)]).to(device)
        ctx = (contextlib.nullcontext() if autocast_dtype is None
               else torch.autocast(device_type=device.type, dtype=autocast_dtype))
        with ctx:
            ids = model.generate(batch, eos_id=tok.eos_id, max_new_tokens=max_new_tokens)
        texts.extend(tok.decode(seq) for seq in ids)
    return texts


@dataclass
class GeneratedView:
    audio: str
    view: str
    text: str
    parsed: bool
    valid: bool
    value: Any
    error: str | None
    truncated: bool = False
    """The file was longer than the model's ``max_audio_s``; only its beginning was heard."""

    def json_line(self, with_meta: bool = False) -> str:
        """The view's JSON (a string value when the output does not parse), optionally wrapped with
        the audio path and the verdict."""
        body = self.value if self.parsed else self.text
        if not with_meta:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return json.dumps({"audio": self.audio, "view": self.view, "valid": self.valid, "error": self.error,
                           "output": body}, ensure_ascii=False, separators=(",", ":"))


def generate_for_files(loaded: LoadedCheckpoint, paths: Sequence[str], view: str, prompt: str | None = None, *,
                       max_new_tokens: int = 512, batch_size: int = 8, device: Any = "cpu",
                       autocast_dtype: torch.dtype | None = None) -> list[GeneratedView]:
    """Decode each file (whole, at 16 kHz, cut to the checkpoint's ``max_audio_s``) and generate ``view``."""
    from ..audio import load_audio

    max_audio_s = float(loaded.meta.get("max_audio_s", 30.0))
    prompt = prompt if prompt is not None else loaded.meta["prompts"][view]
    audios, truncated = [], []
    limit = int(max_audio_s * SAMPLE_RATE)
    for p in paths:
        audio, _ = load_audio(p, 0.0, None, target_sr=SAMPLE_RATE)
        truncated.append(len(audio) > limit)
        audios.append(audio[:limit])
    texts = generate_texts(loaded, audios, view, prompt, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           device=device, autocast_dtype=autocast_dtype)
    out = []
    for p, text, cut in zip(paths, texts, truncated, strict=True):
        check = check_view_output(view, text)
        out.append(GeneratedView(str(p), view, text, check.parsed, check.valid, check.value, check.error, cut))
    return out
