"""The demo: raw pixels vs PCA vs a plain autoencoder vs ACAI on scikit-learn's digits.

Runs offline on data that ships with scikit-learn, prints one table and, when
asked, saves a picture of ACAI's and the plain autoencoder's interpolations.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skacai._estimator import ACAITransformer
from skacai.metrics import kmeans_accuracy

DEMO_PARAMS = {"n_components": 10, "hidden_layer_sizes": (256, 128), "batch_size": 64}


@dataclass
class Row:
    method: str
    kmeans: float
    probe: float
    mse: float | None  # None for raw pixels, which are not reconstructed
    seconds: float


def evaluate(name, model, X_train, X_test, y_train, y_test):
    """Fit ``model`` (None: raw pixels) and score its features on the test split."""
    start = time.perf_counter()
    if model is None:
        train, test, mse = X_train, X_test, None
    else:
        train = model.fit(X_train).transform(X_train)
        test = model.transform(X_test)
        mse = float(np.mean((model.inverse_transform(test) - X_test) ** 2))
    seconds = time.perf_counter() - start
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return Row(
        method=name,
        kmeans=kmeans_accuracy(train, test, y_test, whiten_codes=False),
        probe=probe.fit(train, y_train).score(test, y_test),
        mse=mse,
        seconds=seconds,
    )


def run_demo(*, max_iter=60, random_state=0, plot=None, out=print):
    """Train and compare the four representations; return the rows of the table."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    k = DEMO_PARAMS["n_components"]
    common = {**DEMO_PARAMS, "max_iter": max_iter, "random_state": random_state}
    acai = ACAITransformer(**common)
    plain = ACAITransformer(**common, adversarial_weight=0.0)
    candidates = [
        ("raw pixels (64)", None),
        (f"PCA ({k})", PCA(k, random_state=random_state)),
        (f"plain autoencoder ({k})", plain),
        (f"ACAI ({k})", acai),
    ]
    out(
        f"skacai demo: scikit-learn digits, {len(X_train)} train / {len(X_test)} test images "
        f"(8x8), {max_iter} epochs"
    )
    with warnings.catch_warnings():
        # A fixed budget of max_iter epochs is the point of the comparison.
        warnings.simplefilter("ignore", ConvergenceWarning)
        rows = [
            evaluate(name, model, X_train, X_test, y_train, y_test) for name, model in candidates
        ]
    out(f"{'features':<26}{'KMeans acc':>11}{'probe acc':>11}{'recon MSE':>11}{'fit s':>8}")
    for row in rows:
        mse = "-" if row.mse is None else f"{row.mse:.3f}"
        out(f"{row.method:<26}{row.kmeans:>11.3f}{row.probe:>11.3f}{mse:>11}{row.seconds:>8.1f}")
    out(
        "KMeans acc: KMeans(10) fitted on the train features, test accuracy after Hungarian "
        "matching; "
        "probe acc: logistic regression; recon MSE on the test split (pixel values 0-16)."
    )
    if plot is not None:
        save_interpolations(plot, {"ACAI": acai, "plain AE": plain}, X_test, y_test)
        out(f"Interpolations saved to {plot}")
    return rows


def save_interpolations(path, models, X, y, n_pairs=4, n_steps=8):
    """Rows of decoded interpolations between test digits of different classes."""
    from skacai.plotting import _new_figure, plot_interpolations

    starts = np.array([np.flatnonzero(y == digit)[0] for digit in range(n_pairs)])
    ends = np.array([np.flatnonzero(y == digit + 5)[0] for digit in range(n_pairs)])
    rows_inches = n_pairs * 1.05 + 0.4
    fig = _new_figure(figsize=(n_steps, rows_inches * len(models) + 0.4))
    # A strip for the title above one subfigure per model.
    _, *subfigs = fig.subfigures(
        len(models) + 1, 1, height_ratios=[0.4] + [rows_inches] * len(models)
    )
    for subfig, (name, model) in zip(subfigs, models.items(), strict=True):
        plot_interpolations(
            model,
            X[starts],
            X[ends],
            n_steps,
            image_shape=(8, 8),
            row_labels=[name] * n_pairs,
            cmap="gray_r",
            vmin=0,
            vmax=16,
            fig=subfig,
        )
    fig.suptitle("Decoded g((1 - alpha) f(a) + alpha f(b)) between test digits")
    fig.savefig(path, dpi=80)
