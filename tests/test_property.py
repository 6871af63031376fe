"""Property-based tests: arbitrary arrays either get a documented error or a finite result.

Random shapes (0-6 rows and columns, 1-D and 3-D), dtypes (floats of every width,
ints, bools, complex numbers, strings, objects) and values (NaN, infinities, huge
and subnormal floats) go to fit, partial_fit and every inference method.
Each call must either raise one of ``ERRORS`` or return a finite result of the
documented shape and dtype, and a failed call must leave the model unchanged.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import skacai
from skacai import ACAITransformer

# scikit-learn's finiteness check sums the input, which warns on inf - inf inside NumPy.
pytestmark = pytest.mark.filterwarnings(
    "ignore:invalid value encountered in reduce:RuntimeWarning:numpy"
)

ERRORS = (ValueError, TypeError)  # the documented errors for bad input
DIVERGED = "losses or weights became non-finite"
SKACAI = Path(skacai.__file__).parent
N_FEATURES = 4
N_COMPONENTS = 2
PARAMS = {"hidden_layer_sizes": (8,), "max_iter": 2, "batch_size": 4, "random_state": 0}
FEW = settings(max_examples=60, deadline=None)
MANY = settings(max_examples=150, deadline=None)

# Repeated entries are drawn more often: the numeric and the well-shaped cases are
# the ones that reach the networks.
DTYPES = [
    np.float16,
    np.float32,
    np.float32,
    np.float64,
    np.float64,
    np.float64,
    np.int8,
    np.int64,
    np.uint16,
    np.bool_,
    np.complex64,
    np.complex128,
    np.dtype("U3"),
    object,
]
OBJECTS = st.one_of(
    st.floats(),
    st.integers(-(10**20), 10**20),
    st.text(max_size=3),
    st.none(),
    st.complex_numbers(),
)


def shapes(n_columns):
    """Mostly 2-D with the right number of columns; also other widths, 1-D and 3-D."""
    rows = st.integers(0, 6)
    return st.sampled_from(["right", "right", "right", "2-D", "1-D", "3-D"]).flatmap(
        lambda kind: {
            "right": st.tuples(rows, st.just(n_columns)),
            "2-D": st.tuples(rows, st.integers(0, 6)),
            "1-D": st.tuples(rows),
            "3-D": st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
        }[kind]
    )


@st.composite
def arrays(draw, n_columns):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(shapes(n_columns))
    if dtype is object:
        return draw(hnp.arrays(object, shape, elements=OBJECTS))
    return draw(hnp.arrays(dtype, shape))


def moderate_arrays(n_columns):
    """Valid input: 2-D, the right width, finite values with |x| <= 1e6."""
    dtype = st.sampled_from([np.float32, np.float64, np.int32])
    shape = st.tuples(st.integers(1, 6), st.just(n_columns))
    return dtype.flatmap(
        lambda dt: hnp.arrays(
            dt,
            shape,
            elements=(
                st.integers(-(10**6), 10**6)
                if np.issubdtype(dt, np.integer)
                else st.floats(-1e6, 1e6, width=np.dtype(dt).itemsize * 8)
            ),
        )
    )


VALID_ALPHAS = st.lists(st.floats(0, 1), min_size=1, max_size=4)
ANY_ALPHAS = st.lists(st.one_of(st.floats(-0.5, 1.5), st.just(np.nan)), max_size=4)
STEPS = st.one_of(
    st.fixed_dictionaries({}),
    st.fixed_dictionaries({}),
    st.fixed_dictionaries({"n_steps": st.integers(2, 5)}),
    st.fixed_dictionaries({"alphas": VALID_ALPHAS}),
    st.fixed_dictionaries(
        {"n_steps": st.one_of(st.integers(-1, 1), st.floats(0, 5), st.booleans())}
    ),
    st.fixed_dictionaries({"alphas": ANY_ALPHAS}),
    st.fixed_dictionaries({"n_steps": st.integers(2, 4), "alphas": VALID_ALPHAS}),
)


def out_dtype(X):
    """The documented output dtype: float32 for float32 input, float64 otherwise."""
    return np.float32 if np.asarray(X).dtype == np.float32 else np.float64


def points_inside(filename):
    """Whether a warning points inside skacai, or at scikit-learn's ``_fit_context``
    wrapper that ``fit`` and ``partial_fit`` run under, rather than at their caller."""
    path = Path(filename)
    return path.is_relative_to(SKACAI) or path.parts[-2:] == ("sklearn", "base.py")


def attempt(call):
    """``(call(), its warnings)``, or ``(None, [])`` after one of the documented errors.

    Fails if a warning comes from inside skacai (e.g. a NumPy overflow that skacai
    should have caught); its own warnings point at the caller (:func:`points_inside`).
    Records the outcome for ``pytest --hypothesis-show-statistics``.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
    except ERRORS as error:
        event(f"{type(error).__name__}: {str(error).splitlines()[0][:60]}")
        return None, []
    assert [str(w.message) for w in caught if points_inside(w.filename)] == []
    diverged = any(DIVERGED in str(w.message) for w in caught)
    event("diverged, rolled back" if diverged else "returned a result")
    return result, caught


@pytest.fixture(scope="module")
def reference():
    return np.random.default_rng(1).normal(size=(8, N_FEATURES))


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


@pytest.fixture(scope="module")
def model():
    """The fitted model that the inference properties share (they must not change it)."""
    X = np.random.default_rng(0).normal(size=(40, N_FEATURES))
    return fit_quietly(ACAITransformer(N_COMPONENTS, **PARAMS), X)


@pytest.fixture(scope="module")
def unchanged(model, reference):
    """Checks that the shared model still encodes the reference input as at the start."""
    codes = model.transform(reference)

    def check():
        np.testing.assert_array_equal(model.transform(reference), codes)

    return check


def assert_finite(result, shape, dtype):
    assert result.shape == shape
    assert result.dtype == dtype
    assert np.all(np.isfinite(result))


@MANY
@given(X=arrays(N_FEATURES))
def test_transform_and_score_samples(model, unchanged, X):
    codes, _ = attempt(lambda: model.transform(X))
    if codes is not None:
        assert_finite(codes, (X.shape[0], N_COMPONENTS), out_dtype(X))
    scores, _ = attempt(lambda: model.score_samples(X))
    if scores is not None:
        assert_finite(scores, (X.shape[0],), np.float64)
    unchanged()


@MANY
@given(codes=arrays(N_COMPONENTS))
def test_inverse_transform(model, unchanged, codes):
    X, _ = attempt(lambda: model.inverse_transform(codes))
    if X is not None:
        assert_finite(X, (codes.shape[0], N_FEATURES), out_dtype(codes))
    unchanged()


@MANY
@given(data=st.data(), X_start=arrays(N_FEATURES), steps=STEPS)
def test_interpolate(model, unchanged, data, X_start, steps):
    same_shape = hnp.arrays(np.float64, X_start.shape, elements=st.floats(-10, 10))
    X_end = data.draw(st.one_of(same_shape, same_shape, arrays(N_FEATURES)), label="X_end")
    frames, _ = attempt(lambda: model.interpolate(X_start, X_end, **steps))
    if frames is not None:
        n_steps = len(steps["alphas"]) if "alphas" in steps else steps.get("n_steps", 10)
        assert_finite(frames, (X_start.shape[0], n_steps, N_FEATURES), out_dtype(X_start))
    unchanged()


@FEW
@given(X=arrays(N_FEATURES))
def test_fit(X):
    model = ACAITransformer(N_COMPONENTS, **PARAMS)
    if attempt(lambda: model.fit(X))[0] is None:
        with pytest.raises(NotFittedError):  # a failed first fit leaves the model unfitted
            check_is_fitted(model)
        return
    # the model encodes and decodes its own training data
    codes = model.transform(X)
    assert_finite(codes, (X.shape[0], N_COMPONENTS), out_dtype(X))
    try:
        decoded = model.inverse_transform(codes)
    except ValueError as error:
        # ... except within three orders of magnitude of its dtype's largest number,
        # where a reconstruction (not bounded by the data) can overflow: refused, saying so
        near = np.abs(np.asarray(X, np.float64)).max() > np.finfo(out_dtype(X)).max / 1e3
        assert near and "inverse_transform overflowed" in str(error), error
        return
    assert_finite(decoded, X.shape, out_dtype(X))


@FEW
@given(X=arrays(N_FEATURES))
def test_partial_fit_on_a_fitted_model(reference, X):
    model = fit_quietly(ACAITransformer(N_COMPONENTS, **PARAMS), reference)
    codes, n_iter, losses = model.transform(reference), model.n_iter_, list(model.loss_curve_)
    fitted, caught = attempt(lambda: model.partial_fit(X))
    if fitted is None or any(DIVERGED in str(w.message) for w in caught):
        # an error, or an epoch whose losses or weights became non-finite, rolled back
        np.testing.assert_array_equal(model.transform(reference), codes)
        assert model.n_iter_ == n_iter and model.loss_curve_ == losses
        return
    assert model.n_iter_ == n_iter + 1
    assert np.all(np.isfinite(model.transform(reference)))


@FEW
@given(X=moderate_arrays(N_FEATURES), codes=moderate_arrays(N_COMPONENTS))
def test_moderate_valid_input_never_fails(model, unchanged, X, codes):
    n = X.shape[0]
    assert_finite(model.transform(X), (n, N_COMPONENTS), out_dtype(X))
    assert_finite(model.score_samples(X), (n,), np.float64)
    assert np.isfinite(model.score(X))
    assert_finite(model.inverse_transform(codes), (codes.shape[0], N_FEATURES), out_dtype(codes))
    assert_finite(model.interpolate(X, X[::-1], n_steps=3), (n, 3, N_FEATURES), out_dtype(X))
    unchanged()
    fresh = fit_quietly(ACAITransformer(N_COMPONENTS, **PARAMS), X)
    assert_finite(fresh.transform(X), (n, N_COMPONENTS), out_dtype(X))
    assert_finite(fresh.interpolate(X, X, alphas=[0.5]), (n, 1, N_FEATURES), out_dtype(X))
