"""tests/test_lines.py's configuration over several seeds: how often ACAI is smoother.

The test trains two small conv models (plain autoencoder, ACAI) on 2,000 16x16 lines
for 5 epochs and scores 256 interpolations between held-out lines. It runs on one
seed; this script runs the same configuration with data and model seed N for each
seed given, and appends one JSON line per seed to
``benchmarks/results/lines_test_seeds.jsonl``.

Usage::

    python benchmarks/robustness/lines_test_seeds.py 0 1 2 3 4 5 [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, append_record

from skacai import ACAITransformer
from skacai.datasets import make_lines
from skacai.metrics import evaluate_lines

OUT = RESULTS / "lines_test_seeds.jsonl"
CONFIG = "tests/test_lines.py: 2,000 16x16 lines x 5 epochs, conv w8 latent 16, lr 3e-4, batch 64"


def run(seed):
    X, _ = make_lines(2000, image_size=16, random_state=seed)
    row = {"seed": seed, "config": CONFIG, "threads": torch.get_num_threads()}
    for weight in (0.0, 0.5):
        start = time.time()
        model = ACAITransformer(
            16,
            architecture="conv",
            image_shape=(16, 16),
            conv_width=8,
            n_scales=3,
            adversarial_weight=weight,
            learning_rate_init=3e-4,
            batch_size=64,
            max_iter=5,
            random_state=seed,
        ).fit(X)
        distance, smoothness = evaluate_lines(model, n_pairs=256, random_state=1000)
        row["ae" if weight == 0 else "acai"] = {
            "smoothness": round(smoothness, 4),
            "mean_distance": round(distance, 5),
            "fit_seconds": round(time.time() - start, 1),
        }
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    for seed in args.seeds:
        append_record(OUT, run(seed))


if __name__ == "__main__":
    main()
