"""MNIST KMeans accuracy against training wall time (issue 7's time-to-quality target).

Trains one ``ACAITransformer`` on MNIST's 60,000 training images with
``partial_fit`` on shuffled chunks and, at each checkpoint of *training* wall
time, encodes the 60,000 training and 10,000 test images and scores the codes
by the paper's clustering protocol (``skacai.metrics.kmeans_accuracy``: codes
whitened on the training codes, KMeans(10) fitted on them, accuracy on the
test codes after Hungarian matching). The clock stops while a checkpoint is
evaluated, so the times are ``fit`` time only. One JSON line per checkpoint is
printed and appended to ``--out``.

Examples::

    python benchmarks/speed/time_to_accuracy.py --threads 2 --minutes 1 2 5 10
    python benchmarks/speed/time_to_accuracy.py --architecture conv --latent 256 --minutes 5 10
    python benchmarks/speed/time_to_accuracy.py --report benchmarks/results/time_to_accuracy.jsonl

A long run can be split over several processes (e.g. a GPU lent for ten minutes
a call): ``--max-seconds S --state PATH`` stops after the first ``partial_fit``
that ends S seconds or more after the start, saves the model
(``ACAITransformer.save``) and the run's position (samples seen, training
seconds, the data order and its generator) to PATH and PATH.json, and a later
call with the same arguments and ``--state PATH`` resumes from them, exactly
where the run stopped. The GPU run of the paper's 2^24-sample budget::

    python benchmarks/speed/time_to_accuracy.py --architecture conv --latent 32 --batch-size 64 \
        --lr 1e-4 --device cuda --chunk 60000 --samples 1048576 4194304 16777216 \
        --max-seconds 500 --state /tmp/budget.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skacai import ACAITransformer
from skacai.metrics import kmeans_accuracy

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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--label", default=None, help="name of the run in the output")
    parser.add_argument("--architecture", choices=["mlp", "conv"], default="mlp")
    parser.add_argument("--latent", type=int, default=32, help="n_components")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--conv-width", type=int, default=16)
    parser.add_argument("--n-scales", type=int, default=3, help="conv only: 3 = 4x4 latent grid")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--lr-final",
        type=float,
        default=None,
        help="decay the learning rate from --lr to this value along a half cosine over the "
        "first --lr-horizon samples (set between partial_fit calls)",
    )
    parser.add_argument("--lr-horizon", type=int, default=None, help="samples; see --lr-final")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--adversarial-weight", type=float, default=0.5)
    parser.add_argument("--critic-regularization", type=float, default=0.2)
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other ACAITransformer parameter (a Python literal)",
    )
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument(
        "--minutes",
        type=float,
        nargs="+",
        default=[1, 2, 5, 10],
        help="checkpoints, in minutes of training time",
    )
    parser.add_argument(
        "--samples",
        type=int,
        nargs="+",
        default=None,
        help="checkpoints in training samples instead of minutes (to compare settings "
        "at equal work, e.g. float32 against bfloat16)",
    )
    parser.add_argument("--chunk", type=int, default=4096, help="rows per partial_fit call")
    parser.add_argument(
        "--ema",
        type=float,
        nargs="+",
        default=[],
        metavar="DECAY",
        help="also score exponential moving averages of the encoder's weights, updated "
        "after every partial_fit call with these decays (e.g. 0.9 0.97); the training "
        "itself is unchanged",
    )
    parser.add_argument("--kmeans-seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto", help="the model's device parameter")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop after this many seconds of this process (with --state: save to resume)",
    )
    parser.add_argument(
        "--state", type=Path, default=None, help="save the run here at --max-seconds; resume"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--report", type=Path, default=None, help="only print the table of an earlier --out file"
    )
    args = parser.parse_args(argv)
    if (args.lr_final is None) != (args.lr_horizon is None):
        parser.error("--lr-final and --lr-horizon go together")
    if args.ema and args.state is not None:
        parser.error("--ema does not go with --state (the averages are not saved)")
    return args


def make_model(args):
    import ast

    extra = {}
    for item in args.param:
        name, _, value = item.partition("=")
        extra[name] = ast.literal_eval(value)
    common = dict(
        adversarial_weight=args.adversarial_weight,
        critic_regularization=args.critic_regularization,
        learning_rate_init=args.lr,
        batch_size=args.batch_size,
        precision=args.precision,
        device=args.device,
        random_state=args.seed,
        **{"scaling": "global", **extra},  # the default when the figures were measured
    )
    if args.architecture == "conv":
        return ACAITransformer(
            args.latent,
            architecture="conv",
            image_shape=(28, 28),
            conv_width=args.conv_width,
            n_scales=args.n_scales,
            **common,
        )
    return ACAITransformer(args.latent, hidden_layer_sizes=tuple(args.hidden), **common)


def scheduled_lr(args, seen):
    """The learning rate after ``seen`` samples: --lr, or its cosine decay to --lr-final."""
    if args.lr_final is None:
        return args.lr
    progress = min(seen / args.lr_horizon, 1.0)
    return args.lr_final + 0.5 * (args.lr - args.lr_final) * (1.0 + math.cos(math.pi * progress))


def cluster_scores(model, x_train, x_test, y_test, n_seeds):
    """The test codes and their KMeans accuracy (the paper's protocol) per KMeans seed."""
    codes_train, codes_test = model.transform(x_train), model.transform(x_test)
    scores = [
        kmeans_accuracy(codes_train, codes_test, y_test, random_state=seed)
        for seed in range(n_seeds)
    ]
    return codes_test, scores


def evaluate(model, x_train, x_test, y_test, n_seeds):
    codes_test, scores = cluster_scores(model, x_train, x_test, y_test, n_seeds)
    mse = float(np.mean((model.inverse_transform(codes_test) - x_test) ** 2))
    return scores, mse


class EncoderAverages:
    """Exponential moving averages of the encoder's weights, one per decay.

    Updated after every ``partial_fit`` call (so once per ``--chunk`` rows);
    scored by loading each average into the encoder for the evaluation and
    putting the trained weights back, which leaves the training untouched.
    """

    def __init__(self, decays):
        self.decays = list(decays)
        self.averages = {}

    def update(self, encoder):
        state = encoder.state_dict()  # detached views of the weights, not copies
        for decay in self.decays:
            if decay not in self.averages:
                self.averages[decay] = {k: v.clone() for k, v in state.items()}
                continue
            for k, v in state.items():
                if v.is_floating_point():
                    self.averages[decay][k].mul_(decay).add_(v, alpha=1 - decay)

    def scores(self, model, x_train, x_test, y_test, n_seeds):
        if not self.averages:
            return {}
        trained = {k: v.detach().clone() for k, v in model.encoder_.state_dict().items()}
        result = {}
        try:
            for decay, average in self.averages.items():
                model.encoder_.load_state_dict(average)
                _, scores = cluster_scores(model, x_train, x_test, y_test, n_seeds)
                result[f"kmeans_accuracy_seeds_ema{decay:g}"] = [round(s, 4) for s in scores]
        finally:
            model.encoder_.load_state_dict(trained)
        return result


def run(args):
    set_threads(args.threads)
    x_train, _, x_test, y_test = load_mnist(args.data)
    started = time.perf_counter()
    model, rng, (seen, order, seconds) = resume(args)
    averages = EncoderAverages(args.ema)
    by_samples = args.samples is not None
    checkpoints = sorted(args.samples if by_samples else [60.0 * m for m in args.minutes])
    label = args.label or (
        f"{args.architecture}_l{args.latent}"
        + (f"_w{args.conv_width}_s{args.n_scales}" if args.architecture == "conv" else "")
        + f"_lr{args.lr:g}_b{args.batch_size}"
        f"_aw{args.adversarial_weight:g}" + ("_bf16" if args.precision == "bfloat16" else "")
    )
    for checkpoint in checkpoints:
        if (seen if by_samples else seconds) >= checkpoint:
            continue  # reached before a resume
        with ignore_convergence():
            while (seen if by_samples else seconds) < checkpoint:
                if args.max_seconds is not None and (
                    time.perf_counter() - started >= args.max_seconds
                ):
                    suspend(args, model, rng, seen, order, seconds)
                    return
                if order.size == 0:
                    order = rng.permutation(len(x_train))
                take = min(args.chunk, checkpoint - seen) if by_samples else args.chunk
                batch, order = order[:take], order[take:]
                if args.lr_final is not None:
                    model.set_params(learning_rate_init=scheduled_lr(args, seen))
                start = time.perf_counter()
                model.partial_fit(x_train[batch])
                seconds += time.perf_counter() - start
                seen += batch.size
                averages.update(model.encoder_)
        scores, mse = evaluate(model, x_train, x_test, y_test, args.kmeans_seeds)
        ema_scores = averages.scores(model, x_train, x_test, y_test, args.kmeans_seeds)
        record = {
            "label": label,
            "device": model.device_,
            "minutes": round(seconds / 60, 2),
            "samples": seen,
            "samples_per_s": round(seen / seconds, 1),
            "kmeans_accuracy": round(scores[0], 4),
            "kmeans_accuracy_seeds": [round(s, 4) for s in scores],
            "test_mse": round(mse, 5),
            **ema_scores,
            "params": {k: v for k, v in model.get_params().items() if k != "verbose"},
            **(
                {"lr_schedule": f"cosine {args.lr:g} -> {args.lr_final:g} over {args.lr_horizon}"}
                if args.lr_final is not None
                else {}
            ),
            "torch_threads": torch.get_num_threads(),
            "load_average": round(os.getloadavg()[0], 2),
            "machine": machine(with_torch=True),
        }
        append_record(args.out, record)


def resume(args):
    """The model, the data-order generator and (samples seen, order left, seconds):
    from ``--state`` when it holds a suspended run, else fresh."""
    if args.state is None or not args.state.exists():
        return make_model(args), np.random.default_rng(args.seed), (0, np.empty(0, int), 0.0)
    position = json.loads(position_path(args.state).read_text())
    model = ACAITransformer.load(args.state)
    rng = np.random.default_rng()
    rng.bit_generator.state = position["rng"]
    order = np.asarray(position["order"], dtype=int)
    print(f"resumed from {args.state} at {position['seen']:,} samples", flush=True)
    return model, rng, (position["seen"], order, position["seconds"])


def position_path(state):
    """Where a suspended run's position is kept beside its model file: PATH.json."""
    return state.with_suffix(state.suffix + ".json")


def suspend(args, model, rng, seen, order, seconds):
    """Save the run to ``--state`` (without it: just say where it stopped)."""
    if args.state is not None:
        model.save(args.state)
        position = {
            "seen": seen,
            "seconds": seconds,
            "order": order.tolist(),
            "rng": rng.bit_generator.state,
        }
        position_path(args.state).write_text(json.dumps(position))
    where = f"; saved to {args.state}" if args.state is not None else ""
    print(f"stopped at --max-seconds after {seen:,} samples, {seconds:.1f} s{where}", flush=True)


def report(path):
    records = read_records(path)
    print("| run | minutes | samples | samples/s | KMeans acc (seed 0) | seeds 0-2 | test MSE |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        seeds = " / ".join(f"{100 * s:.1f}" for s in r["kmeans_accuracy_seeds"])
        print(
            f"| {r['label']} | {r['minutes']:.1f} | {r['samples']:,} | {r['samples_per_s']:,.0f} "
            f"| {100 * r['kmeans_accuracy']:.1f} % | {seeds} | {r['test_mse']:.4f} |"
        )


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        report(args.report)
        return 0
    if not args.data.exists():
        print(f"MNIST not found at {args.data}; pass --data", file=sys.stderr)
        return 1
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
