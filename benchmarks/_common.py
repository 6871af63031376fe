"""What the benchmark scripts share: where the data are and how to load them, timers,
a description of the machine, and the JSON-lines result files.

Not a benchmark itself (``skacai benchmarks`` skips names that start with ``_``).
The scripts live in purpose folders (``benchmarks/speed/NAME.py``, ...) and put
``benchmarks/`` on ``sys.path`` before importing it; RESULTS is ``benchmarks/results/``
for all of them.

Only the standard library is imported up front, so that a script which imports
numpy, torch or scikit-learn late (to answer ``--help`` at once, or to measure a
child process's memory) keeps doing so.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "results"
DEFAULT_MNIST = BENCHMARKS.parents[1] / "shared" / "data" / "mnist.npz"

# ------------------------------------------------------------------------- data


def load_mnist(path=DEFAULT_MNIST, n_train=None):
    """MNIST as ``(x_train, y_train, x_test, y_test)``, flat, pixels in [0, 1]
    (``skacai.datasets.load_mnist``); only the first ``n_train`` rows of each
    split if given (smoke tests)."""
    from skacai.datasets import load_mnist as load

    data = load(path)
    return data if n_train is None else tuple(a[:n_train] for a in data)


def load_mnist_images(path):
    """MNIST's training images as a torch tensor, flat, scaled to [-1, 1] as in the paper."""
    import torch

    try:
        images = load_mnist(path)[0]
    except FileNotFoundError as error:
        raise SystemExit(f"{error} (pass --data PATH)") from None
    return torch.from_numpy(images * 2.0 - 1.0)


# ----------------------------------------------------------------------- timing


def set_threads(threads):
    """Set torch's thread count, unless ``threads`` is None or 0 (torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


@contextmanager
def ignore_convergence():
    """Silence scikit-learn's ConvergenceWarning: a benchmark's budget ends unconverged."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def timed_fit(model, X):
    """Fit ``model`` on X (a budget that ends unconverged is the point); its seconds."""
    start = time.perf_counter()
    with ignore_convergence():
        model.fit(X)
    return time.perf_counter() - start


def best_time(function, repeats):
    """``(result, seconds)``: the last result of ``function()`` and its best wall time
    over ``repeats`` calls (each call's result dropped before the next call)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        result = None
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


# ---------------------------------------------------------------------- machine


def machine(with_torch=False):
    """The processor (or, without one, the machine type), for the records; with
    ``with_torch``, followed by ``, torch VERSION``."""
    name = platform.processor() or platform.machine()
    if not with_torch:
        return name
    import torch

    return f"{name}, torch {torch.__version__}"


def device_name(device):
    """``device`` and, for a GPU, its model (for the records)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def load_averages():
    """The system's 1, 5 and 15 minute load averages, as ``"1.0 1.5 2.5"``."""
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def system_line():
    """The platform, CPU count, load averages and Python version, in one line."""
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average {load_averages()}; "
        f"python {platform.python_version()}"
    )


# ---------------------------------------------------------------------- results


def append_record(path, record, echo=True):
    """Write ``record`` as one JSON line: printed (with ``echo``), and appended to
    ``path`` at once (its folder created if need be) unless ``path`` is None."""
    line = json.dumps(record)
    if echo:
        print(line, flush=True)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(line + "\n")


def read_records(path, missing_ok=False):
    """The records of a JSON-lines file (blank lines skipped); with ``missing_ok``, none
    for a file that does not exist."""
    path = Path(path)
    if missing_ok and not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def mean_std(values):
    """Mean and sample standard deviation (NaN for a single value) of ``values``."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    spread = values.std(ddof=1) if values.size > 1 else float("nan")
    return values.mean(), spread
