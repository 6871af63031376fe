"""The input scaling: statistics fitted on the training data, and X in the networks' units."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse

from skacai._validation import user_stacklevel

# scaling="auto" scales all features by one number when the median feature's range
# is at least this share of the data's overall range (1.0 for MNIST's and the
# digits' pixels; 0.002 for wine, 0.0001 for breast cancer, 0.38 for iris).
SHARED_RANGE = 0.5
# The scalings that subtract an offset: they would turn sparse X into a dense array.
CENTRING = ("global", "feature", "minmax")


def refuse_centring(scaling, fitted=None):
    """ValueError for training on sparse X with a scaling that centres it: ``scaling``
    in a first fit; when continuing one, ``fitted`` (the fitted model): a fitted
    ``mean`` other than zero, or the paper's padding of conv networks."""
    if fitted is None and scaling not in CENTRING:
        return
    if fitted is None:
        what = f"scaling={scaling!r}"
    elif np.any(fitted.mean != 0) or fitted.spec.loss_on_padding:
        what = "The scaling fixed by this model's first fit (its mean_ is not zero)"
    else:
        return
    raise ValueError(
        f"{what} centres X (subtracts an offset from every value), which would turn "
        "sparse X into a dense array. Train on sparse X with scaling=None (what "
        "scaling='auto' picks for sparse X), and scale it beforehand where needed with "
        "a scaler that keeps its zeros, such as sklearn.preprocessing.MaxAbsScaler."
    )


def resolve(scaling, X, images):
    """``scaling`` with ``"auto"`` resolved for the training data X.

    ``"global"`` for images and for features that share one range, as pixels
    do: the median feature's range (max - min, over the features that vary) is
    at least half of X's overall range. ``"feature"`` otherwise: columns on
    unrelated scales. None for sparse X, which centring would make dense.
    Never ``"minmax"``.
    """
    if scaling != "auto":
        return scaling
    if sparse.issparse(X):
        return None
    if images:
        return "global"
    return "global" if shared_range(X) >= SHARED_RANGE else "feature"


def shared_range(X):
    """The median range (max - min) of X's varying features, over X's overall range.

    1 when most features span the whole range of the data (pixels); near 0 when
    a few columns on large scales dominate it (raw tabular data). 1 for data
    without spread (nothing to choose between).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        low, high = X.min(axis=0), X.max(axis=0)
        ranges = (high / 2 - low / 2)[high > low]  # halved: finite for any finite X
        total = high.max() / 2 - low.min() / 2
    if ranges.size == 0 or not total > 0:
        return 1.0
    return float(np.median(ranges / total))


def statistics(X, scaling, weights=None):
    """``mean_`` and ``scale_`` for ``scaling``; ``scale_`` is 0 where the spread is none.

    ``weights`` (positive, one per row, or None) weight the means and standard
    deviations; ``"minmax"`` uses the range of the rows, whatever their weights.

    A spread counts as none when it is within rounding error of the values'
    magnitude (scikit-learn's ``StandardScaler`` rule), never by an absolute
    threshold, so data of any magnitude down to the smallest normal float64
    scales alike. ``"feature"`` judges each feature by its own spread;
    ``"global"`` and ``"minmax"`` have one spread for all features.
    """
    n_samples, n_features = X.shape
    if scaling is None:
        return np.zeros(n_features), np.ones(n_features)
    X = X.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):  # checked below
        if scaling == "minmax":
            # Halved before adding, so that the midpoint of any finite range is finite.
            low, high = X.min(), X.max()
            mean = np.full(n_features, low / 2 + high / 2)
            std = np.full(n_features, high / 2 - low / 2)
            center = np.abs(mean)
        else:
            mean, std = _column_moments(X, weights)
            center = np.abs(mean)
            if scaling == "global":
                # The root mean square of the stds, computed without squaring tiny stds
                # to zero or huge ones to infinity.
                peak = std.max()
                pooled = peak * np.sqrt(np.mean(np.square(std / peak))) if peak > 0 else 0.0
                std = np.full(n_features, pooled)
                center = np.full(n_features, center.max())
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError(
            f"scaling={scaling!r} cannot scale X: its mean or spread overflows float64 "
            "(values near 1.8e308). Divide X by a constant first."
        )
    constant = _no_spread(std, center, n_samples)
    tiny = np.finfo(np.float64).tiny
    if np.any(~constant & (std < tiny)):
        warnings.warn(
            f"X varies by less than the smallest normal float64 ({tiny:.3g}) "
            f"(scaling={scaling!r}), where numbers lose precision: its codes will not "
            "match those of the same data at a larger scale. Multiply X by a constant "
            "(e.g. 1e300) first.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return mean, np.where(constant, 0.0, std)


def _column_moments(X, weights=None):
    """Per-column (weighted) mean and standard deviation, free of under- and overflow.

    Columns whose values are so small that their squares underflow (below
    about 1e-154), or so large that they overflow, are divided by their
    largest magnitude first; other data take NumPy's direct path.
    """
    low, high = X.min(axis=0), X.max(axis=0)
    peak = np.maximum(-low, high)  # max |x| without a copy of X
    if np.all((peak == 0) | ((peak > 1e-150) & (peak < 1e150))):
        mean, std = _moments(X, weights)
    else:
        peak = np.where(peak > 0, peak, 1.0)
        unit_mean, unit_std = _moments(X / peak, weights)
        mean, std = peak * unit_mean, peak * unit_std
    # A constant column's mean is its value exactly (a sum would round it).
    return np.where(low == high, high, mean), np.where(low == high, 0.0, std)


def _moments(X, weights):
    """Column means and standard deviations, weighted by the rows' ``weights`` if given."""
    if weights is None:
        return X.mean(axis=0), X.std(axis=0)
    mean = np.average(X, axis=0, weights=weights)
    return mean, np.sqrt(np.average(np.square(X - mean), axis=0, weights=weights))


def _no_spread(std, center, n_samples):
    """Whether a spread is within rounding error of nothing (``StandardScaler``'s rule,
    ``var <= n eps var + (n eps mean)**2``, in standard deviations so that nothing
    squares to zero)."""
    eps = np.finfo(np.float64).eps
    return std * (1.0 - np.sqrt(n_samples * eps)) <= n_samples * eps * center


def divisor(scale):
    """``scale_`` with 1 for features without spread (decoded as their ``mean_``)."""
    return np.where(scale > 0, scale, 1.0)


def scale_in(X, mean, divisor):
    """The scaling applied: ``(X - mean) / divisor`` (NumPy arrays or torch tensors)."""
    return (X - mean) / divisor


def scale_out(Y, mean, scale):
    """The scaling undone: ``Y * scale + mean`` (NumPy arrays or torch tensors)."""
    return Y * scale + mean


@dataclass(frozen=True, eq=False)
class Scaling:
    """The fitted input scaling: ``(X - mean) / divisor`` on the way into the networks,
    ``Y * scale + mean`` on the way out (``divisor``: ``scale`` with 1 for features
    without spread, which decode as their ``mean``)."""

    mean: np.ndarray  # (n_features,)
    scale: np.ndarray  # (n_features,)

    @property
    def divisor(self):
        return divisor(self.scale)

    def forward(self, X, parameter=None):
        """X scaled, in float32 for training; ValueError where float32 overflows
        (the message names the ``scaling`` ``parameter``)."""
        return to_float32(X, self.mean, self.scale, parameter)

    def apply(self, X):
        """X scaled in its own precision (inference)."""
        return scale_in(X, self.mean, self.divisor)

    def inverse(self, Y):
        """Scaled values back in the input's units."""
        return scale_out(Y, self.mean, self.scale)


def to_float32(X, mean, scale, scaling):
    """X scaled and in float32 for training; ValueError where float32 overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = scale_in(X, mean, divisor(scale)).astype(np.float32)
    if not np.isfinite(scaled).all():
        raise _overflow(scaling)
    return scaled


def check_sparse_float32(X, mean, scale, scaling):
    """ValueError where the CSR matrix X scaled overflows float32, as :func:`to_float32`
    raises, without a dense copy: its stored values, and the scaled zero of the
    columns that hold implicit zeros."""
    columns = X.indices
    with np.errstate(over="ignore", invalid="ignore"):
        stored = scale_in(X.data, mean[columns], divisor(scale)[columns]).astype(np.float32)
        zeros = scale_in(0.0, mean, divisor(scale)).astype(np.float32)
    implicit = np.bincount(columns, minlength=X.shape[1]) < X.shape[0]
    if not (np.isfinite(stored).all() and np.isfinite(zeros[implicit]).all()):
        raise _overflow(scaling, sparse_input=True)


def _overflow(scaling, sparse_input=False):
    """The ValueError for X beyond float32's range once scaled."""
    if scaling is None and sparse_input:
        hint = "rescale X (e.g. with sklearn.preprocessing.MaxAbsScaler, which keeps it sparse)"
    elif scaling is None:
        hint = "rescale X (e.g. divide it by a constant) or use scaling='global'"
    else:
        hint = (
            "X is on a vastly larger scale than the data that fixed mean_ and "
            "scale_ (the first fit or partial_fit); rescale X or fit anew"
        )
    return ValueError(
        f"X has values beyond float32's range (about 3.4e38) after scaling "
        f"(scaling={scaling!r}), and training runs in float32: {hint}."
    )


class CodeMap:
    """A post-processing of the codes: an invertible map fitted on the training codes
    after training. ``transform`` returns ``apply(encoder(X))``; ``inverse_transform``
    and ``interpolate`` decode ``invert(codes)``.

    A subclass lists its fitted arrays as dataclass fields (float64) and writes its
    map once, in :meth:`forward` and :meth:`backward`, with operations that NumPy
    arrays and torch tensors share: inference applies them in float64, exported
    graphs in float32 (:meth:`module`). Adding one is a subclass here and an entry in
    :data:`CODE_MAPS`, and the estimator's boolean parameter that turns it on (its
    ``parameter``): the fitted model, inference, export, model files and pickles
    read the registry.
    """

    name = ""  # model files' tensor prefix ("NAME.FIELD"); pickles keep it as "_NAME"
    parameter = ""  # the estimator's boolean parameter that turns it on
    flag = ""  # model files' true-or-false field: whether the model has the map

    @classmethod
    def fit(cls, codes, weights=None):
        """The map fitted on ``codes`` (rows weighted by ``weights`` if given)."""
        raise NotImplementedError

    @staticmethod
    def forward(codes, *arrays):
        """Raw codes -> mapped codes, given the fields' arrays in order."""
        raise NotImplementedError

    @staticmethod
    def backward(codes, *arrays):
        """Mapped codes -> raw codes: :meth:`forward`'s inverse."""
        raise NotImplementedError

    @classmethod
    def shapes(cls, n_components):
        """``(name, shape)`` of the arrays that model files keep, in the fields' order."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays):
        """The map of ``arrays`` (in :meth:`shapes`' order), read from a file:
        ValueError (what is wrong) where they cannot be this map's."""
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError(f"the saved {cls.name} holds non-finite values")
        return cls(*arrays)

    def arrays(self):
        """``(name, array)`` for :meth:`shapes`' names."""
        return tuple((name, getattr(self, name.split(".", 1)[1])) for name, _ in self.shapes(0))

    def apply(self, codes):
        """Raw codes -> mapped codes, in the codes' dtype (computed in float64)."""
        mapped = self.forward(np.asarray(codes, np.float64), *self._values())
        return mapped.astype(codes.dtype, copy=False)

    def invert(self, mapped):
        """Mapped codes -> raw codes, in their dtype (computed in float64)."""
        codes = self.backward(np.asarray(mapped, np.float64), *self._values())
        return codes.astype(mapped.dtype, copy=False)

    def _values(self):
        return [array for _, array in self.arrays()]

    def module(self, direction):
        """The map as a float32 ``torch.nn.Module`` for exported graphs: ``"forward"``
        (after the encoder) or ``"backward"`` (before the decoder)."""
        return CodeMapModule(getattr(self, direction), self.arrays())

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        pairs = zip(self.arrays(), other.arrays(), strict=True)
        return all(np.array_equal(a, b) for (_, a), (_, b) in pairs)

    __hash__ = None


class CodeMapModule(torch.nn.Module):
    """A code map's ``forward`` or ``backward`` in an exported graph, its arrays held
    as float32 buffers named after the map's fields."""

    def __init__(self, function, arrays):
        super().__init__()
        self.function, self.names = function, tuple(n.split(".", 1)[1] for n, _ in arrays)
        for name, (_, array) in zip(self.names, arrays, strict=True):
            values = np.ascontiguousarray(array, dtype=np.float32)
            self.register_buffer(name, torch.from_numpy(values))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.function(codes, *(getattr(self, name) for name in self.names))


@dataclass(frozen=True, eq=False)
class Whitening(CodeMap):
    """The codes' whitening (``whiten=True``): ``(codes - mean) @ components.T / std``.

    ``components`` holds the principal axes of the training codes as rows
    (largest variance first) and ``std`` their standard deviations, so the
    whitened training codes have zero mean and unit variance along every axis,
    as ``PCA(whiten=True)``'s. The map is affine and invertible, so that
    blending whitened codes and blending raw codes decode alike.
    """

    mean: np.ndarray  # (n_components,)
    components: np.ndarray  # (n_components, n_components), orthonormal rows
    std: np.ndarray  # (n_components,), positive

    name = "whitening"
    parameter = "whiten"
    flag = "whitened"

    @classmethod
    def fit(cls, codes, weights=None):
        """The whitening of ``codes`` (rows weighted by ``weights`` if given).

        Axes along which the codes do not vary (or barely: below ``1e-6`` of
        the largest standard deviation) keep that floor as their scale, so the
        map stays invertible; a single row gives the identity around it.
        """
        codes = np.asarray(codes, dtype=np.float64)
        mean = np.average(codes, axis=0, weights=weights)
        centred = codes - mean
        if codes.shape[0] < 2:
            k = codes.shape[1]
            return cls(mean, np.eye(k), np.ones(k))
        w = np.ones(codes.shape[0]) if weights is None else np.asarray(weights, np.float64)
        covariance = (centred * (w / w.sum())[:, None]).T @ centred
        variances, axes = np.linalg.eigh(covariance)
        order = np.argsort(variances)[::-1]
        components = axes[:, order].T
        # A fixed sign per axis (its largest entry positive), as scikit-learn's PCA.
        signs = np.sign(components[np.arange(len(order)), np.abs(components).argmax(1)])
        components *= np.where(signs == 0, 1.0, signs)[:, None]
        std = np.sqrt(np.clip(variances[order], 0.0, None))
        floor = 1e-6 * std.max() if std.max() > 0 else 1.0
        return cls(mean, components, np.maximum(std, floor))

    @staticmethod
    def forward(codes, mean, components, std):
        return (codes - mean) @ components.T / std

    @staticmethod
    def backward(white, mean, components, std):
        return (white * std) @ components + mean

    @classmethod
    def shapes(cls, n_components):
        k = n_components
        return (
            ("whitening.mean", (k,)),
            ("whitening.components", (k, k)),
            ("whitening.std", (k,)),
        )

    @classmethod
    def from_arrays(cls, arrays):
        whitening = super().from_arrays(arrays)
        if (whitening.std <= 0).any():
            raise ValueError("the saved whitening holds non-positive values")
        return whitening


# The code maps, in the order transform applies them (inverse_transform undoes them
# in reverse); each is fitted on the codes that the ones before it return.
CODE_MAPS = (Whitening,)


def fit_code_maps(params, encode, weights=None):
    """The code maps that ``params`` (the estimator's) turn on, fitted in order on the
    training codes (``encode()`` computes them, once, where a map is on)."""
    fitted, codes = [], None
    for code_map in CODE_MAPS:
        if params[code_map.parameter]:
            codes = encode() if codes is None else fitted[-1].apply(codes)
            fitted.append(code_map.fit(codes, weights))
    return tuple(fitted)


def apply_code_maps(code_maps, codes):
    """Raw codes -> the codes that ``transform`` returns."""
    for code_map in code_maps:
        codes = code_map.apply(codes)
    return codes


def invert_code_maps(code_maps, codes):
    """The codes that ``transform`` returns -> raw codes."""
    for code_map in reversed(code_maps):
        codes = code_map.invert(codes)
    return codes


def code_maps_state(code_maps):
    """``{name: {array name: array}}``: what state dicts keep of the code maps."""
    return {code_map.name: dict(code_map.arrays()) for code_map in code_maps}


def code_maps_from_state(state):
    """The code maps a :func:`code_maps_state` describes, in :data:`CODE_MAPS`' order:
    ValueError where a name is unknown or its arrays cannot be its map's."""
    known = {code_map.name: code_map for code_map in CODE_MAPS}
    unknown = sorted(set(state) - set(known))
    if unknown:
        raise ValueError(f"unknown code maps {unknown} (this skacai knows {sorted(known)})")
    return tuple(
        known[name].from_arrays(list(state[name].values())) for name in known if name in state
    )
