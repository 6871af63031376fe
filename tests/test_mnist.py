"""Quality on real MNIST (skipped when ../shared/data/mnist.npz is not there, failed
in CI)."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skacai import ACAITransformer
from skacai.datasets import load_mnist
from skacai.metrics import cluster_scores, kmeans_accuracy


@pytest.fixture(scope="module")
def mnist(mnist_path):
    return load_mnist(mnist_path)


def pca_mse(x_train, x_test, k):
    pca = PCA(k, random_state=0).fit(x_train)
    return float(np.mean((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2))


def test_short_training_on_mnist_gives_useful_codes(mnist):
    x_train, y_train, x_test, y_test = mnist
    x_train, y_train = x_train[:10_000], y_train[:10_000]
    model = ACAITransformer(max_iter=5, random_state=0).fit(x_train)
    codes_train, codes_test = model.transform(x_train), model.transform(x_test)
    assert codes_test.dtype == np.float32
    mse = float(np.mean((model.inverse_transform(codes_test) - x_test) ** 2))
    assert mse < pca_mse(x_train, x_test, model.n_components)
    probe = LogisticRegression(max_iter=500).fit(codes_train, y_train)
    assert probe.score(codes_test, y_test) > 0.85  # measured 0.889
    # The official protocol (whitened codes, 100 random restarts, seed 0) rather than one
    # k-means++ run, which moved this model's score from 0.444 to 0.558 by KMeans' seed
    # alone. Measured 0.564 for this model (seed 0); model seeds 1 and 2 give 0.441 and
    # 0.446, so the assertion is "far above chance (0.1)", not a ranking.
    kmeans = cluster_scores(codes_train, y_train, codes_test, y_test, n_init=100)
    assert kmeans["accuracy"] > 0.40
    assert model.history_["reconstruction"][-1] < 0.7 * model.history_["reconstruction"][0]


@pytest.mark.slow
def test_acai_whitened_codes_cluster_mnist_above_raw_pixels(mnist):
    """The paper's clustering protocol (KMeans on whitened codes) on all 60,000 training
    images against KMeans on the raw pixels, with a margin of 4 points.

    Kept three-seed evidence (default model, 10 epochs; one k-means++ run seeded like
    the model): ACAI's whitened codes 70.7 / 65.4 / 63.4 %
    (benchmarks/results/default_fit_time.jsonl) against the raw pixels' 60.3 / 56.0 /
    54.7 % (benchmarks/results/defaults_sweep.jsonl): leads of 10.4, 9.4 and 8.7 points;
    this test's protocol (10 restarts, seed 0) measured 60.1 against 51.8 % for seed 0.
    Not asserted: ACAI's codes *unwhitened* are level with the raw pixels over those
    seeds (55.2 / 58.2 / 60.0 %), and against PCA(16) only one seed was measured.
    """
    x_train, _, x_test, y_test = mnist
    model = ACAITransformer(max_iter=10, random_state=0).fit(x_train)
    acai = kmeans_accuracy(model.transform(x_train), model.transform(x_test), y_test)
    raw_accuracy = kmeans_accuracy(x_train, x_test, y_test, whiten_codes=False)
    assert acai > raw_accuracy + 0.04, (acai, raw_accuracy)
