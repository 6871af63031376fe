"""ACAI's losses and update rule, checked by hand and against a plain formulation.

The hand-written step for MLP networks (``skacai._mlp_step``) is checked against
the autograd step, ``train_step``, which is checked against the textbook formulation.
"""

import copy

import numpy as np
import pytest
import torch

from skacai import _mlp_step, _objective, _training
from skacai._mlp_step import Workspace, mlp_train_step
from skacai._networks import MLP, Critic, NetworkSpec, build_networks, dropout_during
from skacai._objective import LossTerms
from skacai._training import (
    Networks,
    Optimizers,
    acai_losses,
    sample_alpha,
    train_epoch,
    train_step,
)

# On a machine with a GPU, the hand-written step is also checked there.
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    ),
]


def tiny_linear_networks():
    """f(x) = x0, g(z) = (z, 0), d(x) = x0 + x1: small enough to do by hand."""
    encoder, decoder, critic = MLP((2, 1)), MLP((1, 2)), Critic(MLP((2, 1)))
    with torch.no_grad():
        for module, weight in ((encoder, [[1.0, 0.0]]), (decoder, [[1.0], [0.0]])):
            module.layers[0].weight.copy_(torch.tensor(weight))
            module.layers[0].bias.zero_()
        critic.body.layers[0].weight.copy_(torch.tensor([[1.0, 1.0]]))
        critic.body.layers[0].bias.zero_()
    return Networks(encoder, decoder, critic)


def test_losses_match_hand_computation():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    alpha = torch.tensor([0.25, 0.5])
    losses = acai_losses(tiny_linear_networks(), x, alpha, 0.5, 0.2)
    # z = (1, 3); partner codes (3, 1); z_mix = (0.25*1 + 0.75*3, 0.5*3 + 0.5*1) = (2.5, 2)
    # x_hat = ((1, 0), (3, 0)) -> reconstruction = (0 + 4 + 0 + 16) / 4 = 5
    # d(x_mix) = (2.5, 2) -> adversarial = (6.25 + 4) / 2 = 5.125
    # critic = ((2.5 - 0.25)^2 + (2 - 0.5)^2) / 2 = 3.65625
    # x_reg = 0.2 x + 0.8 x_hat = ((1, 0.4), (3, 0.8)) -> d = (1.4, 3.8) -> (1.96 + 14.44) / 2
    assert losses.terms.reconstruction.item() == pytest.approx(5.0)
    assert losses.terms.adversarial.item() == pytest.approx(5.125)
    assert losses.terms.critic.item() == pytest.approx(3.65625)
    assert losses.terms.critic_regularization.item() == pytest.approx(8.2)
    assert losses.autoencoder.item() == pytest.approx(5.0 + 0.5 * 5.125)
    assert losses.critic.item() == pytest.approx(3.65625 + 8.2)


def test_zero_adversarial_weight_is_the_plain_reconstruction_loss():
    losses = acai_losses(tiny_linear_networks(), torch.ones(2, 2), torch.zeros(2), 0.0, 0.2)
    assert losses.autoencoder is losses.terms.reconstruction


def test_alpha_is_folded_onto_zero_to_half():
    alpha = sample_alpha(10_000, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert alpha.min() >= 0 and alpha.max() <= 0.5
    assert alpha.mean().item() == pytest.approx(0.25, abs=0.01)


def random_networks(seed=0, n_features=6, n_components=3):
    spec = NetworkSpec("mlp", n_features, n_components, (5,))
    return Networks(*build_networks(spec, torch.Generator().manual_seed(seed), "cpu"))


def reference_gradients(networks, x, alpha, lam, gamma):
    """The textbook formulation: separate forward passes, explicit detach, .backward()."""
    networks = Networks(*(copy.deepcopy(m) for m in networks))
    f, g, d = networks
    z = f(x)
    x_hat = g(z)
    a = alpha[:, None]
    x_mix = g(a * z + (1 - a) * z.flip(0))
    ae_loss = ((x - x_hat) ** 2).mean() + lam * (d(x_mix) ** 2).mean()
    ae_loss.backward()
    ae_grads = [p.grad.clone() for p in networks.autoencoder_parameters()]
    x_mix_d, x_hat_d = x_mix.detach(), x_hat.detach()
    for p in d.parameters():
        p.grad = None
    critic_loss = ((d(x_mix_d) - alpha) ** 2).mean() + (
        d(gamma * x + (1 - gamma) * x_hat_d) ** 2
    ).mean()
    critic_loss.backward()
    critic_grads = [p.grad.clone() for p in networks.critic_parameters()]
    return ae_grads, critic_grads


@pytest.mark.parametrize("lam, gamma", [(0.5, 0.2), (0.0, 0.2), (2.0, 1.0)])
def test_train_step_applies_exactly_each_losses_own_gradient(lam, gamma):
    networks = random_networks()
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
    alpha = sample_alpha(8, torch.Generator().manual_seed(2), torch.device("cpu"))
    expected_ae, expected_critic = reference_gradients(networks, x, alpha, lam, gamma)
    before = [p.detach().clone() for p in networks.autoencoder_parameters()]
    before_critic = [p.detach().clone() for p in networks.critic_parameters()]
    # SGD with lr=1 makes each parameter's change equal to minus its gradient.
    optimizers = Optimizers(
        torch.optim.SGD(networks.autoencoder_parameters(), lr=1.0),
        torch.optim.SGD(networks.critic_parameters(), lr=1.0),
    )
    train_step(networks, optimizers, x, alpha, lam, gamma)
    after = networks.autoencoder_parameters()
    for old, new, grad in zip(before, after, expected_ae, strict=True):
        torch.testing.assert_close(old - new.detach(), grad, rtol=1e-5, atol=1e-6)
    after_critic = networks.critic_parameters()
    for old, new, grad in zip(before_critic, after_critic, expected_critic, strict=True):
        torch.testing.assert_close(old - new.detach(), grad, rtol=1e-5, atol=1e-6)


def test_critic_loss_never_changes_the_autoencoder():
    """With lambda = 0 the autoencoder cannot see the critic: gamma must not matter."""
    from skacai import ACAITransformer

    X = np.random.default_rng(0).normal(size=(64, 6))
    params = dict(adversarial_weight=0.0, hidden_layer_sizes=(8,), max_iter=5, batch_size=16)
    models = [
        ACAITransformer(2, critic_regularization=gamma, random_state=0, **params).fit(X)
        for gamma in (0.0, 0.2, 1.0)
    ]
    codes = [m.transform(X) for m in models]
    np.testing.assert_array_equal(codes[0], codes[1])
    np.testing.assert_array_equal(codes[0], codes[2])
    critic_weights = [next(m.critic_.parameters()).detach() for m in models]
    assert not torch.equal(critic_weights[0], critic_weights[2])


def test_autoencoder_loss_never_changes_the_critic():
    """After one step the critic has seen the same inputs whatever lambda is."""
    networks_by_lambda = []
    for lam in (0.0, 0.5, 5.0):
        networks = random_networks(seed=3)
        optimizers = Optimizers(
            torch.optim.Adam(networks.autoencoder_parameters()),
            torch.optim.Adam(networks.critic_parameters()),
        )
        x = torch.randn(8, 6, generator=torch.Generator().manual_seed(4))
        alpha = sample_alpha(8, torch.Generator().manual_seed(5), torch.device("cpu"))
        train_step(networks, optimizers, x, alpha, lam, 0.2)
        networks_by_lambda.append(networks)
    reference = networks_by_lambda[0]
    for networks in networks_by_lambda[1:]:
        for p, q in zip(reference.critic_parameters(), networks.critic_parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)
        assert any(
            not torch.equal(p, q)
            for p, q in zip(
                reference.autoencoder_parameters(),
                networks.autoencoder_parameters(),
                strict=True,
            )
        )


def test_networks_have_the_specified_shapes():
    spec = NetworkSpec("mlp", 10, 4, (7, 5))
    f, g, d = build_networks(spec, torch.Generator().manual_seed(0), "cpu")
    x = torch.randn(3, 10)
    assert f(x).shape == (3, 4)
    assert g(f(x)).shape == (3, 10)
    assert d(x).shape == (3,)
    assert [layer.out_features for layer in f.layers] == [7, 5, 4]
    assert [layer.out_features for layer in g.layers] == [5, 7, 10]


def test_initialisation_is_seeded_and_follows_the_paper():
    spec = NetworkSpec("mlp", 400, 300, ())
    f1, _, _ = build_networks(spec, torch.Generator().manual_seed(0), "cpu")
    f2, _, _ = build_networks(spec, torch.Generator().manual_seed(0), "cpu")
    weight = f1.layers[0].weight.detach()
    torch.testing.assert_close(weight, f2.layers[0].weight.detach(), rtol=0, atol=0)
    expected_std = 1 / np.sqrt((1 + 0.2**2) * 400)
    assert weight.std().item() == pytest.approx(expected_std, rel=0.02)
    assert torch.count_nonzero(f1.layers[0].bias) == 0


# ------------------------------------------------- the hand-written MLP step


def run_step(networks, x, alpha, lam, gamma, rate, *, fast):
    """One SGD step (lr=1) on copies: the loss terms, each parameter's gradient and
    the generator's state afterwards."""
    networks = Networks(*(copy.deepcopy(m) for m in networks))
    parameters = [*networks.autoencoder_parameters(), *networks.critic_parameters()]
    before = [p.detach().clone() for p in parameters]
    optimizers = Optimizers(
        torch.optim.SGD(networks.autoencoder_parameters(), lr=1.0),
        torch.optim.SGD(networks.critic_parameters(), lr=1.0),
    )
    generator = torch.Generator(x.device).manual_seed(3)
    if fast:
        workspace = Workspace(x.device, x.dtype)
        terms = mlp_train_step(
            networks, optimizers, x, alpha, lam, gamma,
            workspace=workspace, dropout=rate, generator=generator,
        )  # fmt: skip
    else:
        with dropout_during(networks, rate, generator):
            terms = train_step(networks, optimizers, x, alpha, lam, gamma)
    gradients = [old - new.detach() for old, new in zip(before, parameters, strict=True)]
    return torch.stack(list(terms)), gradients, generator.get_state()


@pytest.mark.parametrize(
    ("hidden", "n", "lam", "gamma", "rate"),
    [
        ((7, 5), 8, 0.5, 0.2, 0.0),
        ((7, 5), 8, 0.0, 0.2, 0.0),  # lambda = 0: no backward pass through the critic
        ((7, 5), 8, 0.5, 0.2, 0.5),  # the same dropout masks on both sides
        ((7, 5), 9, 2.0, 1.0, 0.3),
        ((), 8, 0.5, 0.2, 0.0),  # linear networks
        ((40, 30, 20), 33, 0.5, 0.2, 0.5),
        ((7,), 1, 0.5, 0.2, 0.5),  # a single sample
    ],
)
@pytest.mark.parametrize("device", DEVICES)
def test_mlp_step_gives_the_losses_and_gradients_of_the_plain_step(
    hidden, n, lam, gamma, rate, device
):
    spec = NetworkSpec("mlp", 6, 3, hidden)
    networks = Networks(*build_networks(spec, torch.Generator().manual_seed(0), device))
    for module in networks:
        module.train()
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(1)).to(device)
    alpha = sample_alpha(n, torch.Generator().manual_seed(2), torch.device("cpu")).to(device)
    plain = run_step(networks, x, alpha, lam, gamma, rate, fast=False)
    fast = run_step(networks, x, alpha, lam, gamma, rate, fast=True)
    torch.testing.assert_close(fast[0], plain[0], rtol=1e-5, atol=1e-7)
    for got, expected in zip(fast[1], plain[1], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert torch.equal(fast[2], plain[2])  # the same draws from the generator


def test_mlp_step_matches_the_textbook_gradients():
    networks = random_networks()
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
    alpha = sample_alpha(8, torch.Generator().manual_seed(2), torch.device("cpu"))
    expected_ae, expected_critic = reference_gradients(networks, x, alpha, 0.5, 0.2)
    _, gradients, _ = run_step(networks, x, alpha, 0.5, 0.2, 0.0, fast=True)
    for got, expected in zip(gradients, [*expected_ae, *expected_critic], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_train_epoch_uses_the_mlp_step_and_reuses_its_buffers(monkeypatch):
    """An epoch with a short last batch, with dropout: the same as the plain step's epoch."""
    X = torch.randn(70, 6, generator=torch.Generator().manual_seed(4))
    results = []
    for fast in (True, False):
        networks = random_networks(seed=5)
        for module in networks:
            module.train()
        optimizers = Optimizers(
            torch.optim.SGD(networks.autoencoder_parameters(), lr=0.1),
            torch.optim.SGD(networks.critic_parameters(), lr=0.1),
        )
        if not fast:
            monkeypatch.setattr(_mlp_step, "handles", lambda networks: False)
        workspace = Workspace(X.device, X.dtype)
        kwargs = dict(
            batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(6),
            adversarial_weight=0.5, critic_regularization=0.2, dropout=0.5, workspace=workspace,
        )  # fmt: skip
        terms = [train_epoch(networks, optimizers, X, **kwargs) for _ in range(2)]
        pointers = {name: b.data_ptr() for name, b in workspace._buffers.items()}
        train_epoch(networks, optimizers, X, **kwargs)
        assert {name: b.data_ptr() for name, b in workspace._buffers.items()} == pointers
        assert bool(pointers) == fast
        results.append((terms, [p.detach() for m in networks for p in m.parameters()]))
    (fast_terms, fast_weights), (plain_terms, plain_weights) = results
    for got, expected in zip(fast_terms, plain_terms, strict=True):
        assert got == pytest.approx(expected, rel=1e-5)
    for got, expected in zip(fast_weights, plain_weights, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


# ------------------------------------------ the objective: one module for both steps


def test_both_steps_weigh_the_terms_as_the_objective_says(monkeypatch):
    """The weights come from ``_objective.term_weights`` in both steps: other weights
    change both steps' gradients alike."""
    networks = random_networks()
    for module in networks:
        module.train()
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
    alpha = sample_alpha(8, torch.Generator().manual_seed(2), torch.device("cpu"))
    default = run_step(networks, x, alpha, 0.5, 0.2, 0.0, fast=True)
    weights = {"reconstruction": 3.0, "critic": 0.5, "critic_regularization": 2.0}
    monkeypatch.setattr(_objective, "term_weights", lambda lam: {**weights, "adversarial": lam})
    plain = run_step(networks, x, alpha, 0.5, 0.2, 0.0, fast=False)
    fast = run_step(networks, x, alpha, 0.5, 0.2, 0.0, fast=True)
    for got, expected, before in zip(fast[1], plain[1], default[1], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
        assert not torch.allclose(got, before)
    torch.testing.assert_close(fast[0], default[0])  # the terms are unweighted


def test_an_objective_term_the_mlp_step_lacks_trains_with_the_autograd_step(monkeypatch):
    """A term added to the objective that the hand-written step does not implement:
    ``handles`` declines, and ``train_epoch`` runs ``train_step`` instead."""
    networks = random_networks()
    assert _mlp_step.handles(networks)
    calls = []

    def spy(function):
        def wrapped(*args, **kwargs):
            calls.append(function.__name__)
            return function(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(_mlp_step, "mlp_train_step", spy(_mlp_step.mlp_train_step))
    monkeypatch.setattr(_training, "train_step", spy(_training.train_step))
    optimizers = Optimizers(
        torch.optim.SGD(networks.autoencoder_parameters(), lr=0.1),
        torch.optim.SGD(networks.critic_parameters(), lr=0.1),
    )
    X = torch.randn(20, 6, generator=torch.Generator().manual_seed(4))
    kwargs = dict(
        batch_size=10, shuffle=False, generator=torch.Generator().manual_seed(6),
        adversarial_weight=0.5, critic_regularization=0.2,
    )  # fmt: skip
    train_epoch(networks, optimizers, X, **kwargs)
    assert calls == ["mlp_train_step"] * 2
    calls.clear()
    monkeypatch.setattr(_objective, "TERM_NAMES", (*_objective.TERM_NAMES, "sharpness"))
    assert not _mlp_step.implements_objective() and not _mlp_step.handles(networks)
    terms = train_epoch(networks, optimizers, X, **kwargs)
    assert calls == ["train_step"] * 2
    assert set(terms) == set(LossTerms._fields)
    monkeypatch.setattr(_objective, "TERM_NAMES", LossTerms._fields)  # a term moved:
    monkeypatch.setitem(_objective.LOSSES, "critic", ("critic",))  # declined as well
    assert not _mlp_step.handles(networks)
