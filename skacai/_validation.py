"""Checks of user input that need only NumPy: shared by the estimator, the data sets,
the plots and the command line.

Every check raises a ValueError that names what was wrong and what to pass instead.
"""

from __future__ import annotations

import math
import os
import sys
from decimal import Decimal
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array

from skacai._sklearn_compat import check_sample_weight

# The dtypes the estimator computes in; other real input is converted to float64.
FLOAT_DTYPES = (np.float64, np.float32)
# Rows per chunk of all_finite: bounds its temporary boolean array.
_FINITE_CHUNK = 4096


_DAMAGED = (
    "the sparse matrix is damaged: {}; its arrays contradict each other or its shape "
    "(an edited file, or arrays changed after it was built) and reading it could corrupt "
    "memory: rebuild it from valid arrays, e.g. with "
    "scipy.sparse.csr_matrix((data, indices, indptr), shape=shape), and check it with "
    "X.check_format()"
)


def check_sparse_structure(X):
    """ValueError unless the arrays of the sparse matrix X agree with each other and with
    its shape: index arrays of integers, in range, ``indptr`` monotone and consistent with
    the stored values (CSR, CSC, BSR), coordinates in range (COO), one row of ``data`` per
    signed offset (DIA), one value per column index and columns in range (LIL). Converting X to
    CSR and every other use of X trust these.

    Reads X's stored arrays once (cost proportional to X's stored size, twice for LIL);
    X is never modified. DOK matrices, whose keys scipy checks, are not checked.
    """
    if len(X.shape) != 2:
        return  # scikit-learn's check refuses it
    n_rows, n_columns = X.shape
    if not all(is_int(n) and 0 <= n < 2**63 for n in X.shape):  # scipy's int64 indexing
        raise ValueError(_DAMAGED.format(f"its shape {X.shape} is not two counts below 2**63"))
    if X.format in ("csr", "bsr"):
        rows, columns = X.blocksize if X.format == "bsr" else (1, 1)
        names = ("block row", "block column") if X.format == "bsr" else ("row", "column")
        _check_compressed(X, n_rows // rows, n_columns // columns, *names)
        if X.format == "bsr" and X.data.shape != (len(X.indices), rows, columns):
            raise ValueError(_DAMAGED.format(f"its blocks have shape {X.data.shape}"))
    elif X.format == "csc":
        _check_compressed(X, n_columns, n_rows, "column", "row")
    elif X.format == "coo":
        _check_indices(X.row, n_rows, "row", len(X.data))
        _check_indices(X.col, n_columns, "column", len(X.data))
    elif X.format == "dia":
        _check_integers(X.offsets, "offsets")
        if X.offsets.dtype.kind != "i":  # scipy counts DIA values with the offsets' type
            raise ValueError(
                _DAMAGED.format(f"its offsets are {X.offsets.dtype}, not signed integers")
            )
        if X.data.ndim != 2 or X.data.shape[0] != len(X.offsets):
            raise ValueError(
                _DAMAGED.format(f"{len(X.offsets)} offsets for data of shape {X.data.shape}")
            )
    elif X.format == "lil":
        if len(X.rows) != n_rows or len(X.data) != n_rows:
            raise ValueError(_DAMAGED.format(f"{len(X.rows)} rows of columns for {n_rows} rows"))
        if any(
            len(columns) != len(values) for columns, values in zip(X.rows, X.data, strict=True)
        ):
            raise ValueError(_DAMAGED.format("a row holds more column indices than values"))
        check_sparse_structure(X.tocsr())  # the column indices


def _check_integers(array, name):
    if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype.kind not in "iu":
        found = getattr(array, "dtype", type(array).__name__)
        raise ValueError(_DAMAGED.format(f"its {name} are {found}, not a 1-D integer array"))


def _check_indices(index, size, name, n_values):
    """``index``, one per stored value, holds integers in ``[0, size)``."""
    _check_integers(index, f"{name} indices")
    if len(index) != n_values:
        raise ValueError(_DAMAGED.format(f"{len(index)} {name} indices for {n_values} values"))
    wrong = np.flatnonzero((index < 0) | (index >= size))
    if len(wrong):
        raise ValueError(
            _DAMAGED.format(
                f"{name} index {index[wrong[0]]} at position {wrong[0]} is outside the "
                f"matrix, which has {size} {name}s"
            )
        )


def _check_compressed(X, n_major, n_minor, major, minor):
    """CSR / CSC / BSR: ``indptr`` has one entry per ``major`` + 1 and rises from 0 to at most
    the number of stored values; each index is a ``minor`` of the matrix."""
    indptr = X.indptr  # compared, never subtracted: np.diff wraps around on unsigned ints
    _check_integers(indptr, "indptr")
    _check_indices(X.indices, n_minor, minor, len(X.data))
    if len(indptr) != n_major + 1:
        raise ValueError(
            _DAMAGED.format(f"its indptr holds {len(indptr)} entries, not {n_major} {major}s + 1")
        )
    if indptr[0] != 0 or indptr[-1] > len(X.indices) or np.any(indptr[1:] < indptr[:-1]):
        raise ValueError(
            _DAMAGED.format(
                f"its indptr must rise from 0 to at most {len(X.indices)} (the stored "
                f"values) and never fall; it runs from {indptr[0]} to {indptr[-1]}"
            )
        )


def csr_rows(X):
    """X (any scipy sparse matrix or array) as CSR with sorted, unique indices, whose rows
    the inference and training batches read without scanning the whole matrix.

    CSR input in that form is returned as it is (never modified); CSC and other
    formats are converted, and CSR with duplicate or unsorted indices copied: one
    copy of the stored values, never a dense array.
    """
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def is_int(value):
    """An int or NumPy integer, not a bool (Python counts True as 1)."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def sample_weights(sample_weight, X):
    """X's rows with positive weight and their weights, divided by the largest (only
    their ratios matter, at any scale); None for weights that are all equal (they
    change nothing, so training takes the unweighted path exactly)."""
    if sample_weight is None:
        return X, None
    try:
        weights = check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    except ValueError as error:
        raise ValueError(
            f"sample_weight is invalid ({error}): pass one finite, non-negative weight "
            f"per row of X ({X.shape[0]} rows), not all zero, or None."
        ) from None
    if np.any((weights > 0) & (weights < np.finfo(np.float64).tiny)):
        raise ValueError(
            "sample_weight is invalid: it holds weights below the smallest normal float64 "
            "(2.2e-308), whose few significant digits (5e-324 has one) do not keep the "
            "ratios you computed; multiply the weights by a constant (only their ratios "
            "matter)."
        )
    weights = weights / weights.max()  # only the ratios matter: no sum overflows
    keep = weights > 0
    if not keep.all():
        X, weights = X[keep], weights[keep]
    return X, (None if np.all(weights == weights[0]) else weights)


def finite_real(value):
    """``value`` as a float if it is a finite real number of any type a user may compute
    (int, float, NumPy and 0-d array scalars, Fraction, Decimal, a 0-d tensor); None
    otherwise (a bool, a complex number, an array of several values, NaN, an infinity,
    an int beyond float's range)."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # 0-d array / tensor
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, Decimal)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def check_image_shape(image_shape, n_features, subject):
    """``image_shape`` as ``(channels, height, width)``, checked against ``n_features``.

    ``subject`` names what has ``n_features`` features in the error ("X", "the model").
    """
    shape = tuple(image_shape) if np.ndim(image_shape) == 1 else ()
    if not (len(shape) in (2, 3) and all(is_int(s) and s > 0 for s in shape)):
        raise ValueError(
            "image_shape must be (channels, height, width) or (height, width) "
            f"with positive ints, got {image_shape!r}."
        )
    shape = tuple(int(s) for s in ((1, *shape) if len(shape) == 2 else shape))
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} describes {math.prod(shape)} values per sample "
            f"but {subject} has {n_features} features. Give the shape of one image, with "
            "channels * height * width == n_features."
        )
    return shape


def interpolation_alphas(n_steps, alphas):
    """The mixing coefficients of ``interpolate``: ``n_steps`` evenly spaced, or ``alphas``."""
    if alphas is None:
        n_steps = 10 if n_steps is None else n_steps
        if not is_int(n_steps) or n_steps < 2:
            raise ValueError(f"n_steps must be an int >= 2 (both ends), got {n_steps!r}.")
        return np.linspace(0.0, 1.0, n_steps)
    if n_steps is not None:
        raise ValueError("Give either n_steps or alphas to interpolate, not both.")
    alphas = check_array(
        alphas,
        ensure_2d=False,
        ensure_min_samples=0,
        ensure_min_features=0,
        dtype=np.float64,
        input_name="alphas",
    )
    if alphas.ndim != 1:
        raise ValueError(f"alphas must be 1-D, got shape {alphas.shape}.")
    if alphas.size == 0:
        raise ValueError("alphas must hold at least one mixing coefficient, got none.")
    if np.any((alphas < 0) | (alphas > 1)):
        raise ValueError(
            "alphas must lie in [0, 1]: 0 decodes X_start's code, 1 X_end's; "
            f"got values from {alphas.min()} to {alphas.max()}."
        )
    return alphas


def checked(result, method, dtype):
    """``result``, or a ValueError if an overflow left infinities or NaN in it."""
    if all_finite(result):
        return result
    if dtype == np.float32:
        hint = "float32 input is computed in float32, whose range ends near 3.4e38: pass float64"
    else:
        hint = (
            "bring the input closer to the training data's scale (where the training "
            "data themselves come near float64's largest number, 1.8e308, their own "
            "reconstructions can overflow: divide X by a constant before fitting)"
        )
    raise ValueError(
        f"{method} overflowed: its input lies so far outside the range of the training "
        f"data that the result would hold infinities or NaN; {hint}."
    )


def all_finite(array):
    """``np.isfinite(array).all()`` without a boolean array the size of ``array``."""
    array = np.asarray(array)
    if array.ndim == 0:
        return bool(np.isfinite(array))
    return all(
        np.isfinite(array[start : start + _FINITE_CHUNK]).all()
        for start in range(0, array.shape[0], _FINITE_CHUNK)
    )


def validation_weights(sample_weight_val, X_val, scoring):
    """``(X_val, weights)``: ``fit``'s validation rows with positive weight and their
    weights (None: equal), checked as ``sample_weight`` is; ``scoring``: the
    estimator's parameter (a callable sees X_val only, so weights are refused)."""
    if sample_weight_val is None:
        return X_val, None
    if X_val is None:
        raise ValueError(
            "sample_weight_val is given without X_val: it weights the rows of X_val. "
            "Pass X_val too, or leave sample_weight_val out (the held-out rows of a "
            "weighted fit are weighted by sample_weight)."
        )
    if scoring is not None:
        raise ValueError(
            f"sample_weight_val weights the default score (the reconstruction error), "
            f"but scoring={scoring!r} is given, which sees X_val only: weight the "
            "rows inside scoring, or leave sample_weight_val out."
        )
    try:
        return sample_weights(sample_weight_val, X_val)
    except ValueError as error:
        message = str(error).replace("sample_weight ", "sample_weight_val ", 1)
        raise ValueError(message.replace("row of X ", "row of X_val ")) from None


def check_X_val(X_val, early_stopping, validate):
    """``fit``'s X_val checked by ``validate`` as X is (None if not given)."""
    if X_val is None:
        return None
    if not early_stopping:
        raise ValueError(
            "X_val is given to fit while early_stopping=False: X_val is the validation "
            "data of early stopping. Set early_stopping=True, or leave X_val out."
        )
    try:
        return validate(X_val)
    except ValueError as error:
        raise ValueError(f"X_val is invalid: {error}") from error


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel():
    """``warnings.warn``'s ``stacklevel`` for the function that calls this one, such
    that the warning points at the code that called skacai: the first frame outside
    the package and past scikit-learn's ``_fit_context`` wrapper, which ``fit`` and
    ``partial_fit`` run under. Counted, not written down, so that moving code between
    skacai's modules cannot make a warning point inside them."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _inside_skacai(frame.f_code):
        frame, level = frame.f_back, level + 1
    return level


def _inside_skacai(code):
    path = code.co_filename
    in_wrapper = code.co_name == "wrapper" and path.endswith(os.path.join("sklearn", "base.py"))
    return path.startswith(_PACKAGE) or in_wrapper
