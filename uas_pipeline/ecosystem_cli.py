"""Command-line wiring of ``export``, ``plot`` and ``report`` (registered by :func:`add_subcommands`)."""

from __future__ import annotations

import argparse
import sys

EXIT_INVALID = 2


def _fail(message: str) -> int:
    print(f"uas-pipeline: error: {message}", file=sys.stderr)
    return EXIT_INVALID


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export, summary_line
    from .output_reader import OutputError

    if args.to == "hf":
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
    try:
        count = export(args.dir, args.to, args.out)
    except (OutputError, ImportError) as exc:
        return _fail(str(exc))
    print(summary_line(args.to, args.out, count))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .output_reader import OutputError
    from .timeline import plot_clip

    try:
        summary = plot_clip(args.dir, args.clip_id, args.output, contour=not args.no_pitch_contour)
    except OutputError as exc:
        return _fail(str(exc))
    except KeyError as exc:
        print(f"uas-pipeline: error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"wrote {summary.path}")
    for panel, state in summary.panels.items():
        print(f"  {panel}: {state}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .output_reader import OutputError
    from .report import ReportOptions, build_report

    def progress(done: int, wanted: int) -> None:
        if not args.quiet:
            print(f"\r[uas-pipeline] timelines {done}/{wanted}", end="", file=sys.stderr, flush=True)

    options = ReportOptions(max_rows=args.max_rows, timelines=args.timelines, contour=not args.no_pitch_contour)
    try:
        summary = build_report(args.dir, args.output, options, progress=progress)
    except OutputError as exc:
        return _fail(str(exc))
    if not args.quiet and summary.timelines:
        print(file=sys.stderr)
    print(f"wrote {summary.index}")
    sample = " (a uniform sample)" if summary.sampled else ""
    print(f"  clips: {summary.clips}; table rows: {summary.table_rows}{sample}; timelines: {summary.timelines}; "
          f"failed clips: {summary.failures}; page: {summary.page_bytes / 1e6:.2f} MB; {summary.seconds:.1f} s")
    for problem in summary.timeline_problems[:5]:
        print(f"  audio not readable for a timeline: {problem}")
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register ``export``, ``plot`` and ``report`` on the ``uas-pipeline`` parser."""
    from .export import EXPORT_FORMATS

    p = sub.add_parser("export", help="write the records as a lhotse CutSet, JSONL, or a Hugging Face dataset")
    p.add_argument("dir", help="pipeline output directory")
    p.add_argument("--to", required=True, choices=EXPORT_FORMATS)
    p.add_argument("out", help="lhotse: a .jsonl[.gz] file or a folder (cuts.jsonl.gz); jsonl: a file "
                               "(.gz: gzip); hf: a folder for datasets' save_to_disk")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("plot", help="draw one clip's timeline picture (waveform, speakers, words, pitch, events)")
    p.add_argument("dir", help="pipeline output directory")
    p.add_argument("clip_id")
    p.add_argument("-o", "--output", default="clip.png", help="image file (PNG, SVG or PDF by suffix)")
    p.add_argument("--no-pitch-contour", action="store_true", help="skip the librosa.pyin contour")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="write a static HTML report of an output directory (OUT/index.html)")
    p.add_argument("dir", help="pipeline output directory")
    p.add_argument("--output", required=True, help="report folder (index.html, timelines/, records/)")
    p.add_argument("--max-rows", type=int, default=20_000,
                   help="clips in the table; larger datasets get a uniform sample (default 20000)")
    p.add_argument("--timelines", type=int, default=100, help="timeline pictures to draw (default 100)")
    p.add_argument("--no-pitch-contour", action="store_true", help="timelines without the pyin contour (faster)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_report)
