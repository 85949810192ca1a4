# The README's commands. Everything lands in .venv/ (Python packages) and .cache/ (offline assets).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the offline profile never reaches the Hugging Face Hub: fail at once instead of retrying for a minute
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup lock assets run test lint rehearse lab record colab colab-stack doctor clean

setup: $(VENV)/.installed assets

# Installed from requirements.lock (every package, exact versions and hashes; `make lock` writes it) by uv, except
# torch: its build depends on the machine. PyPI's Linux torch is the CUDA build (several GB), so a Linux machine where
# `nvidia-smi -L` finds no GPU gets the CPU build from PyTorch's index; elsewhere PyPI's (CUDA on Linux with a GPU,
# CPU/MPS on macOS, CPU on Windows). `make setup TORCH_BUILD=pypi` or `TORCH_BUILD=cpu` overrides the choice.
UV_PIN := $(shell grep -m1 '^uv==' requirements.txt)
TORCH_PIN := $(shell grep -m1 '^torch==' requirements.txt)
TORCH_BUILD ?= $(shell [ "$$(uname -s)" != Linux ] || nvidia-smi -L >/dev/null 2>&1 && echo pypi || echo cpu)
# PyTorch's CPU index, where it can be reached (probed once, 3 s at most): otherwise pip retries it for every package
# torch brings and then takes what PyPI and pip's own configuration offer
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX_cpu = $(shell $(PYTHON) -c "import socket; socket.create_connection(('download.pytorch.org', 443), 3)" \
  2>/dev/null && echo --extra-index-url $(TORCH_CPU_INDEX))
UV := $(BIN)/uv pip install --python $(BIN)/python --quiet

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(UV_PIN) 2>&1 | $(QUIET_PIP)
	$(UV) --no-deps --require-hashes --compile-bytecode -r requirements.lock   # as pip does: no first import pays for it
	@echo "torch: $(TORCH_PIN), $(TORCH_BUILD) build"
	$(BIN)/pip install --quiet $(TORCH_PIN) $(TORCH_INDEX_$(TORCH_BUILD)) 2>&1 | $(QUIET_PIP)
	$(UV) --no-deps -e .
	touch $@

# torch and its CUDA libraries stay out of the lock (see above); everything else is resolved for Linux, macOS and
# Windows, Python 3.11-3.13, in one universal lock
lock: $(VENV)/.installed   ## re-resolve requirements.txt into requirements.lock after changing a pin
	$(BIN)/uv pip compile requirements.txt --universal --python-version 3.11 --generate-hashes --quiet \
	  --custom-compile-command "make lock" -o requirements.lock $$($(BIN)/uv pip compile requirements.txt \
	  --universal --python-version 3.11 --quiet --no-annotate | grep -oE '^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' \
	  | sed 's/==$$//; s/^/--no-emit-package /')

assets: $(VENV)/.installed
	$(BIN)/python -m tools.install 2>&1 | $(QUIET_PIP)

run: setup        ## the main job: every chapter, offline profile, into build/ with build/report.md
	$(OFFLINE) $(BIN)/python -m tools.run --profile offline --out build

test: setup       ## unit tests + nbval replay of tests/recordings/
	$(OFFLINE) $(BIN)/python -m pytest

lint: $(VENV)/.installed   ## ruff (pinned in requirements.txt, configured in pyproject.toml)
	$(BIN)/ruff check .

rehearse: setup   ## the book profile's defaults, each book id stood in for from a throw-away cache, no network
	$(OFFLINE) $(BIN)/python -m tools.rehearse --out build/rehearsal

record: setup     ## re-record tests/recordings/ by executing the chapters (never edit recordings by hand)
	$(OFFLINE) $(BIN)/python -m tools.run --record --out build

doctor: $(VENV)/.installed   ## what a bug report needs: versions vs pins, device and memory, the catalogue, the Hub switches
	$(BIN)/python -m tools.doctor

lab: setup
	$(BIN)/jupyter lab $(LAB_OPTIONS) chapters/

.PHONY: lab-offline
lab-offline: setup   ## every chapter, offline parameters filled in, in my-chapters/ (your edits kept), in JupyterLab
	$(BIN)/python -m tools.lab $(LAB_OPTIONS)

colab: $(VENV)/.installed   ## regenerate badges, setup cells, colab/, README's table; publish: REPO=owner/name REF=v1.0
	$(BIN)/python -m tools.colab $(if $(REPO),--repo $(REPO)) $(if $(REF),--ref $(REF))

# Colab's versions (colab/colab-gpu-pip-freeze.txt) of every library the chapters import, plus what the Colab setup
# cell installs, in a second environment; torch is the project's CPU build (Colab's is 2.11 with CUDA). Every chapter
# then runs on the offline profile: exact outputs may differ from the recordings, the run must succeed.
COLAB_VENV := .venv-colab
$(COLAB_VENV)/.installed: $(VENV)/.installed colab/colab-gpu-pip-freeze.txt requirements.txt tools/colab.py
	$(PYTHON) -m venv $(COLAB_VENV)
	$(BIN)/python -m tools.colab stack build/colab-stack
	$(COLAB_VENV)/bin/pip install --quiet $(TORCH_PIN) $(TORCH_INDEX_$(TORCH_BUILD)) 2>&1 | $(QUIET_PIP)
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet -r build/colab-stack/requirements.txt \
	  -c build/colab-stack/constraints.txt
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet --no-deps -r build/colab-stack/no-deps.txt
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet --no-deps -e .
	touch $@

colab-stack: $(COLAB_VENV)/.installed   ## every chapter, offline, on Colab's library versions (into build/colab-stack/)
	$(COLAB_VENV)/bin/python -m tools.install 2>&1 | $(QUIET_PIP)
	$(OFFLINE) $(COLAB_VENV)/bin/python -m tools.run --profile offline --out build/colab-stack

clean:
	rm -rf build
