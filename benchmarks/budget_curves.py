"""Budget curves: ACAI against its plain autoencoder as training goes on (issue 33).

For each data set (MNIST as 28 x 28 images; scikit-learn's digits as 8 x 8
images, 1,347 training rows), model seed and model (``acai``: the defaults;
``ae``: the same with ``adversarial_weight=0``, so the same seed gives the same
initial weights, shuffling and mixing coefficients), this trains
``ACAITransformer(image_shape=..., random_state=seed)`` with its default
parameters one epoch at a time (``partial_fit`` on the whole training set) and
saves the model (``save``: weights, Adam states and the generator) at each
budget point of ``STAGES``, as ``CHECKPOINTS/{data}-{model}-seed{seed}-epoch{e}.skacai``.

``train`` works through every (budget point, data set, seed, model) in order of
the samples seen, so that a stopped run has whole, paired points up to some
budget; it continues each model from its latest checkpoint (the rolling
``...-latest.skacai`` written after every epoch, or the last budget point), so a
run cut off by the end of a session resumes where it stopped. Each epoch's
seconds and losses go to ``budget_curves_train.jsonl``.

``evaluate`` scores every budget-point checkpoint not yet scored (see
:func:`score_checkpoint`) into ``budget_curves.jsonl``; ``report`` prints the
paired table and ``plot`` draws the figure.

    python benchmarks/budget_curves.py train --threads 1
    python benchmarks/budget_curves.py train --data digits --seeds 0 --threads 1
    python benchmarks/budget_curves.py evaluate --threads 1
    python benchmarks/budget_curves.py report
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_MNIST, RESULTS, append_record, ignore_convergence, set_threads

CHECKPOINTS = RESULTS / "budget_curves"
TRAIN_LOG = RESULTS / "budget_curves_train.jsonl"
SCORES = RESULTS / "budget_curves.jsonl"
# Budget points in epochs of each data set's training rows (samples seen in brackets).
STAGES = {
    "mnist": (1, 2, 4, 8, 17),  # 60k, 120k (the default budget), 240k, 480k, 1.02M
    "digits": (15, 45, 89, 178, 356, 743),  # 20k, 61k, 120k (default), 240k, 480k, 1.0M
}
IMAGE_SHAPES = {"mnist": (28, 28), "digits": (8, 8)}
MODELS = {"acai": {}, "ae": {"adversarial_weight": 0.0}}


def load(name, mnist_path=DEFAULT_MNIST):
    """``(X_train, y_train, X_test, y_test)``: MNIST's split in [0, 1], or the digits'
    stratified 75 / 25 split (``random_state=0``) in their 0-16 grey levels."""
    if name == "mnist":
        from skacai.datasets import load_mnist

        return load_mnist(mnist_path)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def checkpoint(data, model, seed, epoch):
    return CHECKPOINTS / f"{data}-{model}-seed{seed}-{epoch}.skacai"


def stage_file(data, model, seed, epoch):
    return checkpoint(data, model, seed, f"epoch{epoch}")


def latest(data, model, seed):
    """The latest saved model of a run and its epoch count, or ``(None, 0)``."""
    from skacai import ACAITransformer

    candidates = [checkpoint(data, model, seed, "latest")]
    candidates += [stage_file(data, model, seed, e) for e in reversed(STAGES[data])]
    best = (None, 0)
    for path in candidates:
        if path.exists():
            loaded = ACAITransformer.load(path)
            if loaded.n_iter_ > best[1]:
                best = (loaded, loaded.n_iter_)
    return best


def new_model(data, model, seed):
    from skacai import ACAITransformer

    return ACAITransformer(image_shape=IMAGE_SHAPES[data], random_state=seed, **MODELS[model])


def train_to(data, model, seed, epochs, X, log=TRAIN_LOG):
    """Train one run up to ``epochs`` epochs, saving after each; its model."""
    estimator, done = latest(data, model, seed)
    if estimator is None:
        estimator = new_model(data, model, seed)
    while done < epochs:
        start = time.perf_counter()
        with ignore_convergence():
            estimator.partial_fit(X)
        seconds = time.perf_counter() - start
        done = estimator.n_iter_
        estimator.save(checkpoint(data, model, seed, "latest"))
        terms = {key: round(values[-1], 6) for key, values in estimator.history_.items()}
        append_record(
            log,
            {"data": data, "model": model, "seed": seed, "epoch": done,
             "seconds": round(seconds, 2), "samples_per_s": round(X.shape[0] / seconds, 1),
             "load_average": os.getloadavg()[0], **terms},
        )  # fmt: skip
        if done in STAGES[data]:
            estimator.save(stage_file(data, model, seed, done))
    return estimator


def jobs(datasets, seeds, max_samples):
    """(samples, data, epochs, seed, model) in order of samples seen, then data, seed, model."""
    sizes = {"mnist": 60_000, "digits": 1_347}
    todo = [
        (epochs * sizes[data], data, epochs, seed, model)
        for data in datasets
        for epochs in STAGES[data]
        for seed in seeds
        for model in MODELS
        if epochs * sizes[data] <= max_samples
    ]
    return sorted(todo)


def train(args):
    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    data_cache = {}
    for _, data, epochs, seed, model in jobs(args.data, args.seeds, args.max_samples):
        if stage_file(data, model, seed, epochs).exists():
            continue
        if data not in data_cache:
            data_cache[data] = load(data, args.mnist)[0]
        print(f"training {data} {model} seed {seed} to epoch {epochs}", flush=True)
        train_to(data, model, seed, epochs, data_cache[data])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["train", "evaluate", "report", "plot"])
    parser.add_argument("--data", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-samples", type=int, default=10**7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.command == "train":
        train(args)
    else:
        raise SystemExit(f"{args.command}: not written yet")


if __name__ == "__main__":
    main()
