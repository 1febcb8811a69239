"""DER / JER / speaker count of a diarization backend, run as a stage (no Ray) on clips with RTTM
references: the diarization clips of ../shared/refdata and, with ``--mixtures``, the synthetic
mixtures of ``benchmarks/diarization_mixtures.py``.

    python benchmarks/diarization_der.py [--backend embedding-cluster] [--set window_s=1.5 ...]
                                         [--mixtures] [--no-vad] [--threads 2] [--json FILE]

DER uses a 0.25 s collar with overlapped speech scored. The silero VAD stage runs first (as in
``recipes/full.yaml``) unless ``--no-vad``; the real-time factor is audio seconds over the
diarization stage's wall seconds (VAD excluded), after a warm-up clip.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.diarization_mixtures import REFDATA, write_mixtures  # noqa: E402
from uas_pipeline.audio import load_audio  # noqa: E402
from uas_pipeline.clips import ClipInfo  # noqa: E402
from uas_pipeline.diarization.scoring import read_rttm, score_diarization  # noqa: E402
from uas_pipeline.resources import Resources  # noqa: E402
from uas_pipeline.stages.base import StageFailure, StageInput  # noqa: E402
from uas_pipeline.stages.registry import get_backend  # noqa: E402


def refdata_clips(refdata: Path) -> list[dict]:
    out = []
    for line in (refdata / "MANIFEST.jsonl").read_text().splitlines():
        d = json.loads(line)
        if d["category"] != "diarization":
            continue
        ref = d["reference"]
        rttm = ref.get("rttm") or ref.get("rttm_derived")
        out.append({"id": Path(d["path"]).stem, "audio": str(refdata / d["path"]), "rttm": str(refdata / rttm),
                    "num_speakers": ref["num_speakers"]})
    return out


def parse_sets(items: list[str]) -> dict:
    params = {}
    for item in items:
        key, _, value = item.partition("=")
        params[key] = yaml.safe_load(value)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="embedding-cluster")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="backend parameter")
    parser.add_argument("--refdata", type=Path, default=REFDATA)
    parser.add_argument("--mixtures", action="store_true", help="also score the synthetic mixtures")
    parser.add_argument("--mixtures-dir", type=Path, default=Path("/tmp/uas-diar-mixtures"))
    parser.add_argument("--no-vad", action="store_true", help="let the backend find speech itself")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    clips = refdata_clips(args.refdata)
    if args.mixtures:
        clips += write_mixtures(args.mixtures_dir, refdata=args.refdata)
    stage_cls = get_backend("diarization", args.backend)
    stage = stage_cls(parse_sets(args.set), Resources(num_cpus=args.threads))
    stage.setup()
    vad = None
    if not args.no_vad:
        vad = get_backend("vad", "silero")({}, Resources(num_cpus=0.5))  # 1 thread, as in the recipes
        vad.setup()

    rows = []
    warmed = False
    for clip in clips:
        audio, info = load_audio(clip["audio"])
        ci = ClipInfo(id=clip["id"], source=clip["audio"], duration_s=len(audio) / 16000, sample_rate=info.sample_rate,
                      channels=info.channels)
        inputs = {}
        if vad is not None:
            inputs["vad"] = vad.process([StageInput(clip=ci, audio=audio, sample_rate=16000)])[0]
        item = StageInput(clip=ci, audio=audio, sample_rate=16000, inputs=inputs)
        if not warmed:  # first call pays lazy imports / JIT: keep it out of the timing
            stage.process([item])
            warmed = True
        t0 = time.perf_counter()
        out = stage.process([item])[0]
        wall = time.perf_counter() - t0
        if isinstance(out, StageFailure):
            print(f"{clip['id']}: FAILED {out.error_type}: {out.message}")
            continue
        hyp = [(t.start, t.end, t.speaker) for t in out.turns]
        score = score_diarization(read_rttm(clip["rttm"]), hyp)
        rows.append({"clip": clip["id"], "duration_s": ci.duration_s, "der": score.der, "jer": score.jer,
                     "missed_s": score.missed_s, "false_alarm_s": score.false_alarm_s, "confusion_s": score.confusion_s,
                     "ref_speakers": clip["num_speakers"], "hyp_speakers": len(out.speakers),
                     "overlap_ratio": out.overlap_ratio, "wall_s": wall, "rtf": ci.duration_s / wall})

    print(f"{'clip':28s} {'dur s':>6s} {'DER':>6s} {'JER':>6s} {'miss':>5s} {'FA':>5s} {'conf':>5s} "
          f"{'spk ref/hyp':>11s} {'ovl':>5s} {'x RT':>6s}")
    for r in rows:
        ok = "" if r["ref_speakers"] == r["hyp_speakers"] else " !"
        print(f"{r['clip']:28s} {r['duration_s']:6.1f} {r['der']:6.3f} {r['jer']:6.3f} {r['missed_s']:5.2f} "
              f"{r['false_alarm_s']:5.2f} {r['confusion_s']:5.2f} {r['ref_speakers']:>5d}/{r['hyp_speakers']:<5d}"
              f"{r['overlap_ratio']:5.3f} {r['rtf']:6.1f}{ok}")
    if rows:
        total_audio = sum(r["duration_s"] for r in rows)
        total_wall = sum(r["wall_s"] for r in rows)
        print(f"mean DER {np.mean([r['der'] for r in rows]):.3f}; speaker count right on "
              f"{sum(r['ref_speakers'] == r['hyp_speakers'] for r in rows)}/{len(rows)}; "
              f"{total_audio / total_wall:.1f}x real time on {args.threads} threads")
    if args.json:
        args.json.write_text(json.dumps({"backend": args.backend, "params": stage.params.model_dump(mode="json"),
                                         "clips": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
