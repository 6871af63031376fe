"""How much does the KMeans score move with KMeans' own seed, for fixed codes?

Trains ACAITransformer with the defaults on MNIST for ``--epochs`` epochs once, then
scores its codes with KMeans seeds 0..4 (whitened and raw codes).

    python benchmarks/robustness/kmeans_seed_spread.py --epochs 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, ignore_convergence, load_mnist

from skacai import ACAITransformer
from skacai.metrics import kmeans_accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_MNIST)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    x_train, _, x_test, y_test = load_mnist(args.data)
    with ignore_convergence():
        # The defaults of November 2026, when docs/defaults.md's figures were measured.
        model = ACAITransformer(
            32, scaling="global", architecture="mlp", max_iter=args.epochs, random_state=0
        ).fit(x_train)
    codes_train, codes_test = model.transform(x_train), model.transform(x_test)
    for whiten in (True, False):
        scores = [
            kmeans_accuracy(codes_train, codes_test, y_test, whiten_codes=whiten, random_state=s)
            for s in range(5)
        ]
        label = "whitened" if whiten else "raw codes"
        print(
            f"{label:>9}: "
            + " ".join(f"{100 * a:.1f}" for a in scores)
            + f"  (range {100 * (max(scores) - min(scores)):.1f} points, "
            f"std {100 * np.std(scores):.1f})"
        )


if __name__ == "__main__":
    main()
