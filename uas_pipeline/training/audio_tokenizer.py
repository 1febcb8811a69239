"""The discrete variant's audio tokenizer: k-means codes over audio features, fitted on the training data.

Features are either stacked log-mel frames (``log_mel``: ``pool`` frames of 10 ms → one vector) or the
frames of a pretrained Whisper encoder averaged in groups of ``pool`` (``encoder``; a random encoder's
features carry no information, so this needs a checkpoint). Features are standardised with the
statistics of the fitting sample, then each vector becomes the id of its nearest centroid; runs of one
code collapse to one token with ``dedupe``. The codebook (and the frozen encoder, when used) are saved
with the checkpoint as part of the model state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .encoder import EncoderDims, WhisperStyleEncoder, log_mel_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioTokenizerSpec:
    features: str  # "log_mel" | "encoder"
    pool: int
    num_codes: int
    dim: int
    n_mels: int
    dedupe: bool


class AudioTokenizer(nn.Module):
    def __init__(self, spec: AudioTokenizerSpec, encoder: WhisperStyleEncoder | None = None) -> None:
        super().__init__()
        if (spec.features == "encoder") != (encoder is not None):
            raise ValueError("an encoder is needed exactly when features == 'encoder'")
        self.spec = spec
        self.encoder = encoder
        if encoder is not None:
            encoder.requires_grad_(False)
        self.register_buffer("centroids", torch.zeros(spec.num_codes, spec.dim))
        self.register_buffer("mean", torch.zeros(spec.dim))
        self.register_buffer("std", torch.ones(spec.dim))

    @torch.no_grad()
    def features(self, audio: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Unstandardised feature vectors per clip: a list of (n_i, dim)."""
        p = self.spec.pool
        out = []
        if self.encoder is None:
            mel, frames = log_mel_batch(audio, lengths, self.spec.n_mels)
            for i in range(mel.shape[0]):
                m = mel[i, :, : int(frames[i])].T  # (F, n_mels)
                pad = (-m.shape[0]) % p
                if pad:  # repeat the last frame rather than invent silence
                    m = torch.cat([m, m[-1:].expand(pad, -1)])
                out.append(m.reshape(-1, p * m.shape[1]))
        else:
            feats, n = self.encoder(audio, lengths)
            for i in range(feats.shape[0]):
                f = feats[i, : int(n[i])].float()
                groups = [f[j : j + p].mean(0) for j in range(0, f.shape[0], p)]
                out.append(torch.stack(groups))
        return out

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Code ids per clip (a list of 1-D long tensors, never empty)."""
        codes = []
        for f in self.features(audio, lengths):
            z = (f.float() - self.mean) / self.std
            c = torch.cdist(z, self.centroids).argmin(dim=1)
            if self.spec.dedupe and c.numel() > 1:
                c = torch.unique_consecutive(c)
            codes.append(c)
        return codes


def kmeans(x: torch.Tensor, k: int, iterations: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding (deterministic for a seed); returns (k, dim) centroids."""
    n = x.shape[0]
    if n < k:
        raise ValueError(f"only {n} feature frames to fit {k} codes; lower model.audio_tokenizer.num_codes")
    g = torch.Generator().manual_seed(seed)
    first = int(torch.randint(n, (1,), generator=g))
    centroids = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:  # fewer distinct points than codes: duplicates are harmless
            idx = int(torch.randint(n, (1,), generator=g))
        else:
            idx = int(torch.multinomial(d2 / total, 1, generator=g))
        centroids.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(1))
    c = torch.stack(centroids)
    assign = None
    for _ in range(iterations):
        new = torch.cat([torch.cdist(chunk, c).argmin(1) for chunk in x.split(8192)])
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        empty = counts == 0
        c = torch.where(empty[:, None], c, sums / counts.clamp(min=1)[:, None])
    return c


def fit_audio_tokenizer(
    spec: AudioTokenizerSpec,
    clips: Iterable[np.ndarray],
    *,
    encoder: WhisperStyleEncoder | None,
    max_frames: int,
    iterations: int,
    seed: int,
) -> AudioTokenizer:
    """Fit the codebook on a reservoir sample of at most ``max_frames`` feature vectors of ``clips``."""
    tok = AudioTokenizer(spec, encoder)
    rng = np.random.default_rng(seed)
    sample: list[torch.Tensor] = []
    seen = 0
    n_clips = 0
    for audio in clips:
        n_clips += 1
        wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        (feats,) = tok.features(wave, torch.tensor([wave.shape[1]]))
        for row in feats:
            if len(sample) < max_frames:
                sample.append(row)
            else:
                j = int(rng.integers(0, seen + 1))
                if j < max_frames:
                    sample[j] = row
            seen += 1
    if not sample:
        raise ValueError("no audio to fit the audio tokenizer on")
    x = torch.stack(sample).float()
    mean, std = x.mean(0), x.std(0).clamp(min=1e-5)
    z = (x - mean) / std
    tok.centroids.copy_(kmeans(z, spec.num_codes, iterations, seed))
    tok.mean.copy_(mean)
    tok.std.copy_(std)
    log.info("audio tokenizer: %d codes fitted on %d of %d frames from %d clips", spec.num_codes, len(sample), seen, n_clips)
    return tok


def encoder_for_tokenizer(dims: EncoderDims, state: dict[str, torch.Tensor]) -> WhisperStyleEncoder:
    enc = WhisperStyleEncoder(dims)
    enc.load_whisper_weights(state)
    enc.eval()
    return enc
