#!/usr/bin/env bash
# The ablation of docs/fidelity.md: two workers side by side, one thread each, every
# setting on model seeds 0-2 at 2 epochs (120,000 samples), then the lines; results go to
# benchmarks/results/quality_ablation.jsonl as they finish (reruns skip what is there).
# Usage: bash benchmarks/quality/quality_ablation.sh   (about 2 hours on a 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
groups=(
  "paper paper-ae skacai skacai-ae"
  "paper-l2.5 centred units crop-loss"
  "paper-lr1e-4 paper-ae-lr1e-4"
  "pad-end pad-zero"
)
worker() {
  for group in "${groups[@]}"; do
    # shellcheck disable=SC2086
    "$PY" benchmarks/quality/quality.py --settings $group --seeds 0 1 2 --epochs 2 \
      --kmeans-init 100 --threads 1 --worker "$1/2" ${CODES:+--save-codes "$CODES"}
  done
  # the lines: one pass over 20,000 lines per model
  "$PY" benchmarks/quality/quality.py --settings lines-global lines-global-ae lines lines-ae \
    --seeds 0 1 2 --epochs 1 \
    --threads 1 --worker "$1/2"
}
worker 0 & worker 1 & wait
