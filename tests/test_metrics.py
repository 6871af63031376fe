"""skacai.metrics against hand-computed cases."""

import inspect

import numpy as np
import pytest
from sklearn.cluster import KMeans

from skacai.metrics import cluster_scores, clustering_accuracy, kmeans_accuracy, whiten


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


def test_cluster_scores_follows_the_official_protocol(monkeypatch):
    """Random initial centres, 1,000 restarts of up to 1,000 iterations, seed 0, whitened."""
    from sklearn import cluster

    from skacai import metrics

    seen = {}

    class Recording(cluster.KMeans):
        def fit(self, X, y=None, sample_weight=None):
            seen.update(self.get_params(), X=X)
            return super().fit(X)

    monkeypatch.setattr(metrics, "KMeans", Recording)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    codes = rng.normal(size=(120, 3)) + 6 * np.eye(3)[y]
    metrics.cluster_scores(codes[:90], y[:90], codes[90:], y[90:], n_clusters=3, n_init=5)
    assert (seen["init"], seen["n_init"], seen["max_iter"], seen["random_state"]) == (
        "random",
        5,
        1000,
        0,
    )
    np.testing.assert_allclose(seen["X"], whiten(codes[:90])[0])
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(metrics.cluster_scores).parameters.items()
    }
    assert (defaults["n_init"], defaults["max_iter"], defaults["random_state"]) == (1000, 1000, 0)


def test_cluster_scores_reports_test_and_train_accuracy_nmi_and_ari():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from skacai.metrics import cluster_scores

    rng = np.random.default_rng(1)
    y_train, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 100)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    train = centres[y_train] + rng.normal(size=(300, 2))
    test = centres[y_test] + rng.normal(size=(100, 2))
    scores = cluster_scores(train, y_train, test, y_test, n_clusters=3, n_init=10)
    assert set(scores) == {"accuracy", "nmi", "ari", "train_accuracy", "train_nmi", "train_ari"}
    kmeans_labels = KMeans(3, init="random", n_init=10, max_iter=1000, random_state=0).fit(
        whiten(train)[0]
    )
    assert scores["train_nmi"] == pytest.approx(
        normalized_mutual_info_score(y_train, kmeans_labels.labels_)
    )
    assert scores["train_ari"] == pytest.approx(
        adjusted_rand_score(y_train, kmeans_labels.labels_)
    )
    assert scores["train_accuracy"] == clustering_accuracy(y_train, kmeans_labels.labels_)
    assert 0.8 < scores["accuracy"] <= 1.0 and 0.8 < scores["train_accuracy"] <= 1.0
    # labels that ignore the codes score near zero on the chance-corrected measures
    shuffled = cluster_scores(
        train, rng.permutation(y_train), test, y_test, n_clusters=3, n_init=10
    )
    assert abs(shuffled["train_ari"]) < 0.05 and shuffled["train_nmi"] < 0.05


CODES = np.random.default_rng(0).normal(size=(20, 2))
LABELS = np.repeat([0, 1], 10)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: clustering_accuracy(3, [0]), "y_true"),
        (lambda: clustering_accuracy([0], "0"), "y_pred"),
        (lambda: whiten("codes"), "codes_train"),
        (lambda: whiten(CODES, eps=-1.0), "eps"),
        (lambda: whiten(CODES, eps="0"), "eps"),
        (lambda: kmeans_accuracy(CODES, CODES, LABELS, True), "n_clusters"),
        (lambda: kmeans_accuracy(CODES, CODES, LABELS, 0), "n_clusters"),
        (lambda: kmeans_accuracy(CODES, CODES, LABELS, 2.0), "n_clusters"),
        (lambda: kmeans_accuracy(CODES, CODES, LABELS, 2, whiten_codes="yes"), "whiten_codes"),
        (lambda: kmeans_accuracy(CODES, CODES, LABELS, 2, random_state=True), "random_state"),
        (lambda: kmeans_accuracy(CODES, None, LABELS, 2), "codes_test"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, n_init=True), "n_init"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, n_init="auto"), "n_init"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, max_iter=0), "max_iter"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, n_clusters=False), "n_clusters"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, whiten_codes=1), "whiten_codes"),
        (lambda: cluster_scores(CODES, 1, CODES, LABELS), "y_train"),
        (lambda: cluster_scores(CODES, LABELS, CODES, LABELS, random_state=-1), "random_state"),
    ],
)
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of [a-z_]+ must be") as info:
        call()
    assert isinstance(info.value, TypeError)  # scikit-learn's InvalidParameterError is both


def test_kmeans_settings_are_checked_here_since_kmeans_does_not_check_them_again():
    """prefer_skip_nested_validation turns KMeans' own parameter checks off inside."""
    with pytest.raises(ValueError, match="The 'n_clusters' parameter of kmeans_accuracy"):
        kmeans_accuracy(CODES, CODES, LABELS, -2)
    assert str(inspect.signature(kmeans_accuracy)) == (
        "(codes_train, codes_test, y_test, n_clusters=10, *, whiten_codes=True, random_state=0)"
    )
