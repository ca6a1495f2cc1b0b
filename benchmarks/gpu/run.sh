#!/usr/bin/env bash
# The one command for the offline GPU machine (see benchmarks/gpu/README.md for the run-tool call):
# installs the carried wheels (.whl/) into /tmp/site, then runs every GPU benchmark part with its own time cap
# and writes results.json, run.log and the parts' files flat under $OUT (default runs/gpu). <= 7.5 minutes.
# Extra arguments go to run_all.py (e.g. --parts step-qwen3-1.7b, --budget 300, --dry-run).
cd "$(dirname "$0")/../.." || exit 2
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" benchmarks/gpu/run_all.py --out "${OUT:-runs/gpu}" "$@"
