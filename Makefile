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

.PHONY: demo test install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) torch
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rest-rl demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/core_overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
