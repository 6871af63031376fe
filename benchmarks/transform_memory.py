"""Peak memory and throughput of ``transform`` on large inputs.

Each measurement runs in a fresh child process, so the peak resident memory it
reports (``ru_maxrss``) belongs to that measurement alone: the process builds
the input, records its peak, runs ``transform`` (or, as the baseline, the encoder
on the whole input at once), and reports how far the peak rose above the input.

    python benchmarks/transform_memory.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(rows, mode, dtype):
    import warnings

    import numpy as np
    import torch

    from skacai import ACAITransformer

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ACAITransformer(max_iter=1, random_state=0).fit(
            rng.random((512, 784), dtype=np.float32)
        )
    X = np.empty((rows, 784), dtype=dtype)
    # Fill in small chunks, so that no large temporary raises the peak before the
    # measurement starts (it would hide what transform itself needs).
    for start in range(0, rows, 2_000):
        X[start : start + 2_000] = rng.random((min(2_000, rows - start), 784))
    before = peak_mib()
    start = time.perf_counter()
    if mode == "skacai":
        codes = model.transform(X)
    else:  # the naive way: one forward pass over the whole input
        with torch.inference_mode():
            scaled = ((X - model.mean_) / model.scale_).astype(np.float32)
            codes = model.encoder_(torch.from_numpy(scaled)).numpy()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "mode": mode,
                "dtype": np.dtype(dtype).name,
                "rows": rows,
                "input_mib": round(X.nbytes / 2**20),
                "output_mib": round(codes.nbytes / 2**20),
                "peak_above_input_mib": round(peak_mib() - before),
                "samples_per_s": round(rows / seconds),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.rows, *args.child)
        return
    for mode, dtype in [("skacai", "float32"), ("skacai", "float64"), ("one-shot", "float32")]:
        subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--child", mode, dtype],
            check=True,
        )


if __name__ == "__main__":
    main()
