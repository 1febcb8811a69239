"""Added cost of the paralinguistic stages: ``process()`` seconds per audio second on the same
clips, for several settings (the pitch tracker dominates; DNSMOS is the next item). CPU seconds
of this process (one thread: ``OMP_NUM_THREADS=1``, DNSMOS and torch on one thread) are the figure
to compare on a shared machine; wall seconds are printed too.

Inputs: audio files under ``--input`` (default: the speech clips of ``../shared/refdata``), decoded
once; VAD (silero) and a stand-in one-speaker diarization over the VAD speech provide the units,
as in ``paralinguistics_refdata.py``.

    PYTHONPATH=$PWD python benchmarks/paralinguistics_cost.py [--input DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO.parent / "shared" / "refdata"
SETTINGS = {
    "measured pyin + dnsmos": ("paralinguistics", {"pitch_method": "pyin"}),
    "measured praat + dnsmos": ("paralinguistics", {"pitch_method": "praat"}),
    "measured pyin, no dnsmos": ("paralinguistics", {"pitch_method": "pyin", "quality": False}),
    "gender acoustic": ("gender", {}),
}


def main() -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from benchmarks.paralinguistics_refdata import stand_in_diarization
    from uas_pipeline.audio import load_audio
    from uas_pipeline.clips import ClipInfo
    from uas_pipeline.stages.base import StageInput
    from uas_pipeline.stages.gender_acoustic import AcousticGender
    from uas_pipeline.stages.paralinguistics_measured import MeasuredParalinguistics
    from uas_pipeline.stages.vad_silero import SileroVadStage

    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--categories", default="asr,speech_no_transcript,emotion,emotion_dimensional,speaker_traits")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    root = Path(args.input)
    manifest = root / "MANIFEST.jsonl"
    if manifest.is_file():
        cats = set(args.categories.split(","))
        paths = [root / json.loads(line)["path"] for line in manifest.read_text().splitlines()
                 if line.strip() and json.loads(line)["category"] in cats]
    else:
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3"))
    vad = SileroVadStage({})
    vad.setup()
    items = []
    for path in paths:
        audio, info = load_audio(path, target_sr=16000)
        clip = ClipInfo(id=str(path), source=str(path), duration_s=len(audio) / 16000, sample_rate=info.sample_rate,
                        channels=info.channels)
        v = vad.process([StageInput(clip=clip, audio=audio, sample_rate=16000)])[0]
        items.append(StageInput(clip=clip, audio=audio, sample_rate=16000,
                                inputs={"vad": v, "diarization": stand_in_diarization(v, clip.duration_s)}))
    audio_s = sum(i.clip.duration_s for i in items)
    results = {"clips": len(items), "audio_s": round(audio_s, 2), "settings": {}}
    for label, (name, params) in SETTINGS.items():
        stage = (MeasuredParalinguistics if name == "paralinguistics" else AcousticGender)(params)
        t0 = time.perf_counter()
        stage.setup()
        setup_s = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        for item in items:
            stage.process([item])
        busy, cpu = time.perf_counter() - t0, time.process_time() - c0
        results["settings"][label] = {"setup_s": round(setup_s, 2), "wall_s": round(busy, 2), "cpu_s": round(cpu, 2),
                                      "cpu_s_per_audio_s": round(cpu / audio_s, 4),
                                      "wall_s_per_audio_s": round(busy / audio_s, 4)}
        print(f"{label:28s} cpu {cpu:7.1f} s, wall {busy:7.1f} s for {audio_s:.1f} s audio = "
              f"{cpu / audio_s:.3f} CPU s per audio s (set-up {setup_s:.1f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
