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
