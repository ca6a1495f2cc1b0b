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

.PHONY: demo demo-agent test install install-bfcl install-verl test-verl bench bench-step bench-curves bench-evidence bench-gpu-prepare clean

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

# verl (the engine the ResT authors train on) lives in its own virtualenv: verl 0.9.1 pins transformers <5.11,
# the TRL side needs a newer one. CPU torch first, then the packages its imported code paths need, then verl
# and TransferQueue without their (GPU, logging) dependency lists, then rest_rl itself without TRL.
VENV_VERL ?= .venv-verl
PY_VERL := $(VENV_VERL)/bin/python
VERL_STAMP := $(VENV_VERL)/.rest-rl-verl-installed

install-verl: $(VERL_STAMP)

$(VERL_STAMP): pyproject.toml requirements/verl.txt $(CONSTRAINTS)
	test -x $(PY_VERL) || $(PYTHON) -m venv $(VENV_VERL)
	$(PY_VERL) -m pip install --quiet --upgrade pip
	$(PY_VERL) -m pip install --quiet -c $(CONSTRAINTS) torch
	$(PY_VERL) -m pip install --quiet -c $(CONSTRAINTS) -r requirements/verl.txt
	$(PY_VERL) -m pip install --quiet --no-deps verl==0.9.1 transferqueue==0.1.11
	$(PY_VERL) -m pip install --quiet --no-deps -e .
	touch $(VERL_STAMP)

test-verl: $(VERL_STAMP)   ## the verl adapter's tests, against verl's real code (docs/verl.md)
	$(PY_VERL) -m pytest -q tests/integrations/verl

demo: $(STAMP)
	$(VENV)/bin/rest-rl demo

demo-agent: $(STAMP)     ## the agentic demo: multi-turn tool use, RL in TRL's tool loop (docs/demo_agent.md)
	$(VENV)/bin/rest-rl demo agent

test: $(STAMP) $(BFCL_STAMP) $(VERL_STAMP)
	$(PY) -m pytest -q
	$(PY_VERL) -m pytest -q tests/integrations/verl

bench: $(STAMP)
	$(PY) benchmarks/core_overhead.py

bench-step: $(STAMP)     ## ResT vs TRL GRPO training step, time and peak memory (~11 min on 2 cores)
	$(PY) benchmarks/step_overhead.py --preset cpu

bench-curves: $(STAMP)   ## does ResT beat GRPO? 7 arms x 3 seeds (~25 min on 2 cores)
	$(PY) benchmarks/learning_curves.py --preset cpu

bench-evidence: $(STAMP)  ## paired ResT-vs-GRPO evidence: 3 conditions (incl. multi-turn) x 5 arms x 3 seeds (<= 90 min on 2 cores)
	$(PY) benchmarks/evidence.py --preset cpu_evidence

bench-gpu-prepare:   ## wheels the offline GPU machine lacks -> .whl/, and the size check (benchmarks/gpu/README.md)
	bash benchmarks/gpu/prepare.sh

clean:
	rm -rf $(VENV) $(VENV_VERL) runs .pytest_cache .hypothesis
