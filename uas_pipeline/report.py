"""``uas-pipeline report DIR --output OUT``: a static HTML report of an output directory.

``OUT/index.html`` opens from ``file://`` with no server and no network: styles, script, charts
(inline SVG) and the clip table's rows are inside the page. Beside it:

* ``OUT/timelines/<key>.png`` — timeline pictures (:mod:`timeline`) of a sample of clips;
* ``OUT/records/c<NNNNN>.js`` — the table's records, ``records_per_chunk`` per file, loaded by a
  ``<script>`` tag when a clip is opened (``fetch`` of ``file://`` URLs is blocked by browsers);
* the audio player points at each clip's source file (``file://`` URL, with a ``#t=start,end``
  media fragment for regions): the audio is not copied.

Scale: totals and charts always cover every clip (one streaming pass, counts only). The table
holds at most ``max_rows`` clips (default 20,000): when the dataset is larger, a uniform sample chosen
by a hash of the clip id (the same clips on every run) — the page says so. Filtering, sorting and
paging (50 rows a page) run in the browser over the embedded rows. Timelines are drawn for the
``timelines`` clips (default 100) with the smallest hashes among the table's rows (a uniform sample);
``uas-pipeline plot`` draws any other clip. Writing a report again into the same folder reuses the
pictures of clips whose record, source and drawing options did not change.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .output_reader import (
    check_output_dir,
    count_rows,
    data_shards,
    iter_ledger,
    iter_rows,
    read_run_manifest,
)
from .report_stats import NOT_ANNOTATED, SPEAKER_ATTRIBUTES, DatasetStats, FailureStats
from .schema import UASRecord

TABLE_COLUMNS = ("clip_id", "duration_s", "language", "speakers", "genders", "emotions", "events",
                 "speech_ratio", "snr_db", "text", "timeline", "chunk", "audio")
TEXT_CHARS = 200
TIMELINE_STYLE = "v1"  # bump when the timeline drawing changes, so old pictures are not reused
MAX_BARS = 24


@dataclass
class ReportOptions:
    max_rows: int = 20_000
    timelines: int = 100
    contour: bool = True
    records_per_chunk: int = 200
    examples_per_failure: int = 3


@dataclass
class ReportSummary:
    index: str
    clips: int
    table_rows: int
    timelines: int
    failures: int
    sampled: bool
    seconds: float
    page_bytes: int
    timeline_problems: list[str] = field(default_factory=list)


def clip_hash(clip_id: str) -> int:
    """A stable 64-bit hash of a clip id: orders the uniform table and timeline samples."""
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "big")


def timeline_key(clip_id: str, record_json: str, contour: bool, source: str | None) -> str:
    """File name of a clip's timeline: changes whenever the picture would, so a report written
    again into the same folder reuses the pictures of unchanged clips."""
    text = "\0".join((clip_id, record_json, str(contour), source or "", TIMELINE_STYLE))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _thresholds(out_dir: Path, max_rows: int, timelines: int) -> tuple[int, int]:
    """Largest hash admitted to the table and to the timelines (-1: none), reading only the clip_id
    column; the sample is exact in size and the same on every run."""
    keep = max(max_rows, timelines, 0)
    heap: list[int] = []  # max-heap (negated) of the `keep` smallest hashes
    for shard in data_shards(out_dir) if keep else ():
        for batch in pq.ParquetFile(shard).iter_batches(columns=["clip_id"], batch_size=8192):
            for cid in batch.column(0).to_pylist():
                h = clip_hash(cid)
                if len(heap) < keep:
                    heapq.heappush(heap, -h)
                elif h < -heap[0]:
                    heapq.heapreplace(heap, -h)
    ordered = sorted(-h for h in heap)

    def limit(n: int) -> int:
        return ordered[min(n, len(ordered)) - 1] if n > 0 and ordered else -1

    return limit(max_rows), limit(min(timelines, max_rows))


def _audio_url(source: str | None, offset_s: float | None, duration_s: float) -> str:
    if not source:
        return ""
    url = Path(source).resolve().as_uri()
    if offset_s is not None:
        url += f"#t={offset_s:.3f},{offset_s + duration_s:.3f}"
    return url


def _joined(values: list[Any] | None) -> str | None:
    if values is None:
        return None
    return ", ".join(sorted({str(v) for v in values if v is not None}))


def _table_row(record: UASRecord, source: str | None, timeline: str, chunk: int) -> list[Any]:
    tr, para, events = record.transcription, record.paralinguistics, record.non_linguistic_events
    speakers = para.speakers if para is not None else None
    rec = para.recording if para is not None else None
    text = None if tr is None else (tr.text[:TEXT_CHARS] + ("…" if len(tr.text) > TEXT_CHARS else ""))
    n_speakers = len(speakers) if speakers is not None else (rec.num_speakers if rec is not None else None)
    return [
        record.clip.id, record.clip.duration_s, None if tr is None else (tr.language or "unknown"), n_speakers,
        _joined(None if speakers is None else [s.gender.label if s.gender else None for s in speakers]),
        _joined(None if speakers is None else [s.emotion.label if s.emotion else None for s in speakers]),
        _joined(None if events is None else [e.label for e in events]),
        None if rec is None else rec.speech_ratio, None if rec is None else rec.snr_db, text, timeline, chunk,
        _audio_url(source, record.clip.offset_s, record.clip.duration_s),
    ]


class _ChunkWriter:
    """Writes the table's records as ``records/cNNNNN.js`` files of ``size`` records each."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder = folder
        self.size = size
        self.index = 0
        self._items: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def current(self) -> int:
        return self.index

    def add(self, clip_id: str, record_json: str) -> None:
        self._items.append(f"{json.dumps(clip_id, ensure_ascii=False)}:{record_json}")
        if len(self._items) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self._items:
            return
        body = "{" + ",\n".join(self._items) + "}"
        (self.folder / f"c{self.index:05d}.js").write_text(f"uasRecordChunk({self.index},{body});\n",
                                                           encoding="utf-8")
        self.index += 1
        self._items = []


# --- charts (inline SVG) ----------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}".rstrip("0").rstrip(".")


def bar_chart(title: str, items: list[tuple[str, float]], note: str = "", width: int = 400) -> str:
    """A horizontal bar chart as an SVG figure; ``not annotated`` bars are grey."""
    shown = list(items[:MAX_BARS])
    rest = items[MAX_BARS:]
    if rest:
        shown.append((f"{len(rest)} more", sum(v for _, v in rest)))
    label_w, row_h, value_w = 150, 18, 70
    bar_w = width - label_w - value_w
    top = max((v for _, v in shown), default=0) or 1
    height = row_h * max(1, len(shown)) + 8
    parts = [f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>'
             f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    if not shown:
        parts.append('<text x="4" y="14" class="muted">no data</text>')
    for i, (label, value) in enumerate(shown):
        y = i * row_h + 4
        w = max(1.0, bar_w * value / top) if value else 0
        cls = "bar na" if label in (NOT_ANNOTATED, "no speaker profiles") else "bar"
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end"><title>{html.escape(label)}</title>'
            f'{html.escape(short)}</text><rect class="{cls}" x="{label_w}" y="{y + 2}" width="{w:.1f}" '
            f'height="{row_h - 5}"/><text x="{label_w + w + 4:.1f}" y="{y + 12}">{_fmt(value)}</text>')
    parts.append("</svg>")
    if note:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    parts.append("</figure>")
    return "".join(parts)


def _charts(stats: dict[str, Any], failures: dict[str, Any]) -> dict[str, str]:
    attrs = stats["speaker_attributes"]
    return {
        "overview": "".join([
            bar_chart("Audio hours by language", stats["language_hours"],
                      "language of the transcription; 'not annotated': no ASR"),
            bar_chart("Clips by language", stats["language_clips"]),
            bar_chart("Clip durations", stats["durations"]),
            bar_chart("Transcription", stats["transcription"]),
        ]),
        "speakers": "".join(
            [bar_chart("Speakers per clip", stats["speakers_per_clip"])]
            + ([bar_chart(f"Speakers by {name}", attrs[name],
                          "counted per speaker; 'no speaker profiles': clips without diarization")
                for name, _ in SPEAKER_ATTRIBUTES] if stats["speakers"] else
               ['<p class="note">Speaker attributes (gender, age, emotion, accent, pitch, speaking rate, '
                'loudness, arousal, voice quality): not annotated in any clip — no clip has speaker '
                'profiles.</p>'])),
        "recording": "".join([
            bar_chart("Speech ratio", stats["speech_ratio"]),
            bar_chart("SNR", stats["snr"]),
            bar_chart("DNSMOS overall (1–5)", stats["quality"]),
            bar_chart("Background (clips)", stats["background"]),
        ]),
        "events": "".join([bar_chart("Clips with each event label", stats["event_clips"])] + ([
            bar_chart("Events by label", stats["event_count"]),
            bar_chart("Events by kind", stats["event_kinds"]),
        ] if stats["events"] else [])),
        "failures": bar_chart("Failed clips by stage", failures["by_stage"], "from the error ledger (errors/)"),
    }


def _script_json(payload: Any) -> str:
    """JSON safe inside a <script> element (no '</script>', no HTML-significant characters)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(out_dir: str | Path, target: str | Path, options: ReportOptions | None = None,
                 progress=None) -> ReportSummary:
    """Write ``target/index.html`` (and its timelines and record chunks) for an output directory."""
    from .timeline import load_clip_audio, render_timeline

    started = time.monotonic()
    options = options or ReportOptions()
    out_dir = check_output_dir(out_dir)
    target = Path(target)
    (target / "timelines").mkdir(parents=True, exist_ok=True)
    total = count_rows(data_shards(out_dir))
    row_limit, tl_limit = _thresholds(out_dir, options.max_rows, options.timelines)
    stats = DatasetStats()
    chunks = _ChunkWriter(target / "records", options.records_per_chunk)
    rows: list[list[Any]] = []
    drawn = 0
    used: set[str] = set()
    problems: list[str] = []
    for row in iter_rows(out_dir, ("clip_id", "source", "uas")):
        record = UASRecord.from_json(row["uas"])
        stats.add(record)
        h = clip_hash(row["clip_id"])
        if h > row_limit or len(rows) >= options.max_rows:
            continue
        key = ""
        if h <= tl_limit and drawn < options.timelines:
            key = timeline_key(record.clip.id, row["uas"], options.contour, row["source"])
            picture = target / "timelines" / f"{key}.png"
            if not picture.is_file():
                audio = load_clip_audio(row["source"], record.clip.offset_s, record.clip.duration_s)
                if audio.problem:
                    problems.append(f"{record.clip.id}: {audio.problem}")
                render_timeline(record, audio, picture, contour=options.contour, width_in=13.0, dpi=90)
            drawn += 1
            used.add(picture.name)
            if progress:
                progress(drawn, options.timelines)
        rows.append(_table_row(record, row["source"], key, chunks.current))
        chunks.add(record.clip.id, row["uas"])
    chunks.flush()
    for stale in (target / "timelines").glob("*.png"):  # pictures of an earlier report of other records
        if stale.name not in used:
            stale.unlink()
    for stale in (target / "records").glob("c*.js"):
        if int(stale.stem[1:]) >= chunks.index:
            stale.unlink()
    failures = FailureStats(examples_per_type=options.examples_per_failure)
    for ledger_row in iter_ledger(out_dir):
        failures.add(ledger_row)
    manifest = read_run_manifest(out_dir)
    stats_dict, failures_dict = stats.to_dict(), failures.to_dict()
    payload = {
        "title": out_dir.resolve().name,
        "output_dir": str(out_dir.resolve()),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "columns": TABLE_COLUMNS,
        "rows": rows,
        "total_clips": total,
        "sampled": len(rows) < total,
        "timelines": drawn,
        "stats": stats_dict,
        "failures": failures_dict,
        "manifest": {k: manifest.get(k) for k in ("recipe_hash", "pipeline_version", "counts", "recipe_name")
                     if k in manifest},
    }
    page = _page(payload, _charts(stats_dict, failures_dict))
    index = target / "index.html"
    index.write_text(page, encoding="utf-8")
    return ReportSummary(index=str(index), clips=total, table_rows=len(rows), timelines=drawn,
                         failures=failures.total, sampled=len(rows) < total,
                         seconds=round(time.monotonic() - started, 2), page_bytes=len(page.encode()),
                         timeline_problems=problems)


def _page(payload: dict[str, Any], charts: dict[str, str]) -> str:
    from .report_page import PAGE

    replacements = {  # the data goes in last: no placeholder is searched for inside it
        **{f"__CHART_{k.upper()}__": v for k, v in charts.items()},
        "__TITLE__": html.escape(f"UAS report · {payload['title']}"),
        "__DATA__": _script_json(payload),
    }
    page = PAGE
    for key, value in replacements.items():
        page = page.replace(key, value)
    return page
