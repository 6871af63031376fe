"""sample_weight in fit and partial_fit: weighted row draws and a weighted input scaling."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skacai import ACAITransformer, _training

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MLP = {"n_components": 3, "hidden_layer_sizes": (16,), "max_iter": 4, "random_state": 0}
CONV = {
    "n_components": 16,
    "image_shape": (8, 8),
    "conv_width": 2,
    "n_scales": 1,
    "max_iter": 2,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(120, 64))


def snapshot(model):
    return [model.transform(model.mean_[None, :]).copy(), list(model.loss_curve_)]


@pytest.mark.parametrize("params", [MLP, CONV], ids=["mlp", "conv"])
@pytest.mark.parametrize("weight", [1.0, 3.5])
def test_equal_weights_train_exactly_as_none(X, params, weight):
    weights = np.full(X.shape[0], weight)
    plain = ACAITransformer(**params).fit(X)
    weighted = ACAITransformer(**params).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(weighted.transform(X), plain.transform(X))
    plain.partial_fit(X)
    weighted.partial_fit(X, sample_weight=list(weights))
    np.testing.assert_array_equal(weighted.transform(X), plain.transform(X))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_zero_weights_train_exactly_as_leaving_the_rows_out(X, early_stopping):
    params = {**MLP, "early_stopping": early_stopping}
    extra = np.random.default_rng(1).normal(loc=5.0, size=(30, X.shape[1]))
    # the rows to leave out interleaved with the others
    both = np.empty((X.shape[0] + extra.shape[0], X.shape[1]))
    kept = np.ones(both.shape[0], dtype=bool)
    kept[np.arange(1, 2 * extra.shape[0], 2)] = False
    both[kept], both[~kept] = X, extra
    plain = ACAITransformer(**params).fit(X)
    weighted = ACAITransformer(**params).fit(both, sample_weight=kept.astype(float))
    np.testing.assert_array_equal(weighted.mean_, plain.mean_)
    np.testing.assert_array_equal(weighted.transform(X), plain.transform(X))


@pytest.mark.parametrize("scaling", ["feature", "global"])
def test_the_scaling_is_weighted(X, scaling):
    weights = np.random.default_rng(2).integers(1, 5, X.shape[0]).astype(float)
    model = ACAITransformer(**{**MLP, "max_iter": 1}, scaling=scaling).fit(
        X, sample_weight=weights
    )
    mean = np.average(X, axis=0, weights=weights)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weights))
    np.testing.assert_allclose(model.mean_, mean, rtol=1e-12)
    expected = std if scaling == "feature" else np.sqrt(np.mean(std**2))
    np.testing.assert_allclose(model.scale_, np.broadcast_to(expected, std.shape), rtol=1e-12)
    # ... and equals the scaling of the rows repeated by their weights
    repeated = ACAITransformer(**{**MLP, "max_iter": 1}, scaling=scaling).fit(
        np.repeat(X, weights.astype(int), axis=0)
    )
    np.testing.assert_allclose(model.scale_, repeated.scale_, rtol=1e-10)


def test_each_epoch_draws_its_rows_by_their_weights(X, monkeypatch):
    """The epoch's row order comes from the weights: heavy rows are drawn more often."""
    drawn = []
    real_order = _training._order

    def recording(n, shuffle, weights, generator):
        order = real_order(n, shuffle, weights, generator)
        drawn.append((weights, order))
        return order

    monkeypatch.setattr(_training, "_order", recording)
    weights = np.ones(X.shape[0])
    weights[:10] = 50.0  # 10 rows of 120 hold 500 / 610 of the weight
    ACAITransformer(**{**MLP, "max_iter": 20}).fit(X, sample_weight=weights)
    assert len(drawn) == 20
    counts = np.bincount(np.concatenate([o.numpy() for _, o in drawn]), minlength=120)
    assert all(w is not None for w, _ in drawn)
    share = counts[:10].sum() / counts.sum()
    assert 0.75 < share < 0.89  # expected 500 / 610 = 0.82 of 2,400 draws


def test_heavily_weighted_rows_are_reconstructed_better():
    """Weights shift the model's capacity: paired over three seeds, each half of the
    digits is reconstructed better by the model that weights it than by the one that
    weights the other half."""
    X, y = load_digits(return_X_y=True)
    low = y < 5
    for seed in range(3):
        params = {**MLP, "n_components": 4, "max_iter": 15, "random_state": seed}
        on_low = ACAITransformer(**params).fit(X, sample_weight=np.where(low, 10.0, 1.0))
        on_high = ACAITransformer(**params).fit(X, sample_weight=np.where(low, 1.0, 10.0))
        assert on_low.score(X[low]) > on_high.score(X[low])
        assert on_high.score(X[~low]) > on_low.score(X[~low])


def test_integer_weights_and_repeated_rows_give_models_of_equal_quality():
    """Not the same model (other batches), but the same quality: digits 0-4 weigh 5 and
    5-9 weigh 1, and over three seeds the test reconstruction error of weights and of
    repeated rows agree within 5 % on each half, for the same number of training
    samples. The weights matter here: a model that ignores them had a 13 % higher
    error on the heavy half and a 22 % lower one on the light half (three seeds)."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    weights = np.where(y_train < 5, 5, 1)
    repeated = np.repeat(X_train, weights, axis=0)
    halves = {"heavy": X_test[y_test < 5], "light": X_test[y_test >= 5]}
    epochs = 10
    errors = {(fit, half): [] for fit in ("weighted", "repeated") for half in halves}
    for seed in range(3):
        params = {"n_components": 8, "hidden_layer_sizes": (64,), "random_state": seed}
        samples_per_row = repeated.shape[0] / X_train.shape[0]  # 3.07
        weighted = ACAITransformer(**params, max_iter=round(epochs * samples_per_row))
        models = {
            "weighted": weighted.fit(X_train, sample_weight=weights),
            "repeated": ACAITransformer(**params, max_iter=epochs).fit(repeated),
        }
        for (fit, half), found in errors.items():
            found.append(-models[fit].score(halves[half]))
    for half in halves:
        weighted_mse = np.mean(errors["weighted", half])
        repeated_mse = np.mean(errors["repeated", half])
        assert abs(weighted_mse - repeated_mse) < 0.05 * repeated_mse, (half, errors)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (lambda n: np.r_[-1.0, np.ones(n - 1)], "Negative values"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "infinity"),
        (lambda n: np.ones(n - 1), r"shape == \(119,\), expected \(120,\)"),
        (lambda n: np.ones((n, 2)), "1D array or scalar"),
        (lambda n: np.zeros(n), "at least one non-zero"),
        (lambda n: ["a"] * n, "could not convert"),
        (lambda n: np.full(n, 5e-324), "below the smallest normal float64"),
    ],
    ids=["negative", "nan", "inf", "length", "2d", "all-zero", "strings", "subnormal"],
)
def test_bad_weights_are_refused_and_change_nothing(X, weights, message):
    with pytest.raises(ValueError, match=f"sample_weight is invalid.*{message}"):
        ACAITransformer(**MLP).fit(X, sample_weight=weights(X.shape[0]))
    fitted = ACAITransformer(**MLP).fit(X)
    before = snapshot(fitted)
    for call in (fitted.partial_fit, clone(fitted).set_params(warm_start=True).fit):
        with pytest.raises(ValueError, match="sample_weight is invalid"):
            call(X, sample_weight=weights(X.shape[0]))
    fitted.set_params(warm_start=True)
    with pytest.raises(ValueError, match="sample_weight is invalid"):
        fitted.fit(X, sample_weight=weights(X.shape[0]))
    after = snapshot(fitted)
    np.testing.assert_array_equal(after[0], before[0])
    assert after[1] == before[1]


def test_the_caller_s_weights_are_not_modified(X):
    weights = np.r_[np.zeros(10), np.arange(1.0, X.shape[0] - 9)]
    copy = weights.copy()
    ACAITransformer(**MLP).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(weights, copy)


def test_weights_reach_the_model_through_a_pipeline(X):
    weights = np.r_[np.ones(60), np.zeros(60)]
    pipe = Pipeline([("identity", FunctionTransformer()), ("acai", ACAITransformer(**MLP))])
    pipe.fit(X, acai__sample_weight=weights)
    alone = ACAITransformer(**MLP).fit(X[:60])
    np.testing.assert_array_equal(pipe.transform(X), alone.transform(X))


def test_a_warning_still_points_at_the_caller(X):
    with pytest.warns(ConvergenceWarning) as record:
        ACAITransformer(**MLP).fit(X, sample_weight=np.arange(1.0, X.shape[0] + 1))
    assert record[0].filename == __file__


def test_the_held_out_rows_are_scored_by_their_weights(X, monkeypatch):
    """early_stopping's hold-out keeps its rows' weights: its reconstruction error is
    their weighted mean (a row of weight 0 does not count; it never reaches it)."""
    from skacai import _fit_loop

    seen, held_out = [], []
    real = _fit_loop.reconstruction_score

    def recording(X_val, padded, weights=None):
        seen.append((X_val.shape[0], None if weights is None else weights.numpy().copy()))
        held_out.append(X_val.clone())
        return real(X_val, padded, weights)

    monkeypatch.setattr(_fit_loop, "reconstruction_score", recording)
    weights = np.arange(1.0, X.shape[0] + 1)
    params = {**MLP, "early_stopping": True, "validation_fraction": 0.25}
    model = ACAITransformer(**params).fit(X, sample_weight=weights)
    ((n_val, val_weights),) = seen
    assert n_val == 30 and val_weights.shape == (30,)
    # divided by the largest weight: only their ratios matter
    assert set(val_weights) <= set(weights / weights.max()) and len(set(val_weights)) == 30
    assert len(model.validation_scores_) == model.n_iter_
    # the kept (best) epoch's score is the weighted mean of the rows' errors
    with torch.no_grad():
        x = held_out[0]
        row_errors = (model.decoder_(model.encoder_(x)) - x).square().mean(dim=1).numpy()
    weighted = -np.average(row_errors, weights=val_weights)
    assert model.best_validation_score_ == pytest.approx(weighted, rel=1e-5)
    assert model.best_validation_score_ != pytest.approx(-row_errors.mean(), rel=1e-3)
    ACAITransformer(**params).fit(X)
    assert seen[1] == (30, None)  # unweighted: the plain mean, as before
