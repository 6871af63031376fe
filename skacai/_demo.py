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

from skacai import _plan
from skacai._estimator import ACAITransformer
from skacai._model_file import save_figure
from skacai.metrics import interpolation_realism, kmeans_accuracy

# The defaults, told that the rows are 8x8 images: conv networks halving them once to
# a 4x4 latent grid, one scale for all pixels, batch 64, the default budget.
DEMO_PARAMS = {"image_shape": (8, 8)}
# Interpolation realism: pairs of test digits (the same pairs for every model), and
# which way each measure is better.
REALISM_PAIRS = 300
REALISM = {"confidence": "higher", "nn_ratio": "lower", "critic_accuracy": "lower"}


@dataclass
class Row:
    """One representation's scores: means over the model seeds, and their spreads."""

    method: str
    kmeans: float
    probe: float
    mse: float | None  # None for raw pixels, which are not reconstructed
    seconds: float
    kmeans_std: float = 0.0
    probe_std: float = 0.0
    mse_std: float = 0.0


@dataclass
class Scores:
    kmeans: float
    probe: float
    mse: float | None
    seconds: float


def evaluate(model, X_train, X_test, y_train, y_test, seed):
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
    return Scores(
        kmeans=kmeans_accuracy(train, test, y_test, whiten_codes=False, random_state=seed),
        probe=probe.fit(train, y_train).score(test, y_test),
        mse=mse,
        seconds=seconds,
    )


def _summary(method, runs):
    kmeans, kmeans_std = _mean_std([r.kmeans for r in runs])
    probe, probe_std = _mean_std([r.probe for r in runs])
    mses = [r.mse for r in runs if r.mse is not None]
    mse, mse_std = _mean_std(mses) if mses else (None, 0.0)
    return Row(
        method=method,
        kmeans=kmeans,
        probe=probe,
        mse=mse,
        seconds=float(np.mean([r.seconds for r in runs])),
        kmeans_std=kmeans_std,
        probe_std=probe_std,
        mse_std=mse_std,
    )


def _cell(mean, std, signed=False):
    return f"{mean:+.3f} ± {std:.3f}" if signed else f"{mean:.3f} ± {std:.3f}"


def conclusion(rows, paired):
    """One line on what the table says, judged against the seeds' spread."""
    raw, pca, _, acai = rows
    difference, spread = paired
    if abs(difference) <= spread:
        versus_ae = (
            f"level with the plain autoencoder's (ACAI - AE {difference:+.3f} ± {spread:.3f}, "
            "within the seeds' spread)"
        )
    else:
        better = "better" if difference > 0 else "worse"
        versus_ae = (
            f"{better} than the plain autoencoder's by {abs(difference):.3f} ± {spread:.3f} "
            "(paired over the seeds)"
        )
    best = max((raw, pca), key=lambda row: row.kmeans)
    versus_best = (
        "above"
        if acai.kmeans > best.kmeans + acai.kmeans_std
        else ("below" if acai.kmeans < best.kmeans - acai.kmeans_std else "level with")
    )
    name = best.method.split(" (")[0]
    possessive = f"the {name}'" if name.endswith("s") else f"{name}'s"
    return (
        f"Conclusion: ACAI's codes cluster {versus_ae}, and {versus_best} "
        f"{possessive} {best.kmeans:.3f}."
    )


def print_table(rows, paired, out=print):
    """The demo's table, its legend and its conclusion, one ``out`` call a line."""
    out(f"{'features':<24}{'KMeans acc':>16}{'probe acc':>16}{'recon MSE':>16}{'fit s':>7}")
    for row in rows:
        mse = "-" if row.mse is None else _cell(row.mse, row.mse_std)
        out(
            f"{row.method:<24}{_cell(row.kmeans, row.kmeans_std):>16}"
            f"{_cell(row.probe, row.probe_std):>16}{mse:>16}{row.seconds:>7.1f}"
        )
    out(f"{'ACAI - plain AE':<24}{_cell(*paired, signed=True):>16}")
    out(
        "Mean ± standard deviation over the model seeds (KMeans seeded alike). KMeans acc: "
        "KMeans(10) fitted on the train features, test accuracy after Hungarian matching; "
        "probe acc: logistic regression; recon MSE on the test split (pixel values 0-16); "
        "ACAI - plain AE: KMeans acc, paired by seed."
    )
    out(conclusion(rows, paired))


def print_realism(realism, out=print):
    """The interpolation-realism table: references, the two models, their paired
    difference, the legend and a conclusion judged against the seeds' spread."""
    out(f"{'interpolation realism':<24}{'confidence':>16}{'NN ratio':>16}{'critic acc':>16}")
    first = realism["ACAI"][0]
    for label, key in (
        ("pixel cross-fade", "confidence_cross_fade"),
        ("real test digits", "confidence_real"),
    ):
        out(f"{label:<24}{_cell(first[key], 0.0):>16}{'-':>16}{'-':>16}")
    for name, label in (("plain AE", "plain autoencoder"), ("ACAI", "ACAI")):
        values = [[run[m] for run in realism[name]] for m in REALISM]
        out(f"{label:<24}" + "".join(f"{_cell(*_mean_std(v)):>16}" for v in values))
    pairs = list(zip(realism["ACAI"], realism["plain AE"], strict=True))
    cells = {m: _mean_std([a[m] - b[m] for a, b in pairs]) for m in REALISM}
    out(
        f"{'ACAI - plain AE':<24}"
        + "".join(f"{_cell(*c, signed=True):>16}" for c in cells.values())
    )
    out(
        f"Midpoints decoded at alpha 0.5 between {REALISM_PAIRS} pairs of test digits of "
        "different classes (skacai.metrics.interpolation_realism). confidence: a logistic "
        "regression fitted on the train digits (higher is more digit-like); NN ratio: distance "
        "to the nearest train digit relative to the reconstructions' (lower is closer); critic "
        "acc: a fresh classifier telling midpoints from reconstructions (0.5: it cannot)."
    )
    ahead = [m for m, (d, sd) in cells.items() if (d > sd if REALISM[m] == "higher" else -d > sd)]
    names = {"confidence": "confidence", "nn_ratio": "NN ratio", "critic_accuracy": "critic"}
    which = f" ({', '.join(names[m] for m in ahead)})" if ahead else ""
    out(
        f"Conclusion: ACAI's interpolations beat the plain autoencoder's by more than the "
        f"seeds' spread on {len(ahead)} of {len(REALISM)} measures{which}."
    )


def _mean_std(values):
    """Mean and sample standard deviation (0 for a single value) of ``values``."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def run_demo(*, max_iter="auto", random_state=0, n_seeds=3, plot=None, out=print):
    """Train and compare the four representations over ``n_seeds`` model seeds
    (``random_state``, ``random_state + 1``, ...; one data split, from
    ``random_state``); return the rows of the table (means and spreads)."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    defaults = ACAITransformer(**DEMO_PARAMS, max_iter=max_iter)
    k = defaults.n_components
    seeds = list(range(random_state, random_state + n_seeds))
    names = ["raw pixels (64)", f"PCA ({k})", f"plain autoencoder ({k})", f"ACAI ({k})"]
    runs = {name: [] for name in names}
    first = {}
    realism = {"plain AE": [], "ACAI": []}
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    classifier.fit(X_train, y_train)
    params = defaults.get_params()
    epochs = _plan.max_epochs(params["max_iter"], _plan.architecture(params), len(X_train))
    budget = f"default parameters with image_shape={DEMO_PARAMS['image_shape']}" + (
        f" ({epochs} epochs)" if max_iter == "auto" else f", {epochs} epochs"
    )
    out(
        f"skacai demo: scikit-learn digits, {len(X_train)} train / {len(X_test)} test images, "
        f"{budget}, model seeds {', '.join(map(str, seeds))}"
    )
    with warnings.catch_warnings():
        # A fixed budget is the point of the comparison.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in seeds:
            common = {**DEMO_PARAMS, "max_iter": max_iter, "random_state": seed}
            models = [
                None,
                PCA(k, random_state=seed),
                ACAITransformer(**common, adversarial_weight=0.0),
                ACAITransformer(**common),
            ]
            for name, model in zip(names, models, strict=True):
                runs[name].append(evaluate(model, X_train, X_test, y_train, y_test, seed))
                first.setdefault(name, model)
            for name, model in zip(("plain AE", "ACAI"), models[2:], strict=True):
                realism[name].append(
                    interpolation_realism(
                        model, X_test, y_test, X_reference=X_train, classifier=classifier,
                        n_pairs=REALISM_PAIRS, random_state=0,
                    )
                )  # fmt: skip
    rows = [_summary(name, runs[name]) for name in names]
    differences = [
        acai.kmeans - plain.kmeans
        for acai, plain in zip(runs[names[3]], runs[names[2]], strict=True)
    ]
    paired = _mean_std(differences)
    print_table(rows, paired, out)
    print_realism(realism, out)
    if plot is not None:
        models = {"ACAI": first[names[3]], "plain AE": first[names[2]]}
        save_interpolations(plot, models, X_test, y_test)
        out(f"Interpolations saved to {plot}")
    return rows


def save_interpolations(path, models, X, y, n_pairs=4, n_steps=8):
    """Rows of decoded interpolations between test digits of different classes."""
    from skacai._optional import new_figure
    from skacai.plotting import plot_interpolations

    starts = np.array([np.flatnonzero(y == digit)[0] for digit in range(n_pairs)])
    ends = np.array([np.flatnonzero(y == digit + 5)[0] for digit in range(n_pairs)])
    rows_inches = n_pairs * 1.05 + 0.4
    fig = new_figure(figsize=(n_steps, rows_inches * len(models) + 0.4))
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
    save_figure(fig, path, dpi=80)
