"""UMAP, the peer a user would pick instead of ACAI: MNIST clustering and probe.

``umap.UMAP(n_components=10, random_state=seed)`` is fitted on the 60,000 MNIST
training images in [0, 1] and transforms the 10,000 test images; its embeddings
are scored as ``benchmarks/defaults_sweep.py`` scores codes (``KMeans(10,
random_state=seed)`` on the training embeddings, test accuracy after Hungarian
matching; a logistic regression on the standardised embeddings), with the fit and
transform wall times, so that UMAP and ACAI can be compared at equal time.
One JSON line per seed is appended to ``--out``.

umap-learn is a benchmark extra, never a dependency of skacai
(``pip install umap-learn``). With ``random_state`` set, UMAP runs on one thread.

    python benchmarks/umap_compare.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults_sweep import DEFAULT_MNIST, score
from quality import append

from skacai import datasets

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "umap_compare.jsonl"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--n-train", type=int, help="first N images of each split (smoke tests)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        import umap
    except ImportError:
        parser.error("this benchmark needs umap-learn: pip install umap-learn")
    x_train, y_train, x_test, y_test = datasets.load_mnist(args.data)
    if args.n_train:
        x_train, y_train, x_test, y_test = (
            a[: args.n_train] for a in (x_train, y_train, x_test, y_test)
        )
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
            "machine": platform.processor() or platform.machine(),
        }
        append(args.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
