"""How long ``fit`` takes with the default budget (``max_iter="auto"``) on MNIST.

Fits ``ACAITransformer(random_state=0)`` on the 60,000 flattened training images
(MLP networks, 10 epochs) and ``ACAITransformer(image_shape=(28, 28),
random_state=0)`` (conv networks, 2 epochs), one after the other in this
process, and appends one JSON line per fit to ``--out``: wall seconds, epochs,
torch threads, and the KMeans / probe scores of the codes (scored as
``benchmarks/defaults/defaults_sweep.py`` does, and KMeans on the whitened codes too).
Run it with nothing else on the machine: the target is a default fit of at most
about 3 minutes on the project's 2-core CPU (``docs/defaults.md``).

    python benchmarks/defaults/default_fit_time.py                # model seed 0
    python benchmarks/defaults/default_fit_time.py --seeds 1 2    # more seeds
    python benchmarks/defaults/default_fit_time.py --n-train 500 --max-iter 2   # a quick check
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    RESULTS,
    append_record,
    load_mnist,
    machine,
    set_threads,
    timed_fit,
)
from defaults_sweep import score

from skacai import ACAITransformer
from skacai.metrics import whiten

DEFAULT_OUT = RESULTS / "default_fit_time.jsonl"
MODELS = {"mlp": {}, "conv": {"image_shape": (28, 28)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--n-train", type=int, help="first N images of each split")
    parser.add_argument("--max-iter", type=int, help="instead of the default budget (smoke tests)")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    x_train, y_train, x_test, y_test = load_mnist(args.data, args.n_train or None)
    for seed, name in ((seed, name) for seed in args.seeds for name in args.which):
        model = ACAITransformer(**MODELS[name], random_state=seed)
        if args.max_iter:
            model.set_params(max_iter=args.max_iter)
        seconds = timed_fit(model, x_train)
        codes_train, codes_test = model.transform(x_train), model.transform(x_test)
        white_train, white_test = whiten(codes_train, codes_test)
        record = {
            "model": name,
            "params": {k: v for k, v in MODELS[name].items()},
            "seed": seed,
            "n_train": len(x_train),
            "fit_seconds": round(seconds, 1),
            "n_iter": model.n_iter_,
            **score(codes_train, y_train, codes_test, y_test, seed),
            # The same KMeans on whitened codes (the paper's protocol whitens), to
            # see what a whitening step in the Pipeline would add.
            "kmeans_whitened_accuracy": score(white_train, y_train, white_test, y_test, seed)[
                "kmeans_accuracy"
            ],
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": machine(),
        }
        append_record(args.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
