"""Audio input layer: probe headers, decode a region, downmix to mono float32, resample.

soundfile (libsndfile) is tried first; PyAV (ffmpeg) is the fallback for everything else.
Every failure surfaces as :class:`AudioError` with a short ``reason`` code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import soundfile as sf

TARGET_SR = 16000

_PREROLL_S = 1.0  # PyAV: seek this far before the region so decoders (AAC, MP3) settle
_TRUNC_REL_TOL = 0.01  # tolerated shortfall vs header: 1% of the region ...
_TRUNC_ABS_TOL_S = 0.010  # ... plus 10 ms
_WAV_SIZE_PLACEHOLDERS = (0, 0xFFFFFFFF)  # streaming writers leave these in the data chunk size
# libsndfile's Ogg seeking is not sample-exact (libsndfile#885; seen returning garbage regions on
# short Vorbis files), so Ogg is probed with soundfile but decoded with PyAV.
_SF_DECODE_WITH_PYAV = frozenset({"OGG"})


class AudioError(Exception):
    """A clip that cannot be used. `reason` is a short machine-friendly code, str(e) a human message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    """Source properties read from headers/metadata."""

    sample_rate: int  # of the source
    channels: int
    duration_s: float  # of the whole source file, as the header states it
    format: str  # soundfile's major format ("WAV", "FLAC", "OGG", "MP3") or "<container>/<codec>" from PyAV


_Source = sf.SoundFile | av.container.InputContainer


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise AudioError("not_found", f"{p}: no such file (or not a regular file)")
    if p.stat().st_size == 0:
        raise AudioError("empty_file", f"{p}: file is empty (0 bytes)")
    return p


@contextmanager
def _open(p: Path) -> Iterator[_Source]:
    """Open with soundfile, else PyAV; raise "unsupported_format" if neither can."""
    src: _Source
    try:
        src = sf.SoundFile(p)
    except Exception as sf_err:
        try:
            src = av.open(str(p), mode="r")
        except Exception as av_err:
            raise AudioError(
                "unsupported_format", f"{p}: no backend can open it (soundfile: {sf_err}; PyAV: {av_err})"
            ) from av_err
    try:
        yield src
    finally:
        src.close()


def _audio_stream(c: av.container.InputContainer, p: Path) -> av.AudioStream:
    if not c.streams.audio:
        raise AudioError("no_audio_stream", f"{p}: container has no audio stream")
    return c.streams.audio[0]


def _wav_declared_frames(fh: BinaryIO) -> int | None:
    """Frame count promised by a RIFF/RF64 WAV header (None if absent or a streaming placeholder)."""
    head = fh.read(12)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
        return None
    block_align, ds64_size = 0, None
    while len(hdr := fh.read(8)) == 8:
        cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        if cid == b"ds64":
            body = fh.read(size)
            ds64_size = struct.unpack("<Q", body[8:16])[0] if len(body) >= 16 else None
            size = 0  # body already consumed
        elif cid == b"fmt ":
            body = fh.read(size)
            block_align = struct.unpack("<H", body[12:14])[0] if len(body) >= 14 else 0
            size = 0
        elif cid == b"data":
            if ds64_size is not None and size == 0xFFFFFFFF:
                size = ds64_size
            elif size in _WAV_SIZE_PLACEHOLDERS:
                return None
            return size // block_align if block_align else None
        fh.seek(size + (size & 1), 1)
    return None


def _sf_declared_frames(f: sf.SoundFile, p: Path) -> int:
    """Frames the header promises. libsndfile clamps WAV lengths to the bytes present, so re-read the header."""
    if f.format in ("WAV", "WAVEX", "RF64"):
        with open(p, "rb") as fh:
            declared = _wav_declared_frames(fh)
        if declared is not None:
            return max(declared, f.frames)
    return f.frames


def _av_duration_s(c: av.container.InputContainer, s: av.AudioStream) -> float:
    if s.duration is not None and s.time_base is not None:
        return float(s.duration * s.time_base)
    return c.duration / av.time_base if c.duration is not None else 0.0


def _info(src: _Source, p: Path) -> AudioInfo:
    if isinstance(src, sf.SoundFile):
        frames = _sf_declared_frames(src, p)
        return AudioInfo(src.samplerate, src.channels, frames / src.samplerate, src.format)
    s = _audio_stream(src, p)
    cc = s.codec_context
    names = src.format.name.split(",")  # e.g. "mov,mp4,m4a,3gp,3g2,mj2": prefer the file's own suffix
    container = p.suffix[1:].lower() if p.suffix[1:].lower() in names else names[0]
    fmt = f"{container.upper()}/{cc.codec.canonical_name.upper()}"
    return AudioInfo(cc.sample_rate, cc.layout.nb_channels, _av_duration_s(src, s), fmt)


def probe(path: str | Path) -> AudioInfo:
    """Read sample rate, channels, duration and format from headers only (no decoding)."""
    p = _check_path(path)
    try:
        with _open(p) as src:
            return _info(src, p)
    except AudioError:
        raise
    except Exception as e:
        raise AudioError("decode_error", f"{p}: cannot read header: {e}") from e


def _frame_to_array(frame: av.AudioFrame) -> np.ndarray:
    """Decoded PyAV frame -> float32 array of shape (samples, channels)."""
    ch = frame.layout.nb_channels
    a = frame.to_ndarray()
    a = a.T if frame.format.is_planar else a.reshape(-1, ch)
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=False)
    if a.dtype.kind == "u":  # u8: 128 is silence
        return ((a.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    return (a / float(2 ** (8 * a.dtype.itemsize - 1))).astype(np.float32)


def _av_read(
    c: av.container.InputContainer, s: av.AudioStream, sr: int, start: int, stop: int | None
) -> np.ndarray:
    """Decode frames [start, stop) (source-rate sample indices from stream start) -> (n, channels)."""
    t0 = s.start_time or 0
    tb = s.time_base
    seek_s = max(0.0, start / sr - _PREROLL_S)
    for attempt in range(2):
        if seek_s > 0:
            c.seek(t0 + int(seek_s / tb), stream=s, backward=True)
        elif attempt:
            c.seek(0)  # retry from the very beginning
        chunks: list[np.ndarray] = []
        pos: int | None = None
        landed_late = False
        for frame in c.decode(s):
            if not chunks and frame.pts is not None:
                pos = round(float((frame.pts - t0) * frame.time_base) * sr)
            elif pos is None:
                if seek_s > 0:  # no timestamps after a seek: cannot locate, decode from start
                    landed_late = True
                    break
                pos = 0
            data = _frame_to_array(frame)
            a, b = pos, pos + len(data)
            pos = b
            if b <= start:
                continue
            if not chunks and a > start and seek_s > 0:
                landed_late = True  # seek overshot the region start
                break
            lo = max(start - a, 0)
            hi = len(data) if stop is None else min(len(data), stop - a)
            if hi > lo:
                chunks.append(data[lo:hi])
            if stop is not None and b >= stop:
                break
        if not landed_late:
            break
        seek_s = 0.0
    ch = s.codec_context.layout.nb_channels
    return np.concatenate(chunks) if chunks else np.zeros((0, ch), np.float32)


def _sf_read(f: sf.SoundFile, start: int, stop: int | None, p: Path) -> np.ndarray:
    """Seek + read frames [start, stop) -> (n, channels) float32."""
    if start >= f.frames:  # header promised more than the data holds
        raise AudioError("truncated", f"{p}: region starts at frame {start} but data ends at {f.frames}")
    f.seek(start)
    return f.read(-1 if stop is None else stop - start, dtype="float32", always_2d=True)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of a 1-D signal with gcd-reduced factors; returns contiguous float32."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    x = np.asarray(x)
    if sr_in == sr_out or x.size == 0:
        return np.ascontiguousarray(x, dtype=np.float32)
    # imported here: scipy.signal takes ~0.7 s to import, and every Ray worker imports this module
    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    y = resample_poly(x.astype(np.float64, copy=False), sr_out // g, sr_in // g)
    return np.ascontiguousarray(y, dtype=np.float32)


def load_audio(
    path: str | Path,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    target_sr: int = TARGET_SR,
    min_duration_s: float = 0.05,
) -> tuple[np.ndarray, AudioInfo]:
    """Decode only [offset_s, offset_s + duration_s) as mono float32 in [-1, 1] at target_sr.

    Raises AudioError: not_found, empty_file, unsupported_format, no_audio_stream, decode_error,
    truncated (data shorter than the header promises), non_finite_samples, too_short.
    """
    mono, info = load_mono(path, offset_s, duration_s, min_duration_s)
    return to_rate(mono, info.sample_rate, target_sr), info


def to_rate(mono: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """``mono`` resampled to ``sr_out`` and clipped to [-1, 1] (float32)."""
    y = resample(mono, sr_in, sr_out)
    return np.clip(y, -1.0, 1.0, out=y)


def load_mono(
    path: str | Path,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    min_duration_s: float = 0.05,
) -> tuple[np.ndarray, AudioInfo]:
    """Decode only [offset_s, offset_s + duration_s) downmixed to mono at the source rate
    (float32 or float64 as decoded); resample with :func:`to_rate`. Raises like :func:`load_audio`."""
    if offset_s < 0 or (duration_s is not None and duration_s < 0):
        raise ValueError(f"offset_s and duration_s must be >= 0, got {offset_s}, {duration_s}")
    p = _check_path(path)
    try:
        with _open(p) as src:
            info = _info(src, p)
            sr = info.sample_rate
            total = round(info.duration_s * sr)
            start = round(offset_s * sr)
            stop = None if duration_s is None else round((offset_s + duration_s) * sr)  # adjacent regions tile exactly
            if total and start >= total:
                raise AudioError(
                    "too_short", f"{p}: offset {offset_s:.3f}s is beyond the end ({info.duration_s:.3f}s)"
                )
            if not isinstance(src, sf.SoundFile):
                x = _av_read(src, _audio_stream(src, p), sr, start, stop)
            elif src.format not in _SF_DECODE_WITH_PYAV:
                x = _sf_read(src, start, stop, p)
            else:
                with av.open(str(p), mode="r") as c:
                    x = _av_read(c, _audio_stream(c, p), sr, start, stop)
    except AudioError:
        raise
    except Exception as e:
        raise AudioError("decode_error", f"{p}: decoding failed: {type(e).__name__}: {e}") from e

    promised = max(0, (total if stop is None else min(stop, total)) - start) if total else 0
    if len(x) < promised - (_TRUNC_REL_TOL * promised + _TRUNC_ABS_TOL_S * sr):
        raise AudioError(
            "truncated", f"{p}: decoded {len(x)} frames but the header promises {promised} for this region"
        )
    if not np.isfinite(x).all():
        raise AudioError("non_finite_samples", f"{p}: decoded audio contains NaN or inf samples")
    if len(x) < min_duration_s * sr:
        raise AudioError(
            "too_short", f"{p}: {len(x) / sr:.3f}s of audio, need at least {min_duration_s:.3f}s"
        )
    mono = x.mean(axis=1, dtype=np.float64) if x.shape[1] > 1 else x[:, 0]
    return mono, info
