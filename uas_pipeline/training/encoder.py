"""Whisper-style audio encoder (openai-whisper's ``AudioEncoder`` layout) and the downsampling projector.

The modules mirror openai-whisper's encoder parameter for parameter (``conv1``, ``conv2``,
``positional_embedding``, ``blocks.N.attn.{query,key,value,out}``, ``attn_ln``, ``mlp``, ``mlp_ln``,
``ln_post``), so the encoder weights of an openai-whisper checkpoint (``{"dims", "model_state_dict"}``)
load as they are; the log-mel front end computes whisper's features (same STFT, Slaney mel filters,
log and clamping). They are written here rather than imported so that training needs only torch:
openai-whisper pulls numba and tiktoken at import. ``tests/test_training_units.py`` checks both
against openai-whisper itself.

Unlike whisper's ``forward``, which insists on 30 s of padded log-mel, this one runs clips of any
length up to the context with a key-padding mask, so a clip encodes the same alone or in a batch.
Without a checkpoint the encoder starts random.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 400
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


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f = m * (200.0 / 3)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)


@functools.lru_cache(maxsize=8)
def _mel_filters_on(n_mels: int, device: str) -> torch.Tensor:
    return mel_filters(n_mels).to(device)


@functools.lru_cache(maxsize=4)
def mel_filters(n_mels: int) -> torch.Tensor:
    """Whisper's mel filterbank (= ``librosa.filters.mel(sr=16000, n_fft=400, n_mels)``, Slaney norm)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def log_mel(audio: torch.Tensor, n_mels: int) -> torch.Tensor:
    """Whisper's log-mel spectrogram of one clip (16 kHz mono): (n_mels, len // 160), normalised per clip."""
    window = torch.hann_window(N_FFT, device=audio.device)
    stft = torch.stft(audio.float(), N_FFT, HOP, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    spec = _mel_filters_on(n_mels, str(audio.device)) @ power
    log_spec = torch.clamp(spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def log_mel_batch(audio: torch.Tensor, lengths: torch.Tensor, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel of each clip (normalised per clip, as whisper does), zero-padded to a batch.

    ``audio``: (B, T) float 16 kHz, ``lengths``: samples per clip. Returns (B, n_mels, F), frames (B,)."""
    mels = []
    for i in range(audio.shape[0]):
        n = int(lengths[i])
        if n < HOP:
            raise ValueError(f"clip {i} has {n} samples; at least {HOP} (10 ms) are needed")
        mels.append(log_mel(audio[i, :n], n_mels))
    frames = torch.tensor([m.shape[-1] for m in mels], device=audio.device)
    out = audio.new_zeros((len(mels), n_mels, int(frames.max())), dtype=torch.float32)
    for i, m in enumerate(mels):
        out[i, :, : m.shape[-1]] = m
    return out, frames


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's fixed sinusoidal positions."""
    log_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-log_increment * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class _Attention(nn.Module):
    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (lin(x).view(b, t, self.n_head, -1).transpose(1, 2) for lin in (self.query, self.key, self.value))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        return self.out(o.transpose(1, 2).flatten(2))


class _Block(nn.Module):
    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = _Attention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x), keep)
        return x + self.mlp(self.mlp_ln(x))


class _WhisperEncoderLayout(nn.Module):
    """Parameters named exactly as in ``whisper.model.AudioEncoder``."""

    def __init__(self, dims: EncoderDims) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dims.n_mels, dims.n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(dims.n_state, dims.n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(dims.n_ctx, dims.n_state))
        self.blocks = nn.ModuleList([_Block(dims.n_state, dims.n_head) for _ in range(dims.n_layer)])
        self.ln_post = nn.LayerNorm(dims.n_state)


class WhisperStyleEncoder(nn.Module):
    """Whisper's audio encoder with a length-aware, masked forward."""

    def __init__(self, dims: EncoderDims) -> None:
        super().__init__()
        self.dims = dims
        self.encoder = _WhisperEncoderLayout(dims)

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
        for block in enc.blocks:
            x = block(x, keep)
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
