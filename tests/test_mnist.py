"""Quality on real MNIST (skipped when ../shared/data/mnist.npz is not there)."""

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
def test_acai_codes_cluster_mnist_better_than_pca_and_raw_pixels(mnist):
    """The paper's clustering protocol on all 60,000 training images (about 2 minutes)."""
    x_train, _, x_test, y_test = mnist
    model = ACAITransformer(max_iter=10, random_state=0).fit(x_train)
    acai = kmeans_accuracy(model.transform(x_train), model.transform(x_test), y_test)
    pca = PCA(model.n_components, random_state=0).fit(x_train)
    pca_accuracy = kmeans_accuracy(pca.transform(x_train), pca.transform(x_test), y_test)
    raw_accuracy = kmeans_accuracy(x_train, x_test, y_test, whiten_codes=False)
    # measured with today's defaults (16 components): ACAI 0.601, PCA(16) 0.556, raw
    # pixels 0.518 (with the previous 32: ACAI 0.599, PCA(32) 0.453). One model seed.
    assert acai > pca_accuracy
    assert acai > raw_accuracy
