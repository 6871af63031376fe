"""Training and inference speed of the conv networks in the two memory layouts.

``build_networks`` keeps the convolutional networks' weights channels-last
(``torch.channels_last``), so their convolutions run in that layout. This
script measures what that buys against the default (contiguous, NCHW) layout,
in one process, alternating the two: for each conv width and precision it
builds the paper's conv encoder, decoder and critic for 28 x 28 images (latent
32, seeded), then times the training step (``skacai._training.train_step``,
the step ``ACAITransformer`` trains conv networks with, fused Adam) on MNIST
batches for about ``--seconds`` in each layout, and prints samples per second
and the ratio. Then it times the encoder and decoder over 60,000 images in
both layouts (``--no-inference`` skips that) and reports the largest
difference between the layouts' codes (the values agree to rounding; the
algorithms differ).

    python benchmarks/speed/conv_layout.py --threads 2
    python benchmarks/speed/conv_layout.py --widths 16 --batch-size 64 --seconds 20 --repeats 3
    python benchmarks/speed/conv_layout.py --no-training --inference-rows 32 64 128 256 1024
    python benchmarks/speed/conv_layout.py --device cuda --inference-rows 128 4096

On a GPU (``--device cuda``) the clock is read after the device's queued work
has finished, and bfloat16 is timed by default.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import DEFAULT_MNIST, append_record, device_name, load_mnist_images, set_threads

from skacai._networks import NetworkSpec, build_networks
from skacai._training import Networks, Optimizers, sample_alpha, train_step

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


def networks_in(layout, width, seed=0, device="cpu", latent=32):
    spec = NetworkSpec("conv", 784, latent, (), (1, 28, 28), width, 3)
    generator = torch.Generator().manual_seed(seed)
    networks = Networks(*build_networks(spec, generator, torch.device("cpu")))
    for module in networks:
        module.to(device, memory_format=LAYOUTS[layout])
    return networks


def synchronize(device):
    """Wait for ``device``'s queued work, so that a host clock reads its end."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(networks, X, batch_size, autocast_dtype, seconds):
    optimizers = Optimizers(
        torch.optim.Adam(networks.autoencoder_parameters(), fused=True),
        torch.optim.Adam(networks.critic_parameters(), fused=True),
    )
    generator = torch.Generator(X.device).manual_seed(0)
    n_batches = X.shape[0] // batch_size

    def step(i):
        x = X[(i % n_batches) * batch_size :][:batch_size]
        alpha = sample_alpha(batch_size, generator, x.device)
        train_step(networks, optimizers, x, alpha, 0.5, 0.2, autocast_dtype)

    for i in range(3):  # warm-up: oneDNN primitives / cuDNN plans, optimiser state
        step(i)
    synchronize(X.device)
    start, n_steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for _ in range(8 if X.device.type == "cuda" else 1):  # the host runs ahead
            step(n_steps)
            n_steps += 1
    synchronize(X.device)
    return n_steps * batch_size / (time.perf_counter() - start)


def time_inference(networks, X, rows=128, repeats=2):
    """Best-of-``repeats`` seconds to encode and to decode ``X``, ``rows`` at a time."""
    encoder, decoder = networks.encoder.eval(), networks.decoder.eval()
    timings, codes = {"encode": [], "decode": []}, None
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            codes = torch.cat([encoder(X[i : i + rows]) for i in range(0, len(X), rows)])
            synchronize(X.device)
            timings["encode"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(0, len(codes), rows):
                decoder(codes[i : i + rows])
            synchronize(X.device)
            timings["decode"].append(time.perf_counter() - start)
    return {key: min(value) for key, value in timings.items()}, codes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 8])
    parser.add_argument("--precisions", nargs="+", choices=list(PRECISIONS), default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0, help="per timed run")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per layout")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-training", action="store_true")
    parser.add_argument("--no-inference", action="store_true")
    parser.add_argument(
        "--inference-rows",
        type=int,
        nargs="+",
        default=[128],
        help="rows per encoder / decoder call (skacai uses 128 on the CPU)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path, help="append the results as one JSON line")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    set_threads(args.threads)
    precisions = args.precisions
    if precisions is None:
        precisions = ["float32"] + (
            ["bfloat16"] if device.type == "cuda" or torch.backends.mkldnn.is_available() else []
        )
    X = load_mnist_images(args.data).to(device)
    print(
        f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"device {device_name(device)}, "
        f"load {os.getloadavg()[0]:.2f}; batch {args.batch_size}, best of {args.repeats} "
        f"alternating runs of ~{args.seconds:g} s"
    )
    training = []
    if not args.no_training:
        header = f"{'width':>5} {'precision':>9} {'contiguous':>11} {'channels_last':>14}"
        print(f"{header} {'ratio':>6}")
    for width in [] if args.no_training else args.widths:
        for precision in precisions:
            best = dict.fromkeys(LAYOUTS, 0.0)
            for _ in range(args.repeats):
                for layout in LAYOUTS:
                    rate = time_training(
                        networks_in(layout, width, device=device),
                        X,
                        args.batch_size,
                        PRECISIONS[precision],
                        args.seconds,
                    )
                    best[layout] = max(best[layout], rate)
            ratio = best["channels_last"] / best["contiguous"]
            print(
                f"{width:>5} {precision:>9} {best['contiguous']:>11.1f} "
                f"{best['channels_last']:>14.1f} {ratio:>6.2f}   samples/s of training",
                flush=True,
            )
            training.append({"width": width, "precision": precision, "training": best})
    inference = []
    if not args.no_inference:
        print(
            f"\n{'width':>5} {'rows':>5} {'pass':>6} {'contiguous':>11} "
            f"{'channels_last':>14} {'ratio':>6}"
        )
        for width in args.widths:
            for rows in args.inference_rows:
                results = {
                    layout: time_inference(networks_in(layout, width, device=device), X, rows)
                    for layout in LAYOUTS
                }
                difference = float(
                    (results["contiguous"][1] - results["channels_last"][1]).abs().max()
                )
                for key in ("encode", "decode"):
                    rates = {layout: len(X) / results[layout][0][key] for layout in LAYOUTS}
                    print(
                        f"{width:>5} {rows:>5} {key:>6} {rates['contiguous']:>11.0f} "
                        f"{rates['channels_last']:>14.0f} "
                        f"{rates['channels_last'] / rates['contiguous']:>6.2f}   "
                        "samples/s (float32)"
                    )
                    inference.append(
                        {"width": width, "rows": rows, "pass": key, "samples_per_s": rates}
                    )
                print(f"{width:>5} {rows:>5} codes: layouts differ by at most {difference:.2e}")
    if args.json:
        record = {
            "machine": f"{platform.machine()}, torch {torch.__version__}",
            "device": device_name(device),
            "threads": torch.get_num_threads(),
            "batch_size": args.batch_size,
            "seconds": args.seconds,
            "repeats": args.repeats,
            "training": training,
            "inference": inference,
        }
        append_record(args.json, record, echo=False)


if __name__ == "__main__":
    main()
