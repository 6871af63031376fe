"""How close to the machine the default conv networks train and transform (issue 32).

In one process, for each thread count, conv width and batch size, this

- counts the FLOPs per sample of a ``partial_fit`` and a ``transform``
  (``torch.utils.flop_counter``: convolutions, matrix products and their
  backward passes; element-wise work is not counted);
- times ``ACAITransformer(image_shape=(28, 28), ...).partial_fit`` on MNIST's
  first ``--rows`` images (one epoch a call, after a warm-up call) and
  ``transform`` of them, alternating two variants: ``current`` (this checkout)
  and ``before`` (the step as it was before issue 32: one-channel images handed
  to the convolutions without channels-last strides, the critic run once on
  ``x_mix`` and ``x_reg`` stacked), and the ratio of the two;
- times a float32 ``--gemm`` x ``--gemm`` matrix product (``torch.mm``);

and prints samples/s, GFLOP/s (FLOPs counted above x samples/s) and the
fraction of the same process's float32 GEMM rate. bfloat16 (``precision=
"bfloat16"``) is timed where ``/proc/cpuinfo`` lists ``avx512_bf16`` or
``amx_bf16`` (emulated elsewhere, and far slower), or with ``--bf16``.

``--heap N`` instead starts N fresh processes with skacai's heap setting
(``skacai._memory.steady_heap``) and N with ``SKACAI_TUNE_MALLOC=0``,
alternating, each timing a ``partial_fit`` and counting its minor page faults
per step (``getrusage``): the glibc heap's behaviour is fixed per process, so
it can only be compared across processes.

    python benchmarks/speed/conv_speed.py --threads 1 2 --json benchmarks/results/conv_speed.jsonl
    python benchmarks/speed/conv_speed.py --threads 1 --widths 8 --batch-sizes 64 --seconds 3
    python benchmarks/speed/conv_speed.py --heap 8 --threads 1 \\
        --json benchmarks/results/conv_speed.jsonl
    python benchmarks/speed/conv_speed.py --profile 30 --threads 1 --widths 8 --batch-sizes 64

``--profile N`` prints, for each variant, ``torch.profiler``'s operators by self
CPU time over N training steps (``partial_fit``), grouped by input shapes.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, append_record, ignore_convergence, load_mnist, system_line
from torch.utils.flop_counter import FlopCounterMode

import skacai._networks
import skacai._training
from skacai import ACAITransformer

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_description():
    """``(model name, sorted SIMD flags of interest)`` from ``/proc/cpuinfo``."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = sorted(f for f in value.split() if f.startswith(("avx", "amx", "fma")))
            break
    return model, flags


def variant(name):
    """A context in which skacai computes as ``name`` ("current" or "before") does."""
    stack = ExitStack()
    if name == "before":
        stack.enter_context(mock.patch.object(skacai._networks, "channels_last", lambda i: i))
        # The critic on x_mix and x_reg stacked, as every critic ran before (x_reg is
        # now formed from x_hat detached, which saves only an element-wise pass).
        stack.enter_context(mock.patch.object(skacai._training, "drops", lambda critic: True))
    return stack


VARIANTS = ("before", "current")
HEADER = "width batch precision   variant  fit samples/s  GFLOP/s  % GEMM  transform rows/s % GEMM"

# ---------------------------------------------------------------------- timing


def model_for(width, batch_size, precision, seed=0):
    return ACAITransformer(
        image_shape=(28, 28),
        conv_width=width,
        batch_size=batch_size,
        precision=precision,
        random_state=seed,
    )


def count_flops(model, X):
    """FLOPs per sample of a ``partial_fit`` on X and of a ``transform`` of X."""
    counts = []
    for call in (model.partial_fit, model.transform):
        with FlopCounterMode(display=False) as counter, ignore_convergence():
            call(X)
        counts.append(counter.get_total_flops() / X.shape[0])
    return counts


def gemm_rate(size, seconds=1.0):
    """float32 ``torch.mm`` of two ``size`` x ``size`` matrices, GFLOP/s (best of three)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            torch.mm(a, b)
            n += 1
        best = max(best, n * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def time_calls(call, X, seconds):
    """Rows per second of ``call(X)`` repeated for about ``seconds``."""
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        call(X)
        n += 1
    return n * X.shape[0] / (time.perf_counter() - start)


def measure(width, batch_size, precision, X, args):
    """samples/s of partial_fit and transform for each variant, alternating, best of repeats."""
    models = {name: model_for(width, batch_size, precision) for name in VARIANTS}
    best = {(name, what): 0.0 for name in VARIANTS for what in ("fit", "transform")}
    with ignore_convergence():
        for name, model in models.items():
            with variant(name):
                model.partial_fit(X[: 10 * batch_size])  # warm-up: build, first steps
        for _ in range(args.repeats):
            for name, model in models.items():
                with variant(name):
                    fit = time_calls(model.partial_fit, X, args.seconds)
                    transform = time_calls(model.transform, X, args.seconds / 2)
                best[name, "fit"] = max(best[name, "fit"], fit)
                best[name, "transform"] = max(best[name, "transform"], transform)
    return best


def run_speed(args, X):
    model_name, flags = cpu_description()
    print(f"CPU: {model_name}; flags: {' '.join(flags)}")
    print(system_line())
    bf16 = args.bf16 or any(flag in flags for flag in BF16_FLAGS)
    precisions = ["float32", "bfloat16"] if bf16 else ["float32"]
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        gemm = gemm_rate(args.gemm)
        print(f"\n{threads} thread(s): float32 {args.gemm}x{args.gemm} GEMM {gemm:.1f} GFLOP/s")
        print(HEADER)
        for width in args.widths:
            flops = count_flops(model_for(width, 64, "float32"), X[:640])
            for batch_size in args.batch_sizes:
                for precision in precisions:
                    best = measure(width, batch_size, precision, X, args)
                    for name in VARIANTS:
                        fit, transform = best[name, "fit"], best[name, "transform"]
                        row = {
                            "threads": threads,
                            "width": width,
                            "batch_size": batch_size,
                            "precision": precision,
                            "variant": name,
                            "fit_samples_per_s": round(fit, 1),
                            "transform_rows_per_s": round(transform, 1),
                            "fit_mflop_per_sample": round(flops[0] / 1e6, 2),
                            "transform_mflop_per_row": round(flops[1] / 1e6, 2),
                            "fit_fraction_of_gemm": round(fit * flops[0] / 1e9 / gemm, 3),
                            "transform_fraction_of_gemm": round(
                                transform * flops[1] / 1e9 / gemm, 3
                            ),
                            "gemm_gflops": round(gemm, 1),
                        }
                        rows.append(row)
                        print(
                            f"{width:5d} {batch_size:5d} {precision:9s} {name:>9s} "
                            f"{fit:14.0f} {fit * flops[0] / 1e9:8.1f} "
                            f"{100 * row['fit_fraction_of_gemm']:6.1f}% "
                            f"{transform:17.0f} {100 * row['transform_fraction_of_gemm']:6.1f}%"
                        )
                    before, current = (best[n, "fit"] for n in VARIANTS)
                    print(
                        f"{'':27s} current / before: fit {current / before:.2f}x, transform "
                        f"{best['current', 'transform'] / best['before', 'transform']:.2f}x"
                    )
    return {
        "benchmark": "conv_speed",
        "cpu": model_name,
        "cpu_flags": flags,
        "rows_per_call": X.shape[0],
        "seconds": args.seconds,
        "repeats": args.repeats,
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "results": rows,
    }


# --------------------------------------------------------------------- profile


def run_profile(args, X):
    """``torch.profiler`` over ``--profile`` steps of each variant: the operators that
    took the most time (self CPU), by input shapes, per step."""
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(args.threads[0])
    for name in VARIANTS:
        model = model_for(args.widths[0], args.batch_sizes[0], "float32")
        rows = X[: args.profile * args.batch_sizes[0]]
        with variant(name), ignore_convergence():
            model.partial_fit(rows)  # warm-up
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
                model.partial_fit(rows)
        events = profiler.key_averages(group_by_input_shape=True)
        total = sum(event.self_cpu_time_total for event in events)
        print(f"\n{name}: {total / 1e3 / args.profile:.1f} ms per step (self CPU, all operators)")
        for event in sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]:
            shapes = ", ".join(str(shape) for shape in event.input_shapes[:3] if shape)
            print(
                f"  {event.self_cpu_time_total / 1e3 / args.profile:7.2f} ms "
                f"{100 * event.self_cpu_time_total / total:5.1f} % "
                f"{event.count / args.profile:5.1f}x {event.key:28s} {shapes}"
            )


# ------------------------------------------------------------------------ heap

_CHILD = """
import resource, sys, time, warnings
import numpy as np, torch
from skacai import ACAITransformer
torch.set_num_threads(int(sys.argv[1]))
X = np.load(sys.argv[2])
warnings.simplefilter("ignore")
model = ACAITransformer(image_shape=(28, 28), random_state=0)
model.partial_fit(X[:640])
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
model.partial_fit(X)
seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
steps = -(-X.shape[0] // 64)
print(X.shape[0] / seconds, (after.ru_minflt - before.ru_minflt) / steps,
      after.ru_stime - before.ru_stime)
"""


def run_heap(args, X, tmp):
    path = Path(tmp) / "X.npy"
    np.save(path, X)
    rows = []
    for i in range(args.heap):
        for tuned in (True, False):
            env = dict(os.environ, SKACAI_TUNE_MALLOC="1" if tuned else "0")
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(args.threads[0]), str(path)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            speed, faults, system = map(float, out)
            rows.append(
                {
                    "process": i,
                    "steady_heap": tuned,
                    "samples_per_s": round(speed, 1),
                    "minor_faults_per_step": round(faults),
                    "system_seconds": system,
                }
            )
            print(rows[-1], flush=True)
    for tuned in (True, False):
        speeds = [r["samples_per_s"] for r in rows if r["steady_heap"] is tuned]
        faults = [r["minor_faults_per_step"] for r in rows if r["steady_heap"] is tuned]
        print(
            f"steady_heap={tuned}: samples/s min {min(speeds):.0f} median "
            f"{np.median(speeds):.0f} max {max(speeds):.0f}; faults/step median "
            f"{np.median(faults):.0f}, max {max(faults):.0f}"
        )
    return {
        "benchmark": "conv_speed_heap",
        "cpu": cpu_description()[0],
        "threads": args.threads[0],
        "rows_per_call": X.shape[0],
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "results": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rows", type=int, default=6400, help="rows per partial_fit call")
    parser.add_argument("--seconds", type=float, default=5.0, help="per timed run")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per variant")
    parser.add_argument("--gemm", type=int, default=1024, help="side of the GEMM's matrices")
    parser.add_argument("--bf16", action="store_true", help="time bfloat16 on any CPU")
    parser.add_argument("--heap", type=int, default=0, help="processes per heap setting")
    parser.add_argument("--profile", type=int, default=0, help="profile this many steps")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path, help="append the results as one JSON line")
    args = parser.parse_args(argv)
    X = load_mnist(args.data)[0][: args.rows].astype(np.float32)
    if args.profile:
        run_profile(args, X)
        return
    if args.heap:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            record = run_heap(args, X, tmp)
    else:
        record = run_speed(args, X)
    append_record(args.json, record, echo=False)


if __name__ == "__main__":
    main()
