"""ACAI's training step for fully-connected networks, written out by hand.

:func:`mlp_train_step` makes the update of :func:`skacai._training.train_step`
(the same losses, gradients and dropout masks, up to floating-point rounding)
with the forward and backward passes of the three :class:`~skacai._networks.MLP`
networks written as matrix products into buffers that live for a whole epoch.
Compared with autograd on the same networks it

- never backpropagates the autoencoder's loss through the critic's half of the
  batch that holds ``gamma x + (1 - gamma) x_hat`` (autograd does, with zeros);
- allocates no large tensor after an epoch's first step: activations, dropout
  masks and gradients go into reused buffers, so the allocator does not map,
  and the kernel does not zero, fresh memory per step;
- applies activations, dropout and their derivatives in place.

What each of these saves is measured in ``docs/performance.md`` ("Where the
time went, and what changed").

It differentiates the terms of :data:`TERMS`, summed into the losses as
:data:`skacai._objective.LOSSES` says, with the weights of
:func:`skacai._objective.term_weights`. An objective with a term it does not
implement is trained by the autograd step instead: :func:`handles` then declines.

The tests compare it with :func:`~skacai._training.train_step`, the plain
autograd formulation, on seeded batches, with and without dropout.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from skacai import _objective
from skacai._networks import LEAKY_SLOPE, MLP, Critic, dropout_mask
from skacai._objective import LossTerms

# The objective's terms this step computes and differentiates by hand, and the losses
# that sum them. A term the objective gains is not among them until it is written
# out here: until then handles() declines and the autograd step trains.
TERMS = frozenset({"reconstruction", "adversarial", "critic", "critic_regularization"})
_SUMS = {
    "autoencoder": ("reconstruction", "adversarial"),
    "critic": ("critic", "critic_regularization"),
}


class Workspace:
    """Named buffers that keep their memory from one step to the next.

    ``workspace(name, rows, cols)`` is the first ``rows`` rows of a
    ``(capacity, cols)`` buffer: contiguous, since buffers are row-major. A
    smaller last batch reuses the buffers of the full ones.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self._buffers: dict[str, torch.Tensor] = {}
        self._low_precision: _LowPrecision | None = None

    def __call__(
        self, name: str, rows: int, cols: int, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """The buffer ``name`` (of ``dtype``, by default the workspace's), ``rows`` x ``cols``."""
        dtype = self.dtype if dtype is None else dtype
        buffer = self._buffers.get(name)
        if (
            buffer is None
            or buffer.shape[0] < rows
            or buffer.shape[1] != cols
            or buffer.dtype != dtype
        ):
            buffer = torch.empty(rows, cols, device=self.device, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:rows]

    def low_precision(self, dtype: torch.dtype) -> _LowPrecision:
        """The (lasting) low-precision copies of the weights for mixed precision in ``dtype``."""
        if self._low_precision is None or self._low_precision.dtype != dtype:
            self._low_precision = _LowPrecision(self, dtype)
        return self._low_precision


class _Trace(NamedTuple):
    """What an MLP's backward pass needs from its forward pass."""

    inputs: list[torch.Tensor]  # each layer's input: X, then the hidden activations
    masks: list[torch.Tensor | None]  # each hidden layer's scaled dropout mask


def implements_objective() -> bool:
    """Whether this step computes every term of the objective, summed as it sums them."""
    return TERMS.issuperset(_objective.TERM_NAMES) and _objective.LOSSES == _SUMS


def handles(networks) -> bool:
    """Whether :func:`mlp_train_step` trains ``networks``: the fully-connected ones, on
    an objective it implements (:func:`implements_objective`)."""
    encoder, decoder, critic = networks
    return (
        implements_objective()
        and type(encoder) is MLP
        and type(decoder) is MLP
        and type(critic) is Critic
        and type(critic.body) is MLP
    )


def _forward(mlp, x, out, workspace, name, rate, generator, compute=None):
    """``mlp(x)`` (training mode) written into ``out``; returns the trace for :func:`_backward`.

    Masks are drawn layer by layer as :meth:`MLP.forward` draws them, so both
    give the same masks from the same generator state. With ``compute`` (a
    :class:`_LowPrecision`), the layers run on its low-precision copies of the
    weights and of ``x``, as ``torch.autocast`` runs them, and the output is
    converted into ``out``'s dtype.
    """
    *hidden, last = mlp.layers
    if compute is not None:
        x = compute.cast(x, f"{name}.x")
    inputs, masks = [x], []
    for i, layer in enumerate(hidden):
        weight, bias = _weights(layer, compute)
        h = workspace(f"{name}.h{i}", x.shape[0], layer.out_features, x.dtype)
        torch.addmm(bias, inputs[-1], weight.t(), out=h)
        nn.functional.leaky_relu_(h, LEAKY_SLOPE)
        mask = None
        if rate > 0:
            buffer = workspace(f"{name}.m{i}", *h.shape, h.dtype)
            mask = dropout_mask(h.shape, rate, generator, h.device, h.dtype, out=buffer)
            h.mul_(mask)
        inputs.append(h)
        masks.append(mask)
    weight, bias = _weights(last, compute)
    _product_into(out, workspace, f"{name}.out", torch.addmm, bias, inputs[-1], weight.t())
    return _Trace(inputs, masks)


def _product_into(out, workspace, name, product, *operands):
    """``product(*operands)`` written into ``out``: directly when the operands have
    ``out``'s dtype, else (mixed precision) into the buffer ``name`` of their dtype,
    then converted into ``out``."""
    dtype = operands[-1].dtype
    if dtype == out.dtype:
        return product(*operands, out=out)
    return out.copy_(product(*operands, out=workspace(name, *out.shape, dtype)))


class _LowPrecision:
    """Low-precision copies of a step's weights and inputs (mixed precision).

    ``torch.autocast`` semantics: matrix products take ``dtype`` copies of the
    float32 weights and activations and write ``dtype`` results; the weights'
    gradients are converted back to float32. The copies are refreshed every
    step (:meth:`refresh`), after the previous step's update.
    """

    def __init__(self, workspace: Workspace, dtype: torch.dtype):
        self.workspace, self.dtype = workspace, dtype
        self.copies: dict[nn.Parameter, torch.Tensor] = {}

    def refresh(self, modules) -> None:
        for module in modules:
            for parameter in module.parameters():
                copy = self.copies.get(parameter)
                if copy is None or copy.shape != parameter.shape:
                    copy = torch.empty_like(parameter, dtype=self.dtype)
                    self.copies[parameter] = copy
                copy.copy_(parameter.detach())

    def cast(self, tensor: torch.Tensor, name: str) -> torch.Tensor:
        buffer = self.workspace(name, tensor.shape[0], tensor.shape[1], self.dtype)
        return buffer.copy_(tensor)


def _weights(layer, compute):
    if compute is None:
        return layer.weight, layer.bias
    return compute.copies[layer.weight], compute.copies[layer.bias]


def _backward(mlp, trace, grad, workspace, name, *, weight_grads, input_grad=None, compute=None):
    """Backpropagate ``grad`` (d loss / d output, for the trace's first rows) through ``mlp``.

    With ``weight_grads`` the parameters' gradients are written into their
    ``.grad``. ``input_grad``, a buffer, receives d loss / d input; None skips it.
    With ``compute``, the products run in its dtype as in :func:`_forward`
    (``grad`` is converted first) and the weights' gradients are converted to
    float32.
    """
    rows = grad.shape[0]
    layers = list(mlp.layers)
    if compute is not None:
        grad = compute.cast(grad, f"{name}.dout")
    for i in reversed(range(len(layers))):
        layer, layer_input = layers[i], trace.inputs[i][:rows]
        weight, _ = _weights(layer, compute)
        if weight_grads:
            weight_grad = _grad_of(layer.weight)
            _product_into(weight_grad, workspace, f"{name}.dw{i}", torch.mm, grad.t(), layer_input)
            torch.sum(grad, 0, dtype=layer.bias.dtype, out=_grad_of(layer.bias))
        if i == 0:
            if input_grad is not None:
                _product_into(input_grad, workspace, f"{name}.din", torch.mm, grad, weight)
            return
        upstream = workspace(f"{name}.g{i}", rows, layer.in_features, grad.dtype)
        torch.mm(grad, weight, out=upstream)  # d loss / d h, h = leaky(a) * mask
        mask = trace.masks[i - 1]
        if mask is not None:
            upstream.mul_(mask[:rows])
        # Leaky ReLU's derivative from its output: h > 0 exactly where a > 0 (dropped
        # units have h = 0, but their gradient is already 0).
        torch.ops.aten.leaky_relu_backward.grad_input(
            upstream, layer_input, LEAKY_SLOPE, True, grad_input=upstream
        )
        grad = upstream


def _grad_of(parameter):
    if parameter.grad is None:
        parameter.grad = torch.empty_like(parameter)
    return parameter.grad


def _critic_grad(scores, d_grad, out):
    """d loss / d body output, for the critic's mean over its ``scores`` columns."""
    return torch.div(d_grad.unsqueeze(1), scores.shape[1], out=out).expand_as(scores)


def mlp_train_step(
    networks,
    optimizers,
    x: torch.Tensor,
    alpha: torch.Tensor,
    adversarial_weight: float,
    critic_regularization: float,
    *,
    workspace: Workspace,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> LossTerms:
    """One simultaneous update of the autoencoder and the critic from one batch.

    The update of :func:`skacai._training.train_step` (see
    :func:`skacai._training.acai_losses` for the losses), for networks that
    :func:`handles`, with ``dropout`` drawn from ``generator``. Returns the
    loss terms, a :class:`~skacai._objective.LossTerms`; their weights in the
    losses are :func:`skacai._objective.term_weights`.

    ``autocast_dtype`` (e.g. ``torch.bfloat16``) is mixed precision, as
    :func:`~skacai._training.train_step` with the same argument: every matrix
    product runs in that dtype, on copies of the weights made at the start of
    the step; the weights, their gradients, the optimisers and the losses stay
    float32.
    """
    weights = _objective.term_weights(adversarial_weight)
    compute = None
    if autocast_dtype is not None:
        compute = workspace.low_precision(autocast_dtype)
        compute.refresh(networks)
    with torch.no_grad():
        forward = _forward_step(
            networks, x, alpha, critic_regularization, workspace, dropout, generator, compute
        )
        flat = forward.difference.view(-1)
        d_mix, d_reg = forward.d[: x.shape[0]], forward.d[x.shape[0] :]
        terms = LossTerms(
            reconstruction=torch.dot(flat, flat) / flat.numel(),
            adversarial=d_mix.square().mean(),
            critic=(d_mix - alpha).square().mean(),
            critic_regularization=d_reg.square().mean(),
        )
        _critic_backward(networks.critic, forward, alpha, weights, workspace, compute)
        _autoencoder_backward(networks, forward, weights, workspace, compute)
    optimizers.autoencoder.step()
    optimizers.critic.step()
    return terms


class _Forward(NamedTuple):
    """What the backward passes of one step need from its forward pass."""

    a: torch.Tensor  # alpha as a column
    scores: torch.Tensor  # the critic's scores of [x_mix; x_reg]
    d: torch.Tensor  # their means: [d(x_mix); d(x_reg)]
    difference: torch.Tensor  # x_hat - x
    traces: tuple[_Trace, _Trace, _Trace]  # encoder, decoder, critic


def _forward_step(networks, x, alpha, gamma, workspace, dropout, generator, compute):
    """The forward pass of one step: codes, decodings, their blends and the critic's scores.

    One buffer holds [z; z_mix], the decoder's input, and one [x_hat; x_mix;
    x_reg]: the decoder writes its first two thirds and the critic reads its
    last two, so nothing is copied.
    """
    encoder, decoder, critic = networks
    n, n_features = x.shape
    codes = workspace("codes", 2 * n, encoder.layers[-1].out_features)
    z, z_mix = codes[:n], codes[n:]
    encoder_trace = _forward(encoder, x, z, workspace, "encoder", dropout, generator, compute)
    a = alpha.unsqueeze(1).to(x.dtype)
    torch.mul(a, z, out=z_mix)
    z_mix.add_((1.0 - a) * z.flip(0))
    images = workspace("images", 3 * n, n_features)
    decoder_trace = _forward(
        decoder, codes, images[: 2 * n], workspace, "decoder", dropout, generator, compute
    )
    x_hat, x_reg = images[:n], images[2 * n :]
    scratch = workspace("scratch", n, n_features)
    torch.mul(x, gamma, out=x_reg)
    x_reg.add_(torch.mul(x_hat, 1.0 - gamma, out=scratch))
    scores = workspace("scores", 2 * n, critic.body.layers[-1].out_features)
    critic_trace = _forward(
        critic.body, images[n:], scores, workspace, "critic", dropout, generator, compute
    )
    difference = torch.sub(x_hat, x, out=scratch)
    traces = (encoder_trace, decoder_trace, critic_trace)
    return _Forward(a, scores, scores.mean(dim=1), difference, traces)


def _critic_backward(critic, forward, alpha, weights, workspace, compute):
    """The critic's loss (its terms times ``weights``) -> the critic's weights' gradients."""
    n = forward.difference.shape[0]
    d_mix, d_reg = forward.d[:n], forward.d[n:]
    d_grad = torch.cat(
        [
            (d_mix - alpha) * (2.0 * weights["critic"] / n),
            d_reg * (2.0 * weights["critic_regularization"] / n),
        ]
    )
    scores_grad = _critic_grad(forward.scores, d_grad, workspace("scores_grad", 2 * n, 1))
    _backward(
        critic.body,
        forward.traces[2],
        scores_grad,
        workspace,
        "critic",
        weight_grads=True,
        compute=compute,
    )


def _autoencoder_backward(networks, forward, weights, workspace, compute):
    """The autoencoder's loss (its terms times ``weights``) -> the encoder's and
    decoder's weights' gradients, through the critic's x_mix half only (with lambda =
    0, not through the critic at all)."""
    lam = weights["adversarial"]
    encoder, decoder, critic = networks
    encoder_trace, decoder_trace, critic_trace = forward.traces
    n, n_features = forward.difference.shape
    rows = 2 * n if lam != 0 else n
    images_grad = workspace("images_grad", rows, n_features)
    scale = 2.0 * weights["reconstruction"] / forward.difference.numel()
    torch.mul(forward.difference, scale, out=images_grad[:n])
    if lam != 0:
        mix_grad = _critic_grad(
            forward.scores[:n], forward.d[:n] * (2.0 * lam / n), workspace("scores_grad", n, 1)
        )
        _backward(
            critic.body,
            critic_trace,
            mix_grad,
            workspace,
            "critic",
            weight_grads=False,
            input_grad=images_grad[n:],
            compute=compute,
        )
    codes_grad = workspace("codes_grad", rows, encoder.layers[-1].out_features)
    _backward(
        decoder,
        decoder_trace,
        images_grad,
        workspace,
        "decoder",
        weight_grads=True,
        input_grad=codes_grad,
        compute=compute,
    )
    z_grad = codes_grad[:n]
    if lam != 0:  # z_mix = alpha z + (1 - alpha) z[::-1]
        mix = codes_grad[n:]
        z_grad = z_grad + forward.a * mix + ((1.0 - forward.a) * mix).flip(0)
    _backward(
        encoder,
        encoder_trace,
        z_grad,
        workspace,
        "encoder",
        weight_grads=True,
        compute=compute,
    )
