"""Pooled WER of the pipeline and of a bare faster-whisper loop (same model, same settings) on the
gold ASR clips of ../shared/refdata.

    .venv/bin/python benchmarks/asr_wer.py [--manifest benchmarks/refdata_asr.jsonl] [--set key=value ...]

The manifest lists clips (paths relative to it) with their reference ``text``; the audio stays in
../shared (its licence allows no copies here).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from uas_pipeline.bench import asr_settings
from uas_pipeline.evaluation import normalize_text, pooled_wer
from uas_pipeline.inputs import list_clips
from uas_pipeline.recipe import load_recipe
from uas_pipeline.runner import run
from uas_pipeline.writer import data_shards

HERE = Path(__file__).resolve().parent


def references(manifest: Path) -> dict[str, str]:
    return {d["id"]: d["text"] for d in map(json.loads, manifest.read_text().splitlines()) if d.get("text")}


def pipeline_hypotheses(recipe_path: Path, manifest: Path, out: Path, overrides: list[str]) -> dict[str, str]:
    recipe = load_recipe(recipe_path, [*overrides, f"input.path={manifest}", f"output.dir={out}"])
    run(recipe)
    hyps = {}
    for shard in data_shards(out):
        for row in pq.read_table(shard, columns=["clip_id", "text"]).to_pylist():
            hyps[row["clip_id"]] = row["text"]
    return hyps


def bare_hypotheses(recipe_path: Path, manifest: Path, overrides: list[str]) -> dict[str, str]:
    from faster_whisper import WhisperModel

    settings = asr_settings(load_recipe(recipe_path, overrides))
    model = WhisperModel(**settings["model"])
    hyps = {}
    for ref in list_clips(str(manifest), ["wav", "flac", "mp3", "ogg"]):
        segments, _ = model.transcribe(ref.source, **settings["transcribe"])
        hyps[ref.id] = " ".join(s.text.strip() for s in segments)
    return hyps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=HERE / "refdata_asr.jsonl")
    parser.add_argument("--recipe", type=Path, default=HERE.parent / "recipes" / "demo.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    refs = references(args.manifest)
    with tempfile.TemporaryDirectory() as tmp:
        pipe = pipeline_hypotheses(args.recipe, args.manifest, Path(tmp) / "out", args.set)
    bare = bare_hypotheses(args.recipe, args.manifest, args.set)
    for clip_id, ref in refs.items():
        print(f"{clip_id}\n  ref:      {normalize_text(ref)}\n  pipeline: {normalize_text(pipe.get(clip_id, ''))}"
              f"\n  bare:     {normalize_text(bare.get(clip_id, ''))}")
    words = sum(len(normalize_text(r).split()) for r in refs.values())
    wer_pipe = pooled_wer((r, pipe.get(k, "")) for k, r in refs.items())
    wer_bare = pooled_wer((r, bare.get(k, "")) for k, r in refs.items())
    print(f"clips: {len(refs)}, reference words: {words}")
    print(f"pooled WER pipeline: {wer_pipe:.2%}   bare faster-whisper: {wer_bare:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
