#!/usr/bin/env bash
# ResT on verl: Qwen3-4B-Instruct-2507 on rlla_4k (docs/verl.md). GPU only: one node with 8 GPUs.
#   bash recipes/verl/run_rest_qwen3_4b_rlla4k.sh                      # the paper's weights
#   VARIANT=official bash recipes/verl/run_rest_qwen3_4b_rlla4k.sh     # the authors' constants
# Data: REST_DATA_DIR (default data/rlla_4k) must hold train.parquet and test.parquet in verl's layout
# (ToolRL's files, or rest_rl.data.sources.write_toolrl_rl). Extra arguments are Hydra overrides.
set -euo pipefail
cd "$(dirname "$0")/../.."
VARIANT=${VARIANT:-paper}
case "$VARIANT" in
  paper) NAME=rest_qwen3_4b_rlla4k ;;
  official) NAME=rest_qwen3_4b_rlla4k_official ;;
  *) echo "VARIANT must be paper or official, got $VARIANT" >&2; exit 2 ;;
esac
export REST_DATA_DIR=${REST_DATA_DIR:-data/rlla_4k}
for f in train test; do
  [ -f "$REST_DATA_DIR/$f.parquet" ] || { echo "missing $REST_DATA_DIR/$f.parquet (see docs/verl.md)" >&2; exit 2; }
done
PYTHON=${PYTHON:-python3}
exec "$PYTHON" -m verl.trainer.main_ppo --config-path="$PWD/recipes/verl/config" --config-name="$NAME" "$@"
