#!/usr/bin/env python
"""Cut the English speech of ``../shared/refdata`` into short clips for ``uas-pipeline bench --short``.

The default short-clip set of the bench is every speech clip of the reference data, a third of which
an English-only model cannot transcribe (German, emotional speech, no speech). Corpora of read or
conversational English look like this instead: clips of 2–6 s of English speech. This script cuts
the longer English recordings (JFK, three LibriSpeech readers, the two English diarization clips) at
their quietest 100 ms near a target length drawn from 2–6 s, and copies the short English clips
(speechbrain sentences) as they are. The clips go to a directory outside the repository (the audio's
licences allow no redistribution).

    python benchmarks/short_english_clips.py /tmp/short-english
    uas-pipeline bench --short --input /tmp/short-english --rounds 2 --json-out bench-en.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from uas_pipeline.audio import load_audio

REPO = Path(__file__).resolve().parent.parent
SR = 16000
LONG_ENGLISH = (
    "asr/whisper/jfk.flac",
    "asr/librispeech_librosa/5703-47212-0000.ogg",
    "asr/librispeech_librosa/3436-172162-0000.ogg",
    "asr/librispeech_librosa/198-209-0000.ogg",
    "diarization/pyannote_sample/sample.wav",
    "diarization/pyaudioanalysis/diarizationExample.wav",
)
SHORT_ENGLISH_PREFIX = "asr/speechbrain_ASR/"


def quiet_cut(audio: np.ndarray, lo: int, hi: int) -> int:
    """The sample in [lo, hi) where a 100 ms window has the least energy (its middle)."""
    win = SR // 10
    if hi - lo <= win:
        return lo
    energy = np.convolve(audio[lo:hi] ** 2, np.ones(win), mode="valid")
    return lo + int(np.argmin(energy)) + win // 2


def cut(audio: np.ndarray, rng: np.random.Generator, min_s: float, max_s: float) -> list[np.ndarray]:
    pieces, start = [], 0
    while len(audio) - start >= int(min_s * SR):
        target = start + int(rng.uniform(min_s + 0.5, max_s - 0.5) * SR)
        end = min(len(audio), quiet_cut(audio, target - SR // 2, min(len(audio), target + SR // 2)))
        if end - start < int(min_s * SR):
            break
        pieces.append(audio[start:end])
        start = end
    return pieces


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--refdata", type=Path, default=REPO.parent / "shared" / "refdata")
    ap.add_argument("--min-s", type=float, default=2.0)
    ap.add_argument("--max-s", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    entries = [json.loads(line) for line in (args.refdata / "MANIFEST.jsonl").read_text().splitlines()]
    total, count = 0.0, 0
    for entry in entries:
        path = entry["path"]
        if path not in LONG_ENGLISH and not path.startswith(SHORT_ENGLISH_PREFIX):
            continue
        audio, _ = load_audio(args.refdata / path, target_sr=SR)
        pieces = cut(audio, rng, args.min_s, args.max_s) if path in LONG_ENGLISH else [audio]
        for k, piece in enumerate(pieces):
            name = f"{Path(path).stem}_{k:03d}.wav"
            sf.write(args.out / name, piece, SR)
            total += len(piece) / SR
            count += 1
    print(f"{count} clips, {total:.1f} s of English speech in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
