"""``uas-pipeline rethreshold IN_DIR --output OUT_DIR [--set key=value ...]``: rebuild the events of an
output directory from its stored frame scores with other score → event parameters, without the model.

The work is done by :mod:`uas_pipeline.events.rethresholding` (imported when the command runs, so
the CLI starts fast).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_rethreshold(args: argparse.Namespace) -> int:
    from .events.rethresholding import RethresholdError, parse_settings, rethreshold

    try:
        counts = rethreshold(Path(args.dir), Path(args.output), parse_settings(args.set or []))
    except RethresholdError as exc:
        print(f"uas-pipeline: error: {exc}", file=sys.stderr)
        return 2
    print(f"output: {Path(args.output).resolve()}")
    print(f"rows: {counts['rows']} ({counts['rescored']} re-thresholded, {counts['unchanged']} without frame scores)")
    return 0


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("rethreshold", help="rebuild events from stored frame scores with other thresholds")
    p.add_argument("dir", help="output directory of a run with events (frame scores kept)")
    p.add_argument("--output", required=True, help="new output directory (must not exist or be empty)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="score → event parameter, e.g. threshold=0.4 or thresholds.music=0.5 (repeatable)")
    p.set_defaults(func=cmd_rethreshold)
