"""Sparse input against the same data dense: time and peak memory of ``fit`` and ``transform``.

X is a random CSR matrix (``--rows`` x ``--features`` at ``--density``, about as
sparse as TF-IDF rows); the baseline is the same X as a dense float64 array,
trained with the same parameters (``scaling=None``, which sparse X trains with).
Each measurement runs in a fresh child process, so that its peak resident
memory (``ru_maxrss``) belongs to it alone: the child builds X (sparse, or
sparse then dense), records its peak, runs ``fit`` (or, for ``transform``, fits
on the first 1,000 rows first), and reports the seconds and how far the peak
rose above what it had before (``peak_before_mib``: the interpreter, torch and
building X). The parent prints each record, appends it to
``benchmarks/results/sparse_input.jsonl`` and prints sparse / dense ratios.

    python benchmarks/scale/sparse_input.py
    python benchmarks/scale/sparse_input.py --rows 20000 --features 20000 --density 0.001
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "sparse_input.jsonl"


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args):
    import warnings

    import numpy as np
    import scipy.sparse
    import torch

    from skacai import ACAITransformer

    torch.set_num_threads(args.threads)
    # Random columns row by row (duplicates summed): scipy.sparse.random would first
    # draw from all rows x features positions, a temporary far larger than X.
    per_row = max(1, round(args.density * args.features))
    rng = np.random.default_rng(0)
    X = scipy.sparse.coo_matrix(
        (
            rng.random(args.rows * per_row),
            (
                np.repeat(np.arange(args.rows), per_row),
                rng.integers(0, args.features, args.rows * per_row),
            ),
        ),
        shape=(args.rows, args.features),
    ).tocsr()
    stored_mib = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    if args.mode == "dense":
        X = X.toarray()
    params = {
        "n_components": 16,
        "hidden_layer_sizes": (128,),
        "max_iter": args.epochs,
        "scaling": None,
        "random_state": 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ACAITransformer(**params)
        if args.method == "transform":
            model.fit(X[:1000])
        before = peak_mib()
        start = time.perf_counter()
        if args.method == "fit":
            model.fit(X)
        else:
            model.transform(X)
        seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "method": args.method,
                "mode": args.mode,
                "rows": args.rows,
                "features": args.features,
                "density": args.density,
                "epochs": args.epochs if args.method == "fit" else None,
                "stored_mib": round(stored_mib, 1),
                "dense_mib": round(args.rows * args.features * 8 / 2**20),
                "seconds": round(seconds, 4),
                "peak_before_mib": round(before),
                "peak_rise_mib": round(peak_mib() - before),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=5_000)
    parser.add_argument("--density", type=float, default=0.004)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON-lines results file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("sparse", "dense"), help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=("fit", "transform"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
    from _common import append_record, machine, system_line

    print(system_line())
    records = {}
    for method in ("fit", "transform"):
        for mode in ("dense", "sparse"):
            command = [sys.executable, __file__, "--child", "--mode", mode, "--method", method]
            for name in ("rows", "features", "density", "epochs", "threads"):
                command += [f"--{name}", str(getattr(args, name))]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            record = json.loads(output.strip().splitlines()[-1]) | {"machine": machine(True)}
            append_record(args.output, record)
            records[method, mode] = record
    for method in ("fit", "transform"):
        dense, sparse = records[method, "dense"], records[method, "sparse"]
        print(
            f"{method}: sparse / dense time {sparse['seconds'] / max(dense['seconds'], 1e-9):.2f} "
            f"({sparse['seconds']} s / {dense['seconds']} s); peak memory rise "
            f"{sparse['peak_rise_mib']} MiB sparse, {dense['peak_rise_mib']} MiB dense "
            f"(X: {sparse['stored_mib']} MiB stored, {dense['dense_mib']} MiB dense)"
        )


if __name__ == "__main__":
    main()
