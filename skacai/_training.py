"""ACAI's losses and training loop as plain functions on tensors.

The loop is split into short steps: :func:`train_epoch` -> :func:`train_step`
-> :func:`acai_losses`. None of them touches an estimator; they take modules,
optimisers and tensors and return named results. :func:`train_step` is the
plain autograd formulation; fully-connected networks train with its
hand-written equivalent, :func:`skacai._mlp_step.mlp_train_step`, which the
tests hold to the same losses and gradients. On a CUDA device, full batches can
replay :func:`train_step` captured as one CUDA graph (:class:`StepGraph`).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from scipy import sparse

from skacai import _mlp_step, _objective
from skacai._mlp_step import Workspace
from skacai._networks import Networks, dropout_during, drops
from skacai._objective import TERM_NAMES, LossTerms
from skacai._scaling import check_sparse_float32
from skacai._validation import user_stacklevel


class Optimizers(NamedTuple):
    autoencoder: torch.optim.Optimizer
    critic: torch.optim.Optimizer


class Losses(NamedTuple):
    autoencoder: torch.Tensor  # updates the encoder and decoder only
    critic: torch.Tensor  # updates the critic only
    terms: LossTerms


def match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each optimiser state tensor its parameter's strides (in place).

    A loaded state (saved contiguous by :meth:`ACAITransformer.save`, or from a
    model whose weights had another layout) can have the right shape and
    values but other strides than its parameter. The fused Adam step on the CPU
    pairs elements by memory position, so such a state would silently update
    the wrong weights; copying it into its parameter's layout prevents that.
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if (
                isinstance(value, torch.Tensor)
                and value.shape == param.shape
                and value.stride() != param.stride()
            ):
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def sample_alpha(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Mixing coefficients ``U[0, 1]`` folded onto ``[0, 0.5]`` as in the paper."""
    alpha = torch.rand(n, generator=generator, device=device)
    return 0.5 - (alpha - 0.5).abs()


def acai_losses(
    networks: Networks,
    x: torch.Tensor,
    alpha: torch.Tensor,
    adversarial_weight: float,
    critic_regularization: float,
) -> Losses:
    """ACAI's autoencoder and critic losses on one batch.

    With ``lambda = adversarial_weight`` and ``gamma = critic_regularization``::

        z = f(x);  x_hat = g(z);  z_mix = alpha z + (1 - alpha) z[::-1];  x_mix = g(z_mix)
        L_ae     = mean((x - x_hat)^2) + lambda mean(d(x_mix)^2)
        L_critic = mean((d(x_mix) - alpha)^2) + mean(d(gamma x + (1 - gamma) x_hat)^2)

    The decoder runs once on ``z`` and ``z_mix`` stacked together. The critic
    runs on ``x_mix`` and on ``x_reg`` separately, ``x_reg`` formed from
    ``x_hat`` detached: only ``L_critic`` reads ``d(x_reg)``, and it updates the
    critic alone, so the autoencoder's backward pass goes through the critic
    for the ``x_mix`` rows only (one batch stacked from both would carry zero
    gradients through the other half). A critic with dropout runs once on both,
    stacked, drawing its masks as :func:`skacai._mlp_step.mlp_train_step` does.
    When ``lambda == 0`` the adversarial term is left out of ``L_ae``
    altogether, so the autoencoder's gradients are exactly those of a plain
    autoencoder.
    """
    n = x.shape[0]
    z = networks.encoder(x)
    a = alpha.unsqueeze(1)
    z_mix = a * z + (1.0 - a) * z.flip(0)
    # .to(x.dtype): under bfloat16 autocast the networks' outputs are bfloat16; the
    # losses and the critic's input are formed in x's precision (a no-op otherwise).
    x_hat, x_mix = networks.decoder(torch.cat([z, z_mix])).to(x.dtype).split(n)
    x_reg = critic_regularization * x + (1.0 - critic_regularization) * x_hat.detach()
    if drops(networks.critic):  # one batch: the masks drawn as the MLP step draws them
        critic_mix, critic_reg = networks.critic(torch.cat([x_mix, x_reg])).to(x.dtype).split(n)
    else:
        critic_mix = networks.critic(x_mix).to(x.dtype)
        critic_reg = networks.critic(x_reg).to(x.dtype)

    terms = LossTerms(
        reconstruction=(x - x_hat).square().mean(),
        adversarial=critic_mix.square().mean(),
        critic=(critic_mix - alpha).square().mean(),
        critic_regularization=critic_reg.square().mean(),
    )
    autoencoder_loss = _objective.autoencoder_loss(terms, adversarial_weight)
    critic_loss = _objective.critic_loss(terms, adversarial_weight)
    return Losses(autoencoder_loss, critic_loss, terms)


def train_step(
    networks: Networks,
    optimizers: Optimizers,
    x: torch.Tensor,
    alpha: torch.Tensor,
    adversarial_weight: float,
    critic_regularization: float,
    autocast_dtype: torch.dtype | None = None,
    autocast_cache: bool = True,
) -> LossTerms:
    """One simultaneous update of the autoencoder and the critic from one batch.

    Each loss is differentiated with respect to its own parameters only, so the
    critic's loss never reaches the encoder or decoder and the autoencoder's loss
    never reaches the critic; both gradients are taken before either step.

    ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the networks' forward pass
    under :func:`torch.autocast` for this step only: matrix products and
    convolutions in that dtype, parameters, gradients, optimiser state and the
    losses in float32. The autocast region must not span several steps: it
    caches the low-precision copies of the weights, which the optimiser's step
    makes stale. ``autocast_cache=False`` turns that cache off (a CUDA graph
    capture requires it; each weight is cast once per step either way).
    """
    if autocast_dtype is None:
        losses = acai_losses(networks, x, alpha, adversarial_weight, critic_regularization)
    else:
        with torch.autocast(x.device.type, dtype=autocast_dtype, cache_enabled=autocast_cache):
            losses = acai_losses(networks, x, alpha, adversarial_weight, critic_regularization)
    ae_params = networks.autoencoder_parameters()
    critic_params = networks.critic_parameters()
    ae_grads = torch.autograd.grad(losses.autoencoder, ae_params, retain_graph=True)
    critic_grads = torch.autograd.grad(losses.critic, critic_params)
    for params, grads in ((ae_params, ae_grads), (critic_params, critic_grads)):
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad
    optimizers.autoencoder.step()
    optimizers.critic.step()
    return LossTerms(*(term.detach() for term in losses.terms))


class SparseRows:
    """Sparse training data that :func:`train_epoch` reads like the tensor of its rows:
    a scipy CSR matrix on the CPU, densified, scaled and moved to ``device`` one
    batch of rows at a time, never whole.

    Each batch is ``Scaling.forward`` of its dense rows (padded
    into images by ``geometry``, a conv encoder's, if given), so it holds exactly
    the values that the same rows of the dense tensor of X would: training on it
    gives the model that the dense X gives. Values that overflow float32 once
    scaled are refused up front, as :func:`~skacai._scaling.to_float32` refuses them.
    """

    dtype = torch.float32

    def __init__(self, X, scaling, parameter, device, geometry=None):
        check_sparse_float32(X, scaling.mean, scaling.scale, parameter)
        self.X, self.scaling, self.parameter = X, scaling, parameter
        self.shape = X.shape
        self.device = torch.device(device)
        self.geometry = geometry

    def rows(self, index):
        """The rows ``index`` (a slice or an array of row numbers) as a dense tensor."""
        return _dense_rows(
            self.X[index].toarray(), self.scaling, self.parameter, self.device, self.geometry
        )

    def batches(self, order, batch_size):
        """The batches of ``batch_size`` rows: in ``order`` (a tensor), or as stored (None)."""
        if order is not None:
            order = order.cpu().numpy()  # one transfer an epoch
        for start in range(0, self.shape[0], batch_size):
            stop = start + batch_size
            yield self.rows(slice(start, stop) if order is None else order[start:stop])


def training_rows(X, scaling, parameter, device, geometry=None):
    """X scaled (a :class:`~skacai._scaling.Scaling`; ``parameter``: the ``scaling``
    parameter its messages name) in float32 on ``device``, padded into images by
    ``geometry`` (a conv encoder's) where given: a tensor, or :class:`SparseRows` for
    sparse X. ValueError where float32 overflows."""
    if sparse.issparse(X):
        return SparseRows(X, scaling, parameter, device, geometry)
    return _dense_rows(X, scaling, parameter, device, geometry)


def model_rows(model, X, parameter, device):
    """X as ``model`` (a :class:`~skacai._model.FittedModel`) trains on it: its scaling,
    and its padding where the loss covers the padded image (:func:`training_rows`)."""
    geometry = model.encoder.geometry if model.spec.loss_on_padding else None
    return training_rows(X, model.scaling, parameter, device, geometry)


def _dense_rows(X, scaling, parameter, device, geometry):
    tensor = torch.from_numpy(scaling.forward(X, parameter)).to(device)
    if geometry is not None:
        tensor = geometry.pad(tensor).flatten(start_dim=1)
    return tensor


def train_epoch(
    networks: Networks,
    optimizers: Optimizers,
    X: torch.Tensor | SparseRows,
    *,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator,
    adversarial_weight: float,
    critic_regularization: float,
    dropout: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
    workspace: Workspace | None = None,
    autocast_dtype: torch.dtype | None = None,
    graph: StepGraph | None = None,
    weights: torch.Tensor | None = None,
) -> dict[str, float]:
    """One pass over ``X``; returns each loss term averaged over the samples.

    ``X``: the scaled training rows, a float32 tensor, or :class:`SparseRows`
    that densify one batch at a time.

    ``weights`` (one positive weight per row, on ``generator``'s device, or
    None): the epoch's ``n`` rows are drawn with replacement with probabilities
    proportional to them (``shuffle`` then does not apply), so that a row of
    weight 2 is seen as often as two copies of it would be.

    Shuffling, the mixing coefficients and the dropout masks (``dropout`` is
    the rate after each hidden activation of MLP networks, which must be in
    training mode) are all drawn from ``generator``. ``on_batch(n)`` is called
    after each step with the batch's size (for a progress bar); it must not
    synchronise with the device.

    Fully-connected networks train with :func:`skacai._mlp_step.mlp_train_step`
    (while it implements every term of the objective: ``_mlp_step.handles``),
    whose buffers live in ``workspace``: pass the same one to every epoch of a
    fit so that they are allocated once (None: new buffers for this epoch).
    Other networks train with :func:`train_step`. ``autocast_dtype`` (e.g.
    ``torch.bfloat16``) trains in mixed precision (see :func:`train_step`), with
    either step.

    ``graph`` (a :class:`StepGraph`, on a CUDA device) trains the full-size
    batches by replaying the step captured as one CUDA graph; pass the same one
    to every epoch of a fit. The optimisers must then be ``capturable`` and
    ``dropout`` zero.
    """
    n = X.shape[0]
    order = _order(n, shuffle, weights, generator)
    totals = torch.zeros(len(TERM_NAMES), device=X.device)
    if _mlp_step.handles(networks):
        workspace = Workspace(X.device, X.dtype) if workspace is None else workspace
        step = functools.partial(
            _mlp_step.mlp_train_step,
            workspace=workspace,
            dropout=dropout,
            generator=generator,
            autocast_dtype=autocast_dtype,
        )
    else:
        workspace = None
        step = functools.partial(train_step, autocast_dtype=autocast_dtype)
    if graph is not None and dropout != 0:
        raise ValueError("a StepGraph draws no dropout masks: train with dropout=0.")
    # What a StepGraph captures: train_step with autocast's weight cache off.
    captured = functools.partial(
        train_step,
        networks,
        optimizers,
        adversarial_weight=adversarial_weight,
        critic_regularization=critic_regularization,
        autocast_dtype=autocast_dtype,
        autocast_cache=False,
    )
    with dropout_during(networks, dropout, generator):
        for x in _batches(X, order, batch_size, workspace):
            alpha = sample_alpha(x.shape[0], generator, X.device)
            if graph is not None and x.shape[0] == batch_size:
                terms = graph.step(captured, x, alpha)
            else:
                terms = step(
                    networks, optimizers, x, alpha, adversarial_weight, critic_regularization
                )
            totals += torch.stack(tuple(terms)) * x.shape[0]
            if on_batch is not None:
                on_batch(x.shape[0])
    means = (totals / n).tolist()  # the epoch's only host synchronisation
    return dict(zip(TERM_NAMES, means, strict=True))


class StepGraph:
    """:func:`train_step` captured as one CUDA graph, replayed for every full batch.

    On a GPU, at the batch sizes ACAI trains with (the paper's 64), launching an
    eager step's several hundred small kernels from Python takes longer than
    the GPU needs to run them. Replaying the captured step launches them all at
    once (the speed-ups are in ``docs/performance.md``, "The training step as
    one CUDA graph").

    The replay computes exactly what the eager step does: each step's batch and
    mixing coefficients are copied into the graph's static inputs first (drawn
    from the training generator outside the graph, as in the eager loop), and
    the first ``warmup`` steps of a fit run eagerly on a side stream, as capture
    requires, on the fit's own first batches. The optimisers must be
    ``capturable`` Adam; their learning rates are fixed at capture. Create one
    per fit and pass it to every epoch; where the capture fails, the fit warns
    once and goes on with the eager step.
    """

    warmup = 3

    def __init__(self) -> None:
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self._warmed = 0
        self._x = self._alpha = self._terms = None

    def step(
        self,
        run: Callable[[torch.Tensor, torch.Tensor], LossTerms],
        x: torch.Tensor,
        alpha: torch.Tensor,
    ) -> LossTerms:
        """One training step ``run(x, alpha)`` on a full batch: eager, captured or replayed.

        ``run`` is :func:`train_step` bound to the fit's networks, optimisers and
        coefficients, with ``autocast_cache=False``; the graph keeps the ``run``
        of its capture.
        """
        if self.failed:
            return run(x, alpha)
        if self._x is None:
            self._x, self._alpha = torch.empty_like(x), torch.empty_like(alpha)
        self._x.copy_(x)
        self._alpha.copy_(alpha)
        if self._warmed < self.warmup:
            self._warmed += 1
            return self._on_side_stream(lambda: run(self._x, self._alpha))
        if self.graph is None:
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):
                    self._terms = run(self._x, self._alpha)
            except RuntimeError as error:
                self.failed = True
                warnings.warn(
                    f"Capturing the training step as a CUDA graph failed ({error}); "
                    "training goes on with the eager step (slower at small batches).",
                    RuntimeWarning,
                    stacklevel=user_stacklevel(),
                )
                return run(x, alpha)
            self.graph = graph  # captured, not run: replay it for this batch
        self.graph.replay()
        return self._terms

    @staticmethod
    def _on_side_stream(function):
        side, current = torch.cuda.Stream(), torch.cuda.current_stream()
        side.wait_stream(current)
        with torch.cuda.stream(side):
            terms = function()
        current.wait_stream(side)
        for term in terms:
            term.record_stream(current)
        return terms


def _order(n, shuffle, weights, generator):
    """The rows of one epoch, in order: drawn by ``weights``, shuffled, or None (as stored).

    ``torch.multinomial`` takes at most 2**24 rows; more are drawn by inverting the
    weights' cumulative sum (in float64), with the same distribution."""
    if weights is not None and len(weights) > 2**24:
        cumulative = torch.cumsum(weights, 0, dtype=torch.float64)
        draws = torch.rand(n, generator=generator, dtype=torch.float64, device=weights.device)
        rows = torch.searchsorted(cumulative, draws * cumulative[-1], right=True)
        return rows.clamp_(max=len(weights) - 1)
    if weights is not None:
        return torch.multinomial(weights, n, replacement=True, generator=generator)
    if shuffle:
        return torch.randperm(n, generator=generator, device=generator.device)
    return None


def _batches(X, order, batch_size, workspace):
    """The epoch's batches: slices of ``X``, or its rows in ``order`` (into a buffer of
    ``workspace`` when given, reused from batch to batch); :class:`SparseRows`
    densify each batch instead."""
    if isinstance(X, SparseRows):
        yield from X.batches(order, batch_size)
        return
    for start in range(0, X.shape[0], batch_size):
        if order is None:
            yield X[start : start + batch_size]
            continue
        rows = order[start : start + batch_size].to(X.device)
        if workspace is None:
            yield X[rows]
        else:
            batch = workspace("batch", rows.shape[0], X.shape[1])
            yield torch.index_select(X, 0, rows, out=batch)
