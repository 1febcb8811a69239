"""Onset/offset accuracy of an ``events`` backend on concatenations of refdata clips with known
boundaries.

The ``sound_event`` clips, the first ``--music-s`` seconds of the ``music`` clips and the music clips
of ``audio_class`` are joined with ``--gap-s`` of digital silence between them, in the manifest's
order and in reverse (two files). Each clip becomes one reference event; its span is where the clip
is audible: from the first to the last 20 ms frame whose RMS is within ``--trim-db`` of the clip's
loudest frame (ESC-50 clips are zero-padded to 5 s). The files are annotated by the stage directly
(``process()``, as the pipeline's worker calls it) and scored with :mod:`uas_pipeline.eval_events`:
a reference event is timed against the predicted events of its accepted labels that overlap it
(first onset, last offset).

    python benchmarks/events_timing.py --set backend=yamnet --set model=../shared/models/yamnet/yamnet.tflite \\
        [--refdata ../shared/refdata] [--keep DIR] [--json out.json]

``--keep DIR`` writes the concatenations and a references manifest (``reference.events``) there, for
``uas-pipeline run`` + ``eval``. The audio is refdata's: do not commit it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from uas_pipeline import eval_events
from uas_pipeline.assembly import RecordDraft
from uas_pipeline.audio import load_audio
from uas_pipeline.clips import ClipInfo
from uas_pipeline.stages.base import StageInput
from uas_pipeline.stages.registry import get_backend

REPO = Path(__file__).resolve().parent.parent
RATE = 16000  # concatenations are written at 16 kHz; each backend resamples to its own rate


def audible_span(x: np.ndarray, rate: int, trim_db: float) -> tuple[float, float]:
    frame = max(1, int(0.02 * rate))
    n = max(1, len(x) // frame)
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)) if len(x) >= frame else np.array([1.0])
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-trim_db / 20))
    return loud[0] * frame / rate, min(len(x), (loud[-1] + 1) * frame) / rate


def pick_clips(refdata: Path) -> list[dict]:
    entries = [json.loads(line) for line in (refdata / "MANIFEST.jsonl").read_text().splitlines() if line.strip()]
    chosen = [e for e in entries if e["category"] == "sound_event"]
    chosen += [e for e in entries if e["category"] == "music"]
    chosen += [e for e in entries if e["category"] == "audio_class" and "music" in e["reference"]["labels"]]
    return chosen


def build(entries: list[dict], refdata: Path, gap_s: float, music_s: float, trim_db: float):
    """One concatenation: samples and reference events ``{label, start, end, source}``."""
    parts, events, t = [np.zeros(int(gap_s * RATE), dtype=np.float32)], [], gap_s
    for e in entries:
        x, _ = load_audio(refdata / e["path"], target_sr=RATE)
        if e["category"] == "music":
            x = x[: int(music_s * RATE)]
        s, end = audible_span(x, RATE, trim_db)
        events.append({"label": e["reference"]["labels"][0], "start": round(t + s, 3), "end": round(t + end, 3),
                       "source": e["path"]})
        parts += [x.astype(np.float32), np.zeros(int(gap_s * RATE), dtype=np.float32)]
        t += (len(x) + int(gap_s * RATE)) / RATE
    return np.concatenate(parts), events


def annotate(stage, audio16k: np.ndarray, clip_id: str):
    rate = stage.sample_rate
    if rate != RATE:
        from uas_pipeline.audio import resample

        audio = resample(audio16k, RATE, rate).astype(np.float32)
    else:
        audio = audio16k
    clip = ClipInfo(id=clip_id, source=clip_id, duration_s=len(audio16k) / RATE, sample_rate=RATE, channels=1)
    out = stage.process([StageInput(clip=clip, audio=audio, sample_rate=rate)])[0]
    draft = RecordDraft()
    draft.apply(stage.name, out.record_fields())
    return draft.build(clip)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refdata", type=Path, default=REPO.parent / "shared" / "refdata")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="stage parameter (backend=..., model=..., threshold=...)")
    ap.add_argument("--gap-s", type=float, default=3.0)
    ap.add_argument("--music-s", type=float, default=10.0)
    ap.add_argument("--trim-db", type=float, default=40.0)
    ap.add_argument("--keep", type=Path, help="write the concatenations and a references manifest here")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    params = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    backend = params.pop("backend", "yamnet")
    stage = get_backend("events", backend)(params)
    stage.setup()
    entries = pick_clips(args.refdata)
    per_clip, manifest = [], []
    for name, order in (("concat_forward", entries), ("concat_reverse", entries[::-1])):
        audio, ref_events = build(order, args.refdata, args.gap_s, args.music_s, args.trim_db)
        entry = {"id": name, "path": f"{name}.wav", "category": "concatenation",
                 "reference": {"events": ref_events}, "duration_s": round(len(audio) / RATE, 3)}
        record = annotate(stage, audio, name)
        per_clip.append(eval_events.score_clip(record, entry, args.refdata))
        manifest.append(entry)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            sf.write(args.keep / f"{name}.wav", audio, RATE)
    if args.keep:
        (args.keep / "references.jsonl").write_text("".join(json.dumps(e) + "\n" for e in manifest))
    pooled = eval_events.pool(per_clip)
    timing = pooled["timing"]
    found = [t for c in per_clip for t in c["timing"] if t["found"]]
    within_found = sum(abs(t["onset_error_s"]) <= 0.5 and abs(t["offset_error_s"]) <= 0.5 for t in found)
    print(f"backend {backend}: {timing['events']} reference events, {timing['found']} found")
    print(f"onset and offset within {timing['tolerance_s']} s: {timing['within_tolerance']}/{timing['events']} "
          f"of all ({100 * timing['within_tolerance_rate']:.1f}%), {within_found}/{len(found)} of the found "
          f"({100 * within_found / max(1, len(found)):.1f}%)")
    for kind, rows in (("music clips", [t for c in per_clip for t in c["timing"] if t["class"] == "music"]),
                       ("sound_event clips", [t for c in per_clip for t in c["timing"] if t["class"] != "music"])):
        ok = sum(t["found"] and abs(t["onset_error_s"]) <= 0.5 and abs(t["offset_error_s"]) <= 0.5 for t in rows)
        print(f"  {kind}: {ok}/{len(rows)} within, {sum(t['found'] for t in rows)} found")
    print(f"|onset| median {timing['onset_median_abs_s']:.3f} s mean {timing['onset_mean_abs_s']:.3f} s; "
          f"|offset| median {timing['offset_median_abs_s']:.3f} s mean {timing['offset_mean_abs_s']:.3f} s")
    for c in per_clip:
        for t in c["timing"]:
            err = (f"onset {t['onset_error_s']:+.2f} offset {t['offset_error_s']:+.2f}" if t["found"] else "not found")
            print(f"  {c['clip']:15s} {t['class']:18s} {t['start']:7.2f}-{t['end']:7.2f}  {err}")
    if args.json:
        args.json.write_text(json.dumps({"pooled": pooled, "clips": per_clip, "within_found": within_found},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
