"""``uas-pipeline eval DIR --references MANIFEST.jsonl [--json FILE] [--per-clip] [--collar S]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .diarization import DEFAULT_COLLAR_S

EXIT_UNREADABLE = 2


def cmd_eval(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from ..writer import data_shards
    from .references import ReferencesError
    from .registry import load_families
    from .runner import evaluate, render_table, write_json

    out_dir = Path(args.dir)
    if not out_dir.is_dir():
        print(f"uas-pipeline: error: not a directory: {out_dir}", file=sys.stderr)
        return EXIT_UNREADABLE
    if not data_shards(out_dir):
        print(f"uas-pipeline: error: no data shards (*.parquet) in {out_dir}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        result = evaluate(out_dir, args.references, load_families(collar=args.collar))
    except ReferencesError as exc:
        print(f"uas-pipeline: error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (OSError, pa.ArrowException) as exc:
        print(f"uas-pipeline: error: cannot read {out_dir}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    sys.stdout.write(render_table(result, per_clip=args.per_clip))
    if args.json:
        try:
            write_json(result, args.json)
        except OSError as exc:
            print(f"uas-pipeline: error: cannot write {args.json}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
        print(f"every figure: {Path(args.json).resolve()}")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval`` on the ``uas-pipeline`` parser."""
    p = subparsers.add_parser(
        "eval", help="score records against references (WER, language ID, DER/JER, speaker count, ...)",
        description="Join the records of DIR to references and report per-clip and pooled figures "
                    "(docs/evaluation.md).")
    p.add_argument("dir", help="output directory of `uas-pipeline run`")
    p.add_argument("--references", required=True, metavar="MANIFEST.jsonl",
                   help="references: the refdata MANIFEST.jsonl format or the simple JSONL "
                        "(docs/evaluation.md)")
    p.add_argument("--json", metavar="FILE", help="write every figure (pooled and per clip) as JSON")
    p.add_argument("--per-clip", action="store_true", help="print one row per clip under each metric")
    p.add_argument("--collar", type=float, default=DEFAULT_COLLAR_S, metavar="S",
                   help="DER/JER collar in seconds, pyannote semantics: total width around each reference "
                        "boundary (default %(default)s = ±0.125 s)")
    p.set_defaults(func=cmd_eval)
