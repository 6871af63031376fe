"""Data sets: generated, bundled, or read from files the user has (NumPy only; no torch).

:func:`make_lines` draws the synthetic lines of the ACAI paper's interpolation
benchmark; :func:`load_mnist` reads MNIST from a local file (skacai never
downloads anything); :func:`load_digits_images` gives scikit-learn's bundled
digits as images in [0, 1].
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from numbers import Real
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from skacai._sklearn_compat import RANDOM_STATE, Integers, Interval, validate_params

__all__ = ["draw_line", "load_digits_images", "load_mnist", "make_lines"]

MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
_IDX_MAGIC = {2051: 3, 2049: 1}  # images have 3 dimensions, labels 1
# The smallest image a line is drawn in: from the centre out to radius side / 2 - 1.
MIN_IMAGE_SIZE = 4
_IMAGE_SIZE = [Integers(MIN_IMAGE_SIZE, None, closed="left")]


@validate_params(
    {
        "angle": [Interval(Real, None, None, closed="neither")],
        "image_size": _IMAGE_SIZE,
        "thickness": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def draw_line(angle, image_size=32, thickness=2.0):
    """One image of the lines benchmark: a line from the centre at ``angle``.

    The line is ``thickness`` pixels wide and runs from the image centre
    ``(image_size / 2, image_size / 2)`` out to radius ``image_size / 2 - 1``
    at ``angle`` (radians, counter-clockwise from the positive column axis,
    rows pointing down). It is rasterised by fractional pixel coverage the way
    the paper's official code does it: along the line's major axis, each row
    of pixels adds ``2 * coverage`` where the span ``[s, s + thickness]`` covers
    a pixel, only the first row of the span being weighted by its fractional
    overlap; the image is then shifted by -1 and clipped to ``[-1, 1]``, so the
    background is -1 and the line reaches +1.

    Parameters
    ----------
    angle : float
        Angle of the line in radians (finite).
    image_size : int, default=32
        Height and width of the square image, at least 4.
    thickness : float, default=2.0
        Width of the line in pixels (positive).

    Returns
    -------
    image : ndarray of shape (image_size, image_size)
        Pixel values in ``[-1, 1]``.

    Examples
    --------
    >>> from skacai.datasets import draw_line
    >>> image = draw_line(0.0)
    >>> image.shape, float(image.min()), float(image.max())
    ((32, 32), -1.0, 1.0)
    """
    image = np.zeros((image_size, image_size))
    centre = image_size / 2
    radius = centre - 1
    start = (centre, centre)  # (row, column)
    end = (centre - radius * math.sin(angle), centre + radius * math.cos(angle))
    # Walk along the axis on which the line extends further (rows on ties).
    major = 0 if abs(end[0] - start[0]) >= abs(end[1] - start[1]) else 1
    minor = 1 - major
    (a0, b0), (a1, b1) = (start[major], start[minor]), (end[major], end[minor])
    if a1 < a0:
        (a0, b0), (a1, b1) = (a1, b1), (a0, b0)
    b0, b1 = b0 - thickness / 2, b1 - thickness / 2
    slope = (b1 - b0) / (a1 - a0) if a1 != a0 else 0.0
    first_full_row = math.ceil(a0)
    for row in range(int(a0), math.ceil(a1)):
        row_weight = first_full_row - a0 if row < first_full_row else 1.0
        span_start = b0 + (row - a0 - 0.5) * slope
        span_end = span_start + thickness
        columns = np.arange(math.floor(span_start), math.ceil(span_end))
        coverage = np.minimum(columns + 1, span_end) - np.maximum(columns, span_start)
        if major == 0:
            image[row, columns] += 2 * row_weight * coverage
        else:
            image[columns, row] += 2 * row_weight * coverage
    return np.clip(image - 1, -1, 1)


@validate_params(
    {
        "n_samples": [Integers(1, None, closed="left")],
        "image_size": _IMAGE_SIZE,
        "random_state": RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def make_lines(n_samples=1000, *, image_size=32, random_state=None):
    """The ACAI paper's synthetic lines: images of a line at a uniform random angle.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.
    image_size : int, default=32
        Height and width of each image, at least 4 (the paper uses 32).
    random_state : int, RandomState instance or None, default=None
        Seeds the angles.

    Returns
    -------
    X : ndarray of shape (n_samples, image_size * image_size)
        Flattened images, values in ``[-1, 1]`` (background -1).
    angles : ndarray of shape (n_samples,)
        Each line's angle in radians, uniform on ``[0, 2 pi)``.

    See Also
    --------
    draw_line : Draws one image.
    skacai.metrics.line_interpolation_scores : The benchmark's two scores.

    Examples
    --------
    >>> from skacai.datasets import make_lines
    >>> X, angles = make_lines(5, random_state=0)
    >>> X.shape, angles.shape
    ((5, 1024), (5,))
    """
    angles = check_random_state(random_state).uniform(0, 2 * np.pi, n_samples)
    return _draw_lines(angles, image_size), angles


def _draw_lines(angles, image_size):
    """Flattened line images, one row per angle."""
    return np.stack([draw_line(a, image_size).ravel() for a in angles])


# Checked outside the cache, which would serve reference_lines(32.0) as (32) unchecked.
@validate_params(
    {"image_size": _IMAGE_SIZE, "n_angles": [Integers(1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
@functools.lru_cache(maxsize=4)
def reference_lines(image_size=32, n_angles=10_000):
    """The metric's bank: lines at ``linspace(0, 2 pi, n_angles, endpoint=False)``.

    Returns read-only arrays ``(angles, images)`` of shapes ``(n_angles,)`` and
    ``(n_angles, image_size * image_size)``; cached, since drawing them takes a
    second or two.
    """
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    images = _draw_lines(angles, image_size)
    angles.flags.writeable = images.flags.writeable = False
    return angles, images


@validate_params(
    {"path": [str, os.PathLike], "as_float": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_mnist(path, *, as_float=True):
    """Read MNIST from a file you have: an ``.npz`` or a folder of the original IDX files.

    skacai downloads nothing. ``path`` is either an ``.npz`` file holding the
    arrays ``x_train``, ``y_train``, ``x_test``, ``y_test`` (as
    ``keras.datasets.mnist`` saves them), or a folder holding the four original
    files ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file or the folder of IDX files.
    as_float : bool, default=True
        Return images as float32 in ``[0, 1]``, flattened to
        ``(n, height * width)`` for scikit-learn. False returns the stored
        uint8 arrays unchanged, shaped ``(n, height, width)``.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Images and uint8 labels (60,000 and 10,000 for the real MNIST).

    Raises
    ------
    FileNotFoundError
        When ``path`` (or one of the four IDX files) does not exist; the
        message says what to put where.
    ValueError
        When the file is not MNIST-formatted (missing arrays, a bad IDX header,
        image and label counts that differ).

    Examples
    --------
    >>> from skacai.datasets import load_mnist
    >>> load_mnist("no/such/mnist.npz")
    Traceback (most recent call last):
    ...
    FileNotFoundError: MNIST not found at no/such/mnist.npz. ...
    """
    path = Path(path)
    if path.is_dir():
        missing = [name for name in MNIST_IDX_FILES.values() if not (path / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"MNIST IDX files missing in {path}: {', '.join(missing)}. Put the four "
                f"original files ({', '.join(MNIST_IDX_FILES.values())}) there, or pass "
                "the path of an .npz file with x_train, y_train, x_test, y_test."
            )
        arrays = {key: _read_idx(path / name) for key, name in MNIST_IDX_FILES.items()}
    elif path.exists():
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in MNIST_IDX_FILES if key not in data.files]
            if missing:
                raise ValueError(
                    f"{path} is not an MNIST .npz: it lacks {', '.join(missing)} "
                    f"(it holds {', '.join(data.files) or 'nothing'})."
                )
            arrays = {key: data[key] for key in MNIST_IDX_FILES}
    else:
        raise FileNotFoundError(
            f"MNIST not found at {path}. skacai downloads nothing: put an .npz file "
            "with arrays x_train, y_train, x_test, y_test there (e.g. saved from "
            "keras.datasets.mnist), or pass a folder holding the four original IDX "
            f"files ({', '.join(MNIST_IDX_FILES.values())})."
        )
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"MNIST {split} split: expected images (n, height, width) and labels "
                f"(n,), got {images.shape} and {labels.shape}."
            )
    if as_float:
        for key in ("x_train", "x_test"):
            images = arrays[key]
            arrays[key] = images.reshape(len(images), -1).astype(np.float32) / 255
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def _read_idx(path):
    """An IDX file's array, its header read and checked before its data.

    The data are read up to the size the header announces (plus one byte, to
    tell a longer file), so a small gzip file that would decompress to
    gigabytes costs no more than the array it claims to hold.
    """
    with gzip.open(path, "rb") as f:
        head = f.read(4)
        magic = int.from_bytes(head, "big")
        if len(head) < 4 or magic not in _IDX_MAGIC:
            raise ValueError(f"{path} is not an MNIST IDX file (magic number {magic}).")
        n_dims = _IDX_MAGIC[magic]
        dims = f.read(4 * n_dims)
        shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(n_dims))
        expected = math.prod(shape)
        if len(dims) < 4 * n_dims or expected > _MAX_IDX_BYTES:
            raise ValueError(
                f"{path} is not an MNIST IDX file: its header announces shape {shape}."
            )
        data = f.read(expected + 1)
    if len(data) != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: its header announces {expected} bytes "
            f"of data, it holds {len(data) if len(data) <= expected else 'more'}."
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


# MNIST's largest IDX file holds 47 MB; anything beyond 1 GiB is not MNIST.
_MAX_IDX_BYTES = 2**30


@validate_params({}, prefer_skip_nested_validation=True)
def load_digits_images():
    """scikit-learn's bundled digits as images in [0, 1], ready for ACAI.

    Returns
    -------
    X : ndarray of shape (1797, 64), float32
        Flattened 8x8 images (``image_shape=(1, 8, 8)``), pixel values / 16.
    y : ndarray of shape (1797,)
        Digit labels.

    Examples
    --------
    >>> from skacai.datasets import load_digits_images
    >>> X, y = load_digits_images()
    >>> X.shape, float(X.min()), float(X.max())
    ((1797, 64), 0.0, 1.0)
    """
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y
