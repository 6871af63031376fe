"""Reproduce the ACAI paper's Tables 1-3 with its convolutional models, ours beside the paper's.

- ``table1``: the synthetic lines (32x32, conv_width 16, 4 scales, latent 2x2x16),
  plain autoencoder (adversarial_weight=0) vs ACAI, scored by Mean Distance and
  Smoothness on 256 test pairs x 16 frames.
- ``mnist``: MNIST (28x28 padded to 32x32, conv_width 16, 3 scales), latent 32
  (4x4x2) and 256 (4x4x16), plain AE vs ACAI; Table 2 is a linear probe (a
  softmax layer: multinomial logistic regression on standardised frozen codes),
  Table 3 KMeans(10) on whitened codes with Hungarian matching (ACAI.md).
  ``table2`` / ``table3`` run the same models and print one of the tables.

The paper trains on 2^24 samples (262,144 steps of 64); ``--samples`` sets our
budget. Every model prints one JSON line (appended to ``--out``) with its
budget, wall time and scores, then the script prints the Markdown table. With
``--report FILE`` it only prints the tables of earlier runs.

Examples::

    python benchmarks/quality/paper_tables.py table1 --samples 131072 --lr 1e-3
    python benchmarks/quality/paper_tables.py mnist --samples 65536 --lr 1e-3 --latent 32 256
    python benchmarks/quality/paper_tables.py mnist --models ACAI --latent 32 \\
        --checkpoints 65536,262144
    python benchmarks/quality/paper_tables.py table1 --report benchmarks/results/paper_tables.jsonl
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    append_record,
    ignore_convergence,
    load_mnist,
    machine,
    read_records,
    set_threads,
)
from mnist_eval import probe_accuracy

from skacai import ACAITransformer, datasets
from skacai.metrics import evaluate_lines, kmeans_accuracy

PAPER_BUDGET = 2**24
# ACAI.md's recollection of the paper: (plain AE, ACAI).
PAPER = {
    "mean_distance_x1e3": (6.88, 0.24),
    "smoothness": (0.44, 0.10),
    "probe_32": (0.9490, 0.9825),
    "probe_256": (0.9394, 0.9900),
    "kmeans_32": (0.7756, 0.9438),
    "kmeans_256": (0.5055, 0.9617),
}
MODELS = {"plain AE": 0.0, "ACAI": 0.5}


def train_on_budget(model, X, checkpoints, seed, chunk=4096):
    """``partial_fit`` on shuffled chunks; yields at each checkpoint (samples seen).

    Yields ``(samples_seen, training_seconds)`` with both counted from the start
    (data shuffling included in the time, evaluation excluded).
    """
    rng = np.random.default_rng(seed)
    seen, order, seconds = 0, np.empty(0, dtype=int), 0.0
    for checkpoint in checkpoints:
        with ignore_convergence():
            while seen < checkpoint:
                if order.size == 0:
                    order = rng.permutation(len(X))
                take = min(chunk, checkpoint - seen, order.size)
                batch, order = order[:take], order[take:]
                start = time.perf_counter()
                model.partial_fit(X[batch])
                seconds += time.perf_counter() - start
                seen += take
        yield seen, seconds


def conv_model(image_shape, n_components, n_scales, adversarial_weight, args):
    return ACAITransformer(
        n_components,
        architecture="conv",
        image_shape=image_shape,
        conv_width=args.conv_width,
        n_scales=n_scales,
        adversarial_weight=adversarial_weight,
        learning_rate_init=args.lr,
        batch_size=args.batch_size,
        random_state=args.seed,
    )


def budget_record(args, name, samples, seconds):
    return {
        "model": name,
        "samples": samples,
        "paper_fraction": samples / PAPER_BUDGET,
        "fit_seconds": round(seconds, 1),
        "lr": args.lr,
        "batch_size": args.batch_size,
        "conv_width": args.conv_width,
        "seed": args.seed,
        "torch_threads": torch.get_num_threads(),
        "machine": machine(with_torch=True),
    }


def run_table1(args):
    X, _ = datasets.make_lines(args.n_train, image_size=args.image_size, random_state=args.seed)
    X = X.astype(np.float32)
    records = []
    for name in args.models:
        model = conv_model((args.image_size, args.image_size), 64, 4, MODELS[name], args)
        for samples, seconds in train_on_budget(model, X, args.checkpoints, args.seed):
            distance, smoothness = evaluate_lines(model, random_state=args.seed + 1)
            record = {"table": 1, **budget_record(args, name, samples, seconds)}
            record.update(
                mean_distance_x1e3=round(distance * 1e3, 3),
                smoothness=round(smoothness, 3),
                reconstruction_mse=round(-model.score(X[:4096]), 5),
            )
            append_record(args.out, record)
            records.append(record)
    return records


def run_mnist(args):
    x_train, y_train, x_test, y_test = load_mnist(args.data)  # float32
    records = []
    for latent in args.latent:
        for name in args.models:
            model = conv_model((28, 28), latent, 3, MODELS[name], args)
            for samples, seconds in train_on_budget(model, x_train, args.checkpoints, args.seed):
                codes_train, codes_test = model.transform(x_train), model.transform(x_test)
                record = {"table": "2+3", "latent": latent}
                record.update(budget_record(args, name, samples, seconds))
                record.update(
                    probe_accuracy=round(
                        probe_accuracy(codes_train, y_train, codes_test, y_test), 4
                    ),
                    kmeans_accuracy=round(
                        kmeans_accuracy(codes_train, codes_test, y_test, random_state=args.seed),
                        4,
                    ),
                    test_mse=round(
                        float(np.mean((model.inverse_transform(codes_test) - x_test) ** 2)), 5
                    ),
                )
                append_record(args.out, record)
                records.append(record)
    return records


def _latest(records, **match):
    found = [r for r in records if all(r.get(k) == v for k, v in match.items())]
    return found[-1] if found else None


def print_tables(records, which):
    def cell(record, key, percent=False):
        if record is None:
            return "not run"
        value = record[key]
        return f"{100 * value:.2f} %" if percent else f"{value:g}"

    def budget(record):
        if record is None:
            return ""
        return f"{record['samples']:,} samples ({record['fit_seconds']:.0f} s)"

    rows = []
    if "1" in which:
        ae, acai = (_latest(records, table=1, model=name) for name in MODELS)
        rows.append("\nTable 1: lines (lower is better)\n")
        rows.append("| measure | paper AE | ours AE | paper ACAI | ours ACAI |")
        rows.append("|---|---|---|---|---|")
        labels = {"mean_distance_x1e3": "Mean Distance x1e-3", "smoothness": "Smoothness"}
        for key, label in labels.items():
            paper_ae, paper_acai = PAPER[key]
            rows.append(
                f"| {label} | {paper_ae} | {cell(ae, key)} | {paper_acai} | {cell(acai, key)} |"
            )
        rows.append(f"\nbudget: AE {budget(ae)}, ACAI {budget(acai)}; paper {PAPER_BUDGET:,}")
    for table, key, title in (
        ("2", "probe", "Table 2: linear probe accuracy on MNIST test codes"),
        ("3", "kmeans", "Table 3: KMeans accuracy on whitened MNIST test codes"),
    ):
        if table not in which:
            continue
        rows.append(f"\n{title}\n")
        rows.append("| latent | paper AE | ours AE | paper ACAI | ours ACAI | budget (ACAI) |")
        rows.append("|---|---|---|---|---|---|")
        for latent in (32, 256):
            ae, acai = (
                _latest(records, table="2+3", latent=latent, model=name) for name in MODELS
            )
            paper_ae, paper_acai = PAPER[f"{key}_{latent}"]
            rows.append(
                f"| {latent} | {100 * paper_ae:.2f} % | {cell(ae, key + '_accuracy', True)} "
                f"| {100 * paper_acai:.2f} % | {cell(acai, key + '_accuracy', True)} "
                f"| {budget(acai)} |"
            )
    print("\n".join(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["table1", "mnist", "table2", "table3"])
    parser.add_argument("--samples", type=int, default=2**17, help="training samples per model")
    parser.add_argument(
        "--checkpoints",
        type=lambda text: [int(n) for n in text.split(",")],
        help="comma-separated sample counts at which to evaluate along one run "
        "(overrides --samples), e.g. 65536,131072,262144",
    )
    parser.add_argument(
        "--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="default: both"
    )
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (paper: 1e-4)")
    parser.add_argument("--batch-size", type=int, default=64, help="paper: 64")
    parser.add_argument("--conv-width", type=int, default=16, help="paper: 16")
    parser.add_argument("--latent", type=int, nargs="+", default=[32, 256], help="MNIST only")
    parser.add_argument("--n-train", type=int, default=65536, help="lines drawn for training")
    parser.add_argument("--image-size", type=int, default=32, help="lines only")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="append the JSON lines to this file")
    parser.add_argument("--report", type=Path, help="print the tables of this JSONL file only")
    args = parser.parse_args(argv)
    which = {"table1": "1", "mnist": "23", "table2": "2", "table3": "3"}[args.command]
    args.checkpoints = sorted(args.checkpoints or [args.samples])
    if args.report:
        records = read_records(args.report)
    else:
        set_threads(args.threads)
        records = run_table1(args) if which == "1" else run_mnist(args)
    print_tables(records, which)


if __name__ == "__main__":
    main()
