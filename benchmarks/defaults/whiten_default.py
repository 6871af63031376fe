"""Raw against whitened codes under ``Pipeline([acai, KMeans(10)])`` at the default budget.

For each data set (the budget curves' MNIST and digits), model (ACAI and its plain
autoencoder) and seed 0-2, this loads the budget-curve checkpoint at the default
budget (120,000 samples: ``budget_curves.py``'s epoch 2 of MNIST, 89 of the digits),
fits ``KMeans(10, n_init=10, random_state=0)`` on the training codes, raw and
whitened (``skacai._scaling.Whitening`` of the training codes, what
``whiten=True`` computes), and prints the test accuracy after Hungarian matching.
It decided ``whiten``'s default (``docs/defaults.md``).

    python benchmarks/defaults/whiten_default.py > benchmarks/results/whiten_default.txt
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from budget_curves import load, stage_file
from sklearn.cluster import KMeans

from skacai import ACAITransformer
from skacai._scaling import Whitening
from skacai.metrics import clustering_accuracy


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    print("data model seed raw whitened")
    for data, epoch in (("digits", 89), ("mnist", 2)):
        X_train, _, X_test, y_test = load(data)
        gains = {}
        for model in ("acai", "ae"):
            for seed in (0, 1, 2):
                fitted = ACAITransformer.load(stage_file(data, model, seed, epoch))
                train, test = fitted.transform(X_train), fitted.transform(X_test)
                if fitted._whitening is not None:  # a checkpoint fitted with whiten=True
                    train, test = (fitted._whitening.invert(c) for c in (train, test))
                whitening = Whitening.fit(train)
                scores = []
                for codes in ((train, test), (whitening.apply(train), whitening.apply(test))):
                    kmeans = KMeans(10, n_init=10, random_state=0).fit(codes[0])
                    scores.append(clustering_accuracy(y_test, kmeans.predict(codes[1])))
                gains.setdefault(model, []).append(scores[1] - scores[0])
                print(f"{data} {model} {seed} {scores[0]:.4f} {scores[1]:.4f}", flush=True)
        for model, values in gains.items():
            mean, spread = np.mean(values), np.std(values, ddof=1)
            print(f"{data} {model}: whitened - raw {mean:+.4f} ± {spread:.4f}")


if __name__ == "__main__":
    main()
