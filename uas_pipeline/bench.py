"""``uas-pipeline bench``: ASR throughput of the pipeline vs a bare faster-whisper loop, same files.

The input clips are repeated (ids ``rep000/<id>``, ``rep001/<id>``, ...) into a JSONL manifest until
they hold at least ``--min-audio-s`` of audio. Both sides process that manifest in one process, in
the order given by ``--order``; each side's wall time includes its model load. The pipeline runs
ASR only (every other stage disabled; ``--stages vad,asr,diarization`` times the speech track)
into a fresh output directory; Ray start-up is timed
separately and kept out of the throughputs.
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
EXIT_INVALID = 2
EXIT_PIPELINE_FAILURES = 1
AUDIO_REL_TOL = 0.01


def write_manifest(input_path: str, extensions: list[str], min_audio_s: float, path: Path) -> tuple[int, float]:
    """Repeat the input's clips (whole input at least once) until ``min_audio_s``; return (files, seconds)."""
    clips = []
    for ref in list_clips(input_path, extensions):
        if ref.region:
            raise InputError(f"bench: {ref.id}: manifest regions (offset_s/duration_s) are not supported")
        clips.append((ref.id, ref.source, probe(ref.source).duration_s))
    if not clips or sum(d for *_, d in clips) <= 0:
        raise InputError(f"bench: no audio in {input_path}")
    lines: list[str] = []
    total = 0.0
    rep = 0
    while rep == 0 or total < min_audio_s:
        for clip_id, source, duration in clips:
            if rep > 0 and total >= min_audio_s:
                break
            lines.append(json.dumps({"id": f"rep{rep:03d}/{clip_id}", "audio": source}))
            total += duration
        rep += 1
    path.write_text("\n".join(lines) + "\n")
    return len(lines), total


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
    try:
        base = load_recipe(args.recipe, user_sets)
        if "asr" not in base.stages:
            raise RecipeError("stages.asr: bench needs an asr stage in the recipe")
        extensions = base.input.extensions
        files, audio_s = write_manifest(args.input, extensions, args.min_audio_s, manifest)
        wanted = [name.strip() for name in getattr(args, "stages", "asr").split(",") if name.strip()]
        if "asr" not in wanted:
            raise RecipeError("--stages must include asr (the bare side is faster-whisper)")
        unknown = sorted(set(wanted) - set(base.stages))
        if unknown:
            raise RecipeError(f"--stages: {', '.join(unknown)} not configured in the recipe")
        # derived steps (attribution) follow the stages they combine
        forced = [f"stages.{name}.enabled={str(name in wanted).lower()}" for name in base.stages
                  if not is_derived(name)]
        forced += [f"input.path={json.dumps(str(manifest))}"]
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
        "files": files,
        "audio_s": audio_s,
        "order": order,
        "pipeline_stages": wanted,
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
            "min_audio_s": args.min_audio_s,
            "manifest": str(manifest),
            "ray_address": recipe.runtime.ray_address,
        },
        "machine": machine,
        "warnings": warnings,
    }
    print_table(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    for warning in warnings:
        print(f"uas-pipeline: warning: {warning}", file=sys.stderr)
    return EXIT_PIPELINE_FAILURES if pipe["failed"] else 0


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
