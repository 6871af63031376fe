"""Devices, seeds and generators: where the networks run and where their randomness comes from."""

from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

from skacai._memory import available_bytes, format_bytes
from skacai._networks import meta_networks


def resolve_device(device):
    """The torch device for the ``device`` parameter ("auto": CUDA if torch has it)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return resolved


def captures(device):
    """Whether training on ``device`` replays CUDA graphs (and so needs capturable Adam)."""
    return torch.device(device).type == "cuda"


_FLOAT32_LOCK = threading.Lock()
_float32_users = [0, None]  # blocks inside float32_convolutions, the setting they replaced


@contextmanager
def float32_convolutions(device):
    """Full float32 convolutions on CUDA for the block (cuDNN's default is TF32).

    TF32 keeps 10 mantissa bits; the paper trained in float32. The setting is
    process-wide, so concurrent blocks (fits in several threads) share it: the
    first to enter replaces it, the last to leave restores it. No effect on
    other devices.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    flags = torch.backends.cudnn.conv
    with _FLOAT32_LOCK:
        if _float32_users[0] == 0:
            _float32_users[1] = flags.fp32_precision
            flags.fp32_precision = "ieee"
        _float32_users[0] += 1
    try:
        yield
    finally:
        with _FLOAT32_LOCK:
            _float32_users[0] -= 1
            if _float32_users[0] == 0:
                flags.fp32_precision = _float32_users[1]


def random_state(seed):
    """A private RandomState: seeded from ``seed``, or from OS entropy for None.

    ``check_random_state(None)`` would return NumPy's global generator, which
    skacai promises never to draw from.
    """
    if seed is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(4))
    return check_random_state(seed)


def draw_seed(rng):
    """A torch seed drawn from the RandomState ``rng``."""
    return int(rng.randint(0, 2**31 - 1))


def new_generator_state(rng, device):
    """``(device, state)`` of a fresh torch generator on ``device`` seeded from ``rng``."""
    return str(device), torch.Generator(device=device).manual_seed(draw_seed(rng)).get_state()


def restore_generator(saved, device):
    """A generator on ``device`` continuing the saved ``(device, state)``.

    Generator states do not transfer between device types: on another device the
    generator is seeded from a digest of the saved state instead.
    """
    saved_device, state = saved
    generator = torch.Generator(device=device)
    if saved_device == str(device):
        generator.set_state(state)
    else:
        digest = hashlib.sha256(state.numpy().tobytes()).digest()
        generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    return generator


def check_network_memory(spec, n_samples, device, own=()):
    """MemoryError, before anything is allocated, for networks that cannot fit in memory.

    Counts four float32 copies of every weight (the weight, its gradient and
    Adam's two moments) of skacai's networks and the user's modules ``own``;
    activations come on top. Data passed transposed (a few rows of very many
    columns) is the usual cause, and the message says so.
    """
    networks = [n for n in (*meta_networks(spec), *own) if n is not None]
    n_weights = sum(p.numel() for network in networks for p in network.parameters())
    needed, available = 16 * n_weights, available_bytes(device)
    if available is None or needed <= available:
        return
    hint = (
        f" X has {n_samples:,} rows of {spec.n_features:,} features: if its rows are "
        "features, pass X.T."
        if spec.n_features > n_samples
        else ""
    )
    raise MemoryError(
        f"The networks for {spec.n_features:,} features ({n_weights:,} weights) need "
        f"{format_bytes(needed)} to train, more than the {format_bytes(available)} free "
        f"on {device}.{hint} Otherwise use smaller hidden_layer_sizes, conv_width or "
        "n_components."
    )
