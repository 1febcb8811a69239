"""Make PyPI's torchaudio importable beside a CPU-only torch (run by ``make setup``; idempotent).

PyPI's torchaudio wheels are CUDA builds: on a CPU torch their compiled extension fails to load
(it links ``libc10_cuda.so``), so ``import torchaudio`` fails and with it pyannote.audio. Without the
extension files torchaudio runs as pure Python, which covers what pyannote uses (resampling, Kaldi
fbank, MFCC); ``torchaudio.load`` is gone, and the pipeline never uses it (it decodes with soundfile
and PyAV and hands pyannote waveforms). This removes the extension files only when torch is a CPU
build and the import fails because of them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path


def main() -> int:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        print("torchaudio: not installed, nothing to do")
        return 0
    import torch

    if torch.version.cuda is not None:
        print("torchaudio: torch is a CUDA build, leaving torchaudio as it is")
        return 0
    probe = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
    if probe.returncode == 0:
        print("torchaudio: imports fine")
        return 0
    if "Could not load this library" not in probe.stderr:
        print(probe.stderr[-2000:], file=sys.stderr)
        return 1
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    removed = [p for p in lib.glob("*.so")]
    for p in removed:
        p.unlink()
    again = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
    print(f"torchaudio: removed {len(removed)} CUDA extension files from {lib}; import "
          + ("ok" if again.returncode == 0 else "still fails"))
    return again.returncode


if __name__ == "__main__":
    sys.exit(main())
