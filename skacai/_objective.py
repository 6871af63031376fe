"""ACAI's objective: the names of its terms and how they weigh into its two losses.

The autograd step (``_training.acai_losses``) and the hand-written MLP step
(``_mlp_step``) compute the terms; this module names them, weighs them into the
autoencoder's and the critic's losses and says what the training history records.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class LossTerms(NamedTuple):
    """The four terms of ACAI's two losses (unweighted)."""

    reconstruction: torch.Tensor  # mean((x - g(f(x)))^2)
    adversarial: torch.Tensor  # mean(d(x_mix)^2)
    critic: torch.Tensor  # mean((d(x_mix) - alpha)^2)
    critic_regularization: torch.Tensor  # mean(d(gamma x + (1 - gamma) x_hat)^2)


TERM_NAMES = LossTerms._fields
# Which terms each of the two losses sums: the autoencoder's loss updates the encoder
# and decoder, the critic's loss the critic.
LOSSES = {
    "autoencoder": ("reconstruction", "adversarial"),
    "critic": ("critic", "critic_regularization"),
}
# What a model's history records per epoch: the autoencoder's loss, then every term.
HISTORY_KEYS = ("loss", *TERM_NAMES)
# Model files record their history's keys (``history_keys``), so that a term added
# later never stops an older file loading (:func:`recorded_history`). Files from
# before that field hold these, the keys of the first objective:
FIRST_HISTORY_KEYS = ("loss", "reconstruction", "adversarial", "critic", "critic_regularization")


def term_weights(adversarial_weight):
    """Each term's weight in the loss that sums it (:data:`LOSSES`): ``lambda =
    adversarial_weight`` for the adversarial term, 1 for the others."""
    return {
        "reconstruction": 1.0,
        "adversarial": adversarial_weight,
        "critic": 1.0,
        "critic_regularization": 1.0,
    }


def weighted_total(terms, loss, adversarial_weight):
    """The loss ``loss`` (a key of :data:`LOSSES`): its terms (tensors or floats, read
    from ``terms`` by name) times their :func:`term_weights`, summed in order.

    A term of weight 0 is left out altogether (with ``lambda == 0`` the autoencoder's
    gradients are exactly those of a plain autoencoder); a term of weight 1 is added
    as it is.
    """
    weights = term_weights(adversarial_weight)
    total = None
    for name in LOSSES[loss]:
        weight = weights[name]
        if weight == 0:
            continue
        term = getattr(terms, name)
        term = term if weight == 1 else weight * term
        total = term if total is None else total + term
    return total


def autoencoder_loss(terms, adversarial_weight):
    """``L_ae = reconstruction + lambda adversarial``: updates the encoder and decoder."""
    return weighted_total(terms, "autoencoder", adversarial_weight)


def critic_loss(terms, adversarial_weight):
    """``L_critic = critic + critic_regularization``: updates the critic."""
    return weighted_total(terms, "critic", adversarial_weight)


def epoch_record(terms, adversarial_weight):
    """One epoch's history entry from its mean terms (a dict by name): the
    autoencoder's loss under ``"loss"``, then every term."""
    terms = LossTerms(*(terms[name] for name in TERM_NAMES))
    return {"loss": autoencoder_loss(terms, adversarial_weight), **terms._asdict()}


def recorded_history(history, keys, n_epochs):
    """A history read back from a model file, with every key of :data:`HISTORY_KEYS`.

    ``keys``: the keys the file recorded (None: :data:`FIRST_HISTORY_KEYS`), the
    loss and the terms the objective had when it was written; ``history`` must hold
    exactly those (TypeError otherwise). A term added since holds NaN, not recorded,
    for each of the ``n_epochs`` epochs. A key this objective does not know (a newer
    one recorded it) raises ValueError.
    """
    keys = list(FIRST_HISTORY_KEYS) if keys is None else keys
    if (
        not isinstance(keys, list)
        or not all(isinstance(key, str) for key in keys)
        or len(set(keys)) != len(keys)
        or "loss" not in keys
    ):
        raise TypeError("history_keys is not a list of distinct names with 'loss'")
    unknown = [key for key in keys if key not in HISTORY_KEYS]
    if unknown:
        raise ValueError(
            f"its history records loss terms this skacai does not know "
            f"({', '.join(map(repr, unknown))}; it knows {', '.join(HISTORY_KEYS)}): a "
            "newer skacai wrote it, upgrade skacai to load it"
        )
    if not isinstance(history, dict) or set(history) != set(keys):
        raise TypeError("history_ is not a dict of the loss and its terms")
    return with_unrecorded_terms(history, n_epochs)


def with_unrecorded_terms(history, n_epochs):
    """``history`` with NaN, for each of its ``n_epochs`` epochs, under every key of
    :data:`HISTORY_KEYS` it lacks (a term added after it was recorded)."""
    missing = [key for key in HISTORY_KEYS if key not in history]
    return {**history, **{key: [float("nan")] * n_epochs for key in missing}}


def squared_errors(x, x_hat):
    """The reconstruction's squared errors ``(x - x_hat)^2``, element by element, in
    float64 (the difference in the inputs' precision): for NumPy arrays and torch
    tensors alike. Validation scores, ``score_samples`` and ``score`` average them."""
    if isinstance(x, np.ndarray):
        return np.square(x - x_hat, dtype=np.float64)
    return (x - x_hat).double().square()
