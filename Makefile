# rest-rl: the two commands a new user needs are `make demo` and `make test`.
# Each creates .venv on first use, installs the CPU build of torch first (through a
# constraints file, so no multi-gigabyte CUDA wheels are pulled), then the package.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS ?= constraints/cpu.txt
STAMP := $(VENV)/.rest-rl-installed
# Two cores on the reference machine; keep torch from oversubscribing them.
export OMP_NUM_THREADS ?= 2
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test install install-bfcl bench bench-step bench-curves clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) torch
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

# BFCL's official scorer (bfcl-eval) pins numpy 1.x and SDK clients that clash with the training
# stack; it is installed without its own dependencies, after the packages it really imports.
BFCL_STAMP := $(VENV)/.rest-rl-bfcl-installed

install-bfcl: $(BFCL_STAMP)

$(BFCL_STAMP): $(STAMP) requirements/bfcl.txt
	$(PIP) install --quiet -c $(CONSTRAINTS) -r requirements/bfcl.txt
	$(PIP) install --quiet --no-deps bfcl-eval==2025.7.17
	touch $(BFCL_STAMP)

demo: $(STAMP)
	$(VENV)/bin/rest-rl demo

test: $(STAMP) $(BFCL_STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/core_overhead.py

bench-step: $(STAMP)     ## ResT vs TRL GRPO training step, time and peak memory (~11 min on 2 cores)
	$(PY) benchmarks/step_overhead.py --preset cpu

bench-curves: $(STAMP)   ## does ResT beat GRPO? 7 arms x 3 seeds (~25 min on 2 cores)
	$(PY) benchmarks/learning_curves.py --preset cpu

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
