#!/usr/bin/env bash
# The defaults sweep of docs/defaults.md (issue 24): two workers side by side, one
# thread each. First the small sets (every recipe, 3 seeds), then MNIST flattened
# (the recipes that change the code size, 3 seeds, 10 epochs: about 3 minutes a fit).
# Results go to benchmarks/results/recipe_sweep.jsonl as they finish; reruns skip
# what is there. Usage: bash benchmarks/defaults_sweep.sh   (about an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
worker() {
  "$PY" benchmarks/defaults_sweep.py --sets digits wine breast_cancer --seeds 0 1 2 \
    --threads 1 --worker "$1/2"
  "$PY" benchmarks/defaults_sweep.py --sets mnist --recipes default l16 l10 --seeds 0 1 2 \
    --threads 1 --worker "$1/2"
}
worker 0 & worker 1 & wait
