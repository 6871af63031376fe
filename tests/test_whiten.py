"""``whiten=True``: the codes whitened as the paper's clustering protocol does, with
inverse_transform, interpolate, partial_fit, model files, pickles and exports
consistent with it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skacai import ACAITransformer, _fit_loop, _model_file, _persistence
from skacai._scaling import Whitening
from skacai.exceptions import ModelFileError

PARAMS = {"image_shape": (8, 8), "max_iter": 2, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:600]


@pytest.fixture(scope="module")
def pair(X):
    """The same model fitted with and without whitening (same seed: same networks)."""
    return (
        ACAITransformer(whiten=True, **PARAMS).fit(X),
        ACAITransformer(whiten=False, **PARAMS).fit(X),
    )


def test_training_codes_have_zero_mean_and_unit_covariance(X, pair):
    codes = pair[0].transform(X)
    np.testing.assert_allclose(codes.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(np.cov(codes.T, bias=True), np.eye(codes.shape[1]), atol=1e-7)


def test_whitening_is_an_invertible_map_of_the_same_codes(X, pair):
    white, raw = pair
    whitening = white._whitening
    np.testing.assert_allclose(whitening.apply(raw.transform(X)), white.transform(X), atol=1e-9)
    np.testing.assert_allclose(whitening.invert(white.transform(X)), raw.transform(X), atol=1e-9)
    # Decoding and interpolating are those of the unwhitened model (the map is affine).
    decoded = white.inverse_transform(white.transform(X[:20]))
    np.testing.assert_allclose(decoded, raw.inverse_transform(raw.transform(X[:20])), atol=1e-9)
    frames = white.interpolate(X[:5], X[5:10], n_steps=5)
    np.testing.assert_array_equal(frames, raw.interpolate(X[:5], X[5:10], n_steps=5))
    np.testing.assert_array_equal(white.score_samples(X[:20]), raw.score_samples(X[:20]))


def test_float32_input_gives_float32_codes(X, pair):
    codes = pair[0].transform(X.astype(np.float32))
    assert codes.dtype == np.float32
    assert pair[0].inverse_transform(codes).dtype == np.float32


def test_partial_fit_whitens_by_the_rows_of_its_last_call(X):
    model = ACAITransformer(whiten=True, **PARAMS)
    model.partial_fit(X[:300]).partial_fit(X[300:])
    codes = model.transform(X[300:])
    np.testing.assert_allclose(codes.mean(0), 0, atol=1e-9)
    assert np.abs(model.transform(X[:300]).mean(0)).max() > 1e-3  # not the first chunk's


def test_sample_weights_weight_the_statistics(X):
    weights = np.r_[np.full(300, 3.0), np.ones(300)]
    model = ACAITransformer(whiten=True, **PARAMS).fit(X, sample_weight=weights)
    codes = model.transform(X)
    np.testing.assert_allclose(np.average(codes, axis=0, weights=weights), 0, atol=1e-9)
    assert np.abs(codes.mean(0)).max() > 1e-4


def test_a_failed_call_keeps_the_whitening(X, pair):
    model = pickle.loads(pickle.dumps(pair[0]))
    before = model.transform(X)
    with pytest.raises(ValueError):
        model.partial_fit(X[:, :10])
    np.testing.assert_array_equal(model.transform(X), before)


@pytest.mark.parametrize("call", ["partial_fit", "fit with warm_start"])
def test_a_call_whose_epochs_all_roll_back_keeps_the_whitening(X, pair, call, monkeypatch):
    """An epoch whose weights became non-finite is rolled back with a warning; when
    no epoch of a continued call is kept, the model is as it was, whitening too
    (hypothesis found partial_fit on one huge row whitening by that row)."""
    model = pickle.loads(pickle.dumps(pair[0])).set_params(warm_start=True)
    before, whitening = model.transform(X), model._whitening
    monkeypatch.setattr(_fit_loop, "weights_finite", lambda networks: False)
    train = model.partial_fit if call == "partial_fit" else model.fit
    with pytest.warns(RuntimeWarning, match="non-finite in epoch 3; .* weights from epoch 2"):
        train(X[:50] * 1e3)
    assert model._whitening == whitening
    np.testing.assert_array_equal(model.transform(X), before)


def test_a_first_fit_whose_epochs_all_roll_back_is_whitened(X, monkeypatch):
    """Its networks keep their initial weights, and its codes are whitened all the same."""
    monkeypatch.setattr(_fit_loop, "weights_finite", lambda networks: False)
    with pytest.warns(RuntimeWarning, match="weights from initialisation"):
        model = ACAITransformer(whiten=True, **PARAMS).fit(X)
    np.testing.assert_allclose(model.transform(X).mean(0), 0, atol=1e-9)


def test_a_continued_call_that_keeps_an_epoch_whitens_by_its_rows(X, pair):
    model = pickle.loads(pickle.dumps(pair[0])).set_params(warm_start=True, max_iter=1)
    for train in (model.partial_fit, model.fit):
        train(X[:200])
        np.testing.assert_allclose(model.transform(X[:200]).mean(0), 0, atol=1e-9)
        assert np.abs(model.transform(X).mean(0)).max() > 1e-3


def test_files_and_pickles_keep_the_whitening(X, pair, tmp_path):
    white = pair[0]
    white.save(tmp_path / "white.skacai")
    loaded = ACAITransformer.load(tmp_path / "white.skacai")
    np.testing.assert_array_equal(loaded.transform(X), white.transform(X))
    unpickled = pickle.loads(pickle.dumps(white))
    np.testing.assert_array_equal(unpickled.transform(X), white.transform(X))
    pair[1].save(tmp_path / "raw.skacai")
    assert ACAITransformer.load(tmp_path / "raw.skacai")._whitening is None


def test_a_pickle_from_before_whitening_loads_without_it(X, pair):
    raw = pickle.loads(pickle.dumps(pair[1]))
    state = raw.__getstate__()
    del state["_whitening"], state["whiten"]
    old = ACAITransformer.__new__(ACAITransformer)
    old.__setstate__(state)
    assert old._whitening is None and old.whiten is False
    np.testing.assert_array_equal(old.transform(X), pair[1].transform(X))


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_exported_graphs_include_the_whitening(X, pair, part, check_pt2_export):
    check_pt2_export(pair[0], X, part)


def test_constant_codes_keep_an_invertible_whitening():
    codes = np.c_[np.linspace(0, 1, 10), np.zeros(10)]
    whitening = Whitening.fit(codes)
    assert np.all(whitening.std > 0)
    np.testing.assert_allclose(whitening.invert(whitening.apply(codes)), codes, atol=1e-12)
    single = Whitening.fit(codes[:1])
    np.testing.assert_array_equal(single.apply(codes[:1]), 0)


def test_a_file_from_before_whitening_loads_without_it(X, pair, tmp_path):
    description, tensors = _persistence._describe(pair[1])
    del description["params"]["whiten"], description["state"]["whitened"]
    path = tmp_path / "old.skacai"
    path.write_bytes(_model_file.serialize(description, tensors))
    old = ACAITransformer.load(path)
    assert old.whiten is False and old._whitening is None
    np.testing.assert_array_equal(old.transform(X), pair[1].transform(X))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d, t: t.__setitem__("whitening.std", -t["whitening.std"]), "non-positive"),
        (lambda d, t: t.pop("whitening.mean"), "whitening.mean"),
        (lambda d, t: d["state"].__setitem__("whitened", 1), "'whitened' field"),
        (lambda d, t: d["state"].__setitem__("whitened", False), "whitening"),
    ],
)
def test_a_forged_whitening_is_refused(pair, tmp_path, edit, message):
    description, tensors = _persistence._describe(pair[0])
    edit(description, tensors)
    path = tmp_path / "forged.skacai"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match=message):
        ACAITransformer.load(path)


def test_whitening_is_the_default_and_false_gives_the_raw_codes(X, pair):
    assert ACAITransformer().whiten is True
    raw = pair[1]
    encoder = raw.encoder_
    with torch.no_grad():
        expected = encoder(torch.from_numpy((X - raw.mean_) / raw.scale_).float()).numpy()
    np.testing.assert_allclose(raw.transform(X.astype(np.float32)), expected, atol=1e-5)
