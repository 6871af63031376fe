"""Out-of-core training: ``partial_fit`` over chunks of a file on disk vs ``fit`` in memory.

The training rows are written once to a float32 ``.npy`` file in a temporary
folder. Each mode then runs in a fresh child process, which reports the peak
of its resident memory during training (the kernel's ``VmHWM``, reset just
before) above what it held before reading any training data, how much of its
resident memory at the end is pages of mapped files, its training time, and
the model's quality on held-out data: reconstruction MSE (pixels in [0, 1] for
MNIST) and, with labels, the KMeans accuracy of the codes
(``skacai.metrics.kmeans_accuracy``: KMeans fitted on the codes of 10,000
training rows, scored on the test codes).

Modes (the same model, seed and number of epochs everywhere):

- ``fit``: the whole training array read into memory, ``fit(max_iter=epochs)``.
- ``memmap:ROWS``: ``partial_fit`` on consecutive chunks of ROWS rows, each
  from a fresh ``np.load(path, mmap_mode="r")`` (docs/scaling.md).
- ``dask:ROWS``: ``partial_fit`` on the blocks of a dask array that reads the
  file block by block (dask's memory-mapping recipe, ``da.from_delayed``).
- ``one-map:ROWS``: as ``memmap`` but through one map held open for the whole
  run: the file's pages read so far count in the resident memory (they are
  page cache, which the kernel can reclaim, but they show in RSS).

Linux only (it reads ``/proc/self/status`` and resets the peak through
``/proc/self/clear_refs``).

    python benchmarks/scale/out_of_core.py --epochs 3 --chunks 2000,10000
    python benchmarks/scale/out_of_core.py --synthetic-rows 1000000 --epochs 1 \\
        --chunks 10000 --modes memmap,dask --hidden 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, append_record, load_mnist, system_line

KMEANS_TRAIN_ROWS = 10_000


def memory_mib(field):
    """A field of /proc/self/status in MiB: VmRSS (resident), VmHWM (its peak), RssFile."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def reset_peak_rss():
    """Reset the kernel's record of the peak resident memory (VmHWM) to the current
    value (Linux >= 4.0), so that imports and start-up do not count."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


# ------------------------------------------------------------------------ data


def write_mnist(folder, data):
    x_train, y_train, x_test, y_test = load_mnist(data)
    path = folder / "train.npy"
    stored = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=x_train.shape)
    stored[:] = x_train
    stored.flush()
    np.save(folder / "train_labels.npy", y_train)
    np.save(folder / "test.npy", x_test)
    np.save(folder / "test_labels.npy", y_test)
    return path


def synthetic_rows(rng, n_rows, mixing, n_features):
    """Rows of a 10-cluster, 16-dimensional latent mixture seen through a fixed
    non-linear map to ``n_features`` values, plus noise; labels are the clusters."""
    centres, first, second = mixing
    labels = rng.integers(0, 10, size=n_rows)
    z = centres[labels] + rng.normal(size=(n_rows, 16))
    X = np.tanh(z @ first) @ second + 0.1 * rng.normal(size=(n_rows, n_features))
    return X.astype(np.float32), labels


def write_synthetic(folder, n_rows, n_features):
    rng = np.random.default_rng(0)
    mixing = (
        0.6 * rng.normal(size=(10, 16)),
        rng.normal(size=(16, 64)) / 4,
        rng.normal(size=(64, n_features)) / 8,
    )
    path = folder / "train.npy"
    stored = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, n_features)
    )
    labels = np.empty(n_rows, dtype=np.int64)
    for start in range(0, n_rows, 20_000):
        stop = min(start + 20_000, n_rows)
        stored[start:stop], labels[start:stop] = synthetic_rows(
            rng, stop - start, mixing, n_features
        )
    stored.flush()
    del stored
    np.save(folder / "train_labels.npy", labels)
    x_test, y_test = synthetic_rows(rng, 10_000, mixing, n_features)
    np.save(folder / "test.npy", x_test)
    np.save(folder / "test_labels.npy", y_test)
    return path


# ------------------------------------------------------------------- training


def memmap_chunks(path, chunk_rows):
    """Consecutive chunks of a .npy file, each from a fresh memory map (docs/scaling.md)."""
    n_rows = np.load(path, mmap_mode="r").shape[0]
    for start in range(0, n_rows, chunk_rows):
        yield np.load(path, mmap_mode="r")[start : start + chunk_rows]


def dask_array_from_npy(path, chunk_rows):
    """A dask array that reads a .npy file block by block (not ``da.from_array``,
    which copies a memmap into memory: dask/dask#11850)."""
    import dask
    import dask.array as da

    header = np.load(path, mmap_mode="r")
    shape, dtype = header.shape, header.dtype
    del header

    def load(start, stop):
        return np.load(path, mmap_mode="r")[start:stop]

    return da.concatenate(
        [
            da.from_delayed(
                dask.delayed(load)(start, min(start + chunk_rows, shape[0])),
                shape=(min(start + chunk_rows, shape[0]) - start, shape[1]),
                dtype=dtype,
            )
            for start in range(0, shape[0], chunk_rows)
        ]
    )


def child(folder, mode, args):
    import warnings

    import torch
    from sklearn.exceptions import ConvergenceWarning

    from skacai import ACAITransformer
    from skacai.metrics import kmeans_accuracy

    torch.set_num_threads(args.threads)
    folder = Path(folder)
    path = folder / "train.npy"
    model = ACAITransformer(
        n_components=args.n_components,
        hidden_layer_sizes=tuple(args.hidden),
        max_iter=args.epochs,
        tol=0.0,
        random_state=0,
        device="cpu",
    )
    kind, _, chunk = mode.partition(":")
    chunk = int(chunk) if chunk else None
    if kind == "dask":
        import dask.array  # noqa: F401  (its import is not the training's memory)
    reset_peak_rss()
    before, file_before = memory_mib("VmRSS"), memory_mib("RssFile")
    start = time.perf_counter()
    if kind == "fit":
        X = np.load(path)  # the whole training array in memory
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        del X
    elif kind == "memmap":
        for _ in range(args.epochs):
            for rows in memmap_chunks(path, chunk):
                model.partial_fit(rows)
    elif kind == "dask":
        X = dask_array_from_npy(path, chunk)
        for _ in range(args.epochs):
            for block in X.blocks:
                model.partial_fit(block.compute(scheduler="synchronous"))
    elif kind == "one-map":
        X = np.load(path, mmap_mode="r")
        for _ in range(args.epochs):
            for begin in range(0, X.shape[0], chunk):
                model.partial_fit(X[begin : begin + chunk])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - start
    peak = memory_mib("VmHWM")  # before the evaluation, which reads more data
    file_pages = memory_mib("RssFile") - file_before
    x_test = np.load(folder / "test.npy")
    result = {
        "mode": mode,
        "n_train": int(np.load(path, mmap_mode="r").shape[0]),
        "epochs": args.epochs,
        "n_iter": model.n_iter_,
        "train_s": round(seconds, 1),
        "peak_rss_above_start_mib": round(peak - before),
        "file_pages_at_end_mib": round(file_pages),
        "test_mse": round(-model.score(x_test), 5),
    }
    if not args.no_kmeans:
        codes_train = model.transform(np.load(path, mmap_mode="r")[:KMEANS_TRAIN_ROWS])
        y_test = np.load(folder / "test_labels.npy")
        result["kmeans_acc"] = round(
            kmeans_accuracy(codes_train, model.transform(x_test), y_test), 4
        )
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------ main


def machine_info(args):
    import torch

    return (
        f"{system_line()}, numpy {np.__version__}, torch {torch.__version__} "
        f"({args.threads} thread(s))"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_MNIST, help="MNIST .npz (default: shared)"
    )
    parser.add_argument("--synthetic-rows", type=int, help="synthetic data of this many rows")
    parser.add_argument("--features", type=int, default=784, help="synthetic data's width")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--chunks", default="2000,10000", help="rows per chunk, comma-separated")
    parser.add_argument(
        "--modes", default="fit,memmap,dask,one-map", help="comma-separated subset of the modes"
    )
    parser.add_argument("--hidden", type=int, nargs="*", default=[512, 256])
    parser.add_argument("--n-components", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each run")
    parser.add_argument("--no-kmeans", action="store_true", help="skip the KMeans accuracy")
    parser.add_argument("--tmp", type=Path, help="folder for the data file (default: $TMPDIR)")
    parser.add_argument("--output", type=Path, help="append the JSON lines to this file")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args)
        return

    chunks = [int(c) for c in args.chunks.split(",")]
    modes = []
    for kind in args.modes.split(","):
        if kind == "fit":
            modes.append("fit")
        elif kind == "one-map":  # one chunk size suffices to show the effect
            modes.append(f"one-map:{chunks[0]}")
        else:
            modes += [f"{kind}:{chunk}" for chunk in chunks]

    print(machine_info(args))
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        if args.synthetic_rows:
            path = write_synthetic(folder, args.synthetic_rows, args.features)
            source = f"synthetic {args.synthetic_rows} x {args.features}"
        else:
            path = write_mnist(folder, args.data)
            source = "MNIST train (60000 x 784, pixels in [0, 1])"
        size_mib = path.stat().st_size / 2**20
        print(
            f"data: {source}, float32 file of {size_mib:,.0f} MiB written in "
            f"{time.perf_counter() - start:.0f} s; model: MLP {tuple(args.hidden)}, "
            f"n_components={args.n_components}, {args.epochs} epoch(s), random_state=0"
        )
        header = (
            f"{'mode':<14}{'peak RSS MiB':>13}{'file pages MiB':>15}{'train s':>9}"
            f"{'test MSE':>10}{'KMeans acc':>11}"
        )
        print(header)
        results = []
        for mode in modes:
            command = [sys.executable, __file__, "--child", str(folder), mode]
            command += ["--epochs", str(args.epochs), "--threads", str(args.threads)]
            command += ["--n-components", str(args.n_components), "--hidden"]
            command += [str(h) for h in args.hidden]
            command += ["--no-kmeans"] if args.no_kmeans else []
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(output.stdout.strip().splitlines()[-1])
            result["file_mib"] = round(size_mib)
            results.append(result)
            accuracy = result.get("kmeans_acc")
            print(
                f"{mode:<14}{result['peak_rss_above_start_mib']:>13,}"
                f"{result['file_pages_at_end_mib']:>15,}{result['train_s']:>9.1f}"
                f"{result['test_mse']:>10.5f}{'-' if accuracy is None else f'{accuracy:.4f}':>11}",
                flush=True,
            )
    print(
        "peak RSS: the child's peak resident memory during training above its level "
        "before it read any training data; file pages: resident pages of mapped files "
        "at the end of training, above the start; test MSE on the 10,000 held-out rows."
    )
    if args.output:
        for result in results:
            append_record(args.output, {**result, "machine": machine_info(args)}, echo=False)


if __name__ == "__main__":
    main()
