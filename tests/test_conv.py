"""The paper's convolutional architecture (``architecture="conv"``)."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline
from torch import nn

from skacai import ACAITransformer
from skacai._networks import LEAKY_SLOPE, ConvGeometry, build_networks
from skacai._training import match_parameter_layout

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _conv(n_components=8, **params):
    defaults = {"conv_width": 4, "max_iter": 2, "batch_size": 16, "random_state": 0}
    return ACAITransformer(n_components, architecture="conv", **{**defaults, **params})


def _data(n_samples, n_features, seed=0):
    return np.random.default_rng(seed).normal(size=(n_samples, n_features)).astype(np.float32)


@pytest.mark.parametrize(
    ("image_shape", "n_scales", "n_components", "padded", "grid"),
    [
        ((28, 28), 3, 32, (32, 32), (4, 4)),  # MNIST, padded to 32x32 as in the paper
        ((1, 32, 32), 4, 64, (32, 32), (2, 2)),  # the lines
        ((3, 32, 32), 3, 256, (32, 32), (4, 4)),  # colour images
        ((2, 5, 7), 1, 24, (6, 8), (3, 4)),  # odd, non-square sizes
        ((1, 1, 50), 2, 13, (1, 52), (1, 13)),  # a 1-D signal is pooled along its length only
        ((1, 6, 6), 0, 36, (6, 6), (6, 6)),  # no pooling at all
    ],
)
def test_shapes_for_several_image_sizes(image_shape, n_scales, n_components, padded, grid):
    n_features = math.prod(image_shape)
    X = _data(40, n_features)
    model = _conv(n_components, image_shape=image_shape, n_scales=n_scales).fit(X)
    geometry = model.encoder_.geometry
    assert geometry.padded_shape == padded
    assert geometry.latent_grid == grid
    assert geometry.latent_channels * math.prod(grid) == n_components
    assert model.image_shape_ == (image_shape if len(image_shape) == 3 else (1, *image_shape))
    codes = model.transform(X)
    assert codes.shape == (40, n_components)
    assert model.inverse_transform(codes).shape == (40, n_features)
    assert model.interpolate(X[:3], X[3:6], n_steps=4).shape == (3, 4, n_features)
    assert model.critic_(torch.from_numpy(X)).shape == (40,)
    assert np.isfinite(model.inverse_transform(codes)).all()


def _layers(module):
    return [layer for layer in module.modules() if not list(layer.children())]


def _describe(layers):
    described = []
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            described.append(("conv", layer.in_channels, layer.out_channels, layer.kernel_size[0]))
        elif isinstance(layer, nn.LeakyReLU):
            assert layer.negative_slope == LEAKY_SLOPE
            described.append("lrelu")
        elif isinstance(layer, nn.AvgPool2d):
            described.append("avgpool")
        elif isinstance(layer, nn.Upsample):
            assert layer.mode == "nearest"
            described.append("upsample")
        else:
            raise AssertionError(f"unexpected layer {layer}")
    return described


def test_architecture_is_the_papers_mnist_model():
    """ACAI.md: depth 16, 3 scales, 4x4x2 latent for 32x32 MNIST."""
    model = _conv(32, image_shape=(1, 32, 32), conv_width=16, n_scales=3, max_iter=1)
    model.fit(_data(16, 1024))

    def block(n_in, n_out):
        return [("conv", n_in, n_out, 3), "lrelu", ("conv", n_out, n_out, 3), "lrelu"]

    encoder = [("conv", 1, 16, 1), *block(16, 16), "avgpool", *block(16, 32), "avgpool"]
    encoder += [*block(32, 64), "avgpool", ("conv", 64, 128, 3), "lrelu", ("conv", 128, 2, 3)]
    decoder = [*block(2, 64), "upsample", *block(64, 32), "upsample", *block(32, 16), "upsample"]
    decoder += [("conv", 16, 16, 3), "lrelu", ("conv", 16, 1, 3)]
    assert _describe(_layers(model.encoder_)) == encoder
    assert _describe(_layers(model.decoder_)) == decoder
    assert _describe(_layers(model.critic_)) == encoder  # the critic copies the encoder


def test_initialisation_is_the_papers():
    """Fresh weights from the estimator's own network spec: N(0, 1/((1 + 0.2^2) fan_in))."""
    model = _conv(64, image_shape=(1, 32, 32), conv_width=16, n_scales=4, max_iter=1)
    model.fit(_data(16, 1024))
    spec = model._network_spec
    networks = build_networks(spec, torch.Generator().manual_seed(0), torch.device("cpu"))
    for module in networks:
        for layer in _layers(module):
            if isinstance(layer, nn.Conv2d):
                assert torch.count_nonzero(layer.bias) == 0
                fan_in = layer.in_channels * math.prod(layer.kernel_size)
                expected = 1 / math.sqrt((1 + LEAKY_SLOPE**2) * fan_in)
                if layer.weight.numel() >= 2000:
                    assert layer.weight.std().item() == pytest.approx(expected, rel=0.05)


def test_conv_weights_are_channels_last_and_compute_what_contiguous_ones_do():
    """The layout is a speed choice only: same initial values, same outputs to rounding."""
    spec = _conv(32, image_shape=(1, 28, 28), max_iter=1).fit(_data(8, 784))._network_spec
    networks = build_networks(spec, torch.Generator().manual_seed(0), torch.device("cpu"))
    twins = build_networks(spec, torch.Generator().manual_seed(0), torch.device("cpu"))
    for module, twin in zip(networks, twins, strict=True):
        twin.to(memory_format=torch.contiguous_format)
        for layer in _layers(module):
            if isinstance(layer, nn.Conv2d) and layer.kernel_size == (3, 3):
                assert layer.weight.is_contiguous(memory_format=torch.channels_last)
                assert not layer.weight.is_contiguous()
        for param, twin_param in zip(module.parameters(), twin.parameters(), strict=True):
            assert torch.equal(param, twin_param)
    x = torch.from_numpy(_data(16, 784))
    encoder, decoder, critic = networks
    twin_encoder, twin_decoder, twin_critic = twins
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), twin_encoder(x), rtol=1e-5, atol=1e-5)
        z = encoder(x)
        torch.testing.assert_close(decoder(z), twin_decoder(z), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(critic(x), twin_critic(x), rtol=1e-5, atol=1e-5)


def test_loaded_adam_states_get_their_weights_layout():
    """Fused Adam on the CPU pairs a weight with its moments by memory position: a state
    with other strides than its weight (e.g. saved contiguous) must be re-laid out first."""
    weight = torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    moments = torch.arange(108.0).reshape(4, 3, 3, 3)

    def one_step(layout, match):
        param = nn.Parameter(weight.clone().contiguous(memory_format=layout))
        optimizer = torch.optim.Adam([param], fused=True)
        param.grad = torch.zeros_like(param)
        optimizer.step()
        state = optimizer.state_dict()
        state["state"][0]["exp_avg"] = moments.clone()  # contiguous, as saved
        state["state"][0]["exp_avg_sq"] = moments + 1.0
        optimizer.load_state_dict(state)
        if match:
            match_parameter_layout(optimizer)
            assert optimizer.state[param]["exp_avg"].stride() == param.stride()
            assert torch.equal(optimizer.state[param]["exp_avg"], moments)
        optimizer.step()
        return param.detach()

    reference = one_step(torch.contiguous_format, match=False)
    assert torch.equal(one_step(torch.channels_last, match=True), reference)
    # Without the re-layout the step silently mixes up the weights' moments.
    assert not torch.allclose(one_step(torch.channels_last, match=False), reference)


def test_padding_is_zero_and_cropped():
    """A 28x28 model computes what a 32x32 model does on the zero-padded image."""
    X = _data(20, 28 * 28)
    small = _conv(16, image_shape=(28, 28), n_scales=3, max_iter=1).fit(X)
    big = _conv(16, image_shape=(32, 32), n_scales=3, max_iter=1).fit(_data(20, 32 * 32))
    big.encoder_.load_state_dict(small.encoder_.state_dict())
    big.decoder_.load_state_dict(small.decoder_.state_dict())
    x = torch.from_numpy(X[:5]).reshape(5, 1, 28, 28)
    padded = nn.functional.pad(x, (0, 4, 0, 4)).reshape(5, -1)
    with torch.no_grad():
        codes = small.encoder_(x.reshape(5, -1))
        torch.testing.assert_close(codes, big.encoder_(padded))
        decoded_big = big.decoder_(codes).reshape(5, 1, 32, 32)
        decoded_small = small.decoder_(codes).reshape(5, 1, 28, 28)
    torch.testing.assert_close(decoded_small, decoded_big[:, :, :28, :28])


def test_channels_are_read_channel_first():
    """Each of three channels gets its own input of the first 1x1 convolution."""
    X = _data(30, 3 * 8 * 8)
    model = _conv(4, image_shape=(3, 8, 8), n_scales=2).fit(X)
    first = model.encoder_.layers[0]
    assert (first.in_channels, first.kernel_size) == (3, (1, 1))
    with torch.no_grad():
        first.weight.zero_()
        first.weight[:, 1] = 1.0  # look at channel 1 only
    changed = X.copy()
    changed[:, :64] += 10.0  # channel 0 is the first 64 values of each row
    changed[:, 128:] -= 10.0  # channel 2 the last 64
    np.testing.assert_allclose(model.transform(changed), model.transform(X), atol=1e-6)


def test_image_shape_none_reads_rows_as_signals():
    model = _conv(6, n_scales=2).fit(_data(30, 10))
    assert model.image_shape_ == (1, 1, 10)
    assert model.encoder_.geometry.latent_grid == (1, 3)
    with pytest.raises(ValueError, match=r"image_shape=None reads each row as a 1-D signal"):
        _conv(32, n_scales=3).fit(_data(10, 784))


@pytest.mark.parametrize(
    ("image_shape", "match"),
    [
        ((28, 27), r"describes 756 values per sample but X has 784 features"),
        ((1, 1, 28, 28), r"must be \(channels, height, width\) or \(height, width\)"),
        ((0, 28, 28), r"positive ints"),
        ((1.0, 28, 28), r"positive ints"),
        ((True, 28, 28), r"positive ints"),
    ],
)
def test_bad_image_shape_is_refused(image_shape, match):
    with pytest.raises(ValueError, match=match):
        _conv(16, image_shape=image_shape).fit(_data(10, 784))


def test_n_components_must_fill_the_latent_grid():
    with pytest.raises(ValueError, match=r"4x4 = 16 cells, so n_components must be a multiple"):
        _conv(30, image_shape=(28, 28), n_scales=3).fit(_data(10, 784))


def test_failed_refit_leaves_the_fitted_model_unchanged():
    X = _data(30, 64)
    model = _conv(4, image_shape=(8, 8), n_scales=2).fit(X)
    before = model.transform(X)
    attributes = dict(vars(model))
    model.set_params(n_components=5)  # not a multiple of the 2x2 grid
    with pytest.raises(ValueError, match="multiple of 4"):
        model.fit(X)
    model.set_params(n_components=4, image_shape=(7, 7))
    with pytest.raises(ValueError, match="describes 49 values"):
        model.fit(X)
    assert vars(model).keys() == attributes.keys()
    np.testing.assert_array_equal(model.transform(X), before)


def test_same_seed_same_model_and_pickle_round_trip():
    X = _data(40, 64)
    first = _conv(4, image_shape=(8, 8), n_scales=2).fit(X)
    second = _conv(4, image_shape=(8, 8), n_scales=2).fit(X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    loaded = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(loaded.transform(X), first.transform(X))
    np.testing.assert_array_equal(
        loaded.interpolate(X[:2], X[2:4], n_steps=3), first.interpolate(X[:2], X[2:4], n_steps=3)
    )
    loaded.partial_fit(X)  # training goes on after loading
    assert loaded.n_iter_ == first.n_iter_ + 1


def test_float64_input_matches_float32_input():
    X = _data(40, 64)
    model = _conv(4, image_shape=(8, 8), n_scales=2).fit(X)
    codes32 = model.transform(X)
    codes64 = model.transform(X.astype(np.float64))
    assert codes64.dtype == np.float64
    np.testing.assert_allclose(codes64, codes32, rtol=1e-4, atol=1e-5)


def test_conv_in_a_pipeline_on_digit_images():
    X, _ = load_digits(return_X_y=True)
    pipeline = Pipeline(
        [
            ("acai", _conv(16, image_shape=(8, 8), n_scales=1, max_iter=3)),
            ("km", KMeans(10, n_init=2, random_state=0)),
        ]
    )
    labels = pipeline.fit_predict(X[:400])
    assert labels.shape == (400,)
    assert pipeline[0].transform(X[:5]).shape == (5, 16)


def test_latent_geometry_arithmetic():
    geometry = ConvGeometry((3, 28, 20), n_scales=2, n_components=42)
    assert geometry.padded_shape == (28, 20)
    assert geometry.latent_grid == (7, 5)
    with pytest.raises(ValueError, match="7x5 = 35 cells"):
        geometry.check()


def test_mlp_validates_and_records_an_image_shape_too():
    X = _data(30, 64)
    mlp = ACAITransformer(
        4, hidden_layer_sizes=(8,), architecture="mlp", image_shape=(8, 8), max_iter=1
    ).fit(X)
    assert mlp.image_shape_ == (1, 8, 8)
    assert ACAITransformer(4, hidden_layer_sizes=(8,), max_iter=1).fit(X).image_shape_ is None
    with pytest.raises(ValueError, match="describes 49 values"):
        ACAITransformer(4, image_shape=(7, 7), max_iter=1).fit(X)
