"""The paper's Table 3 (MNIST KMeans, latent 32) for ACAI and the plain AE in one GPU window.

Trains ACAI (lambda 0.5) and the plain autoencoder (lambda 0) with the paper's
recipe (its conv networks at width 16, latent 4x4x2 = 32, ``scaling="minmax"``,
Adam at 1e-4, batch 64) on MNIST's 60,000 training images, **at the same
time**: one Python thread per model, each on its own CUDA stream, so that the
two models' CUDA-graph replays overlap on one GPU (one model's small batch-64
kernels leave most of an H100 idle). Both stop at ``--samples`` (the paper's
2^24 by default) or when ``--minutes`` of training have passed, whichever
comes first, and are then scored by the official clustering protocol
(:func:`skacai.metrics.cluster_scores`, 1,000 restarts) and a post-hoc
logistic-regression probe. One JSON line per model goes to ``--out``,
with the samples actually reached, so a window too short for the full budget
still measures the fraction it reached.

Examples::

    # the GPU window (about 15 minutes of device time; keep 3 for start-up and scoring)
    python benchmarks/quality/table3_gpu.py --device cuda --minutes 10
    # the same command checked on a CPU with a tiny budget
    python benchmarks/quality/table3_gpu.py --device cpu --samples 2000 --n-train 1000 \\
        --kmeans-init 2
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    RESULTS,
    append_record,
    ignore_convergence,
    load_mnist,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skacai import ACAITransformer
from skacai.metrics import cluster_scores

DEFAULT_OUT = RESULTS / "table3_gpu.jsonl"
MODELS = {"ACAI": 0.5, "plain AE": 0.0}


def paper_model(adversarial_weight, args):
    return ACAITransformer(
        n_components=args.latent,
        architecture="conv",
        image_shape=(28, 28),
        conv_width=16,
        scaling="minmax",
        adversarial_weight=adversarial_weight,
        learning_rate_init=1e-4,
        batch_size=64,
        precision=args.precision,
        max_iter=args.epochs_per_call,
        warm_start=True,
        device=args.device,
        random_state=args.seed,
    )


def train(model, x_train, args, result):
    """Fit in calls of ``epochs_per_call`` epochs until the budget or the time is spent."""
    stream = torch.cuda.Stream() if model.device.startswith("cuda") else None
    budget_epochs = math.ceil(args.samples / x_train.shape[0])
    start = time.perf_counter()
    with torch.cuda.stream(stream) if stream is not None else nullcontext():
        while True:
            epochs = getattr(model, "n_iter_", 0)
            remaining = budget_epochs - epochs
            if remaining <= 0 or time.perf_counter() - start > 60 * args.minutes:
                break
            model.set_params(max_iter=min(args.epochs_per_call, remaining))
            with ignore_convergence():
                model.fit(x_train)
        if stream is not None:
            stream.synchronize()
    result["train_seconds"] = time.perf_counter() - start


def score(name, model, data, train_result, args):
    x_train, y_train, x_test, y_test = data
    codes_train, codes_test = model.transform(x_train), model.transform(x_test)
    kmeans = cluster_scores(codes_train, y_train, codes_test, y_test, n_init=args.kmeans_init)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(codes_train, y_train)
    samples = model.n_iter_ * x_train.shape[0]
    return {
        "model": name,
        "seed": args.seed,
        "latent": args.latent,
        "samples": samples,
        "paper_fraction": round(samples / 2**24, 4),
        "train_seconds": round(train_result["train_seconds"], 1),
        "samples_per_s": round(samples / train_result["train_seconds"], 1),
        "concurrent_models": len(args.models),
        "precision": args.precision,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "kmeans_init": args.kmeans_init,
        **{f"kmeans_{k}": round(v, 4) for k, v in kmeans.items()},
        "probe_accuracy": round(float(probe.score(codes_test, y_test)), 4),
        "test_mse": round(float(np.mean((model.inverse_transform(codes_test) - x_test) ** 2)), 5),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--samples", type=int, default=2**24)
    parser.add_argument("--minutes", type=float, default=10.0, help="training time limit")
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--epochs-per-call", type=int, default=10)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kmeans-init", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=None, help="first N images only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    x_train, y_train, x_test, y_test = load_mnist(args.data, args.n_train)
    models = {name: paper_model(MODELS[name], args) for name in args.models}
    results = {name: {} for name in models}
    threads = [
        threading.Thread(target=train, args=(models[name], x_train, args, results[name]))
        for name in models
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, model in models.items():
        if "train_seconds" not in results[name]:
            raise RuntimeError(f"training {name} failed; see the traceback above")
        append_record(
            args.out, score(name, model, (x_train, y_train, x_test, y_test), results[name], args)
        )


if __name__ == "__main__":
    sys.exit(main())
