"""Data sets that ship with skacai or are generated on the fly (NumPy only; no torch).

:func:`make_lines` draws the synthetic lines of the ACAI paper's interpolation
benchmark.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["draw_line", "make_lines"]


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
        Angle of the line in radians.
    image_size : int, default=32
        Height and width of the square image.
    thickness : float, default=2.0
        Width of the line in pixels.

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


def make_lines(n_samples=1000, *, image_size=32, random_state=None):
    """The ACAI paper's synthetic lines: images of a line at a uniform random angle.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.
    image_size : int, default=32
        Height and width of each image (the paper uses 32).
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
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
    if not isinstance(image_size, (int, np.integer)) or image_size < 4:
        raise ValueError(f"image_size must be an int >= 4, got {image_size!r}.")
    angles = check_random_state(random_state).uniform(0, 2 * np.pi, n_samples)
    X = np.stack([draw_line(a, image_size).ravel() for a in angles])
    return X, angles


@functools.lru_cache(maxsize=4)
def reference_lines(image_size=32, n_angles=10_000):
    """The metric's bank: lines at ``linspace(0, 2 pi, n_angles, endpoint=False)``.

    Returns read-only arrays ``(angles, images)`` of shapes ``(n_angles,)`` and
    ``(n_angles, image_size * image_size)``; cached, since drawing them takes a
    second or two.
    """
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    images = np.stack([draw_line(a, image_size).ravel() for a in angles])
    angles.flags.writeable = images.flags.writeable = False
    return angles, images
