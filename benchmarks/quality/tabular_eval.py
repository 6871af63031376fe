"""ACAITransformer with default parameters on scikit-learn's bundled tabular data sets.

For each data set (standardized, 5-fold cross-validation): held-out reconstruction
MSE of ACAI vs PCA at the same n_components, and a logistic-regression probe on
the codes vs on the raw standardized features.

    python benchmarks/quality/tabular_eval.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skacai import ACAITransformer

DATASETS = {"breast_cancer": load_breast_cancer, "wine": load_wine, "iris": load_iris}


def reconstruction_mse(model, X_train, X_test):
    model.fit(X_train)
    return float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))


def probe(features, X_train, y_train, X_test, y_test):
    steps = [] if features is None else [features]
    clf = make_pipeline(*steps, StandardScaler(), LogisticRegression(max_iter=5000))
    return clf.fit(X_train, y_train).score(X_test, y_test)


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        f"{'data set':<14}{'k':>3}{'ACAI mse':>10}{'PCA mse':>9}{'probe ACAI':>11}"
        f"{'probe raw':>10}{'fit s':>7}"
    )
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = min(8, X.shape[1] - 1)
        scores = []
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            start = time.perf_counter()
            acai_mse = reconstruction_mse(ACAITransformer(k, random_state=0), X[train], X[test])
            seconds = time.perf_counter() - start
            pca_mse = reconstruction_mse(PCA(k), X[train], X[test])
            acai_probe = probe(
                ACAITransformer(k, random_state=0), X[train], y[train], X[test], y[test]
            )
            raw_probe = probe(None, X[train], y[train], X[test], y[test])
            scores.append((acai_mse, pca_mse, acai_probe, raw_probe, seconds))
        m = np.mean(scores, axis=0)
        print(f"{name:<14}{k:>3}{m[0]:>10.3f}{m[1]:>9.3f}{m[2]:>11.3f}{m[3]:>10.3f}{m[4]:>7.1f}")


if __name__ == "__main__":
    main()
