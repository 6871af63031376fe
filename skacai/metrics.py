"""Evaluation measures for learned codes (NumPy, SciPy and scikit-learn only; no torch)."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.utils import check_array, column_or_1d

from skacai._sklearn_compat import (
    RANDOM_STATE,
    HasMethods,
    Integers,
    Interval,
    validate_params,
)
from skacai.datasets import MIN_IMAGE_SIZE, make_lines, reference_lines

__all__ = [
    "cluster_scores",
    "clustering_accuracy",
    "evaluate_lines",
    "kmeans_accuracy",
    "line_interpolation_scores",
    "nearest_lines",
    "smoothness_scores",
    "whiten",
]

_POSITIVE = [Integers(1, None, closed="left")]
# kmeans_accuracy's and cluster_scores' codes, labels and KMeans settings.
_CLUSTERING = {
    "codes_train": ["array-like"],
    "y_train": ["array-like"],
    "codes_test": ["array-like"],
    "y_test": ["array-like"],
    "n_clusters": _POSITIVE,
    "n_init": _POSITIVE,
    "max_iter": _POSITIVE,
    "whiten_codes": ["boolean"],
    "random_state": RANDOM_STATE,
}


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
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


@validate_params(
    {"codes_train": ["array-like"], "eps": [Interval(Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
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


@validate_params(_CLUSTERING, prefer_skip_nested_validation=True)
def kmeans_accuracy(
    codes_train, codes_test, y_test, n_clusters=10, *, whiten_codes=True, random_state=0
):
    """A quick clustering score: KMeans on (whitened) codes, accuracy on the test set.

    KMeans (k-means++ initialisation, 10 restarts) is fitted on
    ``codes_train``; the test codes' clusters are matched to ``y_test`` with
    :func:`clustering_accuracy`. The paper's own protocol, with 1,000 random
    restarts, is :func:`cluster_scores`: use it for figures to compare with
    the paper's; this one is cheaper and depends more on ``random_state``.

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
    random_state : int, RandomState instance or None, default=0
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


@validate_params(_CLUSTERING, prefer_skip_nested_validation=True)
def cluster_scores(
    codes_train,
    y_train,
    codes_test,
    y_test,
    n_clusters=10,
    *,
    n_init=1000,
    max_iter=1000,
    whiten_codes=True,
    random_state=0,
):
    """The official ACAI clustering protocol: accuracy, NMI and ARI on train and test codes.

    As the paper's ``cluster.py``: whiten the codes (:func:`whiten`, fitted on
    the training codes), fit ``KMeans(n_clusters, init="random", n_init=1000,
    max_iter=1000, random_state=0)`` on the training codes, assign both sets,
    and score each against its labels. The paper reports the test accuracy.

    The 1,000 random restarts make the score a property of the codes rather
    than of KMeans' seed, at a price: on 60,000 16-dimensional codes one
    restart takes about 0.17 s on one CPU thread, so the full protocol about
    three minutes (``n_init=100``: 17 s).

    Parameters
    ----------
    codes_train : array-like of shape (n_train, n_components)
        Codes KMeans is fitted on.
    y_train : array-like of shape (n_train,)
        Their labels (used for the scores only).
    codes_test : array-like of shape (n_test, n_components)
        Held-out codes, assigned to the fitted clusters.
    y_test : array-like of shape (n_test,)
        Their labels.
    n_clusters : int, default=10
        Number of clusters.
    n_init : int, default=1000
        KMeans restarts from random initial centres; the best (lowest
        inertia) is kept. Fewer are cheaper and noisier.
    max_iter : int, default=1000
        Iterations per restart.
    whiten_codes : bool, default=True
        Whiten the codes first, as the protocol does.
    random_state : int, RandomState instance or None, default=0
        Seed of KMeans (the protocol's is 0).

    Returns
    -------
    scores : dict of str to float
        ``"accuracy"`` (test, after the best one-to-one matching of clusters
        to labels, :func:`clustering_accuracy`), ``"nmi"`` and ``"ari"``
        (test, :func:`~sklearn.metrics.normalized_mutual_info_score` and
        :func:`~sklearn.metrics.adjusted_rand_score`), and the same three for
        the training codes as ``"train_accuracy"``, ``"train_nmi"`` and
        ``"train_ari"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skacai.metrics import cluster_scores
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 50)
    >>> codes = rng.normal(size=(150, 2)) + 10 * np.eye(3)[y, :2]
    >>> scores = cluster_scores(codes, y, codes, y, n_clusters=3, n_init=10)
    >>> scores["accuracy"], scores["nmi"], scores["ari"]
    (1.0, 1.0, 1.0)
    """
    y_train, y_test = column_or_1d(y_train), column_or_1d(y_test)
    if whiten_codes:
        codes_train, codes_test = whiten(codes_train, codes_test)
    kmeans = KMeans(
        n_clusters=n_clusters,
        init="random",
        n_init=n_init,
        max_iter=max_iter,
        random_state=random_state,
    ).fit(codes_train)
    scores = {}
    for prefix, codes, y in (("", codes_test, y_test), ("train_", codes_train, y_train)):
        clusters = kmeans.labels_ if prefix else kmeans.predict(codes)
        scores[f"{prefix}accuracy"] = clustering_accuracy(y, clusters)
        scores[f"{prefix}nmi"] = float(normalized_mutual_info_score(y, clusters))
        scores[f"{prefix}ari"] = float(adjusted_rand_score(y, clusters))
    return scores


def _square_side(n_pixels):
    """The side of a square line image of ``n_pixels`` pixels, or None if there is none.

    Lines are drawn in images of at least ``MIN_IMAGE_SIZE`` pixels a side.
    """
    side = round(np.sqrt(n_pixels))
    return side if side * side == n_pixels and side >= MIN_IMAGE_SIZE else None


@validate_params(
    {"images": ["array-like"], "chunk_size": _POSITIVE},
    prefer_skip_nested_validation=True,
)
def nearest_lines(images, *, chunk_size=1024):
    """Cosine distance from each image to the nearest reference line, and that line's angle.

    The reference bank is the paper's: 10,000 lines drawn by
    :func:`skacai.datasets.draw_line` at angles ``linspace(0, 2 pi, 10000,
    endpoint=False)``, at the images' size.

    Parameters
    ----------
    images : array-like of shape (n_images, n_pixels) or (n_images, size, size)
        Square single-channel images of at least 4x4 pixels, values as
        :func:`~skacai.datasets.make_lines` draws them (background -1).
    chunk_size : int, default=1024
        Images compared with the bank at a time (bounds memory).

    Returns
    -------
    distances : ndarray of shape (n_images,)
        ``1 - cos(image, nearest line)``.
    angles : ndarray of shape (n_images,)
        Angle of the nearest reference line, in radians.

    Examples
    --------
    >>> from skacai.datasets import draw_line
    >>> from skacai.metrics import nearest_lines
    >>> distances, angles = nearest_lines(draw_line(1.0).reshape(1, -1))
    >>> round(float(angles[0]), 3), bool(distances[0] < 1e-3)
    (1.0, True)
    """
    images = np.asarray(images, dtype=np.float64)
    images = images.reshape(images.shape[0], -1)
    size = _square_side(images.shape[1])
    if size is None:
        raise ValueError(
            f"images must be square, at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels: "
            f"{images.shape[1]} pixels per image is not such a square."
        )
    bank_angles, bank = reference_lines(size)
    bank_unit = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    distances = np.empty(images.shape[0])
    indices = np.empty(images.shape[0], dtype=np.int64)
    for start in range(0, images.shape[0], chunk_size):
        chunk = images[start : start + chunk_size]
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        cosine = (chunk / np.where(norms == 0, 1, norms)) @ bank_unit.T
        best = np.argmax(cosine, axis=1)
        indices[start : start + chunk_size] = best
        distances[start : start + chunk_size] = 1 - cosine[np.arange(len(chunk)), best]
    return distances, bank_angles[indices]


@validate_params({"angles": ["array-like"]}, prefer_skip_nested_validation=True)
def smoothness_scores(angles):
    """The paper's smoothness of each interpolation, from its frames' line angles.

    For one interpolation with unwrapped angles ``theta_1..theta_N``:
    ``max_n |theta_{n+1} - theta_n| / |theta_N - theta_1| - 1 / (N - 1)``, so 0
    means perfectly even steps. NaN where the total change is below 1e-4.

    Parameters
    ----------
    angles : array-like of shape (n_interpolations, n_frames)
        Angle of each frame's nearest line (see :func:`nearest_lines`).

    Returns
    -------
    scores : ndarray of shape (n_interpolations,)

    Examples
    --------
    >>> import numpy as np
    >>> from skacai.metrics import smoothness_scores
    >>> smoothness_scores([np.linspace(0, 1, 5), [0, 0, 0, 1, 1]]).round(3)
    array([0.  , 0.75])
    """
    angles = np.unwrap(np.atleast_2d(np.asarray(angles, dtype=np.float64)))
    if angles.shape[1] < 2:
        raise ValueError("smoothness needs at least two frames per interpolation.")
    steps = np.abs(np.diff(angles, axis=1))
    total = np.abs(angles[:, -1] - angles[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = steps.max(axis=1) / total - 1 / (angles.shape[1] - 1)
    scores[total < 1e-4] = np.nan
    return scores


@validate_params({"frames": ["array-like"]}, prefer_skip_nested_validation=True)
def line_interpolation_scores(frames):
    """The lines benchmark's Mean Distance and Smoothness of a set of interpolations.

    Parameters
    ----------
    frames : array-like of shape (n_interpolations, n_frames, n_pixels)
        Decoded interpolations between pairs of line images, each frame a
        square image (e.g. the output of ``ACAITransformer.interpolate``;
        the paper uses 256 pairs of 16 frames, endpoints included).

    Returns
    -------
    mean_distance : float
        Mean over all frames of the cosine distance to the nearest reference
        line (the paper reports it x 1e-3). Lower is better.
    smoothness : float
        Mean of :func:`smoothness_scores`, NaN scores counting as 0 in the sum
        but staying in the count, as in the paper's code; NaN if all are NaN.
        Lower is better.

    Examples
    --------
    >>> import numpy as np
    >>> from skacai.datasets import draw_line
    >>> from skacai.metrics import line_interpolation_scores
    >>> frames = np.array([[draw_line(a).ravel() for a in np.linspace(0.5, 2.0, 16)]])
    >>> distance, smoothness = line_interpolation_scores(frames)
    >>> bool(distance < 1e-3), bool(smoothness < 0.05)
    (True, True)
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim < 3:
        raise ValueError(
            f"frames must have shape (n_interpolations, n_frames, n_pixels), got {frames.shape}."
        )
    n_interpolations, n_frames = frames.shape[:2]
    distances, angles = nearest_lines(frames.reshape(n_interpolations * n_frames, -1))
    scores = smoothness_scores(angles.reshape(n_interpolations, n_frames))
    valid = ~np.isnan(scores)
    smoothness = float(np.sum(scores[valid]) / scores.size) if valid.any() else float("nan")
    return float(np.mean(distances)), smoothness


@validate_params(
    {
        "transformer": [HasMethods("interpolate")],
        "n_pairs": _POSITIVE,
        "n_frames": [Integers(2, None, closed="left")],
        "random_state": RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def evaluate_lines(transformer, n_pairs=256, n_frames=16, *, random_state=0):
    """Score a fitted transformer on the lines benchmark, as in the paper.

    Draws ``2 * n_pairs`` lines with :func:`skacai.datasets.make_lines`,
    pairs them, decodes ``n_frames`` interpolations per pair (endpoints
    included) with ``transformer.interpolate`` and returns
    :func:`line_interpolation_scores` of the result.

    Parameters
    ----------
    transformer : fitted estimator with ``interpolate(X_start, X_end, n_steps)``
        E.g. an :class:`~skacai.ACAITransformer` fitted on ``make_lines`` data
        of the same image size.
    n_pairs : int, default=256
        Number of interpolations (the paper uses 256).
    n_frames : int, default=16
        Frames per interpolation (the paper uses 16).
    random_state : int, RandomState instance or None, default=0
        Seeds the test lines. ``make_lines(n, random_state=s)`` draws the same
        first lines for any ``n``, so pass a seed other than the training
        data's: with the default 0, a model trained on
        ``make_lines(n, random_state=0)`` would be scored on its own first
        ``2 * n_pairs`` training lines.

    Returns
    -------
    mean_distance : float
        The paper reports it x 1e-3; lower is better.
    smoothness : float
        Lower is better.

    Examples
    --------
    >>> from skacai import ACAITransformer
    >>> from skacai.datasets import make_lines
    >>> from skacai.metrics import evaluate_lines
    >>> X, _ = make_lines(512, image_size=16, random_state=0)
    >>> model = ACAITransformer(8, hidden_layer_sizes=(64,), max_iter=2, random_state=0).fit(X)
    >>> distance, smoothness = evaluate_lines(model, n_pairs=16, random_state=1)
    >>> bool(0 <= distance < 1 and 0 <= smoothness)
    True
    """
    n_features = getattr(transformer, "n_features_in_", 1024)
    image_size = _square_side(n_features)
    if image_size is None:
        raise ValueError(
            f"the transformer was fitted on {n_features} features, not on square line "
            f"images (at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels); fit it on "
            "skacai.datasets.make_lines data."
        )
    lines, _ = make_lines(2 * n_pairs, image_size=image_size, random_state=random_state)
    frames = transformer.interpolate(lines[:n_pairs], lines[n_pairs:], n_steps=n_frames)
    return line_interpolation_scores(frames)
