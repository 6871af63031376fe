"""Print the JSON lines written by ``mnist_eval.py`` as a Markdown table.

Usage: ``python benchmarks/quality/report.py benchmarks/results/mnist_eval_sweep.jsonl``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import read_records

COLUMNS = [
    ("run", lambda r: r["label"] or r["model"]),
    ("epochs", lambda r: r.get("epochs") or r.get("params", {}).get("max_iter", "")),
    ("KMeans, whitened", lambda r: _pct(r.get("kmeans_accuracy"))),
    ("KMeans, raw codes", lambda r: _pct(r.get("kmeans_accuracy_unwhitened"))),
    ("probe", lambda r: _pct(r.get("probe_accuracy"))),
    ("test MSE", lambda r: f"{r['test_mse']:.4f}" if "test_mse" in r else ""),
    ("fit s", lambda r: f"{r['fit_seconds']:.0f}"),
]


def _pct(value):
    return "" if value is None else f"{100 * value:.1f} %"


def table(rows):
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for row in rows:
        lines.append("| " + " | ".join(str(cell(row)) for _, cell in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--sort", action="store_true", help="group rows by run, then epochs")
    args = parser.parse_args(argv)
    rows = [row for f in args.files for row in read_records(f)]
    if args.sort:
        rows.sort(key=lambda r: (r["label"], r.get("epochs") or 0))
    print(table(rows))


if __name__ == "__main__":
    main()
