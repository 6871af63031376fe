"""The ``dropout`` parameter: dropout after every hidden activation of the MLP networks."""

import contextlib
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skacai import ACAITransformer
from skacai._networks import MLP, NetworkSpec, build_networks, dropout_during, dropout_mask

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {
    "n_components": 3,
    "hidden_layer_sizes": (32, 16),
    "batch_size": 32,
    "max_iter": 3,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(150, 12))


def fit(X, **params):
    return ACAITransformer(**{**SMALL, **params}).fit(X)


def all_weights(model):
    modules = (model.encoder_, model.decoder_, model.critic_)
    return [p.detach().clone() for m in modules for p in m.parameters()]


# ------------------------------------------------------------------ parameter


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, np.nan, "0.5", None])
def test_invalid_rates_are_refused_at_fit(X, value):
    model = ACAITransformer(**{**SMALL, "dropout": value})
    with pytest.raises((ValueError, TypeError), match="The 'dropout' parameter"):
        model.fit(X)
    assert not hasattr(model, "encoder_")


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 0.25, 0.99, np.float32(0.1)])
def test_valid_rates_train(X, value):
    model = fit(X, dropout=value, max_iter=1)
    assert np.isfinite(model.transform(X)).all()


def test_default_is_no_dropout():
    assert ACAITransformer().dropout == 0.0


def test_conv_networks_refuse_dropout(X):
    conv = {"architecture": "conv", "image_shape": (3, 4), "n_scales": 1, "conv_width": 2}
    params = {**SMALL, **conv, "n_components": 8}
    message = r"dropout=0.1 applies to architecture='mlp' only"
    with pytest.raises(ValueError, match=message):
        ACAITransformer(**params, dropout=0.1).fit(X)
    with pytest.raises(ValueError, match=message):
        ACAITransformer(**params, dropout=0.1).partial_fit(X)
    model = ACAITransformer(**params).fit(X)  # dropout=0 trains conv networks as ever
    weights, n_iter = all_weights(model), model.n_iter_
    with pytest.raises(ValueError, match=message):
        model.set_params(dropout=0.1).partial_fit(X)
    assert model.n_iter_ == n_iter
    for before, after in zip(weights, all_weights(model), strict=True):
        assert torch.equal(before, after)
    encoder, decoder, critic = build_networks(
        NetworkSpec("conv", 12, 8, image_shape=(1, 3, 4), n_scales=1, conv_width=2), None, "cpu"
    )
    with pytest.raises(ValueError, match="needs fully-connected networks"):
        with dropout_during((encoder, decoder, critic), 0.5, torch.Generator()):
            pass


# ------------------------------------------------------------------- the masks


@pytest.mark.parametrize("rate", [0.5, 0.2, 0.9, 0.37])
def test_masks_keep_a_fraction_one_minus_rate_scaled_by_its_inverse(rate):
    shape = (2000, 250)  # 500,000 elements: the keep fraction's standard error is < 0.0008
    mask = dropout_mask(shape, rate, torch.Generator().manual_seed(0), "cpu")
    assert mask.shape == shape and mask.dtype == torch.float32
    kept = mask != 0
    values = torch.unique(mask)
    assert values[0] == 0 and values[1:].tolist() == [pytest.approx(1 / (1 - rate))]
    standard_error = np.sqrt(rate * (1 - rate) / mask.numel())
    assert abs(kept.double().mean().item() - (1 - rate)) < 5 * standard_error
    assert mask.double().mean().item() == pytest.approx(1.0, abs=5 * standard_error / (1 - rate))


def test_half_rate_masks_have_no_stuck_or_correlated_bits():
    """At rate 0.5 the masks are unpacked random bits: every bit position of a
    64-bit word (the sign bit included) and neighbouring pairs must be fair."""
    mask = dropout_mask((4096, 640), 0.5, torch.Generator().manual_seed(1), "cpu") != 0
    by_position = mask.reshape(-1, 64).double().mean(0)  # 40,960 samples per bit position
    assert (by_position - 0.5).abs().max().item() < 5 * 0.5 / np.sqrt(40_960)
    flat = mask.reshape(-1)
    both = (flat[:-1] & flat[1:]).double().mean().item()
    assert both == pytest.approx(0.25, abs=0.003)
    rows_equal = (mask[0] == mask[1]).double().mean().item()  # rows are not repeated
    assert rows_equal == pytest.approx(0.5, abs=0.1)


def test_masks_come_from_the_generator_only():
    torch.manual_seed(0)
    global_state = torch.get_rng_state().clone()
    for rate in (0.5, 0.3):
        a = dropout_mask((100, 33), rate, torch.Generator().manual_seed(5), "cpu")
        b = dropout_mask((100, 33), rate, torch.Generator().manual_seed(5), "cpu")
        c = dropout_mask((100, 33), rate, torch.Generator().manual_seed(6), "cpu")
        assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), global_state)


def test_mlp_drops_hidden_units_in_training_mode_only():
    encoder = build_networks(
        NetworkSpec("mlp", 20, 4, (300, 300)), torch.Generator().manual_seed(0), "cpu"
    )[0]
    x = torch.randn(64, 20, generator=torch.Generator().manual_seed(1))
    hidden = []
    encoder.layers[1].register_forward_pre_hook(lambda module, args: hidden.append(args[0]))
    encoder.eval()
    with torch.no_grad(), dropout_during([encoder], 0.5, torch.Generator().manual_seed(2)):
        expected = encoder(x)
        assert torch.equal(encoder(x), expected)  # evaluation mode never drops
        encoder.train()
        dropped = encoder(x)
    assert not torch.allclose(dropped, expected)
    zero_fraction = (hidden[-1] == 0).double().mean().item()
    assert zero_fraction == pytest.approx(0.5, abs=0.02)  # leaky ReLU alone never gives 0
    assert encoder.dropout == 0.0 and encoder.generator is None  # restored after the block
    with torch.no_grad():
        assert torch.equal(encoder(x), expected)  # training mode with rate 0: no dropout


# ------------------------------------------------------------------ estimator


def test_same_seed_same_model_and_the_rate_matters(X):
    first = fit(X, dropout=0.5)
    again = fit(X, dropout=0.5)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))
    assert first.history_ == again.history_
    other_rate = fit(X, dropout=0.2)
    other_seed = fit(X, dropout=0.5, random_state=1)
    no_dropout = fit(X)
    for model in (other_rate, other_seed, no_dropout):
        assert not np.allclose(first.transform(X), model.transform(X))


def count_mask_draws(monkeypatch):
    """Record the rate of every dropout mask drawn, wherever skacai draws one."""
    import skacai._mlp_step
    import skacai._networks

    rates = []

    def counting(shape, rate, *args, **kwargs):
        rates.append(rate)
        return dropout_mask(shape, rate, *args, **kwargs)

    for module in (skacai._networks, skacai._mlp_step):
        monkeypatch.setattr(module, "dropout_mask", counting)
    return rates


def test_zero_rate_draws_no_mask_and_trains_as_without_dropout(X, monkeypatch):
    """dropout=0 draws nothing: no mask, no number from the generator. It trains
    bit-identically to a run whose dropout machinery is switched off altogether."""
    import skacai._training

    rates = count_mask_draws(monkeypatch)
    zero = fit(X, dropout=0.0)
    assert rates == []
    dropped = fit(X, dropout=0.25)  # the counter and the generator do see draws
    assert rates and set(rates) == {0.25}
    assert not torch.equal(zero._model.generator_state[1], dropped._model.generator_state[1])

    def no_dropout(networks, rate, generator):
        assert rate == 0.0
        return contextlib.nullcontext()

    monkeypatch.setattr(skacai._training, "dropout_during", no_dropout)
    without = fit(X, dropout=0.0)
    for a, b in zip(all_weights(zero), all_weights(without), strict=True):
        assert torch.equal(a, b)
    assert zero.history_ == without.history_
    assert torch.equal(zero._model.generator_state[1], without._model.generator_state[1])


def test_inference_is_deterministic_and_never_drops(X):
    model = fit(X, dropout=0.5, whiten=False)  # transform returns the encoder's output
    assert not model.encoder_.training and model.encoder_.dropout == 0.0
    generator_state = model._model.generator_state[1].clone()
    codes = model.transform(X)
    np.testing.assert_array_equal(model.transform(X), codes)
    with torch.no_grad():  # the encoder evaluated directly, in evaluation mode
        scaled = torch.from_numpy(((X - model.mean_) / model.scale_).astype(np.float32))
        direct = model.encoder_(scaled).numpy()
    # (transform scales float32 input in float32, hence the last-bit differences)
    np.testing.assert_allclose(model.transform(X.astype(np.float32)), direct, atol=1e-6)
    reconstruction = model.inverse_transform(codes)
    np.testing.assert_array_equal(model.inverse_transform(codes), reconstruction)
    np.testing.assert_array_equal(model.score_samples(X), model.score_samples(X))
    assert torch.equal(model._model.generator_state[1], generator_state)
    # The same weights in training mode with dropout give other codes: inference is what differs.
    with torch.no_grad(), dropout_during([model.encoder_], 0.5, torch.Generator()):
        model.encoder_.train()
        assert not np.allclose(model.encoder_(scaled).numpy(), direct)
    model.encoder_.eval()


def test_early_stopping_validates_without_dropout(X):
    model = fit(X, dropout=0.5, early_stopping=True, max_iter=4)
    # fit's split: the first draws of RandomState(random_state), 10 % held out.
    _, X_val = train_test_split(X, test_size=15, random_state=np.random.RandomState(0))
    x = torch.from_numpy(((X_val - model.mean_) / model.scale_).astype(np.float32))
    with torch.no_grad():
        error = (model.decoder_(model.encoder_(x)) - x).square().mean().item()
    # The kept weights are the best epoch's, scored deterministically.
    assert model.best_validation_score_ == pytest.approx(-error, rel=1e-6)


def test_warm_start_and_partial_fit_continue_after_changing_the_rate(X):
    model = fit(X, dropout=0.5)
    copy = pickle.loads(pickle.dumps(model))
    model.set_params(dropout=0.2, warm_start=True, max_iter=2).fit(X)
    assert model.n_iter_ == 5
    model.set_params(dropout=0.0).partial_fit(X)
    assert model.n_iter_ == 6
    # The new rate is the one used: continuing at 0 instead of 0.2 trains differently.
    copy.set_params(dropout=0.0, warm_start=True, max_iter=2).fit(X).partial_fit(X)
    assert copy.n_iter_ == 6
    assert not np.allclose(copy.transform(X), model.transform(X))


def test_changing_the_rate_between_partial_fits_takes_effect(X):
    base = ACAITransformer(**SMALL, dropout=0.5).partial_fit(X)
    kept, changed = pickle.loads(pickle.dumps(base)), pickle.loads(pickle.dumps(base))
    kept.partial_fit(X)
    changed.set_params(dropout=0.0).partial_fit(X)
    assert not np.allclose(kept.transform(X), changed.transform(X))


def test_save_and_load_round_trip_and_continue_identically(X, tmp_path):
    model = fit(X, dropout=0.5)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(path)
    pickled = pickle.loads(pickle.dumps(model))
    assert loaded.dropout == pickled.dropout == 0.5
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    for other in (loaded, pickled):
        assert other.encoder_.dropout == 0.0 and not other.encoder_.training
    for continued in (model, loaded, pickled):
        continued.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(pickled.transform(X), model.transform(X))


def test_pickles_from_before_dropout_existed_load_without_it(X):
    model = fit(X)
    state = model.__getstate__()
    del state["dropout"]
    for module in ("encoder_", "decoder_", "critic_"):
        for mlp in state[module].modules():
            if isinstance(mlp, MLP):
                mlp.__dict__.pop("dropout", None)
                mlp.__dict__.pop("generator", None)
    old = ACAITransformer.__new__(ACAITransformer)
    old.__setstate__(state)
    assert old.dropout == 0.0 and old.encoder_.dropout == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        old.partial_fit(X)
    assert clone(old).get_params()["dropout"] == 0.0


@pytest.mark.parametrize("random_state", [None, 0])
def test_global_random_states_are_never_touched(X, random_state):
    np.random.seed(123)  # noqa: NPY002 (the global state is what is tested)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    torch_state = torch.get_rng_state().clone()
    model = fit(X, dropout=0.5, random_state=random_state)
    model.partial_fit(X)
    model.set_params(dropout=0.3).partial_fit(X)
    model.transform(X)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)
