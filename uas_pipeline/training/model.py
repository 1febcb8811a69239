"""The audio LLM: audio (continuous embeddings or discrete tokens) + instruction → target text.

One sequence per example: ``[bos] [audio] [prompt] [target] [eos]``. The continuous variant feeds the
Whisper-style encoder's frames through the projector as input embeddings; the discrete variant
writes ``<audio> code… </audio>`` with ids appended to the LM vocabulary. The loss is the
cross-entropy of the target (and its eos) only.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .audio_tokenizer import AudioTokenizer, AudioTokenizerSpec
from .encoder import EncoderDims, Projector, WhisperStyleEncoder

MODEL_FORMAT = "uas-audio-lm"
MODEL_FORMAT_VERSION = 1
IGNORE = -100


@dataclass
class Batch:
    """A collated batch (see ``data.Collator``); ``prompt_ids`` / ``target_ids`` are per example."""

    audio: torch.Tensor  # (B, T) float32, 16 kHz, zero-padded
    audio_lens: torch.Tensor  # (B,) samples
    prompt_ids: list[list[int]]
    target_ids: list[list[int]]  # eos included
    audio_s: float
    clip_ids: list[str]
    views: list[str]

    def to(self, device: torch.device) -> Batch:
        return Batch(self.audio.to(device), self.audio_lens.to(device), self.prompt_ids, self.target_ids,
                     self.audio_s, self.clip_ids, self.views)


class AudioLM(nn.Module):
    def __init__(
        self,
        variant: str,
        lm: nn.Module,
        text_vocab_size: int,
        bos_id: int | None,
        *,
        encoder: WhisperStyleEncoder | None = None,
        projector: Projector | None = None,
        audio_tokenizer: AudioTokenizer | None = None,
    ) -> None:
        super().__init__()
        if variant == "continuous" and (encoder is None or projector is None):
            raise ValueError("the continuous variant needs an encoder and a projector")
        if variant == "discrete" and audio_tokenizer is None:
            raise ValueError("the discrete variant needs an audio tokenizer")
        self.variant = variant
        self.lm = lm
        self.text_vocab_size = text_vocab_size
        self.bos_id = bos_id
        self.encoder = encoder
        self.projector = projector
        self.audio_tokenizer = audio_tokenizer
        sig = inspect.signature(lm.forward).parameters
        # transformers 5 renamed past_key_values to cache; support both.
        self._cache_kw = "cache" if "cache" in sig else "past_key_values"

    # ids of the discrete variant's audio tokens, after the text vocabulary
    @property
    def audio_start_id(self) -> int:
        return self.text_vocab_size

    @property
    def audio_end_id(self) -> int:
        return self.text_vocab_size + 1

    @property
    def code0(self) -> int:
        return self.text_vocab_size + 2

    def _embed(self, ids: list[int], device: torch.device) -> torch.Tensor:
        return self.lm.get_input_embeddings()(torch.tensor(ids, dtype=torch.long, device=device))

    def audio_embeddings(self, audio: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """One (n_i, hidden) tensor per clip."""
        if self.variant == "continuous":
            assert self.encoder is not None and self.projector is not None
            feats, n = self.encoder(audio, lengths)
            proj, m = self.projector(feats, n)
            return [proj[i, : int(m[i])] for i in range(proj.shape[0])]
        assert self.audio_tokenizer is not None
        embs = []
        for codes in self.audio_tokenizer.encode(audio, lengths):
            ids = torch.cat([
                torch.tensor([self.audio_start_id], device=codes.device),
                codes + self.code0,
                torch.tensor([self.audio_end_id], device=codes.device),
            ])
            embs.append(self.lm.get_input_embeddings()(ids))
        return embs

    def audio_tokens_per_clip(self, audio: torch.Tensor, lengths: torch.Tensor) -> list[int]:
        return [e.shape[0] for e in self.audio_embeddings(audio, lengths)]

    def _sequences(self, batch: Batch, with_target: bool) -> tuple[list[torch.Tensor], list[list[int]]]:
        """Per example: the input embeddings and the labels (IGNORE except on target tokens)."""
        device = batch.audio.device
        audio = self.audio_embeddings(batch.audio, batch.audio_lens)
        prefix = [] if self.bos_id is None else [self.bos_id]
        seqs, labels = [], []
        for i, a in enumerate(audio):
            text = batch.prompt_ids[i] + (batch.target_ids[i] if with_target else [])
            parts = [a]
            if prefix:
                parts.insert(0, self._embed(prefix, device).to(a.dtype))
            parts.append(self._embed(text, device).to(a.dtype))
            seqs.append(torch.cat(parts))
            n_context = len(prefix) + a.shape[0] + len(batch.prompt_ids[i])
            labels.append([IGNORE] * n_context + (batch.target_ids[i] if with_target else []))
        return seqs, labels

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Mean cross-entropy over the batch's target tokens; also returns their count."""
        seqs, labels = self._sequences(batch, with_target=True)
        emb, mask, pos = _pad(seqs, left=False)
        lab = torch.full(mask.shape, IGNORE, dtype=torch.long, device=emb.device)
        for i, row in enumerate(labels):
            lab[i, : len(row)] = torch.tensor(row, device=emb.device)
        logits = self.lm(inputs_embeds=emb, attention_mask=mask, position_ids=pos).logits
        shift_logits, shift_labels = logits[:, :-1], lab[:, 1:]
        n_tokens = (shift_labels != IGNORE).sum()
        loss = F.cross_entropy(shift_logits.float().reshape(-1, shift_logits.shape[-1]), shift_labels.reshape(-1),
                               ignore_index=IGNORE)
        return {"loss": loss, "target_tokens": n_tokens}

    @torch.no_grad()
    def generate(self, batch: Batch, eos_id: int, max_new_tokens: int) -> list[list[int]]:
        """Greedy decoding of each example's continuation (prompt given, targets ignored)."""
        seqs, _ = self._sequences(batch, with_target=False)
        emb, mask, pos = _pad(seqs, left=True)
        b = emb.shape[0]
        out: list[list[int]] = [[] for _ in range(b)]
        done = torch.zeros(b, dtype=torch.bool, device=emb.device)
        vocab_limit = self.text_vocab_size  # audio tokens are never text
        res = self.lm(inputs_embeds=emb, attention_mask=mask, position_ids=pos, use_cache=True)
        for _ in range(max_new_tokens):
            logits = res.logits[:, -1, :vocab_limit]
            nxt = logits.argmax(-1)
            for i in range(b):
                if not done[i]:
                    if int(nxt[i]) == eos_id:
                        done[i] = True
                    else:
                        out[i].append(int(nxt[i]))
            if bool(done.all()):
                break
            mask = torch.cat([mask, mask.new_ones((b, 1))], dim=1)
            pos = pos[:, -1:] + 1
            cache = res.get("cache", None)
            if cache is None:
                cache = res.get("past_key_values", None)
            res = self.lm(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos, use_cache=True,
                          **{self._cache_kw: cache})
        return out


def _pad(seqs: list[torch.Tensor], left: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack variable-length embedding sequences with an attention mask and position ids."""
    n = max(s.shape[0] for s in seqs)
    d = seqs[0].shape[1]
    emb = seqs[0].new_zeros((len(seqs), n, d))
    mask = torch.zeros((len(seqs), n), dtype=torch.long, device=emb.device)
    for i, s in enumerate(seqs):
        if left:
            emb[i, n - s.shape[0]:] = s
            mask[i, n - s.shape[0]:] = 1
        else:
            emb[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return emb, mask, pos


# --- building and saving ----------------------------------------------------------------------------


def tiny_lm_config(vocab_size: int, cfg: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


def lm_hidden_size(lm: nn.Module) -> int:
    return int(lm.get_input_embeddings().weight.shape[1])


def count_parameters(model: nn.Module) -> dict[str, int]:
    def n(m: nn.Module | None) -> int:
        return 0 if m is None else sum(p.numel() for p in m.parameters())

    total = n(model)
    return {
        "total": total,
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "lm": n(getattr(model, "lm", None)),
        "encoder": n(getattr(model, "encoder", None)),
        "projector": n(getattr(model, "projector", None)),
    }


def model_meta(model: AudioLM, extra: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "version": MODEL_FORMAT_VERSION,
        "variant": model.variant,
        "text_vocab_size": model.text_vocab_size,
        "bos_id": model.bos_id,
    }
    if model.encoder is not None:
        meta["encoder"] = model.encoder.dims.__dict__
    if model.projector is not None:
        meta["projector"] = {"downsample": model.projector.k}
    if model.audio_tokenizer is not None:
        meta["audio_tokenizer"] = model.audio_tokenizer.spec.__dict__
        enc = model.audio_tokenizer.encoder
        meta["audio_tokenizer_encoder"] = None if enc is None else enc.dims.__dict__
    meta.update(extra)
    return meta


def build_from_meta(meta: dict[str, Any], lm_config_dir: Path) -> AudioLM:
    """An AudioLM with the architecture a checkpoint describes (weights still random)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if meta.get("format") != MODEL_FORMAT or meta.get("version") != MODEL_FORMAT_VERSION:
        raise ValueError(f"not a {MODEL_FORMAT} v{MODEL_FORMAT_VERSION} checkpoint")
    lm = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(lm_config_dir)))
    kw: dict[str, Any] = {}
    if meta["variant"] == "continuous":
        enc = WhisperStyleEncoder(EncoderDims(**meta["encoder"]))
        kw["encoder"] = enc
        kw["projector"] = Projector(enc.output_dim, lm_hidden_size(lm), meta["projector"]["downsample"])
    else:
        tok_enc = meta.get("audio_tokenizer_encoder")
        kw["audio_tokenizer"] = AudioTokenizer(
            AudioTokenizerSpec(**meta["audio_tokenizer"]),
            None if tok_enc is None else WhisperStyleEncoder(EncoderDims(**tok_enc)),
        )
    return AudioLM(meta["variant"], lm, meta["text_vocab_size"], meta["bos_id"], **kw)


def read_meta(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / "meta.json").read_text())
