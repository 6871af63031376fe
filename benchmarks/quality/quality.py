"""Seed-robust quality of ACAI against the plain autoencoder on MNIST (paired runs).

Each *setting* (a row of ``SETTINGS``) is trained once per model seed on
MNIST's 60,000 training images for ``--epochs`` passes (``fit``, the same
networks, seed and data order for every setting: the seed fixes the initial
weights, the shuffling and the mixing coefficients, and a plain autoencoder
draws the same coefficients without using them). Its codes are then scored:

- **KMeans**, the official ACAI protocol (:func:`skacai.metrics.cluster_scores`:
  whitened codes, ``init="random"``, ``--kmeans-init`` restarts; the paper's
  is 1,000), test and train accuracy, NMI and ARI;
- **probe**: post-hoc logistic regression on the standardised codes (a
  scikit-learn measure, *not* the paper's online softmax probe);
- **test MSE** in ``[0, 1]`` pixel units, whatever the setting's scaling.

One JSON line per (setting, seed) is appended to ``--out`` as it finishes;
runs already in the file are skipped, so an interrupted sweep resumes. Two
sweeps can share the work (``--worker 0/2`` and ``--worker 1/2``, one thread
each). ``--report`` prints the table of means, standard deviations and the
paired differences against each setting's ``baseline`` (same seeds).

Examples::

    python benchmarks/quality/quality.py --settings paper paper-ae --seeds 0 1 2 --threads 1
    python benchmarks/quality/quality.py --report benchmarks/results/quality_ablation.jsonl
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    RESULTS,
    append_record,
    load_mnist,
    mean_std,
    read_records,
    set_threads,
    timed_fit,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skacai._plan
from skacai import ACAITransformer
from skacai.datasets import make_lines
from skacai.metrics import cluster_scores, evaluate_lines

DEFAULT_OUT = RESULTS / "quality_ablation.jsonl"

# The fast conv setting (issue 20's probe): width 8, latent 16 (4x4x1), batch 64, in
# float32 (bfloat16 is emulated, ten times slower, on CPUs without AVX-512 BF16 or AMX).
BASE = {
    "architecture": "conv",
    "image_shape": (28, 28),
    "conv_width": 8,
    "n_components": 16,
    "precision": "float32",
    "batch_size": 64,
    "learning_rate_init": 1e-3,
    "adversarial_weight": 0.5,
    "critic_regularization": 0.2,
    "scaling": "minmax",
}
PAPER_PADDING = {"pad_center": True, "pad_value": -1.0, "loss_on_padding": True}
# std of MNIST's pixels in [0, 1] units pooled over pixels ("global" scaling's divisor).
GLOBAL_STD = 0.259

# name -> (what it is, estimator parameters over BASE, input preparation, padding, baseline).
# An input preparation other than None trains with scaling=None on the prepared pixels;
# a padding other than None replaces the one that the scaling implies.
SETTINGS = {
    "paper": (
        "the paper's input convention: [-1, 1], centred -1 padding, loss on 32x32",
        {},
        None,
        None,
        "paper-ae",
    ),
    "paper-ae": (
        "plain autoencoder (lambda 0), paper's input",
        {"adversarial_weight": 0.0},
        None,
        None,
        None,
    ),
    "paper-l2.5": (
        "lambda 2.5, paper's input",
        {"adversarial_weight": 2.5},
        None,
        None,
        "paper-ae",
    ),
    "paper-lr1e-4": (
        "the paper's learning rate 1e-4",
        {"learning_rate_init": 1e-4},
        None,
        None,
        "paper-ae-lr1e-4",
    ),
    "paper-ae-lr1e-4": (
        "plain autoencoder at lr 1e-4",
        {"learning_rate_init": 1e-4, "adversarial_weight": 0.0},
        None,
        None,
        None,
    ),
    "units": (
        "paper but in 'global' units: [-1, 1] x 0.5 / 0.259 (no centring)",
        {"scaling": None},
        "units",
        {**PAPER_PADDING, "pad_value": -0.5 / GLOBAL_STD},
        "paper",
    ),
    "centred": (
        "paper but the per-pixel mean image subtracted (padding becomes 0)",
        {"scaling": None},
        "centred",
        {**PAPER_PADDING, "pad_value": 0.0},
        "paper",
    ),
    "pad-end": (
        "paper but padded at the bottom and right",
        {},
        None,
        {**PAPER_PADDING, "pad_center": False},
        "paper",
    ),
    "pad-zero": (
        "paper but padded with 0 (mid-grey) instead of -1",
        {},
        None,
        {**PAPER_PADDING, "pad_value": 0.0},
        "paper",
    ),
    "crop-loss": (
        "paper but the loss and the critic on the 28x28 crop",
        {},
        None,
        {**PAPER_PADDING, "loss_on_padding": False},
        "paper",
    ),
    "skacai": (
        "skacai 0.x: scaling='global' (mean image, one std), end zero padding, cropped",
        {"scaling": "global"},
        None,
        None,
        "skacai-ae",
    ),
    "skacai-ae": (
        "plain autoencoder, scaling='global'",
        {"scaling": "global", "adversarial_weight": 0.0},
        None,
        None,
        None,
    ),
    # The lines benchmark (task "lines"): its images are already in [-1, 1].
    "lines": ("ACAI on 32x32 lines, latent 2x2x16", {}, "lines", None, "lines-ae"),
    "lines-global": (
        "ACAI on the lines with scaling='global' (mean image removed, one std)",
        {"scaling": "global"},
        "lines",
        None,
        "lines-global-ae",
    ),
    "lines-global-ae": (
        "plain autoencoder on the lines, scaling='global'",
        {"scaling": "global", "adversarial_weight": 0.0},
        "lines",
        None,
        None,
    ),
    "lines-ae": (
        "plain autoencoder on the lines",
        {"adversarial_weight": 0.0},
        "lines",
        None,
        None,
    ),
}
# The lines: 20,000 training lines (make_lines, seed 0, the same for every model seed),
# the paper's geometry (width 16, n_scales 4: a 2x2 latent grid, 64 = 2x2x16) with the
# recipe of benchmarks/quality/paper_tables.py (lr 3e-4, batch 32). At width 8, lr 1e-3 and batch
# 64, 40,000 samples decoded every line as a blank image (quality_lines_width8.jsonl).
LINES_BASE = {
    **BASE,
    "image_shape": (32, 32),
    "conv_width": 16,
    "n_scales": 4,
    "n_components": 64,
    "learning_rate_init": 3e-4,
    "batch_size": 32,
}
N_LINES = 20_000


class _PaddedACAI(ACAITransformer):
    """An ACAITransformer whose conv padding is set by the benchmark (ablation only).

    Padding is no parameter: the fit plan derives it from ``scaling``
    (``skacai._plan.padding``, a private internal patched on purpose during ``fit``).
    """

    padding_override: dict | None = None

    def fit(self, X, y=None, **kwargs):
        if not self.padding_override:
            return super().fit(X, y, **kwargs)
        override = dict(self.padding_override)
        with mock.patch.object(skacai._plan, "padding", lambda params: override):
            return super().fit(X, y, **kwargs)


def prepare(kind, x, train_mean=None):
    """The pixels a setting trains on (None: [0, 1] as loaded, scaled by the estimator)."""
    if kind is None:
        return x
    paper = 2.0 * x - 1.0
    if kind == "units":
        return paper * (0.5 / GLOBAL_STD)
    if kind == "centred":
        return paper - train_mean
    raise ValueError(kind)


def build(name, seed, args):
    _, params, kind, padding, _ = SETTINGS[name]
    base = LINES_BASE if kind == "lines" else BASE
    model = _PaddedACAI(**{**base, **params}, max_iter=args.epochs, random_state=seed)
    model.padding_override = padding
    return model, kind


def run_lines(name, seed, args):
    """Train on the lines and score interpolations of held-out ones (the paper's Table 1)."""
    model, _ = build(name, seed, args)
    x_train, _ = make_lines(args.n_train or N_LINES, random_state=0)
    fit_seconds = timed_fit(model, x_train)
    distance, smoothness = evaluate_lines(model, n_pairs=256, random_state=1000)
    x_test, _ = make_lines(1000, random_state=1000)
    decoded = model.inverse_transform(model.transform(x_test))
    return {
        "setting": name,
        "seed": seed,
        "epochs": args.epochs,
        "samples": args.epochs * x_train.shape[0],
        "fit_seconds": round(fit_seconds, 1),
        "threads": torch.get_num_threads(),
        "mean_distance_x1e3": round(1e3 * distance, 3),
        "smoothness": round(smoothness, 4),
        "test_mse": round(float(np.mean((decoded - x_test) ** 2)), 5),  # [-1, 1] units
        "final_terms": {k: round(v[-1], 5) for k, v in model.history_.items()},
        "params": {k: v for k, v in model.get_params().items() if k not in ("verbose",)},
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
    }


def run_one(name, seed, data, args):
    if SETTINGS[name][2] == "lines":
        return run_lines(name, seed, args)
    x_train, y_train, x_test, y_test = data
    model, kind = build(name, seed, args)
    train_mean = (2.0 * x_train - 1.0).mean(axis=0) if kind == "centred" else None
    inputs_train = prepare(kind, x_train, train_mean)
    inputs_test = prepare(kind, x_test, train_mean)
    fit_seconds = timed_fit(model, inputs_train)
    codes_train, codes_test = model.transform(inputs_train), model.transform(inputs_test)
    if args.save_codes is not None:  # to re-score later, e.g. with more KMeans restarts
        args.save_codes.mkdir(parents=True, exist_ok=True)
        np.savez(
            args.save_codes / f"{name}_seed{seed}_epochs{args.epochs}.npz",
            train=codes_train,
            test=codes_test,
        )
    start = time.perf_counter()
    kmeans = cluster_scores(codes_train, y_train, codes_test, y_test, n_init=args.kmeans_init)
    kmeans_seconds = time.perf_counter() - start
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(codes_train, y_train)
    decoded = model.inverse_transform(codes_test)
    to_pixels = {None: 1.0, "units": 0.5 / GLOBAL_STD, "centred": 1.0}[kind]
    if kind is not None:  # back to [0, 1] units: undo 2x - 1 (and the unit change)
        decoded = ((decoded + (train_mean if kind == "centred" else 0)) / to_pixels + 1) / 2
    return {
        "setting": name,
        "seed": seed,
        "epochs": args.epochs,
        "samples": args.epochs * x_train.shape[0],
        "fit_seconds": round(fit_seconds, 1),
        "threads": torch.get_num_threads(),
        "kmeans_init": args.kmeans_init,
        "kmeans_seconds": round(kmeans_seconds, 1),
        **{f"kmeans_{k}": round(v, 4) for k, v in kmeans.items()},
        "probe_accuracy": round(float(probe.score(codes_test, y_test)), 4),
        "test_mse": round(float(np.mean((decoded - x_test) ** 2)), 5),
        "final_terms": {k: round(v[-1], 5) for k, v in model.history_.items()},
        "params": {k: v for k, v in model.get_params().items() if k not in ("verbose",)},
        "padding": {k: getattr(model._network_spec, k) for k in PAPER_PADDING},
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
    }


def done_runs(path):
    return {(r["setting"], r["seed"], r["epochs"]) for r in read_records(path, missing_ok=True)}


MNIST_METRICS = [
    ("kmeans_accuracy", 100, "KMeans test %"),
    ("kmeans_train_accuracy", 100, "KMeans train %"),
    ("kmeans_nmi", 100, "NMI x100"),
    ("probe_accuracy", 100, "probe %"),
    ("test_mse", 1000, "MSE x1e-3"),
]
LINES_METRICS = [
    ("smoothness", 1, "Smoothness"),
    ("mean_distance_x1e3", 1, "Mean Distance x1e-3"),
    ("test_mse", 1000, "MSE x1e-3"),
]


def report(path):
    """Markdown tables: mean ± std over seeds, and the paired difference to the baseline
    (the mean ± std over seeds of setting - baseline, for the first metric and the probe)."""
    records = read_records(path)
    by = {}
    for r in records:
        by.setdefault((r["setting"], r["epochs"]), {})[r["seed"]] = r
    for metrics in (MNIST_METRICS, LINES_METRICS):
        rows = {
            key: runs for key, runs in by.items() if metrics[0][0] in next(iter(runs.values()))
        }
        if not rows:
            continue
        paired = [metrics[0]] + [m for m in metrics if m[0] == "probe_accuracy"]
        head = " | ".join(label for _, _, label in metrics)
        diffs = " | ".join(f"{label} - baseline" for _, _, label in paired)
        print(f"| setting | samples | seeds | {head} | {diffs} |")
        print("|---|---|---|" + "---|" * (len(metrics) + len(paired)))
        for (name, epochs), runs in rows.items():
            seeds = sorted(runs)
            cells = []
            for key, factor, _ in metrics:
                mean, spread = mean_std([factor * runs[s][key] for s in seeds])
                cells.append(
                    f"{mean:.{3 if factor == 1 else 1}f} ± {spread:.{3 if factor == 1 else 1}f}"
                )
            baseline = SETTINGS[name][4] if name in SETTINGS else None
            base_runs = by.get((baseline, epochs), {})
            common = sorted(set(runs) & set(base_runs))
            for key, factor, _ in paired:
                if not common:
                    cells.append("—")
                    continue
                mean, spread = mean_std(
                    [factor * (runs[s][key] - base_runs[s][key]) for s in common]
                )
                digits = 3 if factor == 1 else 1
                cells.append(
                    f"{mean:+.{digits}f} ± {spread:.{digits}f} vs {baseline} (n={len(common)})"
                )
            samples = runs[seeds[0]]["samples"]
            print(f"| {name} | {samples:,} | {len(seeds)} | " + " | ".join(cells) + " |")
        print()


def rescore(folder, args):
    """Score codes saved by ``--save-codes`` again (e.g. with all 1,000 KMeans restarts)."""
    _, y_train, _, y_test = load_mnist(args.data, args.n_train)
    for path in sorted(Path(folder).glob("*.npz")):
        name, seed, epochs = path.stem.rsplit("_", 2)
        codes = np.load(path)
        start = time.perf_counter()
        scores = cluster_scores(
            codes["train"], y_train, codes["test"], y_test, n_init=args.kmeans_init
        )
        record = {
            "setting": name,
            "seed": int(seed.removeprefix("seed")),
            "epochs": int(epochs.removeprefix("epochs")),
            "kmeans_init": args.kmeans_init,
            "kmeans_seconds": round(time.perf_counter() - start, 1),
            "kmeans_threads": os.environ.get("OMP_NUM_THREADS", "all"),
            **{f"kmeans_{k}": round(v, 4) for k, v in scores.items()},
        }
        append_record(args.out, record)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["paper"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4, help="passes over the 60,000 images")
    parser.add_argument("--kmeans-init", type=int, default=1000, help="KMeans restarts")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--worker", default="0/1", help="K/N: run every N-th job from the K-th")
    parser.add_argument("--save-codes", type=Path, default=None, help="folder for the codes")
    parser.add_argument("--n-train", type=int, default=None, help="first N images only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=None, help="print a results file's table")
    parser.add_argument(
        "--rescore", type=Path, default=None, help="score the codes saved in this folder again"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.report is not None:
        report(args.report)
        return
    set_threads(args.threads)
    if args.rescore is not None:
        rescore(args.rescore, args)
        return
    worker, n_workers = (int(part) for part in args.worker.split("/"))
    data = load_mnist(args.data, args.n_train)
    # Seeds outermost: every setting gets its first seed before any gets its second.
    jobs = [(name, seed) for seed in args.seeds for name in args.settings]
    for index, (name, seed) in enumerate(jobs):
        if index % n_workers != worker or (name, seed, args.epochs) in done_runs(args.out):
            continue
        append_record(args.out, run_one(name, seed, data, args))


if __name__ == "__main__":
    sys.exit(main())
