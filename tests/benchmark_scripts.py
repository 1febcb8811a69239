"""Running a benchmark script's ``main()`` in a fresh interpreter, as the GPU machine would, and
reporting which of some modules it imported (those the machine does not have)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_benchmark_main(module: str, args: list[str], absent: tuple[str, ...],
                       timeout: float) -> subprocess.CompletedProcess:
    """``benchmarks.<module>.main(args)`` in a subprocess at the repository root; its stdout ends
    with a line ``EXTRA [...]`` listing the modules of ``absent`` that it imported."""
    code = (
        f"import sys; sys.path.insert(0, '.'); import benchmarks.{module} as b; rc = b.main({args!r}); "
        f"print('EXTRA', sorted(m for m in {absent!r} if m in sys.modules)); sys.exit(rc)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=timeout)
