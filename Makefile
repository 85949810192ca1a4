# The README's commands. Everything lands in .venv/ (Python packages) and .cache/ (offline assets).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the offline profile never reaches the Hugging Face Hub: fail at once instead of retrying for a minute
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup assets run test lint rehearse lab record colab doctor clean

setup: $(VENV)/.installed assets

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --quiet --no-deps -e . 2>&1 | $(QUIET_PIP)
	touch $@

assets: $(VENV)/.installed
	$(BIN)/python -m utils.assets install 2>&1 | $(QUIET_PIP)

run: setup        ## the main job: every chapter, offline profile, into build/ with build/report.md
	$(OFFLINE) $(BIN)/python -m utils.run --profile offline --out build

test: setup       ## unit tests + nbval replay of tests/recordings/
	$(OFFLINE) $(BIN)/python -m pytest

lint: $(VENV)/.installed   ## ruff (pinned in requirements.txt, configured in pyproject.toml)
	$(BIN)/ruff check .

rehearse: setup   ## the book profile's defaults, each book id stood in for from a throw-away cache, no network
	$(OFFLINE) $(BIN)/python -m utils.rehearse --out build/rehearsal

record: setup     ## re-record tests/recordings/ by executing the chapters (never edit recordings by hand)
	$(OFFLINE) $(BIN)/python -m utils.run --record --out build

doctor: $(VENV)/.installed   ## what a bug report needs: versions vs pins, device and memory, the catalogue, the Hub switches
	$(BIN)/python -m utils.doctor

lab: setup
	$(BIN)/jupyter lab chapters/

colab:            ## after changing utils/colab.py's REPO: regenerate badges, setup cells, colab/
	$(BIN)/python -m utils.colab

clean:
	rm -rf build
