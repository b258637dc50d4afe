# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint bench airflow clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel on this disk; a bare `torch` would pull CUDA.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# DEMO_ARGS: more demo flags, e.g. "--landing s3://b/landing --warehouse s3://b/warehouse"
# (an object store: docs/warehouse.md, "The demo on S3")
demo: $(STAMP)
	$(BIN)/python -m flywheel.demo --out demo_out $(DEMO_ARGS)

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test module per worker at a time so
# a module's fixtures are built once; TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/scrub.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/inspect_bench.py

# standalone starts its components as `airflow ...` subprocesses: the venv must be on PATH.
airflow: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(CURDIR)/.airflow \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags AIRFLOW__CORE__LOAD_EXAMPLES=False \
	airflow standalone

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache
