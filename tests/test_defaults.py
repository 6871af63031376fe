"""The "auto" defaults: networks, scaling and training budget chosen from the data.

``architecture="auto"`` builds conv networks exactly when ``image_shape`` is
given, ``scaling="auto"`` scales images globally and tables per feature, and
``max_iter="auto"`` trains for a budget of samples (``docs/defaults.md``).
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer

TINY = {"hidden_layer_sizes": (4,), "random_state": 0}


def _columns(n_samples, seed=0):
    """Four columns in unrelated units, from 1e-3 to 1e3."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_samples, 4)) * np.array([1e-3, 1.0, 10.0, 1e3])


def test_the_defaults_are_the_auto_rules():
    params = ACAITransformer().get_params()
    assert params["architecture"] == "auto"
    assert params["scaling"] == "auto"
    assert params["max_iter"] == "auto"
    assert params["n_components"] == 16


def test_without_image_shape_auto_builds_mlp_networks_and_scales_each_feature():
    X = _columns(64)
    model = ACAITransformer(2, max_iter=1, **TINY).fit(X)
    explicit = ACAITransformer(2, max_iter=1, architecture="mlp", scaling="feature", **TINY)
    explicit.fit(X)
    assert model._network_spec.architecture == "mlp"
    np.testing.assert_allclose(model.scale_, X.std(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(model.transform(X), explicit.transform(X))


def test_with_image_shape_auto_builds_conv_networks_and_scales_all_pixels_alike():
    rng = np.random.default_rng(0)
    X = rng.random((40, 64)) * np.linspace(1, 16, 64)  # pixels of unequal spread
    model = ACAITransformer(16, image_shape=(8, 8), max_iter=1, random_state=0).fit(X)
    explicit = ACAITransformer(
        16, image_shape=(8, 8), max_iter=1, random_state=0, architecture="conv", scaling="global"
    ).fit(X)
    assert model._network_spec.architecture == "conv"
    assert np.unique(model.scale_).size == 1
    np.testing.assert_array_equal(model.transform(X), explicit.transform(X))


@pytest.mark.parametrize(
    ("loader", "scaling"),
    [(load_digits, "global"), (load_wine, "feature"), (load_iris, "feature")],
)
def test_without_image_shape_auto_scaling_depends_on_whether_columns_share_a_range(
    loader, scaling
):
    # digits: pixels 0-16, the median pixel spans it all; wine: proline (hundreds) sets
    # the overall range; iris: lengths in cm, the median spans 38 % of it.
    X = loader(return_X_y=True)[0]
    auto = ACAITransformer(2, max_iter=1, **TINY).fit(X)
    explicit = ACAITransformer(2, max_iter=1, scaling=scaling, **TINY).fit(X)
    np.testing.assert_array_equal(auto.scale_, explicit.scale_)
    np.testing.assert_array_equal(auto.transform(X), explicit.transform(X))


def test_auto_scaling_is_decided_by_the_first_partial_fit():
    X = _columns(64)
    model = ACAITransformer(2, **TINY).partial_fit(X)
    scale = model.scale_.copy()
    model.partial_fit(np.random.default_rng(1).random((64, 4)))  # one range now
    np.testing.assert_array_equal(model.scale_, scale)
    assert np.unique(scale).size == 4


def test_shared_range_is_finite_for_any_finite_data():
    from skacai._scaling import shared_range as _shared_range

    assert _shared_range(np.ones((3, 2))) == 1.0  # nothing varies
    assert _shared_range(np.array([[1e308, -1e308], [-1e308, 1e308]])) == 1.0
    assert _shared_range(np.array([[0.0, 0.0], [1.0, 1000.0]])) == pytest.approx(0.5005)


def test_an_explicit_architecture_or_scaling_overrides_the_rule():
    X = np.random.default_rng(0).random((40, 64))
    model = ACAITransformer(
        4, image_shape=(8, 8), architecture="mlp", scaling="feature", max_iter=1, **TINY
    ).fit(X)
    assert model._network_spec.architecture == "mlp"
    assert np.unique(model.scale_).size > 1


@pytest.mark.parametrize(
    ("n_samples", "image_shape", "expected"),
    [
        (15_000, None, 40),  # MLP: 600,000 samples / 15,000 rows
        (4_000, None, 100),  # 150 epochs of budget, capped at 100
        (6_000, (2, 2), 20),  # conv: 120,000 samples / 6,000 rows
        (1_000_000, None, 1),  # at least one epoch
    ],
)
def test_auto_max_iter_trains_a_budget_of_samples(n_samples, image_shape, expected):
    # n_iter_no_change beyond the budget: nothing stops training early.
    model = ACAITransformer(
        1,
        image_shape=image_shape,
        n_scales=1,
        batch_size=n_samples,
        n_iter_no_change=1000,
        **TINY,
    )
    X = _columns(n_samples)
    with pytest.warns(ConvergenceWarning, match=rf"max_iter='auto': {expected} epochs"):
        model.fit(X)
    assert model.n_iter_ == expected


def test_auto_max_iter_stops_early_when_the_loss_plateaus():
    # Constant data: nothing left to learn after the first epochs.
    X = np.ones((200, 4))
    model = ACAITransformer(2, **TINY).fit(X)
    assert model.n_iter_ < 100


def test_auto_max_iter_counts_the_rows_left_for_training_by_early_stopping():
    model = ACAITransformer(
        1,
        early_stopping=True,
        validation_fraction=0.25,
        batch_size=20_000,
        n_iter_no_change=1000,
        **TINY,
    )
    with pytest.warns(ConvergenceWarning, match="40 epochs"):
        model.fit(_columns(20_000))  # 15,000 training rows: 600,000 / 15,000
    assert model.n_iter_ == 40


def test_clones_keep_auto_and_refits_resolve_it_afresh():
    model = ACAITransformer(2, max_iter=1, **TINY).fit(_columns(30))
    copy = clone(model)
    assert copy.get_params()["architecture"] == "auto"
    copy.set_params(image_shape=(2, 2), n_components=1, n_scales=1)
    assert copy.fit(_columns(30))._network_spec.architecture == "conv"
    assert model._network_spec.architecture == "mlp"


def test_warm_start_refuses_networks_that_auto_now_resolves_differently():
    model = ACAITransformer(1, max_iter=1, warm_start=True, n_scales=1, **TINY)
    model.fit(_columns(30))
    before = model.transform(_columns(30))
    model.set_params(image_shape=(2, 2))
    with pytest.raises(ValueError, match="architecture changed from 'mlp' to 'conv'"):
        model.fit(_columns(30))
    np.testing.assert_array_equal(model.transform(_columns(30)), before)


@pytest.mark.parametrize(
    ("image_shape", "n_scales", "grid"),
    [((28, 28), 3, (4, 4)), ((8, 8), 1, (4, 4)), ((1, 64, 64), 4, (4, 4)), ((4, 4), 0, (4, 4))],
)
def test_auto_n_scales_halves_images_down_to_a_4x4_grid(image_shape, n_scales, grid):
    X = np.random.default_rng(0).random((8, int(np.prod(image_shape))))
    model = ACAITransformer(image_shape=image_shape, max_iter=1, batch_size=8, random_state=0)
    model.fit(X)
    assert model._network_spec.n_scales == n_scales
    assert model.encoder_.geometry.latent_grid == grid
    assert model.transform(X).shape == (8, 16)  # the default code: one channel of 4x4


def test_auto_n_scales_follows_the_length_of_a_one_dimensional_signal():
    X = np.random.default_rng(0).random((8, 100))
    model = ACAITransformer(1, architecture="conv", max_iter=1, batch_size=8, random_state=0)
    model.set_params(n_components=4).fit(X)  # 100 -> 5 halvings -> 4 cells
    assert model._network_spec.n_scales == 5


@pytest.mark.parametrize(("image_shape", "steps"), [(None, 1), ((4, 4), 2)])
def test_auto_batch_size_is_128_for_mlp_networks_and_64_for_conv(image_shape, steps):
    X = np.random.default_rng(0).random((128, 16))
    model = ACAITransformer(image_shape=image_shape, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    autoencoder_adam = model._optimizer_states[0]["state"][0]
    assert int(autoencoder_adam["step"]) == steps  # 128 rows: one batch of 128, two of 64


def test_auto_architecture_and_the_dropout_rule_read_the_registry(monkeypatch):
    """``architecture="auto"`` picks the first registered family that reads images
    (with ``image_shape``) or not; ``dropout`` > 0 is refused for a family without
    dropout layers, naming those with them."""
    from dataclasses import replace

    from skacai import _networks, _plan

    params = ACAITransformer(dropout=0.2, image_shape=(1, 4, 4)).get_params()
    assert _plan.architecture(params) == "conv"
    assert _plan.architecture({**params, "image_shape": None}) == "mlp"
    with pytest.raises(ValueError, match=r"applies to architecture='mlp' only: the paper's"):
        _plan.check_params(params)
    registry = dict(_networks.ARCHITECTURES)
    registry["conv"] = replace(registry["conv"], dropout=True)
    registry = {"toy": replace(registry["conv"], description="toy networks"), **registry}
    monkeypatch.setattr(_networks, "ARCHITECTURES", registry)
    monkeypatch.setattr(_plan, "ARCHITECTURES", registry)
    assert _plan.architecture(params) == "toy"
    _plan.check_params(params)  # now a family with dropout layers
    registry["toy"] = replace(registry["toy"], dropout=False)
    with pytest.raises(ValueError, match=r"architecture='mlp' or 'conv' only: toy networks"):
        _plan.check_params(params)
