"""ACAI's objective: the names of its terms and how they weigh into its two losses.

The autograd step (``_training.acai_losses``) and the hand-written MLP step
(``_mlp_step``) compute the terms; this module names them, weighs them into the
autoencoder's and the critic's losses and says what the training history records.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

TERM_NAMES = ("reconstruction", "adversarial", "critic", "critic_regularization")
# What a model's history records per epoch: the autoencoder's loss, then every term.
HISTORY_KEYS = ("loss", *TERM_NAMES)


class LossTerms(NamedTuple):
    """The four terms of ACAI's two losses (unweighted)."""

    reconstruction: torch.Tensor  # mean((x - g(f(x)))^2)
    adversarial: torch.Tensor  # mean(d(x_mix)^2)
    critic: torch.Tensor  # mean((d(x_mix) - alpha)^2)
    critic_regularization: torch.Tensor  # mean(d(gamma x + (1 - gamma) x_hat)^2)


def autoencoder_loss(terms, adversarial_weight):
    """``L_ae = reconstruction + lambda adversarial``: updates the encoder and decoder.

    With ``lambda == 0`` the adversarial term is left out altogether, so that the
    autoencoder's gradients are exactly those of a plain autoencoder.
    """
    if adversarial_weight == 0:
        return terms.reconstruction
    return terms.reconstruction + adversarial_weight * terms.adversarial


def critic_loss(terms):
    """``L_critic = critic + critic_regularization``: updates the critic."""
    return terms.critic + terms.critic_regularization


def epoch_record(terms, adversarial_weight):
    """One epoch's history entry from its mean terms (a dict by name): the
    autoencoder's loss under ``"loss"``, then every term."""
    terms = LossTerms(*(terms[name] for name in TERM_NAMES))
    return {"loss": autoencoder_loss(terms, adversarial_weight), **terms._asdict()}


def squared_errors(x, x_hat):
    """The reconstruction's squared errors ``(x - x_hat)^2``, element by element, in
    float64 (the difference in the inputs' precision): for NumPy arrays and torch
    tensors alike. Validation scores, ``score_samples`` and ``score`` average them."""
    if isinstance(x, np.ndarray):
        return np.square(x - x_hat, dtype=np.float64)
    return (x - x_hat).double().square()
