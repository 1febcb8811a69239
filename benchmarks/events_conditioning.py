"""Clip-level YAMNet hits on refdata under input-conditioning variants (what docs/events.md reports as
tried): each variant's label scores are the highest window score of each label over the clip (the
most lenient clip decision), a label counts at ``--threshold``.

    python benchmarks/events_conditioning.py [--refdata ../shared/refdata] [--model ../shared/models/yamnet/yamnet.tflite]

Variants: ``base`` (the stage: mono downmix, 0.48 s hop, zero padding); ``hop0.24``; ``repeat_pad``
(clips shorter than one window tiled to fill it instead of zero-padded); ``rms-20dB`` (clips louder than
-60 dBFS scaled to -20 dBFS RMS); ``per_channel`` (each channel of a multichannel file scored alone,
label score = the highest over channels; the pipeline hands stages a mono downmix, so this one is not
reachable through a stage). Prints, per variant, the sound_event clips whose reference label was found,
music on music clips, silence clips with any event, and the number of labels over the threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from uas_pipeline.audio import load_audio, to_rate
from uas_pipeline.events.vocabulary import audioset_label_map, reference_label_map
from uas_pipeline.events.yamnet import SAMPLE_RATE, WINDOW_SAMPLES, YamnetModel

REPO = Path(__file__).resolve().parent.parent
MAX_S = 10.0  # the first 10 s of long music clips, as in events_timing.py


def repeat_pad(x: np.ndarray) -> np.ndarray:
    return x if len(x) >= WINDOW_SAMPLES else np.tile(x, -(-WINDOW_SAMPLES // len(x)))[:WINDOW_SAMPLES]


def rms_normalised(x: np.ndarray, target_db: float = -20.0, gate_db: float = -60.0) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x ** 2)))
    if rms < 10 ** (gate_db / 20):  # silence stays silence
        return x
    return np.clip(x * (10 ** (target_db / 20) / rms), -1.0, 1.0).astype(np.float32)


def channels(path: Path) -> list[np.ndarray]:
    x, rate = sf.read(path, always_2d=True, dtype="float32")
    return [to_rate(x[:, c], rate, SAMPLE_RATE)[: int(MAX_S * SAMPLE_RATE)] for c in range(x.shape[1])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refdata", type=Path, default=REPO.parent / "shared" / "refdata")
    ap.add_argument("--model", type=Path, default=REPO.parent / "shared" / "models" / "yamnet" / "yamnet.tflite")
    ap.add_argument("--threshold", type=float, default=0.3)
    args = ap.parse_args(argv)
    model = YamnetModel(args.model)
    label_map, accepts = audioset_label_map(model.classes), reference_label_map()
    entries = [json.loads(line) for line in (args.refdata / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]
    entries = [e for e in entries if e["category"] in ("sound_event", "music", "audio_class")]

    def mono(e: dict) -> np.ndarray:
        x, _ = load_audio(args.refdata / e["path"], target_sr=SAMPLE_RATE)
        return x[: int(MAX_S * SAMPLE_RATE)].astype(np.float32)

    variants: dict[str, Callable[[dict], list[np.ndarray]]] = {
        "base": lambda e: [model.window_scores(mono(e), 0.48)],
        "hop0.24": lambda e: [model.window_scores(mono(e), 0.24)],
        "repeat_pad": lambda e: [model.window_scores(repeat_pad(mono(e)), 0.48)],
        "rms-20dB": lambda e: [model.window_scores(rms_normalised(mono(e)), 0.48)],
        "per_channel": lambda e: ([model.window_scores(c, 0.48) for c in channels(args.refdata / e["path"])]
                                  if not e["path"].endswith(".ogg") else [model.window_scores(mono(e), 0.48)]),
    }
    for name, scores_of in variants.items():
        hits, missed, music, music_clips, silent, labels = 0, [], 0, 0, 0, 0
        for e in entries:
            best = np.max([label_map.label_scores(s)[0].max(axis=0) for s in scores_of(e)], axis=0)
            predicted = {label_map.labels[i] for i in np.flatnonzero(best >= args.threshold)}
            labels += len(predicted)
            names = e["reference"]["labels"]
            if e["category"] == "sound_event":
                found = bool(predicted & set(accepts.get(names[0]) or ()))
                hits += found
                missed += [] if found else [names[0]]
            if "music" in (accepts.get(names[0]) or ()):
                music_clips += 1
                music += "music" in predicted
            silent += "silence" in names and bool(predicted)
        n = sum(e["category"] == "sound_event" for e in entries)
        print(f"{name:12s} sound_event {hits}/{n}  music {music}/{music_clips}  silence clips with events {silent}  "
              f"labels {labels}  missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
