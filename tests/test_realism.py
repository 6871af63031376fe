"""Interpolation realism (skacai.metrics.interpolation_realism, make_realism_scorer) on
cases whose answers are known: decoders that cross-fade pixels, that return the
average row, that return noise, and the pairs the measure draws."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skacai import ACAITransformer
from skacai.metrics import interpolation_realism, make_realism_scorer


class CrossFade:
    """Decodes every blend of two rows as their pixel cross-fade: reconstructions exact."""

    def interpolate(self, X_start, X_end, n_steps=None, *, alphas=None):
        a = np.asarray(alphas)[None, :, None]
        return (1 - a) * np.asarray(X_start)[:, None] + a * np.asarray(X_end)[:, None]


class Average(CrossFade):
    """Decodes every code as one row, the average of the data it was built with."""

    def __init__(self, mean):
        self.mean = mean

    def interpolate(self, X_start, X_end, n_steps=None, *, alphas=None):
        return np.broadcast_to(self.mean, (len(X_start), len(alphas), self.mean.size)).copy()


class Noisy(CrossFade):
    """Exact reconstructions, midpoints of noise far from any row."""

    def interpolate(self, X_start, X_end, n_steps=None, *, alphas=None):
        frames = super().interpolate(X_start, X_end, alphas=alphas)
        rng = np.random.default_rng(0)
        frames[:, 1:-1] = rng.uniform(0, 16, frames[:, 1:-1].shape)
        return frames


class Recording(CrossFade):
    def interpolate(self, X_start, X_end, n_steps=None, *, alphas=None):
        self.pairs = (np.asarray(X_start), np.asarray(X_end))
        return super().interpolate(X_start, X_end, alphas=alphas)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:1000], y[:1000], X[1000:], y[1000:]


def realism(transformer, digits, **kwargs):
    X_ref, y_ref, X, y = digits
    kwargs = {"n_pairs": 150, **kwargs}
    return interpolation_realism(transformer, X, y, X_reference=X_ref, y_reference=y_ref, **kwargs)


def test_a_cross_fading_decoder_scores_exactly_as_the_cross_fades(digits):
    scores = realism(CrossFade(), digits, measures=["confidence", "nn_ratio"])
    assert scores["reconstruction_mse"] == 0.0
    assert scores["nn_ratio"] == scores["nn_ratio_cross_fade"]
    assert scores["confidence"] == scores["confidence_cross_fade"]
    assert scores["nn_ratio_real"] == pytest.approx(1.0)  # reconstructions are the rows
    assert scores["confidence_real"] > scores["confidence"]  # real digits are more digit-like


def test_noise_midpoints_are_told_apart_and_far_from_real_rows(digits):
    scores = realism(Noisy(), digits)
    assert scores["critic_accuracy"] > 0.95
    assert scores["nn_ratio"] > 2 * scores["nn_ratio_cross_fade"]
    # (A logistic regression is confident on such noise, 0.98 here: confidence is
    # read beside the label-free measures, as the docstring says.)
    # Real rows against exact reconstructions of themselves: no better than chance
    # (below it, as each held-out row sits in the training folds with the other label).
    assert scores["critic_accuracy_real"] < 0.55


def test_midpoints_equal_to_the_reconstructions_are_indistinguishable(digits):
    scores = realism(Average(digits[0].mean(0)), digits, measures=["nn_ratio", "critic_accuracy"])
    assert scores["nn_ratio"] == pytest.approx(1.0)
    assert abs(scores["critic_accuracy"] - 0.5) < 0.1
    assert "confidence" not in scores


def test_pairs_are_of_different_classes_when_labels_are_given(digits):
    X_ref, _, X, y = digits
    recorder = Recording()
    interpolation_realism(recorder, X, y, X_reference=X_ref, n_pairs=300, measures=["nn_ratio"])
    start, end = recorder.pairs
    label = {row.tobytes(): c for row, c in zip(X, y, strict=True)}
    assert len(start) == 300
    assert all(label[a.tobytes()] != label[b.tobytes()] for a, b in zip(start, end, strict=True))


def test_the_same_seed_gives_the_same_scores(digits):
    kwargs = {"random_state": 3, "n_pairs": 60}
    first = realism(Noisy(), digits, **kwargs)
    assert realism(Noisy(), digits, **kwargs) == first


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alphas": [0.0, 0.5]}, "alphas must be"),
        ({"alphas": []}, "alphas must be"),
        ({"measures": ["sharpness"]}, "measures must be"),
        ({"measures": []}, "measures must be"),
        ({"X_reference": np.zeros((5, 3))}, "X_reference has 3 features"),
        ({"y_reference": [0, 1]}, "y_reference has 2 labels"),
        ({"y": np.zeros(797)}, "single class"),
    ],
)
def test_bad_arguments_say_what_is_wrong(digits, kwargs, message):
    X_ref, y_ref, X, y = digits
    arguments = {"y": y, "X_reference": X_ref, "y_reference": y_ref, **kwargs}
    with pytest.raises(ValueError, match=message):
        interpolation_realism(CrossFade(), X, **arguments)


def test_confidence_needs_reference_labels(digits):
    X_ref, _, X, _ = digits
    with pytest.raises(ValueError, match="needs y_reference"):
        interpolation_realism(CrossFade(), X, X_reference=X_ref, measures=["confidence"])


def test_a_fitted_classifier_is_used_as_it_is(digits):
    X_ref, y_ref, X, y = digits
    fitted = LogisticRegression(max_iter=2000).fit(X_ref, y_ref)
    kwargs = {"n_pairs": 100, "measures": ["confidence"]}
    given = interpolation_realism(
        CrossFade(), X, y, X_reference=X_ref, classifier=fitted, **kwargs
    )
    refitted = interpolation_realism(
        CrossFade(), X, y, X_reference=X_ref, y_reference=y_ref, classifier=fitted, **kwargs
    )
    assert given == pytest.approx(refitted)


def test_the_balanced_scorer_refuses_a_decoder_that_draws_the_average_row(digits):
    X = digits[2]
    average, fade = Average(X.mean(0)), CrossFade()
    ratio, balanced = make_realism_scorer("nn_ratio"), make_realism_scorer("balanced")
    # The ratio alone prefers the useless decoder (its midpoints are its reconstructions) ...
    assert ratio(average, X) > ratio(fade, X)
    # ... the balanced score, which counts the reconstruction error, does not.
    assert balanced(fade, X) > balanced(average, X)
    critic = make_realism_scorer("critic", n_pairs=60)
    assert critic(fade, X) > critic(Noisy(), X)


def test_the_scorer_finds_the_model_inside_a_pipeline(digits):
    X = digits[2]
    halve = FunctionTransformer(lambda rows: rows / 2)
    scorer = make_realism_scorer("balanced")
    expected = scorer(CrossFade(), X / 2)
    assert scorer(make_pipeline(halve, CrossFade()), X) == pytest.approx(expected)
    with pytest.raises(TypeError, match="no interpolate method"):
        scorer(make_pipeline(halve), X)


def test_a_search_and_early_stopping_take_the_scorer(digits):
    X = digits[0][:400]
    scorer = make_realism_scorer(n_pairs=50)
    assert "nn_ratio" in repr(scorer)  # the default
    model = ACAITransformer(image_shape=(8, 8), max_iter=2, random_state=0)
    search = GridSearchCV(model, {"adversarial_weight": [0.0, 0.5]}, scoring=scorer, cv=2)
    search.fit(X)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    stopped = ACAITransformer(
        image_shape=(8, 8), max_iter=3, early_stopping=True, n_iter_no_change=1,
        scoring=scorer, random_state=0,
    ).fit(X)  # fmt: skip
    assert len(stopped.validation_scores_) == stopped.n_iter_
    assert all(score < 0 for score in stopped.validation_scores_)
