"""Evaluation measures for learned codes (NumPy, SciPy and scikit-learn only; no torch)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.utils import check_array, column_or_1d

__all__ = ["clustering_accuracy", "kmeans_accuracy", "whiten"]


def clustering_accuracy(y_true, y_pred):
    """Accuracy of a clustering under the best one-to-one matching of clusters to labels.

    The matching maximises the number of agreements (Hungarian algorithm,
    :func:`scipy.optimize.linear_sum_assignment`); clusters left without a
    label count as errors.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Cluster assignments.

    Returns
    -------
    accuracy : float
        In ``[0, 1]``.

    Examples
    --------
    >>> from skacai.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1, 2], [1, 1, 0, 0, 0])
    0.8
    """
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            "y_true and y_pred must be non-empty and of the same length, got "
            f"{y_true.shape[0]} and {y_pred.shape[0]}."
        )
    labels, true_idx = np.unique(y_true, return_inverse=True)
    clusters, pred_idx = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((clusters.size, labels.size), dtype=np.int64)
    np.add.at(counts, (pred_idx, true_idx), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / y_true.size)


def whiten(codes_train, *codes_other, eps=1e-5):
    """Whiten codes as in the ACAI paper's clustering protocol.

    Centre on the training mean, project on the right singular vectors of the
    centred training codes, divide by singular value + ``eps``. The same map is
    applied to every array in ``codes_other``.

    Parameters
    ----------
    codes_train : array-like of shape (n_samples, n_components)
        Codes that define the whitening.
    *codes_other : array-like of shape (n_other, n_components)
        Further codes to map the same way (e.g. the test set's).
    eps : float, default=1e-5
        Added to each singular value.

    Returns
    -------
    whitened : list of ndarray
        The whitened ``codes_train`` followed by each of ``codes_other``.

    Examples
    --------
    >>> import numpy as np
    >>> from skacai.metrics import whiten
    >>> rng = np.random.default_rng(0)
    >>> train, test = whiten(rng.normal(size=(100, 3)), rng.normal(size=(10, 3)))
    >>> train.shape, test.shape
    ((100, 3), (10, 3))
    """
    train = check_array(codes_train, dtype=np.float64)
    mean = train.mean(axis=0)
    _, singular_values, vt = np.linalg.svd(train - mean, full_matrices=False)
    scale = singular_values + eps
    arrays = (train, *(check_array(c, dtype=np.float64) for c in codes_other))
    return [(a - mean) @ vt.T / scale for a in arrays]


def kmeans_accuracy(
    codes_train, codes_test, y_test, n_clusters=10, *, whiten_codes=True, random_state=0
):
    """The paper's clustering score: KMeans on (whitened) codes, accuracy on the test set.

    KMeans is fitted on ``codes_train``; the test codes' clusters are matched to
    ``y_test`` with :func:`clustering_accuracy`.

    Parameters
    ----------
    codes_train : array-like of shape (n_train, n_components)
        Codes KMeans is fitted on.
    codes_test : array-like of shape (n_test, n_components)
        Codes that are scored.
    y_test : array-like of shape (n_test,)
        Labels of the test codes.
    n_clusters : int, default=10
        Number of clusters.
    whiten_codes : bool, default=True
        Whiten with :func:`whiten` (fitted on the training codes) first.
    random_state : int, default=0
        Seed of KMeans.

    Returns
    -------
    accuracy : float
        In ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skacai.metrics import kmeans_accuracy
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> codes = rng.normal(size=(100, 2)) + 10 * y[:, None]
    >>> kmeans_accuracy(codes, codes, y, n_clusters=2)
    1.0
    """
    if whiten_codes:
        codes_train, codes_test = whiten(codes_train, codes_test)
    kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state)
    kmeans.fit(codes_train)
    return clustering_accuracy(y_test, kmeans.predict(codes_test))
