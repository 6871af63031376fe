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
    StrOptions,
    validate_params,
)
from skacai.datasets import MIN_IMAGE_SIZE, make_lines, reference_lines

__all__ = [
    "cluster_scores",
    "clustering_accuracy",
    "evaluate_lines",
    "interpolation_realism",
    "kmeans_accuracy",
    "line_interpolation_scores",
    "make_realism_scorer",
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
    than of KMeans' seed, at a price in time that grows with ``n_init`` (what
    it took on MNIST's codes: ``docs/fidelity.md``, "How quality is measured").

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


# ------------------------------------------------------------ interpolation realism

_REALISM_KINDS = ("midpoint", "cross_fade", "real")


def _pairs(n_rows, y, n_pairs, rng):
    """``n_pairs`` index pairs ``(i, j)``, ``i != j``, of different labels when ``y`` is given."""
    if y is not None and np.unique(y).size < 2:
        raise ValueError("y has a single class: pairs of different classes need two or more.")
    if n_rows < 2:
        raise ValueError(f"X has {n_rows} row(s); pairs need at least 2.")
    first, second = np.empty(0, dtype=int), np.empty(0, dtype=int)
    while first.size < n_pairs:  # rejection: each round keeps the valid draws
        i, j = rng.integers(n_rows, size=(2, 2 * n_pairs))
        keep = (i != j) if y is None else (y[i] != y[j])
        first, second = np.concatenate([first, i[keep]]), np.concatenate([second, j[keep]])
    return first[:n_pairs], second[:n_pairs]


def _nearest_distance(rows, reference):
    """Each row's Euclidean distance to its nearest row of ``reference``."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    return index.kneighbors(rows)[0][:, 0]


def _critic_accuracy(critic, rows, reconstructions, cv, rng):
    """Cross-validated balanced accuracy of ``critic`` at telling ``rows`` from reconstructions."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X = np.vstack([rows, reconstructions])
    labels = np.r_[np.ones(len(rows)), np.zeros(len(reconstructions))]
    folds = StratifiedKFold(cv, shuffle=True, random_state=int(rng.integers(2**31)))
    scores = cross_val_score(clone(critic), X, labels, cv=folds, scoring="balanced_accuracy")
    return float(scores.mean())


def _default_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _default_critic(seed):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=seed))


@validate_params(
    {
        "transformer": [HasMethods(["interpolate"])],
        "X": ["array-like"],
        "y": ["array-like", None],
        "X_reference": ["array-like"],
        "y_reference": ["array-like", None],
        "n_pairs": [Integers(2, None, closed="left")],
        "alphas": ["array-like"],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "critic": [HasMethods(["fit", "predict"]), None],
        "cv": [Integers(2, None, closed="left")],
        "measures": [list, tuple, None],
        "random_state": RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def interpolation_realism(
    transformer,
    X,
    y=None,
    *,
    X_reference,
    y_reference=None,
    n_pairs=500,
    alphas=(0.5,),
    classifier=None,
    critic=None,
    cv=3,
    measures=None,
    random_state=0,
):
    """How much the decoded blends of two codes look like real rows.

    ``n_pairs`` pairs of rows of X (of different classes when ``y`` is given)
    are encoded, their codes blended at each of ``alphas`` and decoded
    (``transformer.interpolate``; the *midpoints*), and both ends decoded
    (the *reconstructions*). Three measures follow, each also given for two
    reference sets in place of the midpoints: ``cross_fade`` (the pixel
    blends ``(1 - alpha) x_i + alpha x_j``, what an interpolation that
    learned nothing gives) and ``real`` (the pairs' own rows):

    - ``confidence`` (with ``y_reference``, or a fitted ``classifier``): the
      mean highest class probability of ``classifier`` fitted on
      ``(X_reference, y_reference)``.
      Higher is more class-like; but a classifier can be confident on rows
      unlike any real one (the default one was, on uniform noise, in a
      test), so read it beside the label-free measures.
    - ``nn_ratio`` (label-free): the mean Euclidean distance to the nearest
      row of ``X_reference``, divided by that of the reconstructions. Lower
      is closer to real data; 1 means as close as the reconstructions.
    - ``critic_accuracy`` (label-free): the cross-validated balanced accuracy
      (``cv`` folds) of ``critic``, a fresh classifier, at telling the rows
      from the reconstructions. 0.5 means indistinguishable; lower is better
      down to 0.5 (below it only where rows repeat in both sets, as the
      pairs' own rows against perfect reconstructions would).

    Parameters
    ----------
    transformer : fitted estimator with ``interpolate``
        E.g. a fitted :class:`~skacai.ACAITransformer`.
    X : array-like of shape (n_samples, n_features)
        Rows the pairs are drawn from (held-out rows, typically).
    y : array-like of shape (n_samples,), default=None
        Their labels: pairs are then of different classes.
    X_reference : array-like of shape (n_reference, n_features)
        Real rows: the nearest-neighbour index and the classifier are fitted
        on them (training rows, typically; not the rows of X).
    y_reference : array-like of shape (n_reference,), default=None
        Their labels; ``confidence`` is measured only when given.
    n_pairs : int, default=500
        Number of pairs.
    alphas : array-like of float in (0, 1), default=(0.5,)
        Blending coefficients; the midpoints at all of them are pooled.
    classifier : estimator with ``predict_proba``, default=None
        With ``y_reference``: cloned and fitted on the reference rows (None:
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``).
        Without: a classifier already fitted on real rows, used as it is (to
        score many models against one classifier without refitting it).
    critic : classifier, default=None
        Cloned for each fold. None: ``make_pipeline(StandardScaler(),
        MLPClassifier(max_iter=300, random_state=...))``.
    cv : int, default=3
        Folds of the critic's cross-validation.
    measures : list of str, default=None
        Which of ``"confidence"``, ``"nn_ratio"`` and ``"critic_accuracy"`` to
        measure (None: all three, ``"confidence"`` only with ``y_reference``
        or a fitted ``classifier``).
        The critic costs the most.
    random_state : int, RandomState instance or None, default=0
        Seeds the pairs, the folds and the default critic.

    Returns
    -------
    scores : dict of str to float
        Each of ``measures`` (``"nn_ratio"``, ``"critic_accuracy"`` and, with
        ``y_reference``, ``"confidence"``) for the midpoints; the same names suffixed with
        ``"_cross_fade"`` and ``"_real"`` for the references; and
        ``"reconstruction_mse"`` and ``"midpoint_nn_mse"``, the mean squared
        distance per feature of the reconstructions to their own rows and of
        the midpoints to their nearest reference row (what
        :func:`make_realism_scorer`'s ``"balanced"`` adds up).

    Notes
    -----
    Cost: one ``interpolate`` of ``n_pairs`` pairs at ``len(alphas) + 2``
    coefficients; a brute-force nearest-neighbour search of ``n_pairs *
    (len(alphas) + 2) * 2`` rows against ``X_reference`` (time proportional
    to their product times ``n_features``); the classifier's fit on
    ``X_reference``; and ``cv`` fits of the critic on about ``n_pairs *
    (len(alphas) + 2)`` rows, three times (midpoints, cross-fades, real rows).
    The critics' fits usually dominate; ``measures`` leaves them out.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> from skacai.metrics import interpolation_realism
    >>> X, y = load_digits(return_X_y=True)
    >>> model = ACAITransformer(image_shape=(8, 8), max_iter=2, random_state=0).fit(X[:1000])
    >>> scores = interpolation_realism(model, X[1000:], y[1000:], X_reference=X[:1000],
    ...                                y_reference=y[:1000], n_pairs=100)
    >>> sorted(scores)[:3]
    ['confidence', 'confidence_cross_fade', 'confidence_real']
    """
    X = check_array(X, dtype=np.float64)
    reference = check_array(X_reference, dtype=np.float64)
    if reference.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_reference has {reference.shape[1]} features but X has {X.shape[1]}; "
            "give real rows of the same data."
        )
    alphas = column_or_1d(np.asarray(alphas, dtype=np.float64))
    if alphas.size == 0 or not np.all((alphas > 0) & (alphas < 1)):
        raise ValueError(f"alphas must be one or more numbers in (0, 1); got {alphas.tolist()}.")
    y = _labels_of(y, X.shape[0], "y", "X")
    y_reference = _labels_of(y_reference, reference.shape[0], "y_reference", "X_reference")
    measures = _check_measures(measures, y_reference is not None or classifier is not None)
    rng = np.random.default_rng(
        random_state.randint(2**31) if isinstance(random_state, np.random.RandomState)
        else random_state
    )  # fmt: skip
    first, second = _pairs(X.shape[0], y, n_pairs, rng)
    start, end = X[first], X[second]
    frames = np.asarray(transformer.interpolate(start, end, alphas=[0.0, *alphas, 1.0]), float)
    rows = {
        "midpoint": frames[:, 1:-1].reshape(-1, X.shape[1]),
        "cross_fade": np.vstack([(1 - a) * start + a * end for a in alphas]),
        "real": np.vstack([start, end]),
    }
    reconstructions = np.vstack([frames[:, 0], frames[:, -1]])
    return _realism_scores(
        rows, reconstructions, np.vstack([start, end]), reference, y_reference,
        measures, classifier, critic, cv, rng,
    )  # fmt: skip


def _check_measures(measures, labelled):
    known = ("confidence", "nn_ratio", "critic_accuracy")
    if measures is None:
        return known if labelled else known[1:]
    unknown = [m for m in measures if m not in known]
    if unknown or not measures:
        raise ValueError(f"measures must be one or more of {list(known)}; got {list(measures)}.")
    if "confidence" in measures and not labelled:
        raise ValueError(
            "measures includes 'confidence', which needs y_reference (or a fitted classifier)."
        )
    return tuple(measures)


def _labels_of(y, n_rows, name, rows_name):
    if y is None:
        return None
    y = column_or_1d(y)
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} labels but {rows_name} has {n_rows} rows.")
    return y


def _realism_scores(rows, reconstructions, originals, reference, y_reference, measures,
                    classifier, critic, cv, rng):  # fmt: skip
    from sklearn.base import clone

    seed = int(rng.integers(2**31))
    critic = _default_critic(seed) if critic is None else critic
    recon_distance = _nearest_distance(reconstructions, reference)
    scores = {}
    if "confidence" in measures and y_reference is None:
        fitted = classifier  # fitted by the caller
    elif "confidence" in measures:
        fitted = clone(_default_classifier() if classifier is None else classifier)
        fitted.fit(reference, y_reference)
    for kind in _REALISM_KINDS:
        suffix = "" if kind == "midpoint" else f"_{kind}"
        distance = _nearest_distance(rows[kind], reference)
        if kind == "midpoint":
            scores["midpoint_nn_mse"] = float(np.mean(distance**2) / reference.shape[1])
        if "nn_ratio" in measures:
            scores[f"nn_ratio{suffix}"] = float(distance.mean() / recon_distance.mean())
        if "critic_accuracy" in measures:
            scores[f"critic_accuracy{suffix}"] = _critic_accuracy(
                critic, rows[kind], reconstructions, cv, rng
            )
        if "confidence" in measures:
            scores[f"confidence{suffix}"] = float(fitted.predict_proba(rows[kind]).max(1).mean())
    scores["reconstruction_mse"] = float(np.mean((reconstructions - originals) ** 2))
    return dict(sorted(scores.items()))


_SCORER_MEASURES = {"balanced": "nn_ratio", "nn_ratio": "nn_ratio", "critic": "critic_accuracy"}


class _RealismScorer:
    """A scorer ``scorer(estimator, X, y=None) -> float`` (higher is better); see
    :func:`make_realism_scorer`."""

    def __init__(self, measure, n_pairs, random_state):
        self.measure, self.n_pairs, self.random_state = measure, n_pairs, random_state

    def __repr__(self):
        return (
            f"make_realism_scorer({self.measure!r}, n_pairs={self.n_pairs}, "
            f"random_state={self.random_state})"
        )

    def __call__(self, estimator, X, y=None):
        transformer, X = _interpolating_step(estimator, X)
        X = check_array(X, dtype=np.float64)
        if X.shape[0] < 4:
            raise ValueError(f"a realism score needs at least 4 rows; got {X.shape[0]}.")
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(X.shape[0])
        half = X.shape[0] // 2
        scores = interpolation_realism(
            transformer,
            X[order[:half]],
            X_reference=X[order[half:]],
            n_pairs=self.n_pairs,
            measures=[_SCORER_MEASURES[self.measure]],
            random_state=int(rng.integers(2**31)),
        )
        if self.measure == "balanced":
            return -(scores["reconstruction_mse"] + scores["midpoint_nn_mse"])
        if self.measure == "critic":
            return -abs(scores["critic_accuracy"] - 0.5)
        return -scores["nn_ratio"]


def _interpolating_step(estimator, X):
    """The estimator that interpolates (itself, or the first such step of a Pipeline) and
    X as that step receives it."""
    if hasattr(estimator, "interpolate"):
        return estimator, X
    for index, (_, step) in enumerate(getattr(estimator, "steps", [])):
        if hasattr(step, "interpolate"):
            return step, (estimator[:index].transform(X) if index else X)
    raise TypeError(
        f"{type(estimator).__name__} has no interpolate method and is not a Pipeline "
        "with such a step; a realism score needs an ACAITransformer."
    )


@validate_params(
    {
        "measure": [StrOptions(set(_SCORER_MEASURES))],
        "n_pairs": [Integers(2, None, closed="left")],
        "random_state": [Integers(0, 2**32 - 1, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def make_realism_scorer(measure="nn_ratio", *, n_pairs=200, random_state=0):
    """A scorer of interpolation realism for ``GridSearchCV`` and early stopping.

    The scorer ``scorer(estimator, X, y=None)`` (higher is better; ``y`` is
    ignored) splits the scored rows in two at random: pairs are drawn from
    one half and the other half is the reference of real rows for
    :func:`interpolation_realism`. ``estimator`` is a fitted
    :class:`~skacai.ACAITransformer`, or a Pipeline with one (the steps before
    it transform X first). It serves as ``GridSearchCV(..., scoring=scorer)``
    and as ``ACAITransformer(scoring=scorer)`` for early stopping on
    validation rows.

    Parameters
    ----------
    measure : {"nn_ratio", "balanced", "critic"}, default="nn_ratio"
        - ``"nn_ratio"``: minus the midpoints' ``nn_ratio`` (label-free; it
          does not see how faithful the reconstructions are).
        - ``"balanced"``: minus the sum of the reconstruction error (mean
          squared error per feature) and the midpoints' mean squared distance
          per feature to their nearest real row. It rewards reconstructions
          that are faithful *and* midpoints that are close to real data, in
          the same units, so a decoder that draws one average row for every
          code (perfectly "realistic" by the ratios) loses. The
          reconstruction error can dominate it, so that it picks what the
          estimator's own ``score`` picks.
        - ``"critic"``: minus the distance from 0.5 of the independent
          critic's balanced accuracy at telling midpoints from
          reconstructions (0 is the best; costs ``cv`` classifier fits per
          call).
    n_pairs : int, default=200
        Pairs drawn from the scored rows' first half.
    random_state : int, default=0
        Seeds the split, the pairs and the critic (fixed, so that every
        candidate of a search is scored on the same pairs).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skacai import ACAITransformer
    >>> from skacai.metrics import make_realism_scorer
    >>> X, _ = load_digits(return_X_y=True)
    >>> search = GridSearchCV(
    ...     ACAITransformer(image_shape=(8, 8), max_iter=2, random_state=0),
    ...     {"adversarial_weight": [0.0, 0.5]}, scoring=make_realism_scorer(), cv=2,
    ... ).fit(X[:600])
    >>> search.best_params_["adversarial_weight"] in (0.0, 0.5)
    True
    """
    return _RealismScorer(measure, n_pairs, random_state)
