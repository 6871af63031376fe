"""ACAI's losses and update rule, checked by hand and against a plain formulation."""

import copy

import numpy as np
import pytest
import torch

from skacai._networks import MLP, Critic, NetworkSpec, build_networks
from skacai._training import Networks, Optimizers, acai_losses, sample_alpha, train_step


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
