#!/usr/bin/env bash
# Reruns of the benchmarks whose figures the docs quoted without a kept results file
# (issue 25): each run's output goes to benchmarks/results/<name>.txt (training speed
# also as JSON lines), headed by the command, the date and the CPU.
# Usage: bash benchmarks/speed/evidence_reruns.sh [name ...]   (all, about 40 minutes)
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
CPU=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
run() {
  local name=$1; shift
  local out=benchmarks/results/$name.txt
  { echo "# $ $*"; echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $CPU, $(nproc) cores"; } >> "$out"
  "$@" 2>&1 | grep -v "ConvergenceWarning\|^  warnings.warn\|^  .*fit(" >> "$out"
  echo >> "$out"
}
want() { [ $# -eq 0 ] || [[ " $* " == *" $name "* ]]; }
names=("$@")
for name in training_speed training_speed_parts persistence tabular_eval kmeans_seed_spread transform_memory; do
  want "${names[@]}" || continue
  case $name in
    training_speed)  # the naive loop's spread: three runs, float32 and the autograd step
      for i in 1 2 3; do
        run training_speed "$PY" benchmarks/speed/training_speed.py --batch-sizes 15000 256 \
          --autograd --no-inference --json benchmarks/results/training_speed_epyc.jsonl
      done ;;
    training_speed_parts)
      run training_speed_parts "$PY" benchmarks/speed/training_speed.py --masks
      run training_speed_parts "$PY" benchmarks/speed/training_speed.py --bf16-bound --seconds 5 --batch-sizes 256 ;;
    persistence) run persistence "$PY" benchmarks/speed/persistence.py ;;
    tabular_eval) run tabular_eval "$PY" benchmarks/quality/tabular_eval.py ;;
    kmeans_seed_spread) run kmeans_seed_spread "$PY" benchmarks/robustness/kmeans_seed_spread.py ;;
    transform_memory) run transform_memory "$PY" benchmarks/scale/transform_memory.py ;;
  esac
done
