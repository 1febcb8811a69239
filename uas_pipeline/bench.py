"""``uas-pipeline bench``: ASR throughput of the pipeline vs a bare faster-whisper loop, same files.

The input clips are repeated (ids ``rep000/<id>``, ``rep001/<id>``, ...) into a JSONL manifest until
they hold at least ``--min-audio-s`` of audio (and ``--min-clips`` clips). Both sides process that
manifest in one process, alternating order over ``--rounds``; each side's wall time includes its
model load. The pipeline runs ASR only (every other stage disabled; ``--stages vad,asr,diarization`` times the
speech track, attribution included) with the recipe's settings —
cross-clip packing and batching included — into a fresh output directory; Ray start-up is timed
separately and kept out of the throughputs. The bare side is a sequential
``WhisperModel.transcribe`` loop with the same model and decoding settings (beam, word timestamps).

``--short`` benchmarks short clips: clips of ``--min-clip-s``…``--max-clip-s`` seconds from
``--input``, or by default the short speech of ``../shared/refdata`` plus the bundled demo set; the
pipeline then runs the recipe as it is (``--stages recipe``: VAD + ASR for ``recipes/demo.yaml``)
rather than ASR alone (``--stages asr``, the default of the long-clip mode).
``--wer`` adds pooled WER on the gold-transcribed clips of the reference data: the pipeline's
records of those clips inside the bench run, and the ASR stage on the gold clips packed together,
decoded clip by clip (``pack_clips: false``), and the bare loop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .audio import AudioError, probe
from .inputs import InputError, list_clips
from .modelfiles import package_version
from .recipe import Recipe, RecipeError, load_recipe
from .runner import RunError, ensure_ray, run
from .stages.asr_faster_whisper import FasterWhisperStage, resolve_model
from .stages.registry import is_derived

ORDERS = ("bare-first", "pipeline-first")
SHORT_SPEECH_CATEGORIES = ("asr", "speech_no_transcript", "emotion", "emotion_dimensional", "vad", "speaker_traits")
"""Reference-data categories holding speech (``--short`` takes those of the right length)."""
GOLD_EXCLUDED = ("stereo_diarization.wav",)
"""Gold ``asr`` clips left out of pooled WER: one utterance per channel, no single transcript."""
EXIT_INVALID = 2
EXIT_PIPELINE_FAILURES = 1
AUDIO_REL_TOL = 0.01


def collect_clips(inputs: list[str], extensions: list[str], min_clip_s: float | None = None,
                  max_clip_s: float | None = None) -> list[tuple[str, str, float]]:
    """``(id, source, seconds)`` of the inputs' clips within the length bounds (whole files only)."""
    clips = []
    for input_path in inputs:
        for ref in list_clips(input_path, extensions):
            if ref.region:
                raise InputError(f"bench: {ref.id}: manifest regions (offset_s/duration_s) are not supported")
            duration = probe(ref.source).duration_s
            if (min_clip_s is None or duration >= min_clip_s) and (max_clip_s is None or duration <= max_clip_s):
                clip_id = ref.id if len(inputs) == 1 else f"{Path(input_path).stem}/{ref.id}"
                clips.append((clip_id, ref.source, duration))
    if not clips or sum(d for *_, d in clips) <= 0:
        raise InputError(f"bench: no audio in {', '.join(inputs)}"
                         + (f" between {min_clip_s} and {max_clip_s} s" if min_clip_s or max_clip_s else ""))
    return clips


def write_manifest(input_path: str | list[str], extensions: list[str], min_audio_s: float, path: Path,
                   min_clips: int = 0, min_clip_s: float | None = None,
                   max_clip_s: float | None = None) -> tuple[int, float]:
    """Repeat the input's clips (whole input at least once) until ``min_audio_s`` and ``min_clips``;
    return (files, seconds)."""
    inputs = [input_path] if isinstance(input_path, str) else list(input_path)
    clips = collect_clips(inputs, extensions, min_clip_s, max_clip_s)
    lines: list[str] = []
    total = 0.0
    rep = 0
    while rep == 0 or total < min_audio_s or len(lines) < min_clips:
        for clip_id, source, duration in clips:
            if rep > 0 and total >= min_audio_s and len(lines) >= min_clips:
                break
            lines.append(json.dumps({"id": f"rep{rep:03d}/{clip_id}", "audio": source}))
            total += duration
        rep += 1
    path.write_text("\n".join(lines) + "\n")
    return len(lines), total


def short_speech_manifest(refdata: Path, path: Path) -> Path:
    """A manifest of the reference data's speech clips (categories :data:`SHORT_SPEECH_CATEGORIES`)."""
    lines = []
    for entry in map(json.loads, (refdata / "MANIFEST.jsonl").read_text().splitlines()):
        if entry["category"] in SHORT_SPEECH_CATEGORIES:
            lines.append(json.dumps({"id": entry["path"], "audio": str(refdata / entry["path"])}))
    if not lines:
        raise InputError(f"bench: no speech clips in {refdata / 'MANIFEST.jsonl'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def gold_clips(refdata: Path) -> dict[str, tuple[str, str]]:
    """Gold-transcribed ``asr`` clips of the reference data: path → (audio file, reference text)."""
    gold = {}
    for entry in map(json.loads, (refdata / "MANIFEST.jsonl").read_text().splitlines()):
        text = entry["reference"].get("text")
        if entry["category"] == "asr" and isinstance(text, str) and not entry["path"].endswith(GOLD_EXCLUDED):
            gold[entry["path"]] = (str(refdata / entry["path"]), text)
    return gold


def asr_settings(recipe: Recipe) -> dict[str, Any]:
    """WhisperModel and transcribe() arguments exactly as the ASR stage resolves them."""
    cfg = recipe.stages["asr"]
    if cfg.backend != "faster-whisper":
        raise RecipeError(f"stages.asr.backend: bench compares faster-whisper, not {cfg.backend!r}")
    stage = FasterWhisperStage(cfg.backend_params(), cfg.resources)
    return {
        "model": stage.whisper_model_kwargs(),
        "transcribe": stage.transcribe_kwargs(),
        "model_label": resolve_model(stage.params.model)[1],
        "pipeline_resources": cfg.resources.model_dump(),
    }


def bench_bare(settings: dict[str, Any], manifest: Path, extensions: list[str]) -> dict[str, Any]:
    from faster_whisper import WhisperModel

    started = time.perf_counter()
    model = WhisperModel(**settings["model"])
    load_s = time.perf_counter() - started
    audio_s = 0.0
    segments = 0
    for ref in list_clips(str(manifest), extensions):
        segs, info = model.transcribe(ref.source, **settings["transcribe"])
        segments += sum(1 for _ in segs)
        audio_s += info.duration
    return {"wall_s": time.perf_counter() - started, "model_load_s": load_s, "audio_s": audio_s,
            "segments": segments}


def bench_pipeline(recipe: Recipe) -> dict[str, Any]:
    import ray

    t0 = time.perf_counter()
    started_ray = ensure_ray(recipe)
    ray_start_s = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        summary = run(recipe)
        wall_s = time.perf_counter() - t1
        ray_cpus = ray.cluster_resources().get("CPU")
    finally:
        if started_ray:
            ray.shutdown()
    return {
        "wall_s": wall_s,
        "ray_start_s": ray_start_s if started_ray else None,
        "ray_started_by_bench": started_ray,
        "ray_cluster_cpus": ray_cpus,
        "run_wall_s": summary.wall_s,
        "audio_s": summary.audio_s,
        "ok": summary.ok,
        "failed": summary.failed,
        "failures_by_stage": summary.failures_by_stage,
        "output_dir": summary.output_dir,
    }


def machine_info() -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "sched_getaffinity": affinity,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "versions": {p: package_version(p) for p in ("faster-whisper", "ctranslate2", "ray", "uas-pipeline")},
    }


def stage_overrides(stages: str, base: Recipe) -> list[str]:
    """``--set`` overrides that leave the pipeline side running ``stages``: ``recipe`` (as configured)
    or comma-separated stage names (the others disabled; derived steps follow their inputs)."""
    if stages == "recipe":
        return []
    wanted = [name.strip() for name in stages.split(",") if name.strip()]
    if "asr" not in wanted:
        raise RecipeError("--stages must include asr (the bare side is faster-whisper)")
    unknown = sorted(set(wanted) - set(base.stages))
    if unknown:
        raise RecipeError(f"--stages: {', '.join(unknown)} not configured in the recipe")
    return [f"stages.{name}.enabled={str(name in wanted).lower()}" for name in base.stages if not is_derived(name)]


def main(args: argparse.Namespace) -> int:
    order = getattr(args, "order", "bare-first")
    if order not in ORDERS:
        print(f"uas-pipeline: error: --order must be one of {', '.join(ORDERS)}", file=sys.stderr)
        return EXIT_INVALID
    machine = machine_info()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="uas-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "bench_manifest.jsonl"
    user_sets = list(args.set or [])
    refdata = Path(getattr(args, "refdata", None) or DEFAULT_REFDATA).expanduser()
    try:
        base = load_recipe(args.recipe, user_sets)
        if "asr" not in base.stages:
            raise RecipeError("stages.asr: bench needs an asr stage in the recipe")
        extensions = base.input.extensions
        short = getattr(args, "short", False)
        inputs: list[str] = [args.input] if args.input else []
        if short and not inputs:
            inputs = [str(short_speech_manifest(refdata, work / "short_speech.jsonl")), "bundled:demo"]
        if not inputs:
            inputs = ["bundled:demo"]
        min_audio_s = args.min_audio_s if args.min_audio_s is not None else (0.0 if short else 600.0)
        min_clips = getattr(args, "min_clips", None)
        min_clips = min_clips if min_clips is not None else (200 if short else 0)
        files, audio_s = write_manifest(
            inputs, extensions, min_audio_s, manifest, min_clips=min_clips,
            min_clip_s=getattr(args, "min_clip_s", None) if short else None,
            max_clip_s=getattr(args, "max_clip_s", None) if short else None)
        forced = stage_overrides(getattr(args, "stages", None) or ("recipe" if short else "asr"), base)
        forced += [f"input.path={json.dumps(str(manifest))}"]
        forced += device_overrides(getattr(args, "device", None), base)
        recipe = load_recipe(args.recipe, user_sets + forced)
        settings = asr_settings(recipe)
        first = ("bare", "pipeline") if order == "bare-first" else ("pipeline", "bare")
        rounds: list[dict[str, dict[str, Any]]] = []
        for k in range(max(1, getattr(args, "rounds", 1))):
            sides = first if k % 2 == 0 else first[::-1]  # A B, B A, ...: drift of a shared machine cancels
            rounds.append({
                side: bench_pipeline(load_recipe(args.recipe, user_sets + forced + [
                    f"output.dir={json.dumps(tempfile.mkdtemp(prefix='pipeline-out-', dir=work))}"]))
                if side == "pipeline" else bench_bare(settings, manifest, extensions)
                for side in sides
            })
        results = {side: _combine([r[side] for r in rounds]) for side in ("bare", "pipeline")}
        wer = None
        if getattr(args, "wer", False):
            outs = [r["pipeline"]["output_dir"] for r in rounds]
            wer = wer_report(recipe, settings, refdata, outs)
    except (RecipeError, InputError, AudioError, RunError) as exc:
        print(f"uas-pipeline: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    pipe, bare = results["pipeline"], results["bare"]
    total_audio_s = audio_s * len(rounds)
    for side in (pipe, bare):
        side["x_realtime"] = total_audio_s / side["wall_s"]
    warnings = [
        f"{name} processed {side['audio_s']:.2f} s of audio, the manifest holds {total_audio_s:.2f} s"
        for name, side in results.items()
        if abs(side["audio_s"] - total_audio_s) > AUDIO_REL_TOL * total_audio_s
    ]
    if pipe["failed"]:
        warnings.append(f"pipeline: {pipe['failed']} clips failed ({pipe['failures_by_stage']})")
    report = {
        "mode": "short" if getattr(args, "short", False) else "long",
        "pipeline_stages": sorted(recipe.enabled_stages()),
        "inputs": inputs,
        "files": files,
        "audio_s": audio_s,
        "order": order,
        "pipeline": pipe,
        "bare": bare,
        "ratio_pipeline_over_bare": pipe["x_realtime"] / bare["x_realtime"],
        "rounds": len(rounds),
        "ratio_per_round": [r["bare"]["wall_s"] / r["pipeline"]["wall_s"] for r in rounds],
        "ray_start_s": pipe["ray_start_s"],
        "settings": {
            **settings,
            "recipe": str(Path(args.recipe).resolve()),
            "overrides": user_sets + forced,
            "recipe_hash": recipe.hash(),
            "input": args.input,
            "min_audio_s": min_audio_s,
            "min_clips": min_clips,
            "manifest": str(manifest),
            "ray_address": recipe.runtime.ray_address,
        },
        "machine": machine,
        "warnings": warnings,
        "wer": wer,
    }
    print_table(report)
    if wer is not None:
        print_wer(wer)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    for warning in warnings:
        print(f"uas-pipeline: warning: {warning}", file=sys.stderr)
    return EXIT_PIPELINE_FAILURES if pipe["failed"] else 0


DEFAULT_REFDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "refdata"


def device_overrides(device: str | None, recipe: Recipe) -> list[str]:
    """``--device``: the ASR stage's device, and a GPU reserved for it on CUDA."""
    if not device:
        return []
    sets = [f"stages.asr.device={device}"]
    if device == "cuda" and recipe.stages["asr"].resources.num_gpus == 0:
        sets.append("stages.asr.resources.num_gpus=1")
    return sets


def wer_report(recipe: Recipe, settings: dict[str, Any], refdata: Path, bench_outputs: list[str]) -> dict[str, Any]:
    """Pooled WER on the gold clips: the bench run's records of them, the ASR stage packed and clip by
    clip on the gold clips alone, and the bare loop (same settings)."""
    import pyarrow.parquet as pq
    from faster_whisper import WhisperModel

    from .audio import load_audio
    from .clips import ClipInfo
    from .evaluation import normalize_text, pooled_wer
    from .stages.base import StageInput
    from .writer import data_shards

    gold = gold_clips(refdata)
    if not gold:
        raise InputError(f"bench --wer: no gold asr clips in {refdata}")
    cfg = recipe.stages["asr"]
    audio = {k: load_audio(src)[0] for k, (src, _) in gold.items()}
    items = [StageInput(clip=ClipInfo(id=k, source=gold[k][0], duration_s=len(a) / 16000, sample_rate=16000,
                                      channels=1), audio=a, sample_rate=16000) for k, a in audio.items()]
    vad_cfg = recipe.enabled_stages().get("vad")
    if vad_cfg is not None:  # the ASR stage reads VAD speech when the recipe runs it
        from .stages.registry import get_backend

        vad = get_backend("vad", vad_cfg.backend)(vad_cfg.backend_params(), vad_cfg.resources)
        vad.setup()
        for item in items:
            item.inputs = {"vad": vad.process([item])[0]}

    def stage_texts(pack: bool) -> dict[str, str]:
        stage = FasterWhisperStage({**cfg.backend_params(), "pack_clips": pack}, cfg.resources)
        stage.setup()
        return {it.clip.id: out.transcription.text for it, out in zip(items, stage.process(items), strict=True)}

    hyps = {"packed": stage_texts(True), "per_clip": stage_texts(False)}
    model = WhisperModel(**settings["model"])
    hyps["bare"] = {k: " ".join(seg.text.strip() for seg in model.transcribe(src, **settings["transcribe"])[0])
                    for k, (src, _) in gold.items()}
    refs = {k: text for k, (_, text) in gold.items()}
    report: dict[str, Any] = {
        "clips": sorted(gold),
        "vad": vad_cfg is not None,
        "reference_words": sum(len(normalize_text(t).split()) for t in refs.values()),
        **{f"{name}_wer": pooled_wer((refs[k], h[k]) for k in refs) for name, h in hyps.items()},
        "hypotheses": hyps,
    }
    report["packed_minus_per_clip_points"] = 100 * (report["packed_wer"] - report["per_clip_wer"])
    in_bench = []
    for out in bench_outputs:
        for shard in data_shards(out):
            for row in pq.read_table(shard, columns=["clip_id", "text"]).to_pylist():
                key = next((k for k in gold if row["clip_id"].endswith("/" + k)), None)
                if key is not None:
                    in_bench.append((refs[key], row["text"] or ""))
    report["in_bench_records"] = len(in_bench)
    report["in_bench_wer"] = pooled_wer(in_bench) if in_bench else None
    return report


def print_wer(w: dict[str, Any]) -> None:
    print(f"WER on {len(w['clips'])} gold clips ({w['reference_words']} reference words):")
    print(f"  stage packed {w['packed_wer']:.2%} | stage clip by clip {w['per_clip_wer']:.2%} "
          f"| bare loop {w['bare_wer']:.2%} | packed - clip by clip: {w['packed_minus_per_clip_points']:+.2f} points")
    if w["in_bench_wer"] is not None:
        print(f"  in the bench run: {w['in_bench_records']} records of gold clips, pooled WER {w['in_bench_wer']:.2%}")


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum wall time (and counts) over rounds; keep the first round's other fields."""
    combined = dict(runs[0])
    for key in ("wall_s", "audio_s", "model_load_s", "run_wall_s", "ok", "failed", "segments"):
        if key in combined and combined[key] is not None:
            combined[key] = sum(r[key] for r in runs)
    combined["wall_s_per_round"] = [r["wall_s"] for r in runs]
    return combined


def print_table(r: dict[str, Any]) -> None:
    s, m = r["settings"], r["machine"]
    ray_start = r["ray_start_s"]
    print(f"ASR bench: {r['files']} files, {r['audio_s']:.1f} s audio, order {r['order']}")
    print(f"  model {s['model_label']} | {s['model']['device']} {s['model']['compute_type']} "
          f"| cpu_threads {s['model']['cpu_threads']} | beam {s['transcribe']['beam_size']} "
          f"| words {s['transcribe']['word_timestamps']} | pipeline workers {s['pipeline_resources']['concurrency']}")
    print(f"  cpus {m['cpu_count']}, affinity {m['sched_getaffinity']}")
    print(f"  {'':<34}{'wall s':>10}{'x real time':>14}")
    stages = r.get("pipeline_stages") or ["asr"]
    pipe_label = "pipeline (ASR only)" if stages == ["asr"] else f"pipeline ({'+'.join(stages)})"
    for label, key in (("bare faster-whisper", "bare"), (pipe_label, "pipeline")):
        print(f"  {label:<34}{r[key]['wall_s']:>10.2f}{r[key]['x_realtime']:>14.2f}")
    print(f"  pipeline / bare: {r['ratio_pipeline_over_bare']:.3f} over {r['rounds']} round(s); per round: "
          + ", ".join(f"{x:.3f}" for x in r["ratio_per_round"]))
    print("  Ray start: " + (f"{ray_start:.2f} s (not in the ratio)" if ray_start is not None
                             else "already running (not timed)"))
