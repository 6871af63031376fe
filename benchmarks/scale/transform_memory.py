"""Peak memory and throughput of ``transform``, ``inverse_transform``, ``score_samples``.

Each measurement runs in a fresh child process, so the peak resident memory it
reports (``ru_maxrss``) belongs to that measurement alone: the process builds
the input, records its peak, runs ``transform`` or ``inverse_transform`` (or, as
the baseline, the encoder or decoder on the whole input at once), and reports
how far the peak rose above the input, and above input plus output.

    python benchmarks/scale/transform_memory.py --rows 1000000
    python benchmarks/scale/transform_memory.py --rows 1000000 --method inverse_transform
    python benchmarks/scale/transform_memory.py --rows 1000000 --method score_samples
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


def child(rows, mode, dtype, method):
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
    width = model.n_components if method == "inverse_transform" else 784
    X = np.empty((rows, width), dtype=dtype)
    # Fill in small chunks, so that no large temporary raises the peak before the
    # measurement starts (it would hide what the method itself needs).
    for start in range(0, rows, 2_000):
        X[start : start + 2_000] = rng.random((min(2_000, rows - start), width))
    before = peak_mib()
    start = time.perf_counter()
    if mode == "skacai":
        codes = getattr(model, method)(X)
    elif method == "transform":  # the naive way: one forward pass over the whole input
        with torch.inference_mode():
            scaled = ((X - model.mean_) / model.scale_).astype(np.float32)
            codes = model.encoder_(torch.from_numpy(scaled)).numpy()
    else:
        with torch.inference_mode():
            decoded = model.decoder_(torch.from_numpy(X.astype(np.float32))).numpy()
            codes = decoded * model.scale_.astype(np.float32) + model.mean_.astype(np.float32)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    print(
        json.dumps(
            {
                "method": method,
                "mode": mode,
                "dtype": np.dtype(dtype).name,
                "rows": rows,
                "input_mib": round(X.nbytes / 2**20),
                "output_mib": round(codes.nbytes / 2**20),
                "peak_above_input_mib": round(peak - before),
                "peak_above_input_and_output_mib": round(peak - before - codes.nbytes / 2**20),
                "samples_per_s": round(rows / seconds),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--method",
        choices=["transform", "inverse_transform", "score_samples"],
        default="transform",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.rows, *args.child, args.method)
        return
    runs = [("skacai", "float32"), ("skacai", "float64")]
    if args.method != "score_samples":  # the one-shot baselines encode or decode
        runs.append(("one-shot", "float32"))
    for mode, dtype in runs:
        command = [sys.executable, __file__, "--rows", str(args.rows)]
        command += ["--method", args.method, "--child", mode, dtype]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
