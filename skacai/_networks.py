"""The three ACAI networks: encoder f, decoder g and critic d.

Each architecture lives in a small builder that returns plain ``torch.nn.Module``
objects; the estimator only ever calls :func:`build_networks`. The paper's
convolutional architecture will be added here as a second builder.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class NetworkSpec:
    """Everything needed to rebuild the networks (weights excluded)."""

    architecture: str
    n_features: int
    n_components: int
    hidden_layer_sizes: tuple[int, ...]


class MLP(nn.Module):
    """Dense layers with leaky ReLU between them and a linear output layer."""

    def __init__(self, sizes: tuple[int, ...]):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = nn.functional.leaky_relu(layer(x), LEAKY_SLOPE)
        return last(x)


class Critic(nn.Module):
    """The critic: the encoder's architecture, its output averaged to one scalar."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(start_dim=1).mean(dim=1)


def _mlp_networks(spec: NetworkSpec) -> tuple[nn.Module, nn.Module, nn.Module]:
    hidden = spec.hidden_layer_sizes
    encoder_sizes = (spec.n_features, *hidden, spec.n_components)
    decoder_sizes = (spec.n_components, *reversed(hidden), spec.n_features)
    return MLP(encoder_sizes), MLP(decoder_sizes), Critic(MLP(encoder_sizes))


_BUILDERS = {"mlp": _mlp_networks}


def build_networks(
    spec: NetworkSpec, generator: torch.Generator, device: torch.device
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Build encoder, decoder and critic with seeded initial weights on ``device``.

    The modules are created on the ``meta`` device so that torch's default
    initialisation never draws from the global random state; the weights are
    then drawn from ``generator`` only.
    """
    with torch.device("meta"):
        networks = _BUILDERS[spec.architecture](spec)
    initialised = []
    for module in networks:
        module = module.to_empty(device="cpu")
        _init_weights(module, generator)
        initialised.append(module.to(device))
    return tuple(initialised)


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """The paper's initialisation: N(0, 1 / ((1 + 0.2^2) fan_in)), zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            fan_in = layer.weight.shape[1]
            std = 1.0 / math.sqrt((1.0 + LEAKY_SLOPE**2) * fan_in)
            with torch.no_grad():
                layer.weight.normal_(0.0, std, generator=generator)
                layer.bias.zero_()
