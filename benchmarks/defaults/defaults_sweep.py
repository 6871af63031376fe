"""The MLP recipe sweep for the defaults (issue 24): codes as a user would use them.

For each data set, recipe and model seed: fit ``ACAITransformer`` with the recipe's
parameters (over the current defaults) on the training split, then score its codes
the way a Pipeline user would, with no whitening:

- **KMeans**: ``KMeans(n_classes, random_state=seed)`` (scikit-learn's defaults
  otherwise) fitted on the training codes, test-set accuracy after Hungarian
  matching;
- **probe**: ``LogisticRegression`` on the standardised codes, test accuracy;
- test reconstruction MSE, fit seconds and epochs.

Every recipe has a plain-autoencoder twin (``adversarial_weight=0``, same seeds and
data order) for the paired comparison, and each data set has two baselines on
the same split: the raw features and PCA with as many components as the recipe's
code. One JSON line per run goes to ``--out`` as it finishes; runs already there
are skipped, so an interrupted sweep resumes; ``--worker K/N`` shares the work
between processes; ``--report`` prints the table (mean ± std over seeds, paired
ACAI - AE).

Data sets: ``digits`` (scikit-learn's 8x8 digits, 0-16), ``wine``,
``breast_cancer`` and ``iris`` (raw units, as a user would pass them: the
recipe's ``scaling`` is part of what is swept), ``mnist`` (flattened, ``[0, 1]``,
the official 60,000 / 10,000 split; ``../shared/data/mnist.npz``) and
``mnist_image`` (the same pixels with ``image_shape=(28, 28)``, for the conv
recipe); ``digits_image`` likewise. Small sets use a stratified 75 / 25 split with seed 0.

Examples::

    python benchmarks/defaults/defaults_sweep.py --sets digits wine breast_cancer --seeds 0 1 2
    python benchmarks/defaults/defaults_sweep.py --sets mnist --recipes default l16 \\
        --seeds 0 1 2 --threads 1 --worker 0/2
    python benchmarks/defaults/defaults_sweep.py --report benchmarks/results/defaults_sweep.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skacai import ACAITransformer
from skacai.metrics import clustering_accuracy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    RESULTS,
    append_record,
    load_mnist,
    machine,
    mean_std,
    read_records,
    set_threads,
    timed_fit,
)

DEFAULT_OUT = RESULTS / "defaults_sweep.jsonl"

# name -> parameters over the estimator's current defaults. Each is also run as a
# plain autoencoder (adversarial_weight=0), named "<name>-ae".
RECIPES = {
    "default": {},
    "feature": {"scaling": "feature"},
    "l16": {"n_components": 16},
    "l10": {"n_components": 10},
    "h256": {"hidden_layer_sizes": (256, 128)},
    "lr3e-4": {"learning_rate_init": 3e-4},
    "b256": {"batch_size": 256},
    "l2.5": {"adversarial_weight": 2.5},
    # Round 2: the candidate defaults, written out in full so that they keep
    # their meaning when the estimator's defaults change.
    "f16": {"scaling": "feature", "n_components": 16, "architecture": "mlp"},
    "conv16": {"architecture": "conv", "n_components": 16, "conv_width": 8, "scaling": "global"},
    # The paper's batch for conv networks: twice the steps of 128 for the same samples.
    "conv16b64": {
        "architecture": "conv",
        "n_components": 16,
        "conv_width": 8,
        "scaling": "global",
        "batch_size": 64,
    },
    # Small images: one scale, so that 8x8 pools to a 4x4 latent grid as 32x32 does with 3.
    "conv16s1": {
        "architecture": "conv",
        "n_components": 16,
        "conv_width": 8,
        "n_scales": 1,
        "scaling": "global",
    },
    "conv16s1b64": {
        "architecture": "conv",
        "n_components": 16,
        "conv_width": 8,
        "n_scales": 1,
        "scaling": "global",
        "batch_size": 64,
    },
}
# Epochs per data set: the MNIST budget is about three minutes of one thread.
EPOCHS = {"digits": 100, "wine": 100, "breast_cancer": 100, "iris": 100, "mnist": 10}
N_FEATURES = {"digits": 64, "wine": 13, "breast_cancer": 30, "iris": 4, "mnist": 784}
# Sets whose rows are images: their shape is passed as ``image_shape``.
IMAGE_SHAPES = {"mnist_image": (28, 28), "digits_image": (8, 8)}
EPOCHS.update(mnist_image=2, digits_image=89)
N_FEATURES.update(mnist_image=784, digits_image=64)


def load(name, mnist_path):
    """(X_train, y_train, X_test, y_test) of a data set."""
    name = name.removesuffix("_image")
    if name == "mnist":
        return load_mnist(mnist_path)
    loader = {
        "digits": load_digits,
        "wine": load_wine,
        "breast_cancer": load_breast_cancer,
        "iris": load_iris,
    }
    X, y = loader[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def score(codes_train, y_train, codes_test, y_test, seed):
    n_classes = len(np.unique(y_train))
    kmeans = KMeans(n_classes, random_state=seed).fit(codes_train)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(codes_train, y_train)
    return {
        "kmeans_accuracy": round(clustering_accuracy(y_test, kmeans.predict(codes_test)), 4),
        "probe_accuracy": round(float(probe.score(codes_test, y_test)), 4),
    }


def run_model(data_name, recipe, seed, data, args):
    x_train, y_train, x_test, y_test = data
    name, ae = (recipe[:-3], True) if recipe.endswith("-ae") else (recipe, False)
    params = {**RECIPES[name], "max_iter": args.epochs or EPOCHS[data_name]}
    if data_name in IMAGE_SHAPES:
        params["image_shape"] = IMAGE_SHAPES[data_name]
    if ae:
        params["adversarial_weight"] = 0.0
    model = ACAITransformer(**params, random_state=seed)
    seconds = timed_fit(model, x_train)
    codes_train, codes_test = model.transform(x_train), model.transform(x_test)
    decoded = model.inverse_transform(codes_test)
    return {
        **score(codes_train, y_train, codes_test, y_test, seed),
        "test_mse": round(float(np.mean((decoded - x_test) ** 2)), 6),
        "fit_seconds": round(seconds, 1),
        "n_iter": model.n_iter_,
        "n_components": model.n_components,
        "params": {k: v for k, v in params.items()},
    }


def run_baseline(kind, n_components, seed, data):
    x_train, y_train, x_test, y_test = data
    if kind == "raw":
        return score(x_train, y_train, x_test, y_test, seed)
    pca = PCA(n_components, random_state=0).fit(x_train)
    record = score(pca.transform(x_train), y_train, pca.transform(x_test), y_test, seed)
    decoded = pca.inverse_transform(pca.transform(x_test))
    record["test_mse"] = round(float(np.mean((decoded - x_test) ** 2)), 6)
    return record


def jobs(args):
    for data_name in args.sets:
        for seed in args.seeds:
            for recipe in args.recipes:
                yield data_name, recipe, seed
                yield data_name, f"{recipe}-ae", seed
            yield data_name, "raw", seed
            n_features = N_FEATURES[data_name]
            sizes = {min(RECIPES[r].get("n_components", 32), n_features) for r in args.recipes}
            for k in sorted(sizes):
                yield data_name, f"pca{k}", seed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["digits", "wine", "breast_cancer"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="epochs for every set (default: per set)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--worker", default="0/1", help="K/N: run every N-th job from the K-th")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--report", type=Path, help="print a results file's table and stop")
    args = parser.parse_args(argv)
    if args.report:
        report(args.report)
        return 0
    set_threads(args.threads)
    k, n = map(int, args.worker.split("/"))
    done = {
        (r["set"], r["recipe"], r["seed"], r["epochs"])
        for r in read_records(args.out, missing_ok=True)
    }
    loaded = {}
    for index, (data_name, recipe, seed) in enumerate(jobs(args)):
        epochs = args.epochs or EPOCHS[data_name]
        if index % n != k or (data_name, recipe, seed, epochs) in done:
            continue
        if data_name not in loaded:
            loaded = {data_name: load(data_name, args.data)}
        data = loaded[data_name]
        if recipe == "raw" or recipe.startswith("pca"):
            record = run_baseline(
                "raw" if recipe == "raw" else "pca", int(recipe[3:] or 0), seed, data
            )
        else:
            record = run_model(data_name, recipe, seed, data, args)
        record = {
            "set": data_name,
            "recipe": recipe,
            "seed": seed,
            "epochs": epochs,
            **record,
            "threads": torch.get_num_threads(),
            "machine": machine(),
        }
        append_record(args.out, record)
    return 0


def report(path):
    """Per data set: mean ± std over seeds of every recipe and baseline; ACAI - AE paired."""
    records = read_records(path)
    by = {}
    for r in records:
        by.setdefault((r["set"], r["recipe"], r["epochs"]), {})[r["seed"]] = r
    for data_name in dict.fromkeys(r["set"] for r in records):
        print(f"\n{data_name}\n")
        print(
            "| features | epochs | seeds | KMeans % | probe % | test MSE | fit s | "
            "KMeans: ACAI - AE | probe: ACAI - AE |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for (set_name, recipe, epochs), runs in by.items():
            if set_name != data_name:
                continue
            seeds = sorted(runs)
            cells = []
            for key, factor in (
                ("kmeans_accuracy", 100),
                ("probe_accuracy", 100),
                ("test_mse", 1),
            ):
                values = [runs[s][key] * factor for s in seeds if key in runs[s]]
                cells.append(_mean_std(values, 1 if factor == 100 else 4))
            cells.append(_mean_std([runs[s].get("fit_seconds", 0) for s in seeds], 1))
            twin = by.get((set_name, f"{recipe}-ae", epochs), {})
            for key in ("kmeans_accuracy", "probe_accuracy"):
                common = [s for s in seeds if s in twin]
                diffs = [100 * (runs[s][key] - twin[s][key]) for s in common]
                cells.append(_mean_std(diffs, 1, signed=True) if diffs else "—")
            print(f"| {recipe} | {epochs} | {len(seeds)} | " + " | ".join(cells) + " |")


def _mean_std(values, digits, signed=False):
    if not values:
        return "—"
    mean, spread = mean_std(values)
    sign = "+" if signed else ""
    return f"{mean:{sign}.{digits}f} ± {spread:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
