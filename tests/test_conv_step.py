"""The faster conv step computes what the previous one did (issue 32): one-channel
images handed to the convolutions with channels-last strides, the critic run on
the mixtures and the regularisation rows separately, and the C heap kept steady
while training."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch

import skacai._memory
import skacai._networks
import skacai._training
from skacai import ACAITransformer
from skacai._networks import NetworkSpec, build_networks, channels_last
from skacai._training import Networks, acai_losses, sample_alpha

SPEC = NetworkSpec("conv", 784, 16, (), (1, 28, 28), 8, 3)


def networks(seed=0):
    return Networks(*build_networks(SPEC, torch.Generator().manual_seed(seed), "cpu"))


def batch(n=16, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=generator) * 2 - 1, sample_alpha(n, generator, "cpu")


def gradients(nets, x, alpha, *, stacked, lam=0.5):
    """The autoencoder's and the critic's gradients of one batch, the critic run on its
    two inputs stacked (the previous step) or separately (the current one)."""
    with mock.patch.object(skacai._training, "drops", lambda critic: stacked):
        losses = acai_losses(nets, x, alpha, lam, 0.2)
    ae = torch.autograd.grad(losses.autoencoder, nets.autoencoder_parameters(), retain_graph=True)
    critic = torch.autograd.grad(losses.critic, nets.critic_parameters())
    return torch.stack(list(losses.terms)), [*ae, *critic]


def test_a_one_channel_image_gets_channels_last_strides_without_a_copy():
    image = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    restrided = channels_last(image)
    assert restrided.data_ptr() == image.data_ptr()
    assert restrided.stride() == (784, 1, 28, 1)
    assert torch.equal(restrided, image)
    rgb = torch.rand(2, 3, 8, 8)
    assert channels_last(rgb).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(channels_last(rgb), rgb)


@pytest.mark.parametrize("lam", [0.5, 0.0])
def test_the_critic_run_separately_gives_the_stacked_losses_and_gradients(lam):
    nets = networks()
    x, alpha = batch()
    terms, grads = gradients(nets, x, alpha, stacked=False, lam=lam)
    terms_before, grads_before = gradients(nets, x, alpha, stacked=True, lam=lam)
    torch.testing.assert_close(terms, terms_before, rtol=1e-5, atol=1e-7)
    for got, expected in zip(grads, grads_before, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_the_restrided_encoder_computes_what_the_plain_one_did():
    nets = networks()
    x, _ = batch()
    with torch.no_grad():
        codes = nets.encoder(x)
        with mock.patch.object(skacai._networks, "channels_last", lambda image: image):
            before = nets.encoder(x)
    torch.testing.assert_close(codes, before, rtol=1e-5, atol=1e-6)


def test_three_epochs_keep_the_previous_loss_curve():
    X = np.random.default_rng(0).random((192, 784))
    params = {"image_shape": (28, 28), "max_iter": 3, "batch_size": 64, "random_state": 0}
    current = ACAITransformer(**params).fit(X)
    with (
        mock.patch.object(skacai._networks, "channels_last", lambda image: image),
        mock.patch.object(skacai._training, "drops", lambda critic: True),
    ):
        before = ACAITransformer(**params).fit(X)
    np.testing.assert_allclose(current.loss_curve_, before.loss_curve_, rtol=1e-5)


def test_the_heap_setting_is_scoped_to_training_and_can_be_turned_off(monkeypatch):
    calls = []
    fake = (lambda *args: calls.append(("mallopt", *args)), lambda *a: calls.append(("trim",)))
    monkeypatch.setattr(skacai._memory, "_glibc", lambda: fake)
    with skacai._memory.steady_heap("cpu"):
        with skacai._memory.steady_heap("cpu"):  # a second fit at the same time
            assert len(calls) == 2
        assert len(calls) == 2  # restored only after the last one
    assert calls[-2:] == [("mallopt", -1, 64 << 20), ("trim",)]
    calls.clear()
    with skacai._memory.steady_heap("meta"):
        pass
    assert calls == []


def test_the_environment_variable_turns_the_heap_setting_off(monkeypatch):
    monkeypatch.setenv("SKACAI_TUNE_MALLOC", "0")
    assert skacai._memory._glibc() is None
