"""scaling="minmax": the paper's input convention, padding and loss, exactly."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer
from skacai._device import float32_convolutions
from skacai._networks import ConvGeometry, uncropped


def digits_like(n=64, seed=0):
    """uint8 'images' in [0, 255] with a dark background, as MNIST stores them."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((n, 28, 28), dtype=np.uint8)
    pixels[:, 6:22, 8:20] = rng.integers(0, 256, size=(n, 16, 12), dtype=np.uint8)
    pixels[0, 10, 10], pixels[1, 11, 11] = 0, 255  # the full range is present
    return pixels


def minmax_conv(**params):
    return ACAITransformer(
        n_components=16,
        architecture="conv",
        image_shape=(28, 28),
        conv_width=4,
        random_state=0,
        **{"scaling": "minmax", "max_iter": 1, "batch_size": 32, **params},
    )


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


def test_minmax_scales_mnist_pixels_to_the_official_2p_over_255_minus_1():
    pixels = digits_like()
    X = pixels.reshape(len(pixels), -1) / 255.0  # what skacai.datasets.load_mnist returns
    model = fit_quietly(minmax_conv(), X)
    scaled = (X - model.mean_) / model.scale_
    official = 2.0 * pixels.reshape(len(pixels), -1) / 255.0 - 1.0  # acai's lib/data.py
    np.testing.assert_allclose(scaled, official, rtol=0, atol=1e-15)
    # one offset and one scale for every pixel: nothing is centred per pixel
    assert np.unique(model.mean_).size == 1 and np.unique(model.scale_).size == 1


def test_minmax_pads_28x28_to_32x32_centred_with_the_background():
    pixels = digits_like(4)
    X = pixels.reshape(4, -1) / 255.0
    model = fit_quietly(minmax_conv(), X)
    scaled = torch.from_numpy((X - model.mean_) / model.scale_).float()
    padded = model.encoder_.geometry.pad(scaled)
    assert padded.shape == (4, 1, 32, 32)
    official = np.pad(2.0 * pixels / 255.0 - 1.0, ((0, 0), (2, 2), (2, 2)), constant_values=-1)
    np.testing.assert_allclose(padded[:, 0].numpy(), official, atol=1e-6)


def test_minmax_reconstruction_loss_is_averaged_over_the_1024_padded_pixels():
    """The recorded loss is that of the whole 32x32 image, not of the 28x28 crop.

    One step on one batch with a vanishing learning rate: the recorded term is
    the loss of the initial weights, which the fitted model still has.
    """
    X = digits_like(32).reshape(32, -1) / 255.0
    model = fit_quietly(minmax_conv(batch_size=32, learning_rate_init=1e-20), X)
    scaled = torch.from_numpy((X - model.mean_) / model.scale_).float()
    padded = model.encoder_.geometry.pad(scaled).flatten(start_dim=1)
    with torch.no_grad(), uncropped(model.decoder_):
        full = model.decoder_(model.encoder_(padded))
    assert full.shape == (32, 1024)
    whole = float((full - padded).square().mean())
    cropped = float(
        (model.encoder_.geometry.crop(full.reshape(32, 1, 32, 32)) - scaled).square().mean()
    )
    recorded = model.history_["reconstruction"][0]
    assert recorded == pytest.approx(whole, rel=1e-5)
    assert recorded != pytest.approx(cropped, rel=1e-2)
    assert model.decoder_.crop  # inference crops again
    assert model.inverse_transform(model.transform(X)).shape == X.shape


def test_minmax_critic_sees_the_decoders_whole_padded_output():
    X = digits_like(8).reshape(8, -1) / 255.0
    model = fit_quietly(minmax_conv(), X)
    geometry = model.critic_.body.geometry
    codes = torch.from_numpy(model.transform(X)).float()
    with torch.no_grad(), uncropped(model.decoder_):
        whole = model.decoder_(codes)
        assert whole.shape == (8, 32 * 32)
        # an already padded input is not padded again
        assert model.critic_(whole).shape == (8,)
        repadded = geometry.pad(whole)
        # the same 28x28 images with the border reset to the background: the
        # decoder drew a border of its own, and the critic's output depends on it
        background = geometry.pad(geometry.crop(geometry.pad(whole))).flatten(start_dim=1)
        assert not torch.equal(background, whole)
        changed = (model.critic_(whole) - model.critic_(background)).abs()
    np.testing.assert_array_equal(repadded.flatten(start_dim=1).numpy(), whole.numpy())
    assert (changed > 0).all(), changed


def test_minmax_training_feeds_the_critic_the_whole_padded_images():
    """The recorded critic regularisation term, ``mean(d(gamma x + (1 - gamma) x_hat)^2)``,
    is that of the padded input and the decoder's whole output (one step with a
    vanishing learning rate, as above), not of the images with their border reset."""
    X = digits_like(32).reshape(32, -1) / 255.0
    model = fit_quietly(minmax_conv(batch_size=32, learning_rate_init=1e-20), X)
    geometry, gamma = model.encoder_.geometry, model.critic_regularization
    scaled = torch.from_numpy((X - model.mean_) / model.scale_).float()
    padded = geometry.pad(scaled).flatten(start_dim=1)
    with torch.no_grad(), uncropped(model.decoder_):
        x_reg = gamma * padded + (1.0 - gamma) * model.decoder_(model.encoder_(padded))
        reset = geometry.pad(geometry.crop(geometry.pad(x_reg))).flatten(start_dim=1)
        whole, border_reset = (float(model.critic_(x).square().mean()) for x in (x_reg, reset))
    recorded = model.history_["critic_regularization"][0]
    assert recorded == pytest.approx(whole, rel=1e-5)
    assert recorded != pytest.approx(border_reset, rel=1e-3)


def test_minmax_equals_training_on_the_prescaled_pixels(monkeypatch):
    """scaling='minmax' is exactly the paper's 2p/255 - 1 fed with scaling=None."""
    from skacai import _plan

    pixels = digits_like(48)
    X = pixels.reshape(48, -1) / 255.0
    paper = fit_quietly(minmax_conv(max_iter=2), X)
    fields = ("pad_center", "pad_value", "loss_on_padding")
    rule = {name: getattr(paper._network_spec, name) for name in fields}
    assert rule == {"pad_center": True, "pad_value": -1.0, "loss_on_padding": True}
    # the same padding rule, on data already in [-1, 1] (the fit plan decides padding)
    monkeypatch.setattr(_plan, "padding", lambda params: rule)
    prescaled = fit_quietly(minmax_conv(max_iter=2, scaling=None), 2.0 * X - 1.0)
    np.testing.assert_allclose(
        paper.transform(X), prescaled.transform(2.0 * X - 1.0), rtol=1e-5, atol=1e-6
    )


def test_other_scalings_keep_the_original_end_padding_and_cropped_loss():
    X = digits_like(8).reshape(8, -1) / 255.0
    model = fit_quietly(minmax_conv(scaling="global"), X)
    spec = model._network_spec
    assert (spec.pad_center, spec.pad_value, spec.loss_on_padding) == (False, 0.0, False)
    assert model.encoder_.geometry.padding == (0, 4, 0, 4)


@pytest.mark.parametrize(
    "shape, center, expected",
    [
        ((1, 28, 28), True, (2, 2, 2, 2)),
        ((1, 28, 28), False, (0, 4, 0, 4)),
        ((1, 27, 30), True, (1, 1, 2, 3)),  # the odd pixel goes to the end
        ((3, 32, 32), True, (0, 0, 0, 0)),
        ((1, 1, 30), True, (1, 1, 0, 0)),  # a 1-D signal: only its length is pooled
    ],
)
def test_geometry_padding(shape, center, expected):
    geometry = ConvGeometry(shape, 3, 16 if shape[1] > 1 else 8, pad_center=center)
    assert geometry.padding == expected
    x = torch.arange(2 * np.prod(shape), dtype=torch.float32).reshape(2, -1)
    padded = geometry.pad(x)
    assert padded.shape == (2, shape[0], *geometry.padded_shape)
    np.testing.assert_array_equal(geometry.crop(padded).numpy(), x.numpy())


def test_minmax_statistics_and_constant_data():
    X = np.array([[2.0, 4.0], [6.0, 3.0]])
    model = ACAITransformer(n_components=1, hidden_layer_sizes=(), scaling="minmax", max_iter=1)
    fit_quietly(model, X)
    np.testing.assert_array_equal(model.mean_, [4.0, 4.0])
    np.testing.assert_array_equal(model.scale_, [2.0, 2.0])
    constant = fit_quietly(model, np.full((5, 3), 7.0))
    np.testing.assert_array_equal(constant.scale_, [0.0, 0.0, 0.0])  # no spread
    decoded = constant.inverse_transform(constant.transform(np.ones((2, 3))))
    np.testing.assert_array_equal(decoded, 7.0)  # decoded as the constant
    huge = fit_quietly(model, np.array([[-1e308, 1e308], [1e308, -1e308]]))
    np.testing.assert_array_equal(huge.mean_, [0.0, 0.0])  # no overflow of max - min


def test_scalings_set_the_effective_adversarial_weight_on_mnist(mnist_path):
    """The numbers in docs/fidelity.md ("The scaling sets what lambda means")."""
    from skacai.datasets import load_mnist

    X = load_mnist(mnist_path)[0]
    model = ACAITransformer(n_components=1, hidden_layer_sizes=(), max_iter=1)
    global_scale = fit_quietly(model.set_params(scaling="global"), X[:20000]).scale_[0]
    minmax_scale = fit_quietly(model.set_params(scaling="minmax"), X[:20000]).scale_[0]
    assert global_scale == pytest.approx(0.259, abs=0.002)
    assert minmax_scale == 0.5
    units = (minmax_scale / global_scale) ** 2
    assert units == pytest.approx(3.7, abs=0.05)
    assert units * 1024 / 784 == pytest.approx(4.86, abs=0.03)  # the paper averages 1,024 pixels


def test_float32_convolutions_turn_tf32_off_on_cuda_only():
    flags = torch.backends.cudnn.conv
    before = flags.fp32_precision
    with float32_convolutions("cuda"):
        assert flags.fp32_precision == "ieee"
    assert flags.fp32_precision == before
    with float32_convolutions("cpu"):
        assert flags.fp32_precision == before
    # overlapping blocks (fits in two threads): the first one's exit keeps it off
    outer, inner = float32_convolutions("cuda"), float32_convolutions("cuda")
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert flags.fp32_precision == "ieee"
    inner.__exit__(None, None, None)
    assert flags.fp32_precision == before


def test_minmax_conv_model_saves_and_loads_with_its_padding(tmp_path):
    import joblib

    X = digits_like(16).reshape(16, -1) / 255.0
    model = fit_quietly(minmax_conv(), X)
    model.save(tmp_path / "model.safetensors")
    loaded = ACAITransformer.load(tmp_path / "model.safetensors")
    joblib.dump(model, tmp_path / "model.joblib")
    unpickled = joblib.load(tmp_path / "model.joblib")
    for other in (loaded, unpickled):
        assert other._network_spec == model._network_spec
        assert other.encoder_.geometry.padding == (2, 2, 2, 2)
        np.testing.assert_array_equal(other.transform(X), model.transform(X))
        np.testing.assert_array_equal(
            other.inverse_transform(model.transform(X)),
            model.inverse_transform(model.transform(X)),
        )
    # and training goes on with the paper's padding
    fit_quietly(loaded.set_params(warm_start=True), X)
    assert len(loaded.history_["reconstruction"]) == 2
