"""skacai.metrics against hand-computed cases."""

import numpy as np
import pytest

from skacai.metrics import clustering_accuracy, kmeans_accuracy, whiten


@pytest.mark.parametrize(
    "y_true, y_pred, expected",
    [
        ([0, 0, 1, 1], [1, 1, 0, 0], 1.0),  # a relabelling is perfect
        ([0, 0, 1, 1, 2], [1, 1, 0, 0, 0], 0.8),  # clusters 1->0, 0->1; label 2 unmatched
        ([0, 1, 2, 3], [0, 0, 0, 0], 0.25),  # one cluster can match one label only
        (["a", "b", "b"], [5, 7, 7], 1.0),  # any label types
        ([0, 0, 0, 1], [0, 1, 2, 3], 0.5),  # more clusters than labels
    ],
)
def test_clustering_accuracy_hand_cases(y_true, y_pred, expected):
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(expected)


def test_clustering_accuracy_prefers_the_best_matching_over_a_greedy_one():
    # Counts: cluster 0 holds 3 zeros and 2 ones, cluster 1 holds 2 zeros. Greedy
    # matches cluster 0 -> label 0 (3 hits), then 1 -> 1 (0 hits): 3/7. The optimal
    # matching 0 -> 1, 1 -> 0 gets 2 + 2 = 4/7.
    y_true = [0, 0, 0, 1, 1, 0, 0]
    y_pred = [0, 0, 0, 0, 0, 1, 1]
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(4 / 7)


def test_clustering_accuracy_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        clustering_accuracy([0, 1], [0])


def test_whitening_gives_identity_covariance_up_to_the_paper_scaling():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 3)) @ np.array([[3.0, 1, 0], [0, 1, 0], [0, 0, 0.1]]) + 5
    (white,) = whiten(codes)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-12)
    # dividing by the singular values s gives W^T W = I, up to eps: (s / (s + 1e-5))^2
    np.testing.assert_allclose(white.T @ white, np.eye(3), atol=1e-4)


def test_whitening_applies_the_training_map_to_other_codes():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(50, 2)), rng.normal(size=(5, 2))
    white_train, white_test = whiten(train, test)
    both = whiten(np.vstack([train, test]))[0]
    assert not np.allclose(both[50:], white_test)  # the map is fitted on train only
    mean = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    np.testing.assert_allclose(white_test, (test - mean) @ vt.T / (s + 1e-5))
    np.testing.assert_allclose(white_train, (train - mean) @ vt.T / (s + 1e-5))


def test_kmeans_accuracy_on_separated_and_on_random_codes():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    centers = rng.normal(scale=10, size=(4, 5))
    separated = centers[y] + rng.normal(size=(200, 5))
    assert kmeans_accuracy(separated, separated, y, n_clusters=4) == 1.0
    noise = rng.normal(size=(200, 5))
    assert kmeans_accuracy(noise, noise, y, n_clusters=4, whiten_codes=False) < 0.45
