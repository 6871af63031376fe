"""The training loop of one fit: optimisers, the epochs with their rollback, and the
early-stopping monitor. Plain functions on networks and tensors, never the estimator."""

from __future__ import annotations

import warnings
from contextlib import ExitStack, contextmanager, nullcontext
from typing import NamedTuple

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skacai._device import captures, float32_convolutions
from skacai._inference import INFERENCE_BATCH_SIZE, sparse_batch_rows
from skacai._memory import steady_heap
from skacai._networks import cropping, uncropped
from skacai._objective import squared_errors
from skacai._rollback import load_states, module_states, restore, snapshot, weights_finite
from skacai._training import (
    Optimizers,
    SparseRows,
    StepGraph,
    Workspace,
    match_parameter_layout,
    train_epoch,
)
from skacai._validation import user_stacklevel

# precision -> the dtype of torch.autocast in each training step (None: no autocast).
AUTOCAST = {"float32": None, "bfloat16": torch.bfloat16}


class StepSettings(NamedTuple):
    """How each epoch trains: the estimator's parameters, resolved."""

    batch_size: int
    shuffle: bool
    adversarial_weight: float
    critic_regularization: float
    dropout: float
    precision: str
    padded: bool  # the loss covers the whole padded image: the decoder returns it uncropped


def make_optimizers(networks, saved_states, learning_rate, device):
    """Adam for the autoencoder and for the critic, continuing ``saved_states`` if given.

    Fused kernels on the CPU and CUDA; on CUDA the step counts stay on the GPU
    (``capturable``) so that training steps can be replayed as CUDA graphs. The
    learning rate is always the current one, not the saved one.
    """
    device = torch.device(device)
    fused = device.type in ("cpu", "cuda")
    capturable = captures(device)
    optimizers = Optimizers(
        *(
            torch.optim.Adam(parameters, fused=fused, capturable=capturable)
            for parameters in (networks.autoencoder_parameters(), networks.critic_parameters())
        )
    )
    if saved_states is not None:
        for optimizer, state in zip(optimizers, saved_states, strict=True):
            optimizer.load_state_dict(state)
            match_parameter_layout(optimizer)
    for optimizer in optimizers:
        for group in optimizer.param_groups:  # not the saved ones: another device's
            group.update(lr=learning_rate, fused=fused, capturable=capturable)
    return optimizers


class EarlyStopping:
    """The convergence monitor of one fit.

    Follows the training loss, or with ``score`` (a function of the networks,
    higher is better, e.g. :func:`reconstruction_score` on held-out data) that
    validation score, keeping the best epoch's weights; training has
    converged once ``patience`` epochs in a row improved the best by less
    than ``tol``. ``score`` sees the networks as inference uses them
    (:func:`inference_state`).
    """

    def __init__(self, tol, patience, score=None):
        self.tol, self.patience, self.score = tol, patience, score
        validating = score is not None
        self.best_loss = None if validating else np.inf
        self.validation_scores = [] if validating else None
        self.best_validation_score = None  # no epoch scored yet
        self.best_state = None
        self.epochs = 0  # seen by converged, the one being scored included
        self.best_epoch = None  # of this fit's epochs (1 is the first), where validating
        self._no_improvement = 0

    def converged(self, networks, terms):
        """Record one epoch's losses ``terms``; whether training has converged."""
        self.epochs += 1
        if self.score is None:
            score, best = -terms["reconstruction"], -self.best_loss
        else:
            with inference_state(networks):
                score = self.score(networks)
            if not np.isfinite(score):
                raise ValueError(
                    f"the validation score of epoch {self.epochs} is {score}: the "
                    "reconstruction error of the validation rows overflows, so early "
                    "stopping cannot compare epochs. Give validation data on the training "
                    "data's scale (the same units, without outliers far beyond it)."
                )
            self.validation_scores.append(score)
            best = -np.inf if self.best_validation_score is None else self.best_validation_score
        self._no_improvement = self._no_improvement + 1 if score < best + self.tol else 0
        if score > best and self.score is None:
            self.best_loss = -score
        elif score > best:
            self.best_validation_score = score
            self.best_state = module_states(networks)
            self.best_epoch = self.epochs
        return self._no_improvement >= self.patience


def reconstruction_score(X_val, padded, weights=None):
    """``score(networks)``: ``-MSE`` of the networks' reconstruction of the tensor
    ``X_val`` (scaled as for training; padded images compared whole for ``padded``),
    its rows weighted by the tensor ``weights`` if given (only their ratios count: they
    are divided by the largest, so that no sum overflows). Computed in float64.
    :class:`SparseRows` are densified batch by batch, as inference densifies sparse X
    (the dense tensor's score exactly, where they fit in one batch)."""
    if weights is not None:
        weights = weights.double() / weights.max()

    def score(networks):
        with torch.no_grad(), uncropped(networks.decoder) if padded else nullcontext():
            if isinstance(X_val, SparseRows):
                return _sparse_score(networks, X_val, weights)
            squared = _squared_errors(networks, X_val)
            if weights is None:
                return -float(squared.mean())
            return -float((squared.mean(dim=1) * weights).sum() / weights.sum())

    return score


def _squared_errors(networks, x):
    """The squared errors of the networks' reconstruction of the rows ``x``, in float64
    (those of float32 rows far beyond the training data's scale overflow float32)."""
    return squared_errors(x, networks.decoder(networks.encoder(x)))


def _sparse_score(networks, X_val, weights):
    """``-MSE`` of the reconstruction of :class:`SparseRows`, batch by batch."""
    batches = X_val.batches(None, sparse_batch_rows(INFERENCE_BATCH_SIZE, X_val.shape[1]))
    if weights is not None:
        errors = torch.cat([_squared_errors(networks, x).mean(dim=1) for x in batches])
        return -float((errors * weights).sum() / weights.sum())
    # Each batch's mean in float64, weighted by its rows: exact for a single batch.
    total = sum(float(_squared_errors(networks, x).mean()) * x.shape[0] for x in batches)
    return -total / X_val.shape[0]


@contextmanager
def inference_state(networks):
    """The networks as inference runs them for the block (evaluation mode, a conv
    decoder cropping its padding), then back as they were."""
    modes = [module.training for module in networks]
    for module in networks:
        module.eval()
    try:
        with cropping(networks.decoder, True):
            yield
    finally:
        for module, mode in zip(networks, modes, strict=True):
            module.train(mode)


def run_epochs(
    networks, optimizers, generator, X, n_epochs, settings, *, monitor, record, bar, weights=None
):
    """Train up to ``n_epochs`` on X (a tensor, or :class:`SparseRows`); return how
    training ended.

    ``"interrupted"`` (Ctrl-C) and ``"diverged"`` (non-finite losses or weights)
    roll the epoch back; ``"interrupted while scoring"``: a Ctrl-C while the
    monitor scored a completed epoch, which is kept; ``"max_iter"`` when ``monitor`` (an
    :class:`EarlyStopping`, or None for no convergence check) never saw
    convergence; None otherwise. ``record(terms)`` is called after each
    completed epoch. With a validation set the best epoch's weights are kept.
    ``weights`` (per row of X, or None) draw each epoch's rows: see ``train_epoch``.
    """
    workspace = Workspace(X.device, X.dtype)  # buffers shared by the epochs
    # On a GPU, full batches replay the step captured as one CUDA graph (dropout
    # masks are drawn inside the step, so models with dropout train eagerly).
    graph = StepGraph() if captures(X.device) and settings.dropout == 0 else None
    ending = None if monitor is None else "max_iter"
    with _training_mode(networks, settings, X.device):
        for epoch in range(n_epochs):
            bar.set_description_str(f"ACAI epoch {epoch + 1}/{n_epochs}", refresh=False)
            last_good = snapshot(networks, optimizers, generator)
            try:
                terms = train_epoch(
                    networks,
                    optimizers,
                    X,
                    batch_size=settings.batch_size,
                    shuffle=settings.shuffle,
                    generator=generator,
                    adversarial_weight=settings.adversarial_weight,
                    critic_regularization=settings.critic_regularization,
                    dropout=settings.dropout,
                    on_batch=bar.update,
                    workspace=workspace,
                    autocast_dtype=AUTOCAST[settings.precision],
                    graph=graph,
                    weights=weights,
                )
            except KeyboardInterrupt:
                restore(networks, optimizers, generator, last_good)
                ending = "interrupted"
                break
            # The losses are those before each step, so the last step's update
            # can poison the weights while the epoch's losses are still finite.
            if not (np.all(np.isfinite(list(terms.values()))) and weights_finite(networks)):
                restore(networks, optimizers, generator, last_good)
                ending = "diverged"
                break
            record(terms)
            try:
                converged = monitor is not None and monitor.converged(networks, terms)
            except KeyboardInterrupt:  # while scoring: the epoch itself is complete
                ending = "interrupted while scoring"
                break
            if converged:
                ending = None
                break
    if monitor is not None and monitor.best_state is not None:
        load_states(networks, monitor.best_state)
    return ending


def _training_mode(networks, settings, device):
    """A context with the networks in training mode (evaluation mode after it), the
    decoder uncropped for ``settings.padded``, and float32 convolutions on CUDA for
    ``precision="float32"``; on the CPU the C heap kept steady (:func:`steady_heap`)."""
    context = ExitStack()
    context.enter_context(steady_heap(device))
    for module in networks:
        module.train()
    context.callback(lambda: [module.eval() for module in networks])
    if settings.padded:
        context.enter_context(uncropped(networks.decoder))
    if settings.precision == "float32":
        context.enter_context(float32_convolutions(device))
    return context


def warn_about(outcome, *, n_iter, kept, learning_rate_init, max_iter, n_epochs):
    """Warn about how training ended (``run_epochs``'s outcome) after ``n_iter`` epochs,
    the model keeping the weights of epoch ``kept`` (0: its initial weights). The
    warnings point at the code that called ``fit`` / ``partial_fit``."""
    stacklevel = user_stacklevel()
    kept = f"epoch {kept}" if kept else "initialisation"
    if outcome in ("interrupted", "interrupted while scoring"):
        where = (
            f"in epoch {n_iter + 1}"
            if outcome == "interrupted"
            else f"while early stopping scored epoch {n_iter}"
        )
        warnings.warn(
            f"ACAITransformer's training was interrupted (KeyboardInterrupt) {where}; "
            f"the model keeps the weights from {kept} and can be used, saved or "
            "trained further.",
            UserWarning,
            stacklevel=stacklevel,
        )
    elif outcome == "diverged":
        warnings.warn(
            f"ACAITransformer's losses or weights became non-finite in epoch "
            f"{n_iter + 1}; training stopped and the weights from {kept} were kept. "
            f"Lower learning_rate_init (now {learning_rate_init}) or check the "
            "input's scale.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    elif outcome == "max_iter":
        budget = (
            f"max_iter={max_iter} epochs"
            if max_iter != "auto"
            else f"its default budget (max_iter='auto': {n_epochs} epochs of this data)"
        )
        warnings.warn(
            f"ACAITransformer stopped after {budget} before converging; "
            "pass a larger max_iter (an int) if the loss is still falling.",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
