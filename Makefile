# `make demo`: set up and run detection; `make test`: set up and run the tests. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SOURCE ?= 0
OUT ?= annotated.mp4

.PHONY: setup demo test train bench notebook tensorboard clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null || \
	  { echo "signlang needs Python 3.10, 3.11 or 3.12 (mediapipe 0.10.21, tensorflow 2.19.1); '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Run: make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e .
	@touch $@

demo: setup
	$(BIN)/signlang detect --source $(SOURCE) --model action.h5 --out $(OUT)

test: setup $(VENV)/.ray-installed
	$(BIN)/python -m pytest

# the tests run `extract --ray` on a local Ray: the optional extra, installed for them
$(VENV)/.ray-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[ray]'
	@touch $@

train: setup
	$(BIN)/signlang train --data ../shared/data/signers ../shared/data/more_signs --actions hello thanks iloveyou --model action.h5 --logdir Logs

bench: setup $(VENV)/.ray-installed
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/realtime.py
	$(BIN)/python bench/unseen.py
	$(BIN)/python bench/streams.py

notebook: setup
	$(BIN)/jupyter lab ActionDetection.ipynb

tensorboard: setup
	$(BIN)/tensorboard --logdir Logs

clean:
	rm -rf $(VENV)
