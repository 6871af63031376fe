"""The three ACAI networks: encoder f, decoder g and critic d.

Each architecture lives in a small builder that returns plain ``torch.nn.Module``
objects; the estimator only ever calls :func:`build_networks`. Every module
takes and returns flat ``(n, n_features)`` / ``(n, n_components)`` tensors, so
the training loop and the estimator do not depend on the architecture: the
convolutional modules reshape, pad and crop inside.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple

import torch
from torch import nn

from skacai._validation import is_int

LEAKY_SLOPE = 0.2
# The estimator's attributes that hold the three networks, in Networks' order.
NETWORK_ATTRIBUTES = ("encoder_", "decoder_", "critic_")


class Networks(NamedTuple):
    encoder: nn.Module
    decoder: nn.Module
    critic: nn.Module

    def autoencoder_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder.parameters(), *self.decoder.parameters()]

    def critic_parameters(self) -> list[nn.Parameter]:
        return list(self.critic.parameters())


# The largest layer size (torch indexes some kernels with 32-bit ints).
MAX_SIZE = 2**31 - 1


def hidden_sizes(value) -> tuple[int, ...]:
    """``hidden_layer_sizes`` (an int or a sequence of ints) as a tuple of ints;
    ValueError unless each is a positive int of at most ``MAX_SIZE``."""
    sizes = (value,) if isinstance(value, Integral) else tuple(value)
    if not all(is_int(s) and 0 < s <= MAX_SIZE for s in sizes):
        raise ValueError(
            "hidden_layer_sizes must be a positive int or a sequence of positive "
            f"ints (at most 2**31 - 1), got {value!r}."
        )
    return tuple(int(s) for s in sizes)


def auto_n_scales(image_shape: tuple[int, int, int] | None) -> int:
    """``n_scales="auto"`` for a (validated) image shape: halve down to about 4 cells
    on the shorter side (of the sides longer than 1: a 1-D signal counts its
    length); 0 without an image shape (MLP networks have no scales)."""
    if image_shape is None:
        return 0
    sides = [side for side in image_shape[1:] if side > 1] or [1]
    return max(0, math.ceil(math.log2(min(sides) / 4)))


@dataclass(frozen=True)
class NetworkSpec:
    """Everything needed to rebuild the networks (weights excluded)."""

    architecture: str
    n_features: int
    n_components: int
    hidden_layer_sizes: tuple[int, ...] = ()
    # Convolutional architecture only (defaults keep older pickles loadable).
    image_shape: tuple[int, int, int] | None = None
    conv_width: int = 16
    n_scales: int = 3
    # Where the conv networks pad an image up to a multiple of 2**n_scales, with what
    # value (in scaled units), and whether the reconstruction loss and the critic see
    # the padded image (the paper) or only the original pixels.
    pad_center: bool = False
    pad_value: float = 0.0
    loss_on_padding: bool = False
    # Per part (encoder, decoder, critic): None for skacai's own network, else the
    # description of the user's (skacai._custom.describe), whose weights come from it.
    custom: tuple = (None, None, None)

    @property
    def builtin(self) -> tuple[bool, bool, bool]:
        """Which of encoder, decoder and critic are skacai's own networks."""
        return tuple(part is None for part in self.custom)


@dataclass(frozen=True)
class ConvGeometry:
    """How a ``(channels, height, width)`` image maps onto the conv networks.

    Spatial axes longer than one pixel are padded to a multiple of
    ``2 ** n_scales`` (at the end, or centred with the odd pixel at the end,
    filled with ``pad_value``) and halved ``n_scales`` times; an axis of length
    one (a 1-D signal stored as a one-row image) is left alone. The latent code
    is a ``(latent_channels, *latent_grid)`` array, flattened channel-first.
    """

    image_shape: tuple[int, int, int]
    n_scales: int
    n_components: int
    pad_center: bool = False
    pad_value: float = 0.0

    @property
    def pooled_axes(self) -> tuple[bool, bool]:
        return tuple(size > 1 for size in self.image_shape[1:])

    @property
    def padded_shape(self) -> tuple[int, int]:
        step = 2**self.n_scales
        return tuple(
            -(-size // step) * step if pooled else size
            for size, pooled in zip(self.image_shape[1:], self.pooled_axes, strict=True)
        )

    @property
    def latent_grid(self) -> tuple[int, int]:
        step = 2**self.n_scales
        return tuple(
            size // step if pooled else size
            for size, pooled in zip(self.padded_shape, self.pooled_axes, strict=True)
        )

    @property
    def latent_channels(self) -> int:
        return self.n_components // math.prod(self.latent_grid)

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """Pixels added ``(left, right, top, bottom)``, in ``torch.nn.functional.pad``'s order."""
        (height, width), (padded_height, padded_width) = self.image_shape[1:], self.padded_shape
        extra_h, extra_w = padded_height - height, padded_width - width
        top, left = (extra_h // 2, extra_w // 2) if self.pad_center else (0, 0)
        return left, extra_w - left, top, extra_h - top

    @property
    def n_padded_features(self) -> int:
        return self.image_shape[0] * math.prod(self.padded_shape)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Flat images ``(n, n_features)`` -> padded images ``(n, channels, *padded_shape)``.

        Rows that are already padded (``n_padded_features`` long) are only reshaped.
        """
        if x.shape[1] == self.n_padded_features:
            return x.reshape(x.shape[0], self.image_shape[0], *self.padded_shape)
        image = x.reshape(x.shape[0], *self.image_shape)
        if any(self.padding):
            image = nn.functional.pad(image, self.padding, value=self.pad_value)
        return image

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """Padded images -> flat images of the original shape (the padding cut off)."""
        left, _, top, _ = self.padding
        height, width = self.image_shape[1:]
        return image[:, :, top : top + height, left : left + width].flatten(start_dim=1)

    @property
    def pool_kernel(self) -> tuple[int, int]:
        return tuple(2 if pooled else 1 for pooled in self.pooled_axes)

    def check(self) -> None:
        """Raise ValueError when ``n_components`` does not fill the latent grid."""
        cells = math.prod(self.latent_grid)
        if self.n_components % cells:
            options = ", ".join(str(cells * k) for k in (1, 2, 4, 8, 16))
            raise ValueError(
                f"architecture='conv' with image_shape={self.image_shape} and "
                f"n_scales={self.n_scales} has a latent grid of "
                f"{self.latent_grid[0]}x{self.latent_grid[1]} = {cells} cells, so "
                f"n_components must be a multiple of {cells} (got "
                f"{self.n_components}); e.g. {options}, or change n_scales."
            )


def dropout_mask(
    shape: tuple[int, ...],
    rate: float,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """A scaled Bernoulli keep mask: ``1 / (1 - rate)`` with probability ``1 - rate``, else 0.

    Drawn from ``generator`` only (``None``: torch's default generator), into
    ``out`` when given (of ``shape`` and ``dtype``). At ``rate=0.5`` each
    element is one bit of random 64-bit words, so the generator runs once per
    64 elements (about 1.5 ns per element on one CPU core, all included,
    against 12 ns for ``bernoulli_``); other rates compare one uniform draw per
    element with ``rate`` (about 3 ns). Both are exact in distribution, the
    uniform one up to float32's 2**-24 resolution of the rate.
    """
    if out is None:
        out = torch.empty(shape, dtype=dtype, device=device)
    if rate == 0.5:
        n = math.prod(shape)
        words = torch.empty(-(-n // 64), dtype=torch.int64, device=device)
        words.random_(-(2**63), None, generator=generator)  # all 64 bits random
        shifts = torch.arange(8, dtype=torch.uint8, device=device)
        bits = (words.view(torch.uint8).unsqueeze(1) >> shifts).bitwise_and_(1)
        out.copy_(bits.view(-1)[:n].view(shape))
    else:
        out.uniform_(generator=generator)
        torch.ge(out, rate, out=out)
    return out.mul_(1.0 / (1.0 - rate))


class MLP(nn.Module):
    """Dense layers with leaky ReLU between them and a linear output layer.

    In training mode, ``dropout`` (a rate in ``[0, 1)``) zeroes each hidden
    activation with that probability and scales the rest by
    ``1 / (1 - dropout)``, drawing the masks from ``generator``; evaluation
    mode never drops. skacai's training sets both for the duration of an epoch
    (:func:`dropout_during`), so the rate belongs to the estimator's
    parameters, not to the saved networks.
    """

    # Class-level defaults: modules pickled before dropout existed load without it.
    dropout: float = 0.0
    generator: torch.Generator | None = None

    def __init__(self, sizes: tuple[int, ...]):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        dropping = self.training and self.dropout > 0
        for layer in hidden:
            x = nn.functional.leaky_relu(layer(x), LEAKY_SLOPE)
            if dropping:
                # In place: leaky_relu's backward reads its input, not this output.
                x = x.mul_(dropout_mask(x.shape, self.dropout, self.generator, x.device, x.dtype))
        return last(x)


def _mlps(modules: Iterable[nn.Module]) -> list[MLP]:
    """Every :class:`MLP` inside ``modules``."""
    return [m for module in modules for m in module.modules() if isinstance(m, MLP)]


def drops(module: nn.Module) -> bool:
    """Whether ``module`` holds an :class:`MLP` that draws dropout masks now."""
    return any(m.training and m.dropout > 0 for m in _mlps([module]))


@contextmanager
def dropout_during(
    modules: Iterable[nn.Module], rate: float, generator: torch.Generator | None
) -> Iterator[None]:
    """Give every :class:`MLP` inside ``modules`` this dropout ``rate`` and mask
    ``generator`` for the block, then restore what they had.

    Raises ValueError for ``rate > 0`` when ``modules`` hold no MLP (the
    convolutional networks have no dropout).
    """
    mlps = _mlps(modules)
    if rate > 0 and not mlps:
        raise ValueError(
            f"dropout={rate} needs fully-connected networks (architecture='mlp'); these "
            "networks have no dropout layers."
        )
    saved = [(m.dropout, m.generator) for m in mlps]
    for m in mlps:
        m.dropout, m.generator = rate, generator
    try:
        yield
    finally:
        for m, (old_rate, old_generator) in zip(mlps, saved, strict=True):
            m.dropout, m.generator = old_rate, old_generator


class Critic(nn.Module):
    """The critic: the encoder's architecture, its output averaged to one scalar."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).reshape(x.shape[0], -1).mean(dim=1)


def _mlp_networks(spec: NetworkSpec) -> tuple[nn.Module, nn.Module, nn.Module]:
    hidden = spec.hidden_layer_sizes
    encoder_sizes = (spec.n_features, *hidden, spec.n_components)
    decoder_sizes = (spec.n_components, *reversed(hidden), spec.n_features)
    return MLP(encoder_sizes), MLP(decoder_sizes), Critic(MLP(encoder_sizes))


def _conv(n_in: int, n_out: int, kernel: int) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, kernel, padding="same")


class _LeakyReLU(nn.LeakyReLU):
    def __init__(self):
        super().__init__(LEAKY_SLOPE)


def _conv_pair(n_in: int, n_out: int) -> list[nn.Module]:
    """The paper's per-scale block: two ``conv3x3(n_out)``, each with leaky ReLU."""
    return [_conv(n_in, n_out, 3), _LeakyReLU(), _conv(n_out, n_out, 3), _LeakyReLU()]


def channels_last(image: torch.Tensor) -> torch.Tensor:
    """``image`` (``(n, channels, height, width)``) with channels-last strides.

    A one-channel image is contiguous in both layouts, and a convolution then
    runs in the default one, whatever its weights' layout, which made the
    first ``conv1x1``'s backward pass the slowest operation of the step
    (``docs/performance.md``). Here it is a view with channels-last strides (no
    copy); other images are copied into that layout.
    """
    n, channels, height, width = image.shape
    if channels == 1:
        return image.reshape(n, height, width, 1).permute(0, 3, 1, 2)
    return image.contiguous(memory_format=torch.channels_last)


class ConvEncoder(nn.Module):
    """The paper's encoder: flat pixels -> padded image -> conv stack -> flat code.

    ``conv1x1(width)``; per scale ``s``: two ``conv3x3(width << s)`` with leaky
    ReLU, then 2x2 average pooling; ``conv3x3(width << n_scales)`` with leaky
    ReLU; ``conv3x3(latent_channels)`` without activation.
    """

    def __init__(self, geometry: ConvGeometry, width: int):
        super().__init__()
        self.geometry = geometry
        channels = geometry.image_shape[0]
        layers: list[nn.Module] = [_conv(channels, width, 1)]
        n_in = width
        for scale in range(geometry.n_scales):
            n_out = width << scale
            layers += [*_conv_pair(n_in, n_out), nn.AvgPool2d(geometry.pool_kernel)]
            n_in = n_out
        n_out = width << geometry.n_scales
        layers += [_conv(n_in, n_out, 3), _LeakyReLU(), _conv(n_out, geometry.latent_channels, 3)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flat images, either of ``image_shape`` (padded here) or already padded."""
        return self.layers(channels_last(self.geometry.pad(x))).flatten(start_dim=1)


class ConvDecoder(nn.Module):
    """The paper's decoder, mirroring :class:`ConvEncoder`; crops the padding off.

    Per scale ``s`` from ``n_scales - 1`` down to 0: two ``conv3x3(width << s)``
    with leaky ReLU, then nearest-neighbour upsampling by 2;
    ``conv3x3(width)`` with leaky ReLU; ``conv3x3(channels)`` without activation.

    With ``crop = False`` (set by :func:`uncropped` while training on the padded
    image) it returns the whole padded image, flattened.
    """

    crop: bool = True  # class-level: modules pickled before it existed load with it

    def __init__(self, geometry: ConvGeometry, width: int):
        super().__init__()
        self.geometry = geometry
        layers: list[nn.Module] = []
        n_in = geometry.latent_channels
        for scale in reversed(range(geometry.n_scales)):
            n_out = width << scale
            layers += [
                *_conv_pair(n_in, n_out),
                nn.Upsample(scale_factor=geometry.pool_kernel, mode="nearest"),
            ]
            n_in = n_out
        layers += [_conv(n_in, width, 3), _LeakyReLU(), _conv(width, geometry.image_shape[0], 3)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        geometry = self.geometry
        grid = z.reshape(z.shape[0], geometry.latent_channels, *geometry.latent_grid)
        image = self.layers(channels_last(grid))
        return geometry.crop(image) if self.crop else image.flatten(start_dim=1)


def uncropped(decoder: nn.Module) -> AbstractContextManager[None]:
    """Let a :class:`ConvDecoder` return the whole padded image for the block.

    Training with ``NetworkSpec.loss_on_padding`` feeds padded images
    (``ConvGeometry.pad``) and compares them with the decoder's whole output,
    as the paper does; inference always crops.
    """
    return cropping(decoder, False)


@contextmanager
def cropping(decoder: nn.Module, crop: bool) -> Iterator[None]:
    """Set a :class:`ConvDecoder`'s ``crop`` for the block, then restore it (other
    decoders have no padding: nothing to do)."""
    if not isinstance(decoder, ConvDecoder):
        yield
        return
    before, decoder.crop = decoder.crop, crop
    try:
        yield
    finally:
        decoder.crop = before


def _conv_networks(spec: NetworkSpec) -> tuple[nn.Module, nn.Module, nn.Module]:
    geometry = ConvGeometry(
        spec.image_shape, spec.n_scales, spec.n_components, spec.pad_center, spec.pad_value
    )
    geometry.check()
    return (
        ConvEncoder(geometry, spec.conv_width),
        ConvDecoder(geometry, spec.conv_width),
        Critic(ConvEncoder(geometry, spec.conv_width)),
    )


@dataclass(frozen=True)
class Architecture:
    """A network family: how to build it and what its ``"auto"`` values are.

    A new family is a builder here and an entry in :data:`ARCHITECTURES`; the
    parameter constraints, the command line's choices, ``warm_start``'s comparison
    and the model file's checks read the entry.
    """

    build: Callable[[NetworkSpec], tuple[nn.Module, nn.Module, nn.Module]]
    description: str  # what the networks are, for help texts and messages
    # The spec's fields that describe these networks (warm_start compares them).
    fields: tuple[str, ...]
    # max_iter="auto": about this many training samples (epochs x rows) per fit.
    auto_budget: int
    auto_batch: int  # batch_size="auto"
    # The spec field whose count sets how many layers a file's networks have, and
    # what those are called in messages.
    depth: Callable[[dict], int]
    depth_name: str
    images: bool  # reads rows as images: pads them, and scaling="minmax" pads as the paper
    layout: torch.memory_format  # of its weights (channels-last convolutions)
    small_cpu_batches: bool = False  # inference on a CPU in batches of a few rows
    dropout: bool = False  # has dropout layers (``dropout`` > 0 applies to it)


# Budgets: docs/defaults.md gives the fit times they take.
ARCHITECTURES = {
    "mlp": Architecture(
        _mlp_networks,
        description="fully-connected networks",
        fields=("n_components", "hidden_layer_sizes"),
        auto_budget=600_000,
        auto_batch=128,
        depth=lambda spec: len(spec.get("hidden_layer_sizes", ())),
        depth_name="hidden layers",
        images=False,
        layout=torch.contiguous_format,
        dropout=True,
    ),
    "conv": Architecture(
        _conv_networks,
        description="the paper's convolutional networks",
        fields=("n_components", "image_shape", "conv_width", "n_scales"),
        auto_budget=120_000,
        auto_batch=64,
        depth=lambda spec: spec.get("n_scales", 3),
        depth_name="scales",
        images=True,
        layout=torch.channels_last,
        small_cpu_batches=True,
    ),
}


def auto_architecture(images):
    """``architecture="auto"``: the first family in :data:`ARCHITECTURES` that reads
    rows as images where ``images`` (``image_shape`` is given), else the first that
    does not."""
    return next(name for name, entry in ARCHITECTURES.items() if entry.images == images)


def meta_networks(spec: NetworkSpec) -> tuple[nn.Module | None, ...]:
    """Encoder, decoder and critic on the ``meta`` device: shapes only, no memory.

    None for the parts that are the user's (``spec.custom``). Raises ValueError
    for an impossible geometry. Building costs time in proportion to the number
    of layers, which callers that take a spec from outside (a model file) must
    bound first.
    """
    if not any(spec.builtin):
        return (None, None, None)
    with torch.device("meta"):
        networks = ARCHITECTURES[spec.architecture].build(spec)
    return tuple(n if own else None for n, own in zip(networks, spec.builtin, strict=True))


def build_networks(
    spec: NetworkSpec, generator: torch.Generator | None, device: torch.device
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Build encoder, decoder and critic with seeded initial weights on ``device``
    (None for the user's networks: see :func:`meta_networks`).

    The modules are created on the ``meta`` device so that torch's default
    initialisation never draws from the global random state; the weights are
    then drawn from ``generator`` only. With ``generator=None`` they are left
    uninitialised, for loading saved weights into.

    Each architecture keeps its weights in its ``layout``: convolutional networks
    channels-last, so that their convolutions run channels-last (faster on CPUs;
    ``docs/performance.md`` has the measurements). The values are the same; only
    the strides differ. Optimiser states must share their parameter's strides
    (:func:`skacai._training.match_parameter_layout`).
    """
    networks = meta_networks(spec)
    layout = ARCHITECTURES[spec.architecture].layout
    initialised = []
    for module in networks:
        if module is None:  # the user's network, built elsewhere
            initialised.append(None)
            continue
        module = module.to_empty(device="cpu")
        if generator is not None:
            _init_weights(module, generator)
        initialised.append(module.to(device, memory_format=layout))
    return tuple(initialised)


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """The paper's initialisation: N(0, 1 / ((1 + 0.2^2) fan_in)), zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d):
            fan_in = layer.weight[0].numel()
            std = 1.0 / math.sqrt((1.0 + LEAKY_SLOPE**2) * fan_in)
            with torch.no_grad():
                layer.weight.normal_(0.0, std, generator=generator)
                layer.bias.zero_()
