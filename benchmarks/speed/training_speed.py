"""Training and inference speed of skacai against a naive PyTorch loop, in one process.

The model is the TensorFlow 2 blog's (``/work/shared/seeds/acai_tf2_blog.txt``):
MLP encoder, decoder and critic with hidden layers 1000-1000, latent 32,
dropout 0.5, on MNIST's 60,000 x 784 training images. For each batch size it
times, alternately and in the same process,

- the naive loop: a straightforward eager PyTorch transcription of the blog's
  step (``nn.Sequential`` networks with ``nn.Dropout``, separate decoder and
  critic calls, two default, unfused ``torch.optim.Adam``, ``zero_grad`` and
  ``.backward()`` on each loss, each batch indexed from a NumPy array and
  converted to a tensor), computing the same losses as
  ``skacai._training.acai_losses``;
- skacai: ``ACAITransformer.partial_fit`` on a chunk of the same data (one
  epoch over it, so the estimator's per-call work is included),

after warming both up, for about ``--seconds`` each, and prints samples per
second and the ratio. The TensorFlow 2 figure is the one issue 7 measured on
the project's machine, quoted, not re-measured here. Then it times
``transform`` and ``inverse_transform`` of the blog model on the 60,000 images
against one forward pass over all of them (the one-shot baseline), and checks
that the results are identical.

    python benchmarks/speed/training_speed.py                   # batch 15000, 256, 64
    python benchmarks/speed/training_speed.py --batch-sizes 15000 --seconds 60 --threads 2
    python benchmarks/speed/training_speed.py --check           # same losses and gradients
    python benchmarks/speed/training_speed.py --masks --threads 1  # dropout masks, ns/element
    python benchmarks/speed/training_speed.py --autograd        # also skacai's autograd step
    python benchmarks/speed/training_speed.py --bf16            # also precision="bfloat16"
    python benchmarks/speed/training_speed.py --bf16-bound      # float32 vs all-bfloat16 step

``--check`` verifies on a seeded batch (dropout 0, so that both sides compute
exactly the same thing) that the naive step and skacai's steps (the
hand-written ``mlp_train_step`` that fits MLP networks, and the autograd
``train_step``) give the same four loss terms and the same gradients for every
parameter, and that a few Adam steps of each keep the same losses; it exits
with status 1 if not.
"""

from __future__ import annotations

import argparse
import copy
import functools
import itertools
import os
import resource
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    append_record,
    best_time,
    device_name,
    ignore_convergence,
    load_mnist,
    set_threads,
)
from torch import nn

from skacai import ACAITransformer, _mlp_step
from skacai._mlp_step import mlp_train_step
from skacai._networks import NetworkSpec, build_networks, dropout_mask
from skacai._training import (
    Networks,
    Optimizers,
    Workspace,
    sample_alpha,
    train_epoch,
    train_step,
)

# Samples per second of the blog's TensorFlow 2 code at batch 15000 on the
# project's 2-core machine, as measured in issue 7 (not re-measured here).
TF2_REFERENCE = 3000
BLOG = {"hidden": (1000, 1000), "n_components": 32, "dropout": 0.5}
LEAKY_SLOPE = 0.2
ADVERSARIAL_WEIGHT = 0.5  # lambda
CRITIC_REGULARIZATION = 0.2  # gamma
LEARNING_RATE = 1e-4  # the blog's


# ----------------------------------------------------------------- naive loop


def _sequential(sizes, dropout):
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers += [nn.LeakyReLU(LEAKY_SLOPE), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class NaiveCritic(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x).mean(dim=1)


class NaiveACAI:
    """The blog's training step as a straightforward PyTorch port would write it."""

    def __init__(self, n_features, hidden, n_components, dropout, networks=None, device="cpu"):
        self.device = torch.device(device)
        encoder_sizes = (n_features, *hidden, n_components)
        decoder_sizes = (n_components, *reversed(hidden), n_features)
        self.encoder = _sequential(encoder_sizes, dropout)
        self.decoder = _sequential(decoder_sizes, dropout)
        self.critic = NaiveCritic(_sequential(encoder_sizes, dropout))
        if networks is not None:  # start from skacai's weights, for --check
            for mine, theirs in zip(
                (self.encoder, self.decoder, self.critic.body),
                (networks.encoder, networks.decoder, networks.critic.body),
                strict=True,
            ):
                linears = [m for m in mine if isinstance(m, nn.Linear)]
                for linear, layer in zip(linears, theirs.layers, strict=True):
                    linear.load_state_dict(layer.state_dict())
        for module in (self.encoder, self.decoder, self.critic):
            module.to(self.device)
        self.ae_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.critic_params = list(self.critic.parameters())
        self.ae_optimizer = torch.optim.Adam(self.ae_params, lr=LEARNING_RATE)
        self.critic_optimizer = torch.optim.Adam(self.critic_params, lr=LEARNING_RATE)
        for module in (self.encoder, self.decoder, self.critic):
            module.train()

    def losses(self, x, alpha):
        z = self.encoder(x)
        x_hat = self.decoder(z)
        a = alpha.unsqueeze(1)
        x_mix = self.decoder(a * z + (1 - a) * z.flip(0))
        critic_mix = self.critic(x_mix)
        gamma = CRITIC_REGULARIZATION
        critic_reg = self.critic(gamma * x + (1 - gamma) * x_hat)
        reconstruction = ((x - x_hat) ** 2).mean()
        adversarial = (critic_mix**2).mean()
        critic = ((critic_mix - alpha) ** 2).mean()
        regularization = (critic_reg**2).mean()
        ae_loss = reconstruction + ADVERSARIAL_WEIGHT * adversarial
        critic_loss = critic + regularization
        return ae_loss, critic_loss, (reconstruction, adversarial, critic, regularization)

    def backward(self, ae_loss, critic_loss):
        """Each loss's gradient into its own parameters (the blog's two GradientTapes)."""
        self.ae_optimizer.zero_grad()
        self.critic_optimizer.zero_grad()
        ae_loss.backward(retain_graph=True, inputs=self.ae_params)
        critic_loss.backward(inputs=self.critic_params)

    def step(self, batch, alpha=None):
        """One update from a NumPy batch; returns the four loss terms."""
        x = torch.from_numpy(batch).to(self.device)
        if alpha is None:
            alpha = torch.rand(x.shape[0], device=self.device)
            alpha = 0.5 - (alpha - 0.5).abs()
        ae_loss, critic_loss, terms = self.losses(x, alpha)
        self.backward(ae_loss, critic_loss)
        self.ae_optimizer.step()
        self.critic_optimizer.step()
        return [term.item() for term in terms]


# ------------------------------------------------------------------- timing


def load_data(path):
    try:
        X = load_mnist(path)[0]
        source = f"MNIST train from {path}"
    except FileNotFoundError:
        X = np.random.default_rng(0).random((60_000, 784), dtype=np.float32)
        source = f"synthetic uniform data (no MNIST at {path})"
    return np.ascontiguousarray(X, dtype=np.float32), source


def global_scaling(X):
    """skacai's default scaling="global", so that both loops see the same numbers."""
    mean = X.mean(axis=0, dtype=np.float64)
    scale = np.sqrt(np.mean(X.var(axis=0, dtype=np.float64)))
    return ((X - mean) / scale).astype(np.float32)


class Timer:
    """Wall-clock seconds, process CPU seconds and minor page faults of a block.

    CPU time is less disturbed by other processes on a shared machine: with
    one thread it is about the wall time an idle machine would take.
    """

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults


def time_naive(naive, X_scaled, batch_size, n_steps, rng):
    """``n_steps`` naive steps; returns (samples, steps, wall s, CPU s, page faults)."""
    order = rng.permutation(X_scaled.shape[0])
    with Timer() as timer:
        for step in range(n_steps):
            rows = order[(step * batch_size) % len(order) :][:batch_size]
            naive.step(X_scaled[rows])  # per-batch NumPy indexing and tensor conversion
    return n_steps * batch_size, n_steps, timer.wall, timer.cpu, timer.faults


@contextmanager
def autograd_step():
    """skacai with its plain autograd ``train_step`` instead of the hand-written MLP step."""
    handles = _mlp_step.handles
    _mlp_step.handles = lambda networks: False
    try:
        yield
    finally:
        _mlp_step.handles = handles


def time_skacai(model, X, batch_size, n_steps, autograd=False):
    """About ``n_steps`` steps of one warm-started ``fit``; returns as :func:`time_naive`.

    One fit call, so its buffers are allocated once, as in a user's fit: on the
    first of its steps.
    """
    rows = min(X.shape[0], n_steps * batch_size)
    steps_per_epoch = -(-rows // batch_size)
    epochs = max(1, round(n_steps / steps_per_epoch))
    model.set_params(warm_start=True, max_iter=epochs)
    with ignore_convergence(), Timer() as timer:
        with autograd_step() if autograd else nullcontext():
            model.fit(X[:rows])
    return epochs * rows, epochs * steps_per_epoch, timer.wall, timer.cpu, timer.faults


def measure_training(
    X, X_scaled, batch_size, seconds, repeats, min_steps, autograd, bf16=False, device="cpu"
):
    """Samples per second (wall and CPU) of the naive loop and skacai, alternately.

    Both train on ``device``. The naive loop copies each batch to it and reads
    each step's losses back (``.item()``), as a straightforward port does; skacai
    synchronises once an epoch, so every timed run ends with the device idle.
    """
    hidden, n_components, dropout = BLOG["hidden"], BLOG["n_components"], BLOG["dropout"]
    naive = NaiveACAI(X.shape[1], hidden, n_components, dropout, device=device)
    rng = np.random.default_rng(0)
    contenders = {"naive": lambda steps: time_naive(naive, X_scaled, batch_size, steps, rng)}
    names = ["skacai"] + ["skacai_autograd"] * autograd + ["skacai_bf16"] * bf16
    for name in names:
        model = ACAITransformer(
            n_components,
            hidden_layer_sizes=hidden,
            dropout=dropout,
            batch_size=batch_size,
            learning_rate_init=LEARNING_RATE,
            precision="bfloat16" if name == "skacai_bf16" else "float32",
            device=device,
            random_state=0,
        ).partial_fit(X[:batch_size])  # initialises the model
        contenders[name] = functools.partial(
            time_skacai, model, X, batch_size, autograd=name == "skacai_autograd"
        )
    # Warm-up (allocations, first-call costs), which also estimates a step's time.
    warm = min(2, max(1, X.shape[0] // batch_size))
    steps = {}
    for name, run in contenders.items():
        _, n_steps, wall, _, _ = run(warm)
        steps[name] = max(min_steps, round(seconds / (wall / n_steps)))
    runs = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            runs[name].append(run(steps[name]))
    row = {"batch_size": batch_size, "runs": runs}
    for name, measured in runs.items():
        row[f"{name}_samples_per_s"] = max(m[0] / m[2] for m in measured)
        row[f"{name}_samples_per_cpu_s"] = max(m[0] / m[3] for m in measured)
        row[f"{name}_faults_per_step"] = min(m[4] / m[1] for m in measured)
    row["ratio"] = row["skacai_samples_per_s"] / row["naive_samples_per_s"]
    row["cpu_ratio"] = row["skacai_samples_per_cpu_s"] / row["naive_samples_per_cpu_s"]
    if bf16:
        row["bf16_ratio"] = row["skacai_bf16_samples_per_s"] / row["naive_samples_per_s"]
        row["bf16_cpu_ratio"] = (
            row["skacai_bf16_samples_per_cpu_s"] / row["naive_samples_per_cpu_s"]
        )
    return row


def measure_inference(X, repeats, device="cpu"):
    """transform / inverse_transform of the blog model vs one forward pass over all of X."""
    hidden, n_components = BLOG["hidden"], BLOG["n_components"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ACAITransformer(
            n_components, hidden_layer_sizes=hidden, batch_size=1000, device=device, random_state=0
        ).partial_fit(X[:1000])
    results = []
    for dtype in (np.float32, np.float64):
        data = X.astype(dtype)
        codes, seconds = best_time(lambda data=data: model.transform(data), repeats)
        one_shot, one_shot_seconds = best_time(
            lambda data=data: one_shot_encode(model, data), repeats
        )
        results.append(
            inference_row("transform", dtype, data, codes, seconds, one_shot, one_shot_seconds)
        )
        decoded, seconds = best_time(lambda codes=codes: model.inverse_transform(codes), repeats)
        one_shot, one_shot_seconds = best_time(
            lambda codes=codes: one_shot_decode(model, codes), repeats
        )
        results.append(
            inference_row(
                "inverse_transform", dtype, codes, decoded, seconds, one_shot, one_shot_seconds
            )
        )
    return results


def one_shot_encode(model, X):
    encoder = model.encoder_ if X.dtype == np.float32 else copy.deepcopy(model.encoder_).double()
    with torch.inference_mode():
        return (
            encoder(
                torch.from_numpy((X - model.mean_) / model.scale_).to(
                    model.device_, torch.float32 if X.dtype == np.float32 else torch.float64
                )
            )
            .cpu()
            .numpy()
        )


def one_shot_decode(model, codes):
    decoder = (
        model.decoder_ if codes.dtype == np.float32 else copy.deepcopy(model.decoder_).double()
    )
    with torch.inference_mode():
        decoded = decoder(torch.from_numpy(codes).to(model.device_)).cpu().numpy()
    return (decoded * model.scale_ + model.mean_).astype(codes.dtype)


def inference_row(method, dtype, inputs, result, seconds, one_shot, one_shot_seconds):
    return {
        "method": method,
        "dtype": np.dtype(dtype).name,
        "rows": inputs.shape[0],
        "samples_per_s": inputs.shape[0] / seconds,
        "one_shot_samples_per_s": inputs.shape[0] / one_shot_seconds,
        "identical": bool(np.array_equal(result, one_shot)),
        "max_abs_difference": float(np.max(np.abs(result.astype(np.float64) - one_shot))),
    }


# -------------------------------------------------------------------- masks


def measure_masks(shape=(15000, 1000), repeats=7):
    """ns per element of ways to draw (and apply) a dropout mask on a ``shape`` tensor.

    Each is timed in steady state (best of ``repeats``), writing into reused
    buffers where the method allows it, so that fresh memory's page faults are
    not counted (they are the same for every method that allocates).
    """
    generator = torch.Generator().manual_seed(0)
    n = shape[0] * shape[1]
    x, buffer = torch.randn(shape), torch.empty(shape)

    def bits_by_hand():
        words = torch.empty(-(-n // 64), dtype=torch.int64)
        words.random_(-(2**63), None, generator=generator)
        shifts = torch.arange(8, dtype=torch.uint8)
        return (words.view(torch.uint8).unsqueeze(1) >> shifts).bitwise_and_(1)

    methods = {
        "bernoulli_(0.5, generator) into a buffer": lambda: buffer.bernoulli_(
            0.5, generator=generator
        ),
        "F.dropout(x, 0.5) (global RNG, mask and multiply)": lambda: nn.functional.dropout(
            x, 0.5, True
        ),
        "nn.Dropout(0.5)(x) (global RNG, mask and multiply)": lambda: nn.Dropout(0.5)(x),
        "rand(generator) >= 0.5 (bool mask)": lambda: (
            torch.rand(shape, generator=generator) >= 0.5
        ),
        "randint(0, 2, generator) (uint8 mask)": lambda: torch.randint(
            0, 2, shape, generator=generator, dtype=torch.uint8
        ),
        "random 64-bit words unpacked to bits (uint8 mask)": bits_by_hand,
        "skacai dropout_mask(rate=0.5): bits, scaled float mask": lambda: dropout_mask(
            shape, 0.5, generator, "cpu", out=buffer
        ),
        "skacai dropout_mask(rate=0.3): uniform >= rate, scaled": lambda: dropout_mask(
            shape, 0.3, generator, "cpu", out=buffer
        ),
        "applying a float mask in place (x.mul_(mask))": lambda: x.mul_(buffer),
    }
    torch.manual_seed(0)  # F.dropout and nn.Dropout draw from the global generator
    results = {}
    for name, method in methods.items():
        method()  # warm-up
        _, best = best_time(method, repeats)
        results[name] = best / n * 1e9
    return results


# --------------------------------------------------------------------- bf16


def measure_precisions(X_scaled, batch_size, seconds):
    """Samples per second of skacai's MLP step with everything in float32, then in bfloat16.

    bfloat16 here means weights, activations and Adam's state all in bfloat16:
    an upper bound on what bfloat16 matrix products could gain, not a way to
    train (a real mixed-precision step would keep float32 weights and losses).
    """
    spec = NetworkSpec("mlp", X_scaled.shape[1], BLOG["n_components"], BLOG["hidden"])
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        modules = build_networks(spec, torch.Generator().manual_seed(0), "cpu")
        networks = Networks(*(module.to(dtype).train() for module in modules))
        optimizers = Optimizers(
            torch.optim.Adam(networks.autoencoder_parameters(), lr=LEARNING_RATE, fused=True),
            torch.optim.Adam(networks.critic_parameters(), lr=LEARNING_RATE, fused=True),
        )
        X = torch.from_numpy(X_scaled).to(dtype)
        epoch = functools.partial(
            train_epoch,
            networks,
            optimizers,
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
            adversarial_weight=ADVERSARIAL_WEIGHT,
            critic_regularization=CRITIC_REGULARIZATION,
            dropout=BLOG["dropout"],
            workspace=Workspace(X.device, dtype),
        )
        with Timer() as warm_up:
            epoch(X[:batch_size])
        rows = min(X.shape[0], batch_size * max(2, round(seconds / warm_up.wall)))
        with Timer() as timer:
            epoch(X[:rows])
        results[str(dtype).removeprefix("torch.")] = (rows / timer.wall, rows / timer.cpu)
    return results


# -------------------------------------------------------------------- check


def _skacai_step(kind, networks, optimizers, x, alpha, workspace):
    args = (networks, optimizers, x, alpha, ADVERSARIAL_WEIGHT, CRITIC_REGULARIZATION)
    if kind == "mlp_train_step":
        terms = mlp_train_step(*args, workspace=workspace)
    else:
        terms = train_step(*args)
    return [term.item() for term in terms]


def _relative_error(ours, reference):
    return max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(ours, reference, strict=True))


def check_step(kind, X_scaled, networks, batch_size, n_adam_steps):
    """skacai's ``kind`` of step vs the naive one from the same weights, dropout 0."""
    hidden, n_components = BLOG["hidden"], BLOG["n_components"]
    n_features = X_scaled.shape[1]
    generator = torch.Generator().manual_seed(1)
    x = torch.from_numpy(X_scaled[:batch_size])
    alpha = sample_alpha(batch_size, generator, "cpu")
    workspace = Workspace(x.device, x.dtype)

    # Losses and gradients: one SGD step with lr=1 moves each parameter by minus its gradient.
    ours = Networks(*(copy.deepcopy(module) for module in networks))
    parameters = [*ours.autoencoder_parameters(), *ours.critic_parameters()]
    before = [p.detach().clone() for p in parameters]
    sgd = Optimizers(
        torch.optim.SGD(ours.autoencoder_parameters(), lr=1.0),
        torch.optim.SGD(ours.critic_parameters(), lr=1.0),
    )
    our_terms = _skacai_step(kind, ours, sgd, x, alpha, workspace)
    our_grads = [old - new.detach() for old, new in zip(before, parameters, strict=True)]
    naive = NaiveACAI(n_features, hidden, n_components, 0.0, networks=networks)
    ae_loss, critic_loss, terms = naive.losses(x, alpha)
    naive.backward(ae_loss, critic_loss)
    naive_terms = [t.item() for t in terms]
    naive_grads = [p.grad for p in (*naive.ae_params, *naive.critic_params)]
    term_error = _relative_error(our_terms, naive_terms)
    grad_error = max(
        ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
        for a, b in zip(our_grads, naive_grads, strict=True)
    )
    print(f"  skacai's {kind}")
    print(f"    loss terms: naive  {' '.join(f'{t:.7g}' for t in naive_terms)}")
    print(f"                skacai {' '.join(f'{t:.7g}' for t in our_terms)}")
    print(
        f"    largest relative difference: loss terms {term_error:.1e}, gradients "
        f"{grad_error:.1e} (relative to each parameter's largest gradient)"
    )

    # A few Adam steps on each side from the same weights and batches.
    naive = NaiveACAI(n_features, hidden, n_components, 0.0, networks=networks)
    ours = Networks(*(copy.deepcopy(module) for module in networks))
    adam = Optimizers(
        torch.optim.Adam(ours.autoencoder_parameters(), lr=LEARNING_RATE, fused=True),
        torch.optim.Adam(ours.critic_parameters(), lr=LEARNING_RATE, fused=True),
    )
    step_errors = []
    for step in range(n_adam_steps):
        x = X_scaled[step * batch_size : (step + 1) * batch_size]
        alpha = sample_alpha(batch_size, generator, "cpu")
        naive_terms = naive.step(x, alpha)
        our_terms = _skacai_step(kind, ours, adam, torch.from_numpy(x), alpha, workspace)
        step_errors.append(_relative_error(our_terms, naive_terms))
    print(
        f"    {n_adam_steps} Adam steps: largest relative loss difference per step "
        f"{', '.join(f'{e:.1e}' for e in step_errors)}"
    )
    return term_error < 1e-5 and grad_error < 1e-4 and max(step_errors) < 1e-3


def run_check(X_scaled, batch_size=256, n_adam_steps=5):
    """The naive step vs skacai's steps on seeded batches, dropout 0; True if they agree."""
    spec = NetworkSpec("mlp", X_scaled.shape[1], BLOG["n_components"], BLOG["hidden"])
    networks = Networks(*build_networks(spec, torch.Generator().manual_seed(0), "cpu"))
    for module in networks:
        module.train()
    print(
        f"check: the blog's networks, batch {batch_size}, dropout 0, lambda "
        f"{ADVERSARIAL_WEIGHT}, gamma {CRITIC_REGULARIZATION}; loss terms: reconstruction, "
        "adversarial, critic, critic regularization"
    )
    ok = all(
        [  # a list: run both checks whatever the first one says
            check_step(kind, X_scaled, networks, batch_size, n_adam_steps)
            for kind in ("mlp_train_step", "train_step")
        ]
    )
    print("check:", "OK" if ok else "FAILED")
    return ok


# --------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[15000, 256, 64])
    parser.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="time per measurement after warm-up (default: 20)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's, one per core)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="alternate naive / skacai this many times, keep the best",
    )
    parser.add_argument("--min-steps", type=int, default=3)
    parser.add_argument(
        "--autograd",
        action="store_true",
        help="also time skacai with its plain autograd train_step instead of the "
        "hand-written MLP step",
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="also time skacai with precision='bfloat16' (mixed precision)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    add_mode_arguments(parser)
    parser.add_argument("--json", type=Path, help="append the results as one JSON line")
    return parser.parse_args(argv)


def add_mode_arguments(parser):
    """The options that pick what to run: a check, a part of the step, or the device."""
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that both steps compute the same losses and gradients",
    )
    parser.add_argument(
        "--masks",
        action="store_true",
        help="only time ways to draw dropout masks on a 15000 x 1000 tensor (ns/element)",
    )
    parser.add_argument(
        "--bf16-bound",
        action="store_true",
        help="only compare skacai's MLP step in float32 and all-bfloat16 (a speed bound)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device for both loops and for inference, e.g. cuda (default: cpu)",
    )
    parser.add_argument("--no-inference", action="store_true")
    parser.add_argument("--no-training", action="store_true")


def print_precisions(X_scaled, args):
    """``--bf16-bound``: skacai's MLP step in float32 and all-bfloat16, per batch size."""
    print(
        f"skacai's MLP step, blog model, {torch.get_num_threads()} threads: samples/s "
        "(per CPU second); bfloat16 = weights, activations and Adam state in bfloat16"
    )
    for batch_size in args.batch_sizes:
        rates = measure_precisions(X_scaled, batch_size, args.seconds)
        print(
            f"  batch {batch_size:>6}: "
            + ", ".join(f"{name} {wall:,.0f} ({cpu:,.0f})" for name, (wall, cpu) in rates.items())
            + f"; ratio {rates['bfloat16'][1] / rates['float32'][1]:.2f} per CPU second",
            flush=True,
        )


def print_masks():
    """``--masks``: ns per element of each way to draw a dropout mask."""
    print(f"dropout masks on 15000 x 1000, {torch.get_num_threads()} threads, ns/element")
    for name, ns in measure_masks().items():
        print(f"  {name:<56} {ns:6.2f}")


def environment_of(X, source, device):
    """What the results were measured on (for the record), printed in one line."""
    environment = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device_name(device),
        "load_average_start": os.getloadavg()[0],
        "data": source,
    }
    print(
        f"{source}, {X.shape[0]} x {X.shape[1]}; torch {environment['torch']}, "
        f"{environment['threads']} threads, {environment['cpu_capability']}, "
        f"device {environment['device']}, "
        f"load average {environment['load_average_start']:.2f}"
    )
    return environment


def run_training(X, X_scaled, args):
    """The training table: naive loop against skacai per batch size; its rows."""
    print(
        f"\ntraining: MLP {'-'.join(map(str, BLOG['hidden']))}, latent "
        f"{BLOG['n_components']}, dropout {BLOG['dropout']}; samples/s "
        f"(best of {args.repeats}, ~{args.seconds:g} s each after warm-up)"
    )
    print(
        f"{'':>7} {'samples per second':>33}   {'samples per CPU second':>33}\n"
        f"{'batch':>7} {'naive':>9} {'skacai':>9} {'skacai/naive':>13}"
        f"   {'naive':>9} {'skacai':>9} {'skacai/naive':>13}"
    )
    rows = []
    for batch_size in args.batch_sizes:
        row = measure_training(
            X,
            X_scaled,
            batch_size,
            args.seconds,
            args.repeats,
            args.min_steps,
            args.autograd,
            args.bf16,
            args.device,
        )
        rows.append(row)
        print_training_row(row, args)
    print(
        f"TF2 blog code at batch 15000: about {TF2_REFERENCE:,} samples/s (issue 7's "
        "measurement on this project's machine, quoted, not re-measured here)"
    )
    return rows


def print_training_row(row, args):
    """One batch size's line of the training table, and its indented notes."""
    print(
        f"{row['batch_size']:>7} {row['naive_samples_per_s']:>9,.0f} "
        f"{row['skacai_samples_per_s']:>9,.0f} {row['ratio']:>13.2f}   "
        f"{row['naive_samples_per_cpu_s']:>9,.0f} "
        f"{row['skacai_samples_per_cpu_s']:>9,.0f} {row['cpu_ratio']:>13.2f}",
        flush=True,
    )
    extra = []
    if args.autograd:
        extra.append(
            f"skacai with autograd's train_step: "
            f"{row['skacai_autograd_samples_per_s']:,.0f} samples/s, "
            f"{row['skacai_autograd_samples_per_cpu_s']:,.0f} per CPU s"
        )
    if args.bf16:
        extra.append(
            f"skacai with precision='bfloat16': "
            f"{row['skacai_bf16_samples_per_s']:,.0f} samples/s "
            f"({row['bf16_ratio']:.2f} x naive), "
            f"{row['skacai_bf16_samples_per_cpu_s']:,.0f} per CPU s "
            f"({row['bf16_cpu_ratio']:.2f} x naive)"
        )
    faults = ", ".join(
        f"{name} {row[f'{name}_faults_per_step']:,.0f}"
        for name in ("naive", "skacai", "skacai_autograd", "skacai_bf16")
        if f"{name}_faults_per_step" in row
    )
    extra.append(f"page faults per step: {faults}")
    print("".join(f"{'':>10}{line}\n" for line in extra), end="", flush=True)


def run_inference(X, args):
    """The inference table: transform / inverse_transform against one-shot passes; its rows."""
    print(
        f"\ninference: the blog model on {X.shape[0]} x {X.shape[1]}; samples/s "
        f"(best of 3); one-shot = one forward pass over all rows"
    )
    print(f"{'method':>17} {'dtype':>7} {'skacai':>9} {'one-shot':>9} {'identical':>9}")
    rows = measure_inference(X, repeats=3, device=args.device)
    for row in rows:
        same = "yes" if row["identical"] else f"{row['max_abs_difference']:.1e}"
        print(
            f"{row['method']:>17} {row['dtype']:>7} {row['samples_per_s']:>9,.0f} "
            f"{row['one_shot_samples_per_s']:>9,.0f} {same:>9}",
            flush=True,
        )
    return rows


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    X, source = load_data(args.data)
    X_scaled = global_scaling(X)
    if args.check:
        return 0 if run_check(X_scaled) else 1
    if args.bf16_bound:
        print_precisions(X_scaled, args)
        return 0
    if args.masks:
        print_masks()
        return 0
    environment = environment_of(X, source, args.device)
    results = {"environment": environment, "training": [], "inference": []}
    if not args.no_training:
        results["training"] = run_training(X, X_scaled, args)
    if not args.no_inference:
        results["inference"] = run_inference(X, args)
    environment["load_average_end"] = os.getloadavg()[0]
    print(f"\nload average at the end: {environment['load_average_end']:.2f}")
    append_record(args.json, results, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
