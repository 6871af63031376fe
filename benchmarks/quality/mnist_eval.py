"""Train one ACAITransformer configuration on MNIST and measure what its codes are worth.

Prints one JSON line per checkpoint: KMeans accuracy on whitened test codes (the
paper's protocol) and on the raw codes, a logistic-regression probe on the codes,
test reconstruction MSE, and the training wall time so far. ``--baseline raw`` /
``--baseline pca`` score raw pixels / PCA instead.

Example::

    python benchmarks/quality/mnist_eval.py --epochs 10 --adversarial-weight 0.5
    python benchmarks/quality/mnist_eval.py --checkpoints 10,25,50,100 --adversarial-weight 0
    python benchmarks/quality/mnist_eval.py --baseline pca --n-components 32
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, load_mnist, machine, set_threads, timed_fit
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skacai import ACAITransformer
from skacai.metrics import kmeans_accuracy


def probe_accuracy(codes_train, y_train, codes_test, y_test):
    mean, std = codes_train.mean(0), codes_train.std(0) + 1e-8
    probe = LogisticRegression(max_iter=500)
    probe.fit((codes_train - mean) / std, y_train)
    return float(probe.score((codes_test - mean) / std, y_test))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--baseline", choices=["raw", "pca"])
    parser.add_argument("--n-components", type=int, default=32)
    parser.add_argument("--hidden", type=str, default="512,256")
    parser.add_argument("--adversarial-weight", type=float, default=0.5)
    parser.add_argument("--critic-regularization", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--checkpoints",
        type=str,
        default="",
        help="comma-separated epoch counts at which to evaluate (warm-started fits), "
        "e.g. 10,25,50,100; overrides --epochs",
    )
    parser.add_argument("--scaling", default="global")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    x_train, y_train, x_test, y_test = load_mnist(args.data)
    x_train, y_train = x_train[: args.n_train], y_train[: args.n_train]  # all test images
    data = x_train, y_train, x_test, y_test

    base = {"label": args.label, "n_train": len(x_train)}
    base["machine"] = machine(with_torch=True)
    base["torch_threads"] = torch.get_num_threads()
    if args.baseline:
        start = time.perf_counter()
        if args.baseline == "raw":
            codes_train, codes_test, model = x_train, x_test, None
            base["model"] = "raw pixels"
        else:
            model = PCA(args.n_components, random_state=args.seed)
            codes_train = model.fit_transform(x_train)
            codes_test = model.transform(x_test)
            base["model"] = f"PCA({args.n_components})"
        seconds = time.perf_counter() - start
        result = score(base, model, codes_train, codes_test, data, seconds, args.seed)
        print(json.dumps(result), flush=True)
        return
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    checkpoints = [int(c) for c in args.checkpoints.split(",") if c] or [args.epochs]
    model = ACAITransformer(
        args.n_components,
        hidden_layer_sizes=hidden,
        adversarial_weight=args.adversarial_weight,
        critic_regularization=args.critic_regularization,
        learning_rate_init=args.lr,
        batch_size=args.batch_size,
        scaling=None if args.scaling == "none" else args.scaling,
        random_state=args.seed,
        warm_start=True,
    )
    base["model"] = "ACAI" if args.adversarial_weight else "plain AE"
    base["params"] = {k: v for k, v in model.get_params().items() if k != "verbose"}
    seconds, done = 0.0, 0
    for epochs in checkpoints:
        seconds += timed_fit(model.set_params(max_iter=epochs - done), x_train)
        done = model.n_iter_
        codes_train, codes_test = model.transform(x_train), model.transform(x_test)
        result = score(
            {**base, "epochs": done}, model, codes_train, codes_test, data, seconds, args.seed
        )
        print(json.dumps(result), flush=True)


def score(result, model, codes_train, codes_test, data, seconds, seed):
    """Add test MSE, KMeans (whitened and not) and probe accuracy to ``result``."""
    _, y_train, x_test, y_test = data
    result = dict(result, fit_seconds=round(seconds, 1))
    if model is not None:
        reconstruction = model.inverse_transform(codes_test)
        result["test_mse"] = float(np.mean((reconstruction - x_test) ** 2))
        result["kmeans_accuracy"] = kmeans_accuracy(
            codes_train, codes_test, y_test, random_state=seed
        )
        result["probe_accuracy"] = probe_accuracy(codes_train, y_train, codes_test, y_test)
    result["kmeans_accuracy_unwhitened"] = kmeans_accuracy(
        codes_train, codes_test, y_test, whiten_codes=False, random_state=seed
    )
    return result


if __name__ == "__main__":
    main()
