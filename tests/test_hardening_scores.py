"""Validation scores and weights that must stay right at any scale (issue 35, items
10 and 11): early stopping never records a score that overflowed, a scoring callable
may return any finite real number, and only the weights' ratios matter."""

import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer

warnings.filterwarnings("ignore", category=ConvergenceWarning)
PARAMS = {"n_components": 2, "max_iter": 3, "random_state": 0, "early_stopping": True}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 6)), rng.normal(size=(20, 6))


@pytest.mark.parametrize("case", ["X_val x 1e20", "weight 1.7e308"])
def test_the_default_score_never_overflows(data, case):
    X, X_val = data
    weights = None
    if case == "X_val x 1e20":
        X_val = X_val * 1e20
    else:
        weights = np.ones(len(X_val))
        weights[0] = 1.7e308
        X_val = X_val * 10.0
    model = ACAITransformer(**PARAMS, scaling="feature")
    model.fit(X, X_val=X_val, sample_weight_val=weights)
    assert len(model.validation_scores_) == 3
    assert np.isfinite(model.validation_scores_).all()
    assert model.best_validation_score_ == max(model.validation_scores_)


@pytest.mark.parametrize(
    "value",
    [np.float32(0.5), np.int64(3), Fraction(1, 3), Decimal("0.25"), np.array(0.5),
     torch.tensor(0.5, dtype=torch.float64), np.float16(1.5)],
    ids=["float32", "int64", "Fraction", "Decimal", "0-d array", "0-d tensor", "float16"],
)  # fmt: skip
def test_scoring_may_return_any_finite_real_number(data, value):
    X, X_val = data
    model = ACAITransformer(**PARAMS, scoring=lambda estimator, X: value)
    model.fit(X, X_val=X_val)
    assert model.validation_scores_ == [float(value)] * 3
    assert type(model.best_validation_score_) is float


@pytest.mark.parametrize(
    "value",
    [10**400, float("inf"), np.float32("nan"), Decimal("NaN"), np.array([0.5]), "0.5", True,
     torch.tensor([1.0, 2.0]), 1 + 0j],
    ids=["huge int", "inf", "nan", "Decimal NaN", "1-d array", "str", "bool", "tensor",
         "complex"],
)  # fmt: skip
def test_scoring_returning_anything_else_is_the_usual_error(data, value):
    X, X_val = data
    model = ACAITransformer(**PARAMS, scoring=lambda estimator, X: value)
    with pytest.raises(ValueError, match=r"it must return a finite real number"):
        model.fit(X, X_val=X_val)
    assert not hasattr(model, "n_iter_")


def test_a_ctrl_c_while_scoring_the_first_epoch_records_no_best_score(data):
    X, X_val = data

    def interrupted(estimator, X):
        raise KeyboardInterrupt

    model = ACAITransformer(**PARAMS, scoring=interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        model.fit(X, X_val=X_val)
    assert model.validation_scores_ == []
    assert model.best_validation_score_ is None


# ------------------------------------------------------------------------------ weights

FEATURE = {"n_components": 2, "max_iter": 1, "random_state": 0, "scaling": "feature"}


@pytest.fixture(scope="module")
def weighted():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 4)) + 3.0, rng.uniform(1.0, 2.0, 60)


@pytest.mark.parametrize("factor", [1e-300, 1e300, 1e307])
def test_only_the_weights_ratios_matter_at_any_scale(weighted, factor):
    X, weights = weighted
    reference = ACAITransformer(**FEATURE).fit(X, sample_weight=weights)
    model = ACAITransformer(**FEATURE).fit(X, sample_weight=weights * factor)
    np.testing.assert_allclose(model.mean_, reference.mean_, rtol=1e-12)
    np.testing.assert_allclose(model.scale_, reference.scale_, rtol=1e-12)
    np.testing.assert_allclose(model.transform(X), reference.transform(X), rtol=1e-5, atol=1e-6)


def test_one_huge_weight_is_a_weight_not_an_error_about_the_data(weighted):
    X, _ = weighted
    weights = np.ones(len(X))
    weights[0] = 1e308
    model = ACAITransformer(**FEATURE).fit(X, sample_weight=weights)
    np.testing.assert_allclose(model.mean_, np.average(X, axis=0, weights=weights / 1e308))


def test_subnormal_weights_whose_ratios_are_lost_are_refused(weighted):
    X, weights = weighted
    with pytest.raises(ValueError, match=r"sample_weight .* below .*smallest normal float64"):
        ACAITransformer(**FEATURE).fit(X, sample_weight=weights * 5e-324)


def test_rows_are_drawn_by_weight_beyond_two_to_the_24(monkeypatch):
    """torch.multinomial takes at most 2**24 categories; a weighted fit on more rows
    drew its rows another way, with the same distribution."""
    from skacai import _training

    n = 2**24 + 8
    weights = torch.zeros(n, dtype=torch.float32)
    weights[[3, n - 1]] = torch.tensor([1.0, 3.0])
    rows = _training._order(4000, False, weights, torch.Generator().manual_seed(0))
    assert rows.dtype == torch.int64 and rows.shape == (4000,)
    assert set(rows.tolist()) == {3, n - 1}
    assert abs((rows == n - 1).float().mean().item() - 0.75) < 0.03
