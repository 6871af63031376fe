"""ACAITransformer inside scikit-learn's composition and model-selection tools."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skacai import ACAITransformer
from skacai.metrics import clustering_accuracy

FAST = {"hidden_layer_sizes": (64,), "batch_size": 64, "max_iter": 8, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_pipeline_with_kmeans_clusters_digits(digits):
    X, y = digits
    pipe = Pipeline(
        [
            ("acai", ACAITransformer(n_components=10, **FAST)),
            ("km", KMeans(10, n_init=10, random_state=0)),
        ]
    )
    labels = pipe.fit_predict(X)
    assert labels.shape == (600,)
    assert clustering_accuracy(y, labels) > 0.5  # chance is about 0.1


def test_pipeline_with_logistic_regression_classifies_digits():
    pipe = Pipeline(
        [
            ("acai", ACAITransformer(n_components=16, **FAST)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    X, y = load_digits(return_X_y=True)
    pipe.fit(X[:1000], y[:1000])
    assert pipe.score(X[1000:], y[1000:]) > 0.85  # measured 0.895; PCA(16) gives 0.890


def test_grid_search_over_the_coefficients_uses_score_by_default(digits):
    X, _ = digits
    grid = {"adversarial_weight": [0.0, 0.5], "critic_regularization": [0.2, 0.5]}
    search = GridSearchCV(ACAITransformer(n_components=8, **FAST), grid, cv=2).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(scores < 0)
    assert search.best_estimator_.n_iter_ == FAST["max_iter"]


def torch_threads_scorer(estimator, X, y=None):
    """A 'score' that reports how many threads torch uses inside the worker."""
    return float(torch.get_num_threads())


def test_parallel_grid_search_in_a_pipeline_matches_the_serial_one(digits):
    X, y = digits
    pipe = Pipeline(
        [
            ("acai", ACAITransformer(n_components=8, **FAST)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    grid = {"acai__adversarial_weight": [0.0, 0.5], "acai__critic_regularization": [0.2, 0.4]}
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_parallel_workers_do_not_oversubscribe_the_cores(digits):
    """joblib's loky workers start torch with cpu_count // n_jobs threads each."""
    X, _ = digits
    search = GridSearchCV(
        ACAITransformer(n_components=4, **{**FAST, "max_iter": 1}),
        {"adversarial_weight": [0.0, 0.5]},
        cv=2,
        n_jobs=2,
        scoring=torch_threads_scorer,
    ).fit(X)
    expected = max(1, (torch.get_num_threads()) // 2)
    assert set(search.cv_results_["mean_test_score"]) == {float(expected)}
