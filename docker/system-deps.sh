#!/usr/bin/env sh
# Installs the system packages the set-up needs when they are missing (Debian/Ubuntu).
# Audio decoding needs none: soundfile and PyAV wheels bundle libsndfile and FFmpeg.
set -e
missing=""
command -v make >/dev/null 2>&1 || missing="$missing make"
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$missing python3-venv"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing system packages:$missing"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing
  else
    echo "missing system packages:$missing (install them with your package manager)" >&2
    exit 1
  fi
fi
