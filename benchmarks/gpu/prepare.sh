#!/usr/bin/env bash
# Run HERE (a machine with network), before a GPU call: downloads the wheels the offline GPU machine lacks
# (benchmarks/gpu/wheels.txt, Python 3.12 / x86-64 builds) into .whl/, keeps .whl/ out of git, and reports
# the size of what the device tool would send (working tree + .whl; its limit is 64 MiB).
#
#   bash benchmarks/gpu/prepare.sh                  # trl, datasets, dill, multiprocess (~1.8 MiB)
#   bash benchmarks/gpu/prepare.sh --with-pyarrow   # also pyarrow (52 MiB), for an image whose pyarrow is < 24
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
WITH_OPTIONAL=0
for arg in "$@"; do
  case "$arg" in
    --with-pyarrow) WITH_OPTIONAL=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# .whl/ must be ignored (it travels only through the run tool's carry list).
if ! git check-ignore -q .whl/x.whl 2>/dev/null; then
  echo "/.whl/" >> "$(git rev-parse --git-dir)/info/exclude"
fi

# name==version lines, optional ones only on request (comments stripped).
specs=()
while read -r spec flag _; do
  [ -n "$spec" ] || continue
  if [ "$flag" = "optional" ] && [ "$WITH_OPTIONAL" = 0 ]; then continue; fi
  specs+=("$spec")
done < <(sed -e 's/#.*//' benchmarks/gpu/wheels.txt)

rm -rf .whl && mkdir -p .whl   # one version of each, nothing stale: two versions stop the install there
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${specs[@]}"

echo "wheels in .whl/:"
ls -l .whl | awk 'NR > 1 {printf "  %-60s %9.2f MiB\n", $9, $5 / 1048576}'
whl=$(du -sb .whl | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
total=$((whl + tree))
awk -v w="$whl" -v t="$tree" -v s="$total" 'BEGIN {printf "size: .whl %.2f MiB + working tree %.2f MiB = %.2f MiB of the 64 MiB the device tool sends\n", w/1048576, t/1048576, s/1048576}'
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "TOO LARGE for the device tool. Largest untracked, not ignored paths:" >&2
  git ls-files --others --exclude-standard --directory | head -20 | while read -r p; do du -sh "$p" 2>/dev/null; done | sort -rh | head -5 >&2
  exit 1
fi
