"""A training step replayed as one CUDA graph against the eager step, on a GPU.

At the paper's batch of 64, one eager step of the conv model launches several
hundred small kernels, and on a GPU the host's launching rather than the
arithmetic sets the pace. This script measures how much capturing the whole
step (forward, both losses' gradients, both fused Adam updates) into one
``torch.cuda.CUDAGraph`` and replaying it buys, for the paper's MNIST conv
networks (28 x 28, latent 32, width 16) and the blog's MLP. It first checks
that the replayed graph computes what the eager step does: from the same
weights and batches, the loss terms of ten steps must agree to rounding.

Batches are gathered into the graph's static input outside it (one
``index_select`` launch) and the mixing coefficients drawn into its static
``alpha`` buffer (one ``torch.rand`` launch), as a user-facing version would
do; Adam runs with ``capturable=True``.

    python benchmarks/speed/cuda_graph_step.py --seconds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, append_record, device_name, load_mnist_images

from skacai._networks import NetworkSpec, build_networks
from skacai._training import Networks, Optimizers, sample_alpha, train_step

MODELS = {
    "conv16": NetworkSpec("conv", 784, 32, (), (1, 28, 28), 16, 3),
    "mlp1000": NetworkSpec("mlp", 784, 32, (1000, 1000)),
}


def step(networks, optimizers, x, alpha, autocast_dtype):
    """skacai's ``train_step`` with autocast's weight cache off (as a graph needs);
    the four loss terms stacked.

    The recorded results (2026-11-23) were measured with an inline copy of
    ``train_step``'s body, written before ``train_step`` took ``autocast_cache``.
    """
    terms = train_step(networks, optimizers, x, alpha, 0.5, 0.2, autocast_dtype, False)
    return torch.stack(tuple(terms))


def setup(spec, seed=0):
    networks = Networks(*build_networks(spec, torch.Generator().manual_seed(seed), "cuda"))
    optimizers = Optimizers(
        torch.optim.Adam(networks.autoencoder_parameters(), lr=1e-4, fused=True, capturable=True),
        torch.optim.Adam(networks.critic_parameters(), lr=1e-4, fused=True, capturable=True),
    )
    return networks, optimizers


class Graphed:
    """The step captured once into a CUDA graph; ``__call__`` gathers and replays."""

    def __init__(self, networks, optimizers, X, batch_size, autocast_dtype, generator):
        self.X, self.generator = X, generator
        self.x = torch.empty(batch_size, X.shape[1], device="cuda")
        self.alpha = torch.empty(batch_size, device="cuda")
        self.rows = torch.arange(batch_size, device="cuda")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph, as CUDA graphs require
            for _ in range(3):
                self.fill(0)
                step(networks, optimizers, self.x, self.alpha, autocast_dtype)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.terms = step(networks, optimizers, self.x, self.alpha, autocast_dtype)

    def fill(self, i):
        start = (i * self.x.shape[0]) % (self.X.shape[0] - self.x.shape[0])
        torch.index_select(self.X, 0, self.rows + start, out=self.x)
        self.alpha.copy_(sample_alpha(self.x.shape[0], self.generator, self.x.device))

    def __call__(self, i):
        self.fill(i)
        self.graph.replay()
        return self.terms


class Eager:
    def __init__(self, networks, optimizers, X, batch_size, autocast_dtype, generator):
        self.args = networks, optimizers, autocast_dtype
        self.X, self.batch_size, self.generator = X, batch_size, generator

    def __call__(self, i):
        start = (i * self.batch_size) % (self.X.shape[0] - self.batch_size)
        x = self.X[start : start + self.batch_size]
        alpha = sample_alpha(self.batch_size, self.generator, x.device)
        networks, optimizers, autocast_dtype = self.args
        return step(networks, optimizers, x, alpha, autocast_dtype)


def check(spec, X, batch_size, autocast_dtype, n_steps=10):
    """Loss terms of ``n_steps`` eager and graphed steps from the same start."""
    runs = {}
    for kind in (Eager, Graphed):
        networks, optimizers = setup(spec)
        generator = torch.Generator("cuda").manual_seed(0)
        if kind is Graphed:  # its warm-up takes 3 steps: start both after them
            runner = Graphed(networks, optimizers, X, batch_size, autocast_dtype, generator)
        else:
            runner = Eager(networks, optimizers, X, batch_size, autocast_dtype, generator)
            for _ in range(3):  # the graph's warm-up steps: first batch, fresh alphas
                x = X[:batch_size]
                alpha = sample_alpha(batch_size, generator, x.device)
                step(networks, optimizers, x, alpha, autocast_dtype)
        runs[kind.__name__] = torch.stack([runner(i).clone() for i in range(1, n_steps + 1)])
    difference = (runs["Graphed"] - runs["Eager"]).abs().max() / runs["Eager"].abs().max()
    return float(difference)


def time_runner(runner, seconds):
    for i in range(5):
        runner(i)
    torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for _ in range(16):
            runner(n)
            n += 1
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    X = load_mnist_images(args.data).cuda()
    print(f"{device_name('cuda')}, torch {torch.__version__}")
    print(
        f"{'model':>8} {'batch':>5} {'precision':>9} {'eager':>10} {'graph':>10} {'ratio':>6}"
        f" {'check':>8}   steps/s"
    )
    rows = []
    for name in args.models:
        for batch_size in args.batch_sizes:
            for precision, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
                difference = check(MODELS[name], X, batch_size, dtype)
                rates = {}
                for kind in (Eager, Graphed):
                    networks, optimizers = setup(MODELS[name])
                    generator = torch.Generator("cuda").manual_seed(0)
                    runner = kind(networks, optimizers, X, batch_size, dtype, generator)
                    rates[kind.__name__] = time_runner(runner, args.seconds)
                ratio = rates["Graphed"] / rates["Eager"]
                print(
                    f"{name:>8} {batch_size:>5} {precision:>9} {rates['Eager']:>10,.0f} "
                    f"{rates['Graphed']:>10,.0f} {ratio:>6.2f} {difference:>8.1e}",
                    flush=True,
                )
                rows.append(
                    {
                        "model": name,
                        "batch_size": batch_size,
                        "precision": precision,
                        "steps_per_s": rates,
                        "loss_difference": difference,
                    }
                )
    if args.json:
        record = {"device": device_name("cuda"), "torch": torch.__version__, "rows": rows}
        append_record(args.json, record, echo=False)


if __name__ == "__main__":
    main()
