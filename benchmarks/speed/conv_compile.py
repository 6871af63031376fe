"""``torch.compile`` of the conv training step on the CPU, against the eager step.

Builds the paper's conv encoder, decoder and critic for 28 x 28 images (the
weights channels-last, as ``ACAITransformer`` keeps them) and times
``skacai._training.train_step`` on MNIST batches, once as it is and once with
its loss computation (``acai_losses``: the three networks' forward passes and
both losses, whose backward passes AOTAutograd compiles too) replaced by
``torch.compile(acai_losses)``; the gradients and the fused Adam updates are
the same in both. Eager and compiled runs alternate in one process; the
compilation (the first steps) is timed apart and printed.

    python benchmarks/speed/conv_compile.py --threads 2
    python benchmarks/speed/conv_compile.py --width 16 --latent 32 --precisions float32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, append_record, load_mnist_images, machine, set_threads
from conv_layout import PRECISIONS, networks_in, time_training

import skacai._training


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--precisions", nargs="+", choices=list(PRECISIONS), default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0, help="per timed run")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per variant")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path, help="append the results as one JSON line")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    X = load_mnist_images(args.data)
    precisions = args.precisions or list(PRECISIONS)
    rows = []
    for precision in precisions:
        dtype = PRECISIONS[precision]
        compiled = torch.compile(skacai._training.acai_losses, dynamic=False)
        networks = networks_in("channels_last", args.width, latent=args.latent)
        with mock.patch.object(skacai._training, "acai_losses", compiled):
            start = time.perf_counter()
            time_training(networks, X, args.batch_size, dtype, seconds=0.0)  # compiles
            compile_seconds = time.perf_counter() - start
        best = {"eager": 0.0, "compiled": 0.0}
        for _ in range(args.repeats):
            best["eager"] = max(
                best["eager"], time_training(networks, X, args.batch_size, dtype, args.seconds)
            )
            with mock.patch.object(skacai._training, "acai_losses", compiled):
                rate = time_training(networks, X, args.batch_size, dtype, args.seconds)
            best["compiled"] = max(best["compiled"], rate)
        row = {
            "precision": precision,
            "eager_samples_per_s": round(best["eager"], 1),
            "compiled_samples_per_s": round(best["compiled"], 1),
            "compiled_over_eager": round(best["compiled"] / best["eager"], 3),
            "compile_seconds": round(compile_seconds, 1),
        }
        rows.append(row)
        print(
            f"width {args.width}, latent {args.latent}, {precision}, batch {args.batch_size}: "
            f"eager {row['eager_samples_per_s']:,.0f} samples/s, compiled "
            f"{row['compiled_samples_per_s']:,.0f} ({row['compiled_over_eager']:.2f} x); "
            f"compiling took {compile_seconds:.0f} s",
            flush=True,
        )
    if args.json:
        record = {
            "benchmark": "conv_compile",
            "width": args.width,
            "latent": args.latent,
            "batch_size": args.batch_size,
            "rows": rows,
            "torch_threads": torch.get_num_threads(),
            "load_average": round(os.getloadavg()[0], 2),
            "machine": machine(with_torch=True),
        }
        append_record(args.json, record, echo=False)


if __name__ == "__main__":
    main()
