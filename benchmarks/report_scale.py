"""How the HTML report behaves at scale: build a synthetic output of N clips, write the report,
then load it in headless chromium and time the page load, a filter and a sort.

    python benchmarks/report_scale.py --clips 100000 --work /tmp/report-scale [--max-rows 20000]

Records are synthetic but shaped like real ones (1–3 diarized segments with words, speaker profiles
with every attribute, 0–3 events); they are written as the pipeline's shards (10,000 rows each).
Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from uas_pipeline.report import ReportOptions, build_report
from uas_pipeline.schema import UASRecord

LANGS = ("en", "de", "fr", "es", "ja")
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "bright", "owls", "watch", "quietly"]
EVENTS = ("dog", "music", "laughter", "applause", "siren", "cough")
SCHEMA = pa.schema([
    ("clip_id", pa.string()), ("source", pa.string()), ("offset_s", pa.float64()), ("duration_s", pa.float64()),
    ("uas", pa.large_string()), ("text", pa.large_string()), ("language", pa.string()),
    ("language_confidence", pa.float64()), ("num_segments", pa.int32()), ("num_words", pa.int32()),
    ("num_speakers", pa.int32()), ("speech_ratio", pa.float64()), ("event_labels", pa.list_(pa.string())),
    ("recipe_hash", pa.string()),
])


def _attr_level(rng: random.Random) -> str:
    return rng.choice(("very_low", "low", "medium", "high", "very_high"))


def synthetic_record(i: int, rng: random.Random) -> dict:
    duration = round(rng.uniform(2.0, 20.0), 3)
    n_spk = rng.randint(1, 3)
    speakers = [{
        "id": f"SPEAKER_{k:02d}", "speech_duration_s": 1.0,
        "gender": {"label": rng.choice(("female", "male")), "confidence": 0.9},
        "age": {"label": rng.choice(("teen", "adult", "senior")), "years": None, "confidence": 0.6},
        "emotion": {"label": rng.choice(("neutral", "happy", "sad", "angry")), "confidence": 0.7, "scores": None},
        "pitch": {"mean_hz": round(rng.uniform(90, 260), 3), "std_hz": 20.0, "level": _attr_level(rng)},
        "speaking_rate": {"words_per_s": 2.5, "syllables_per_s": None, "level": _attr_level(rng)},
        "loudness": {"lufs": -23.0, "level": "medium"}, "arousal": {"value": 0.5, "level": "medium"},
        "accent": None, "voice_quality": None,
    } for k in range(n_spk)]
    segments, t = [], 0.2
    for k in range(rng.randint(1, 3)):
        end = min(duration - 0.05, t + rng.uniform(1.0, 4.0))
        if end <= t + 0.3:
            break
        n_words = rng.randint(3, 8)
        step = (end - t) / n_words
        words = [{"word": rng.choice(WORDS), "start": round(t + j * step, 3), "end": round(t + (j + 1) * step, 3),
                  "confidence": 0.9} for j in range(n_words)]
        segments.append({"start": round(t, 3), "end": round(end, 3), "speaker": f"SPEAKER_{k % n_spk:02d}",
                         "text": " ".join(w["word"] for w in words), "confidence": 0.8, "words": words})
        t = end + 0.2
    events = sorted(({"label": rng.choice(EVENTS), "start": round(s, 3), "end": round(min(duration, s + 1.0), 3),
                      "confidence": 0.6, "source_label": "x", "ontology_id": None, "kind": "event"}
                     for s in (rng.uniform(0, duration - 1.1) for _ in range(rng.randint(0, 3)))),
                    key=lambda e: (e["start"], e["end"], e["label"]))
    return {
        "uas_version": "1.1",
        "clip": {"id": f"synthetic/{i:07d}.flac", "source": f"/data/synthetic/{i:07d}.flac", "duration_s": duration,
                 "sample_rate": 16000, "channels": 1, "offset_s": None},
        "transcription": {"text": " ".join(s["text"] for s in segments), "language": rng.choice(LANGS),
                          "language_confidence": 0.9, "segments": segments, "rejected": []},
        "paralinguistics": {"speakers": speakers, "segments": None, "recording": {
            "num_speakers": n_spk, "speech_ratio": 0.6, "overlap_ratio": 0.0, "snr_db": 20.0, "reverberation": None,
            "quality": None, "background": None}},
        "non_linguistic_events": events,
        "provenance": {"pipeline_version": "0.1.0", "recipe_hash": "0a49af811ab80bab",
                       "created_at": "2026-01-01T00:00:00Z", "stages": {}, "fields": None},
    }


def write_dataset(out: Path, clips: int, rows_per_shard: int = 10_000) -> None:
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    for shard, start in enumerate(range(0, clips, rows_per_shard)):
        rows = []
        for i in range(start, min(clips, start + rows_per_shard)):
            record = UASRecord.model_validate(synthetic_record(i, rng))
            tr = record.transcription
            rows.append({"clip_id": record.clip.id, "source": record.clip.source, "offset_s": None,
                         "duration_s": record.clip.duration_s, "uas": record.to_json(), "text": tr.text,
                         "language": tr.language, "language_confidence": tr.language_confidence,
                         "num_segments": len(tr.segments), "num_words": sum(len(s.words) for s in tr.segments),
                         "num_speakers": len(record.paralinguistics.speakers), "speech_ratio": 0.6,
                         "event_labels": sorted({e.label for e in record.non_linguistic_events}),
                         "recipe_hash": "0a49af811ab80bab"})
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), out / f"part-bench-{shard:05d}.parquet",
                       compression="zstd")


def browser_timings(index: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.browser import browser_missing, chromium

    if browser_missing():
        return {"browser": f"skipped: {browser_missing()}"}
    with chromium() as driver:
        start = time.monotonic()
        driver.get(index.as_uri())  # returns after the load event; the page's script has run by then
        ready = driver.execute_script("return document.body.dataset.ready")
        load_s = time.monotonic() - start
        filter_ms = driver.execute_script(
            "const t = performance.now(); const q = document.getElementById('f-q'); q.value = 'fox';"
            "q.dispatchEvent(new Event('input')); return performance.now() - t;")
        matches = driver.execute_script("return document.getElementById('match-info').textContent")
        sort_ms = driver.execute_script(
            "const t = performance.now(); document.querySelector(\"th[data-col='duration_s']\").click();"
            "return performance.now() - t;")
        heap = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return {"page_load_s": round(load_s, 2), "ready": ready == "1", "filter_ms": round(filter_ms, 1),
            "filter_result": matches, "sort_ms": round(sort_ms, 1),
            "js_heap_mb": None if heap is None else round(heap / 1e6, 1), "console_errors": len(errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument("--work", default=None, help="work folder (default: a temp dir, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="report-scale-"))
    out, report = work / "out", work / "report"
    try:
        if not any(out.glob("*.parquet")):
            start = time.monotonic()
            write_dataset(out, args.clips)
            print(f"wrote {args.clips} synthetic clips in {time.monotonic() - start:.1f} s", file=sys.stderr)
        summary = build_report(out, report, ReportOptions(max_rows=args.max_rows, timelines=0))
        records_bytes = sum(p.stat().st_size for p in (report / "records").glob("*.js"))
        chunk_sizes = [p.stat().st_size for p in (report / "records").glob("*.js")]
        result = {
            "clips": summary.clips, "table_rows": summary.table_rows, "sampled": summary.sampled,
            "build_s": summary.seconds, "index_html_mb": round(summary.page_bytes / 1e6, 2),
            "record_chunks": len(chunk_sizes), "records_mb": round(records_bytes / 1e6, 1),
            "largest_chunk_kb": round(max(chunk_sizes) / 1e3, 1),
            **browser_timings(report / "index.html"),
        }
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
