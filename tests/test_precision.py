"""``precision="bfloat16"``: mixed-precision training (``torch.autocast`` semantics, one step
at a time), for the autograd step and the hand-written MLP step."""

import warnings

import numpy as np
import pytest
import torch

from skacai import ACAITransformer
from skacai._networks import NetworkSpec, build_networks
from skacai._training import Networks, Optimizers, acai_losses, sample_alpha, train_step

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 16))
    return (centres[rng.integers(4, size=400)] + rng.normal(size=(400, 16))).astype(np.float32)


def small_networks(seed, kind="mlp"):
    generator = torch.Generator().manual_seed(seed)
    if kind == "mlp":
        spec = NetworkSpec("mlp", n_features=16, n_components=4, hidden_layer_sizes=(32, 32))
    else:
        spec = NetworkSpec(
            "conv", n_features=64, n_components=16, image_shape=(1, 8, 8), conv_width=4, n_scales=1
        )
    return Networks(*build_networks(spec, generator, torch.device("cpu")))


def optimizers_for(networks):
    return Optimizers(
        torch.optim.Adam(networks.autoencoder_parameters(), lr=1e-3),
        torch.optim.Adam(networks.critic_parameters(), lr=1e-3),
    )


def gradients(networks, x, alpha, autocast):
    ae_params, critic_params = networks.autoencoder_parameters(), networks.critic_parameters()
    context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else torch.enable_grad()
    with context:
        losses = acai_losses(networks, x, alpha, 0.5, 0.2)
    ae = torch.autograd.grad(losses.autoencoder, ae_params, retain_graph=True)
    critic = torch.autograd.grad(losses.critic, critic_params)
    return losses, ae + critic


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_bf16_lossesand_gradients_are_float32_and_close_to_float32(kind):
    networks = small_networks(0, kind)
    n_features = 16 if kind == "mlp" else 64
    x = torch.randn(64, n_features, generator=torch.Generator().manual_seed(1))
    alpha = sample_alpha(64, torch.Generator().manual_seed(2), torch.device("cpu"))
    exact, exact_grads = gradients(networks, x, alpha, autocast=False)
    mixed, mixed_grads = gradients(networks, x, alpha, autocast=True)
    for a, b in zip(exact.terms, mixed.terms, strict=True):
        assert b.dtype == torch.float32
        assert abs(a.item() - b.item()) <= 0.03 * abs(a.item()) + 1e-4
    for a, b in zip(exact_grads, mixed_grads, strict=True):
        assert b.dtype == torch.float32
        cosine = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
        assert cosine > 0.99
    # And bfloat16 really was used: the results are not float32's bit for bit.
    assert any(not torch.equal(a, b) for a, b in zip(exact_grads, mixed_grads, strict=True))


def test_bf16_step_keeps_weights_and_optimiser_state_float32():
    networks = small_networks(0)
    optimizers = optimizers_for(networks)
    x = torch.randn(32, 16)
    alpha = sample_alpha(32, torch.Generator().manual_seed(0), torch.device("cpu"))
    train_step(networks, optimizers, x, alpha, 0.5, 0.2, autocast_dtype=torch.bfloat16)
    for module in networks:
        assert all(p.dtype == torch.float32 for p in module.parameters())
    for optimizer in optimizers:
        for state in optimizer.state.values():
            assert state["exp_avg"].dtype == torch.float32


def test_each_step_uses_the_updated_weights():
    # One autocast region over several steps would reuse its cached bfloat16
    # copies of the weights from before the first update (which made training
    # diverge). Step by step, two steps give what two separate calls give.
    def run(per_step):
        networks = small_networks(0, "conv")
        optimizers = optimizers_for(networks)
        x = torch.randn(32, 64, generator=torch.Generator().manual_seed(3))
        alpha = sample_alpha(32, torch.Generator().manual_seed(4), torch.device("cpu"))
        if per_step:
            steps = [
                train_step(networks, optimizers, x, alpha, 0.5, 0.2, autocast_dtype=torch.bfloat16)
                for _ in range(3)
            ]
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                steps = [train_step(networks, optimizers, x, alpha, 0.5, 0.2) for _ in range(3)]
        return [float(terms.reconstruction) for terms in steps]

    per_step, one_region = run(True), run(False)
    assert per_step[2] < per_step[0]
    assert per_step[1:] != one_region[1:]  # the stale cache really changes the result


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_bf16_fit_trains_about_as_well_as_float32(X, architecture):
    params = dict(
        n_components=4,
        hidden_layer_sizes=(32, 32),
        batch_size=32,
        max_iter=15,
        random_state=0,
        learning_rate_init=3e-3,
    )
    if architecture == "conv":
        params.update(architecture="conv", image_shape=(4, 4), conv_width=4, n_scales=1)
    full = ACAITransformer(**params).fit(X)
    mixed = ACAITransformer(**params, precision="bfloat16").fit(X)
    assert mixed.loss_curve_[-1] < 0.5 * mixed.loss_curve_[0]
    full_mse, mixed_mse = -full.score(X), -mixed.score(X)
    assert mixed_mse < 1.25 * full_mse
    assert not np.array_equal(full.transform(X), mixed.transform(X))
    codes = mixed.transform(X)
    assert codes.dtype == np.float32  # inference stays in the input's precision
    assert all(p.dtype == torch.float32 for p in mixed.encoder_.parameters())


def test_bf16_fit_is_reproducible(X):
    params = dict(
        n_components=4,
        hidden_layer_sizes=(16,),
        max_iter=3,
        random_state=0,
        precision="bfloat16",
        dropout=0.5,
    )
    a = ACAITransformer(**params).fit(X).transform(X)
    b = ACAITransformer(**params).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


def test_precision_survives_save_and_load(X, tmp_path):
    model = ACAITransformer(
        4, hidden_layer_sizes=(16,), max_iter=2, random_state=0, precision="bfloat16"
    ).fit(X)
    model.save(tmp_path / "m.safetensors")
    loaded = ACAITransformer.load(tmp_path / "m.safetensors")
    assert loaded.precision == "bfloat16"
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loaded.partial_fit(X)  # keeps training in mixed precision


def test_float32_is_the_default():
    assert ACAITransformer().precision == "float32"


@pytest.mark.parametrize(("lam", "rate"), [(0.5, 0.0), (0.0, 0.0), (0.5, 0.5)])
def test_hand_written_mlp_step_in_bf16_matches_autograd_under_autocast(lam, rate):
    from skacai._mlp_step import Workspace, mlp_train_step
    from skacai._networks import dropout_during

    def run(fast):
        networks = small_networks(0)
        for module in networks:
            module.train()
        parameters = [*networks.autoencoder_parameters(), *networks.critic_parameters()]
        before = [p.detach().clone() for p in parameters]
        optimizers = Optimizers(
            torch.optim.SGD(networks.autoencoder_parameters(), lr=1.0),
            torch.optim.SGD(networks.critic_parameters(), lr=1.0),
        )
        x = torch.randn(48, 16, generator=torch.Generator().manual_seed(1))
        alpha = sample_alpha(48, torch.Generator().manual_seed(2), torch.device("cpu"))
        generator = torch.Generator().manual_seed(3)
        args = (networks, optimizers, x, alpha, lam, 0.2)
        if fast:
            workspace = Workspace(x.device, x.dtype)
            terms = mlp_train_step(
                *args, workspace=workspace, dropout=rate, generator=generator,
                autocast_dtype=torch.bfloat16,
            )  # fmt: skip
        else:
            with dropout_during(networks, rate, generator):
                terms = train_step(*args, autocast_dtype=torch.bfloat16)
        grads = [old - new.detach() for old, new in zip(before, parameters, strict=True)]
        assert all(p.dtype == torch.float32 for p in parameters)
        return torch.stack(list(terms)), grads

    fast_terms, fast_grads = run(True)
    plain_terms, plain_grads = run(False)
    assert fast_terms.dtype == torch.float32
    torch.testing.assert_close(fast_terms, plain_terms, rtol=2e-2, atol=1e-4)
    for got, expected in zip(fast_grads, plain_grads, strict=True):
        cosine = torch.nn.functional.cosine_similarity(got.flatten(), expected.flatten(), dim=0)
        assert cosine > 0.99
        torch.testing.assert_close(got.norm(), expected.norm(), rtol=3e-2, atol=1e-6)
    # and really bfloat16: not the float32 step's gradients bit for bit
    exact_terms = run_float32_fast(lam, rate)
    assert not torch.equal(exact_terms, fast_terms)


def run_float32_fast(lam, rate):
    from skacai._mlp_step import Workspace, mlp_train_step

    networks = small_networks(0)
    for module in networks:
        module.train()
    x = torch.randn(48, 16, generator=torch.Generator().manual_seed(1))
    alpha = sample_alpha(48, torch.Generator().manual_seed(2), torch.device("cpu"))
    terms = mlp_train_step(
        networks, optimizers_for(networks), x, alpha, lam, 0.2,
        workspace=Workspace(x.device, x.dtype), dropout=rate,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    return torch.stack(list(terms))
