#!/usr/bin/env bash
# Gather what benchmarks/gpu_asr_throughput.py needs on a Python 3.12 machine that has only torch
# (and numpy): openai-whisper (copied from this machine's install: it ships as an sdist only), its
# tiktoken and more-itertools, and pydantic. Unpacked wheels, so DIR can simply go on PYTHONPATH:
#
#   benchmarks/gpu_asr_deps.sh .gpu_deps          # here (needs the package registry)
#   PYTHONPATH=$PWD:$PWD/.gpu_deps python benchmarks/gpu_asr_throughput.py --device cuda   # there
#
# About 17 MB. numba is left out on purpose (llvmlite is 40 MB): the benchmark installs a stand-in.
set -euo pipefail
DIR=${1:?usage: gpu_asr_deps.sh DIR}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}  # needs openai-whisper installed
mkdir -p "$DIR/.wheels"
"$PY" -m pip download -q --no-deps --python-version 3.12 --platform manylinux2014_x86_64 --only-binary=:all: \
  -d "$DIR/.wheels" tiktoken regex more-itertools pydantic pydantic-core annotated-types typing-inspection
for w in "$DIR"/.wheels/*.whl; do "$PY" -m zipfile -e "$w" "$DIR"; done
rm -rf "$DIR/.wheels"
WHISPER=$("$PY" -c "import os, whisper; print(os.path.dirname(whisper.__file__))")
rm -rf "$DIR/whisper" && cp -r "$WHISPER" "$DIR/whisper" && rm -rf "$DIR/whisper/__pycache__"
du -sh "$DIR"
