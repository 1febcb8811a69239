"""A ~1-hour recording with known speakers, diarized in 600 s regions: do speaker ids stay
consistent across the regions of one file?

The file is built from refdata speech (``benchmarks/diarization_mixtures.py``'s speech bank): a
sequence of conversation scenes of 2–4 minutes, each between 2 or 3 of 5 recurring speakers (three
LibriSpeech readers, the speechbrain ``spk1`` speaker and EmoDB speaker 03), with pauses and some
overlapped turn starts. The wav and its reference RTTM go to ``--work-dir`` (outside the repo).

Two measurements, both scored as one file against the constructed reference (DER, collar 0.25 s,
overlap scored):

* ``direct`` (default): the diarization stage on each 600 s region (silero VAD first), then the
  regions' speakers linked with :func:`uas_pipeline.diarization.linking.link_region_mappings` — the
  same function the runner's per-file pass calls. Reported with and without linking.
* ``--pipeline``: ``uas-pipeline run RECIPE`` on the file (the runner splits it into 600 s regions
  and links them); the hypothesis is rebuilt from the records' speaker-attributed transcript
  segments (shifted by each region's offset), as ``uas-pipeline eval`` does.

    python benchmarks/long_diarization.py [--minutes 60] [--work-dir /tmp/uas-long] [--pipeline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.diarization_mixtures import REFDATA, SR, SpeechBank, _cut, _rms  # noqa: E402
from uas_pipeline.diarization.scoring import read_rttm, score_diarization, write_rttm  # noqa: E402

SPEAKERS = ("libri_5703", "libri_3436", "libri_198", "sb_spk1", "emodb_03")
REGION_S = 600.0


def build_long_file(minutes: float, bank: SpeechBank, seed: int = 11) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    rng = np.random.default_rng(seed)
    levels = {s: 10 ** ((-26 + rng.uniform(-3, 3)) / 20) for s in SPEAKERS}
    total = int(minutes * 60 * SR)
    audio = np.zeros(total, dtype=np.float32)
    turns: list[tuple[float, float, str]] = []
    t = int(0.5 * SR)
    while t < total - 10 * SR:
        cast = list(rng.choice(SPEAKERS, size=int(rng.integers(2, 4)), replace=False))
        scene_end = min(total - 2 * SR, t + int(rng.uniform(120, 240) * SR))
        last = None
        while t < scene_end:
            speaker = str(rng.choice([s for s in cast if s != last]))
            pieces = bank.of(speaker)
            piece = _cut(pieces[int(rng.integers(len(pieces)))], rng.uniform(2.0, 8.0), rng)
            piece = piece * (levels[speaker] * 10 ** (rng.uniform(-1.5, 1.5) / 20) / max(_rms(piece), 1e-6))
            if t + len(piece) > total:
                break
            audio[t: t + len(piece)] += piece.astype(np.float32)
            turns.append((t / SR, (t + len(piece)) / SR, speaker))
            overlap = rng.random() < 0.1
            step = len(piece) - int(rng.uniform(0.3, 1.0) * SR) if overlap else len(piece) + int(rng.uniform(0.2, 1.0) * SR)
            t += max(step, int(0.5 * SR))
            last = speaker
        t += int(rng.uniform(1.0, 3.0) * SR)  # a pause between scenes
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio, turns


def direct(audio: np.ndarray, threads: int, params: dict) -> tuple[list, list, float]:
    """Per-region diarization + linking; returns (linked turns, unlinked turns, wall seconds)."""
    from uas_pipeline.clips import ClipInfo
    from uas_pipeline.diarization.linking import link_region_mappings
    from uas_pipeline.resources import Resources
    from uas_pipeline.stages.base import StageInput
    from uas_pipeline.stages.registry import get_backend

    vad = get_backend("vad", "silero")({}, Resources(num_cpus=0.5))  # 1 thread, as in the recipes
    vad.setup()
    diar = get_backend("diarization", "embedding-cluster")(params, Resources(num_cpus=threads))
    diar.setup()
    step = int(REGION_S * SR)
    outputs, offsets = [], []
    started = time.perf_counter()
    for k, lo in enumerate(range(0, len(audio), step)):
        part = audio[lo: lo + step]
        clip = ClipInfo(id=f"long#r{k:04d}", source="long.wav", duration_s=len(part) / SR, sample_rate=SR, channels=1,
                        offset_s=lo / SR, region=True, region_index=k, file_id="long")
        v = vad.process([StageInput(clip=clip, audio=part, sample_rate=SR)])[0]
        out = diar.process([StageInput(clip=clip, audio=part, sample_rate=SR, inputs={"vad": v})])[0]
        outputs.append(out)
        offsets.append(lo / SR)
        print(f"  region {k}: {len(out.speakers)} speakers, {time.perf_counter() - started:.0f} s so far", flush=True)
    wall = time.perf_counter() - started
    mappings = link_region_mappings(outputs)
    linked = [(t.start + off, t.end + off, m[t.speaker]) for out, off, m in zip(outputs, offsets, mappings, strict=True)
              for t in out.turns]
    unlinked = [(t.start + off, t.end + off, t.speaker) for out, off in zip(outputs, offsets, strict=True)
                for t in out.turns]
    return linked, unlinked, wall


def pipeline(wav: Path, work: Path, recipe: Path, sets: list[str]) -> tuple[list, float]:
    import pyarrow.dataset as ds

    from uas_pipeline.evaluation.diarization import hypothesis_turns
    from uas_pipeline.schema import UASRecord

    out = work / "out"
    manifest = work / "long.jsonl"
    manifest.write_text(json.dumps({"id": "long", "audio": str(wav)}) + "\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "uas_pipeline.cli", "run", str(recipe), "--input", str(manifest),
                    "--output", str(out), "--quiet", "--set", f"input.max_clip_duration_s={REGION_S}",
                    *(x for item in sets for x in ("--set", item))], check=True)
    wall = time.perf_counter() - started
    turns = []
    rows = ds.dataset(out, format="parquet").to_table(columns=["clip_id", "offset_s", "uas"]).to_pylist()
    for row in sorted(rows, key=lambda r: r["clip_id"]):
        hyp = hypothesis_turns(UASRecord.from_json(row["uas"]))
        if isinstance(hyp, str):
            raise RuntimeError(f"{row['clip_id']}: {hyp}")
        off = row["offset_s"] or 0.0
        turns += [(s + off, e + off, spk) for s, e, spk in hyp[0]]
    return turns, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/uas-long-diarization"))
    parser.add_argument("--refdata", type=Path, default=REFDATA)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the diarization stage")
    parser.add_argument("--pipeline", action="store_true", help="also run the pipeline (runner regions + linking)")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "full.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe overrides for --pipeline (e.g. stages.paralinguistics.enabled=false)")
    parser.add_argument("--skip-direct", action="store_true")
    args = parser.parse_args(argv)

    import soundfile as sf

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    wav, rttm = work / "long.wav", work / "long.rttm"
    if not (wav.is_file() and rttm.is_file()):
        audio, turns = build_long_file(args.minutes, SpeechBank(args.refdata))
        sf.write(wav, audio, SR, subtype="PCM_16")
        write_rttm(rttm, "long", turns)
    audio = sf.read(wav, dtype="float32")[0]
    reference = read_rttm(rttm)
    per_region = {}
    for s, _e, spk in reference:
        per_region.setdefault(int(s // REGION_S), set()).add(spk)
    print(f"{wav}: {len(audio) / SR / 60:.1f} min, {len({t[2] for t in reference})} speakers, "
          f"{sum(e - s for s, e, _ in reference) / 60:.1f} min of speech; speakers per 600 s region: "
          + ", ".join(str(len(per_region[k])) for k in sorted(per_region)))
    results = {}
    if not args.skip_direct:
        linked, unlinked, wall = direct(audio, args.threads, {})
        for name, hyp in (("direct, linked", linked), ("direct, regions not linked", unlinked)):
            sc = score_diarization(reference, hyp)
            results[name] = sc
            print(f"{name:28s} DER {sc.der:.3f} (miss {sc.missed_s:.0f} s, FA {sc.false_alarm_s:.0f} s, "
                  f"confusion {sc.confusion_s:.0f} s) JER {sc.jer:.3f} speakers {sc.ref_speakers} ref / "
                  f"{sc.hyp_speakers} hyp")
        print(f"  VAD + diarization wall {wall:.0f} s = {len(audio) / SR / wall:.1f}x real time on {args.threads} threads")
    if args.pipeline:
        hyp, wall = pipeline(wav, work, args.recipe, args.set)
        sc = score_diarization(reference, hyp)
        print(f"{'pipeline (from transcript)':28s} DER {sc.der:.3f} (miss {sc.missed_s:.0f} s, FA {sc.false_alarm_s:.0f} s, "
              f"confusion {sc.confusion_s:.0f} s) speakers {sc.ref_speakers} ref / {sc.hyp_speakers} hyp; "
              f"run wall {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
