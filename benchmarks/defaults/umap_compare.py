"""UMAP, the peer a user would pick instead of ACAI: MNIST clustering and probe.

``umap.UMAP(n_components=10, random_state=seed)`` is fitted on the 60,000 MNIST
training images in [0, 1] and transforms the 10,000 test images; its embeddings
are scored as ``benchmarks/defaults/defaults_sweep.py`` scores codes (``KMeans(10,
random_state=seed)`` on the training embeddings, test accuracy after Hungarian
matching; a logistic regression on the standardised embeddings), with the fit and
transform wall times, so that UMAP and ACAI can be compared at equal time.
One JSON line per seed is appended to ``--out``.

``--equal-time`` also trains ACAI with its defaults for as long as UMAP's fit
took on the same seed (torch on one thread, like UMAP): the MLP as
``ACAITransformer(random_state=seed)`` on the flattened images, and the conv
networks as ``ACAITransformer(image_shape=(28, 28), random_state=seed)``, each
fed random chunks of ``--chunk`` training images through ``partial_fit`` until
the time is spent (the first chunk fixes the input scaling), then scored alike.

umap-learn is a benchmark extra, never a dependency of skacai
(``pip install umap-learn``). With ``random_state`` set, UMAP runs on one thread.

    python benchmarks/defaults/umap_compare.py --seeds 0 1 2
    python benchmarks/defaults/umap_compare.py --seeds 0 1 2 --equal-time
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, RESULTS, append_record, load_mnist, machine
from defaults_sweep import score

from skacai import ACAITransformer

DEFAULT_OUT = RESULTS / "umap_compare.jsonl"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--n-train", type=int, help="first N images of each split (smoke tests)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--equal-time", action="store_true", help="also train ACAI for UMAP's fit time"
    )
    parser.add_argument("--chunk", type=int, default=6000, help="rows per partial_fit call")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        import umap
    except ImportError:
        parser.error("this benchmark needs umap-learn: pip install umap-learn")
    x_train, y_train, x_test, y_test = load_mnist(args.data, args.n_train or None)
    # numba compiles UMAP's functions on first use (about 40 s here): not fit time.
    # 5,000 rows: below 4,096 UMAP takes exact neighbours and compiles less.
    umap.UMAP(n_components=10, random_state=0).fit(x_train[:5000])
    for seed in args.seeds:
        reducer = umap.UMAP(n_components=10, random_state=seed)
        start = time.perf_counter()
        train = reducer.fit_transform(x_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        test = reducer.transform(x_test)
        transform_seconds = time.perf_counter() - start
        record = {
            "method": "umap",
            "seed": seed,
            "n_train": len(x_train),
            **score(np.asarray(train), y_train, np.asarray(test), y_test, seed),
            "fit_seconds": round(fit_seconds, 1),
            "transform_seconds": round(transform_seconds, 1),
            "umap": umap.__version__,
            "machine": machine(),
        }
        append_record(args.out, record)
        if args.equal_time:
            for method, params in (("acai-mlp", {}), ("acai-conv", {"image_shape": (28, 28)})):
                model = ACAITransformer(**params, random_state=seed)
                record = equal_time(model, fit_seconds, args.chunk, seed, x_train, x_test)
                codes_train, codes_test = record.pop("codes")
                append_record(
                    args.out,
                    {
                        "method": method,
                        "seed": seed,
                        "n_train": len(x_train),
                        **score(codes_train, y_train, codes_test, y_test, seed),
                        **record,
                        "machine": machine(),
                    },
                )
    return 0


def equal_time(model, seconds, chunk, seed, x_train, x_test):
    """Train ``model`` with ``partial_fit`` on random chunks until ``seconds`` have passed."""
    rng = np.random.default_rng(seed)
    samples = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rows = rng.choice(len(x_train), size=min(chunk, len(x_train)), replace=False)
        model.partial_fit(x_train[rows])
        samples += len(rows)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    codes_test = model.transform(x_test)
    transform_seconds = time.perf_counter() - start
    return {
        "codes": (model.transform(x_train), codes_test),
        "fit_seconds": round(fit_seconds, 1),
        "transform_seconds": round(transform_seconds, 1),
        "samples": samples,
        "budget_seconds": round(seconds, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
