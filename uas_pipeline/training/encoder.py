"""Whisper-style audio encoder (openai-whisper's ``AudioEncoder`` modules) and the downsampling projector.

Whisper's own ``forward`` insists on 30 s of (padded) log-mel; this wrapper runs the same modules on
clips of any length up to the encoder's context, with a key-padding mask, so a clip encodes the same
alone or in a padded batch. Weights load from a local openai-whisper checkpoint
(``{"dims": ..., "model_state_dict": ...}``); without one the encoder starts random.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16000
HOP = 160  # whisper: 100 log-mel frames per second
ENCODER_FRAMES_PER_S = 50  # after the stride-2 convolution


@dataclass(frozen=True)
class EncoderDims:
    n_mels: int
    n_ctx: int
    n_state: int
    n_head: int
    n_layer: int


def encoder_ctx_for(max_audio_s: float) -> int:
    return math.ceil(max_audio_s * ENCODER_FRAMES_PER_S) + 1


def read_whisper_checkpoint(path: str | Path) -> tuple[EncoderDims, dict[str, torch.Tensor]]:
    """The encoder dims and weights of an openai-whisper ``.pt`` checkpoint (no download, no decoder)."""
    ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "dims" not in ckpt or "model_state_dict" not in ckpt:
        raise ValueError(f"{path}: not an openai-whisper checkpoint (expected keys 'dims' and 'model_state_dict')")
    d = ckpt["dims"]
    dims = EncoderDims(d["n_mels"], d["n_audio_ctx"], d["n_audio_state"], d["n_audio_head"], d["n_audio_layer"])
    prefix = "encoder."
    state = {k[len(prefix):]: v for k, v in ckpt["model_state_dict"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{path}: no encoder.* weights in model_state_dict")
    return dims, state


def log_mel_batch(audio: torch.Tensor, lengths: torch.Tensor, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Whisper log-mel of each clip (normalised per clip, as whisper does), zero-padded to a batch.

    ``audio``: (B, T) float 16 kHz, ``lengths``: samples per clip. Returns (B, n_mels, F), frames (B,)."""
    from whisper.audio import log_mel_spectrogram

    mels = []
    for i in range(audio.shape[0]):
        n = int(lengths[i])
        if n < HOP:
            raise ValueError(f"clip {i} has {n} samples; at least {HOP} (10 ms) are needed")
        mels.append(log_mel_spectrogram(audio[i, :n].float(), n_mels))
    frames = torch.tensor([m.shape[-1] for m in mels], device=audio.device)
    out = audio.new_zeros((len(mels), n_mels, int(frames.max())), dtype=torch.float32)
    for i, m in enumerate(mels):
        out[i, :, : m.shape[-1]] = m
    return out, frames


class WhisperStyleEncoder(nn.Module):
    """``whisper.model.AudioEncoder`` weights with a length-aware, masked forward."""

    def __init__(self, dims: EncoderDims) -> None:
        super().__init__()
        from whisper.model import AudioEncoder

        self.dims = dims
        self.encoder = AudioEncoder(dims.n_mels, dims.n_ctx, dims.n_state, dims.n_head, dims.n_layer)

    @property
    def output_dim(self) -> int:
        return self.dims.n_state

    @property
    def max_samples(self) -> int:
        return 2 * self.dims.n_ctx * HOP

    def load_whisper_weights(self, state: dict[str, torch.Tensor]) -> None:
        self.encoder.load_state_dict(state)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) audio → (B, T_enc, n_state) features (zero beyond each clip) and frames per clip."""
        mel, frames = log_mel_batch(audio, lengths, self.dims.n_mels)
        return self.encode_mel(mel, frames)

    def encode_mel(self, mel: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.encoder
        mask1 = (torch.arange(mel.shape[-1], device=mel.device)[None, :] < frames[:, None]).to(mel.dtype)
        # Zero conv1 outputs past each clip so conv2 sees what it would see on the clip alone.
        x = F.gelu(enc.conv1(mel)) * mask1[:, None, :]
        x = F.gelu(enc.conv2(x)).permute(0, 2, 1)
        n_enc = (frames + 1) // 2
        t = x.shape[1]
        if t > enc.positional_embedding.shape[0]:
            raise ValueError(f"audio too long for the encoder context ({t} > {enc.positional_embedding.shape[0]} frames)")
        x = (x + enc.positional_embedding[:t]).to(x.dtype)
        keep = torch.arange(t, device=x.device)[None, :] < n_enc[:, None]
        attn_mask = keep[:, None, None, :]
        for block in enc.blocks:
            att = block.attn
            h = block.attn_ln(x)
            q, k, v = (lin(h).view(h.shape[0], t, att.n_head, -1).transpose(1, 2) for lin in (att.query, att.key, att.value))
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
            x = x + att.out(o.transpose(1, 2).flatten(2))
            x = x + block.mlp(block.mlp_ln(x))
        x = enc.ln_post(x) * keep[..., None].to(x.dtype)
        return x, n_enc


class Projector(nn.Module):
    """Stack ``downsample`` encoder frames, then a 2-layer MLP to the LM's hidden size."""

    def __init__(self, in_dim: int, out_dim: int, downsample: int) -> None:
        super().__init__()
        self.k = downsample
        self.net = nn.Sequential(nn.Linear(in_dim * downsample, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        pad = (-t) % self.k
        if pad:
            x = F.pad(x, (0, 0, 0, pad))
        x = x.reshape(b, (t + pad) // self.k, d * self.k)
        return self.net(x), (lengths + self.k - 1) // self.k


def dims_dict(dims: EncoderDims) -> dict[str, int]:
    return asdict(dims)
