"""Sparse matrices whose structure is forged or damaged (issue 35, item 1): every
entry point refuses them with one clear ValueError before reading them, and a
fitted model stays exactly as it was.

A forged matrix read without this check aborts the process or corrupts memory,
so the checks run before scipy, scikit-learn or skacai index into it.
"""

import numpy as np
import pytest
import scipy.sparse
from test_bad_input import assert_unchanged, fitted_state

from skacai import ACAITransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PARAMS = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 2, "random_state": 0}
DAMAGED = r"sparse matrix is damaged: .+ memory: rebuild it"


@pytest.fixture(scope="module")
def X():
    return scipy.sparse.random(40, 6, density=0.4, format="csr", random_state=0)


@pytest.fixture(scope="module")
def model(X):
    return ACAITransformer(**PARAMS).fit(X)


def forged(X, format="csr", **arrays):
    """A copy of X in ``format`` whose arrays are replaced after construction, as an
    edited file read with ``scipy.sparse.load_npz`` or a hand-built matrix can be."""
    Y = X.asformat(format, copy=True)
    for name, value in arrays.items():
        setattr(Y, name, value(getattr(Y, name).copy()))
    return Y


def _set(position, value):
    def change(array):
        array[position] = value
        return array

    return change


FORGERIES = {
    "column index past the width": ("csr", {"indices": _set(3, 6)}),
    "column index far past the width": ("csr", {"indices": _set(3, 10**6)}),
    "negative column index": ("csr", {"indices": _set(3, -1)}),
    "row index past the height (csc)": ("csc", {"indices": _set(0, 40)}),
    "indptr claims 2**31 - 1 entries": ("csr", {"indptr": _set(-1, 2**31 - 1)}),
    "indptr decreasing": ("csr", {"indptr": _set(5, 0)}),
    # np.diff of an unsigned indptr wraps around: 255 then 7 is a rise of 8 (found by
    # tests/test_fuzz.py; the process aborted)
    "unsigned indptr overshooting": (
        "csr",
        {"indptr": lambda a: _set(1, 255)(a.astype(np.uint8))},
    ),
    "indptr not starting at 0": ("csr", {"indptr": _set(0, 1)}),
    "indptr of the wrong length": ("csr", {"indptr": lambda a: a[:-1]}),
    "float indices": ("csr", {"indices": lambda a: a.astype(np.float64)}),
    "data shorter than indices": ("csr", {"data": lambda a: a[:-2]}),
    "coo column past the width": ("coo", {"col": _set(0, 6)}),
    "coo negative row": ("coo", {"row": _set(0, -3)}),
    "bsr block index past the width": ("bsr", {"indices": _set(0, 6)}),
    "dia offsets and data disagree": ("dia", {"offsets": lambda a: a[:-1]}),
    # scipy counts a DIA matrix's values in its offsets' type: 5 - 8 wraps to 2**32 - 3
    "dia unsigned offsets": ("dia", {"offsets": lambda a: a.astype(np.uint32)}),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_fit_refuses_a_forged_sparse_matrix(X, name):
    format, arrays = FORGERIES[name]
    with pytest.raises(ValueError, match=DAMAGED):
        ACAITransformer(**PARAMS).fit(forged(X, format, **arrays))


@pytest.mark.parametrize("name", FORGERIES)
@pytest.mark.parametrize(
    "call",
    [
        lambda model, Y: model.transform(Y),
        lambda model, Y: model.score(Y),
        lambda model, Y: model.score_samples(Y),
        lambda model, Y: model.interpolate(Y, Y, n_steps=2),
        lambda model, Y: model.partial_fit(Y),
    ],
    ids=["transform", "score", "score_samples", "interpolate", "partial_fit"],
)
def test_every_entry_point_refuses_it_and_the_model_is_unchanged(model, X, name, call):
    format, arrays = FORGERIES[name]
    before = fitted_state(model, X)
    with pytest.raises(ValueError, match=DAMAGED):
        call(model, forged(X, format, **arrays))
    assert_unchanged(model, X, before)


def test_validation_data_is_checked_too(X):
    Y = forged(X, indices=_set(3, 6))
    with pytest.raises(ValueError, match="X_val is invalid: .*" + DAMAGED):
        ACAITransformer(**PARAMS, early_stopping=True).fit(X, X_val=Y)


def test_an_edited_npz_file_is_refused(X, model, tmp_path):
    """The red team's repro: a CSR saved with save_npz, one column index edited past
    the width, read back with load_npz (which does not check the indices)."""
    path = tmp_path / "X.npz"
    scipy.sparse.save_npz(path, X)
    arrays = dict(np.load(path))
    arrays["indices"][0] = X.shape[1] + 1000
    np.savez(path, **arrays)
    Y = scipy.sparse.load_npz(path)
    with pytest.raises(ValueError, match=r"damaged: column index 1006 at position 0 .* 6 columns"):
        model.transform(Y)


def test_the_message_says_where_and_what_to_do(X):
    with pytest.raises(ValueError) as error:
        ACAITransformer(**PARAMS).fit(forged(X, indices=_set(3, -1)))
    message = str(error.value)
    assert "column index -1 at position 3" in message
    assert "6 columns" in message
    assert "rebuild it" in message


def test_the_check_leaves_a_valid_matrix_untouched(X, model):
    """Valid matrices (non-canonical ones included) are read as before, never modified."""
    Y = X.copy()
    Y.indices = Y.indices.astype(np.int64)
    unsorted = scipy.sparse.csr_matrix((Y.data[::-1], Y.indices[::-1], Y.indptr), shape=Y.shape)
    arrays = [unsorted.data.copy(), unsorted.indices.copy(), unsorted.indptr.copy()]
    model.transform(unsorted)
    for before, after in zip(
        arrays, [unsorted.data, unsorted.indices, unsorted.indptr], strict=True
    ):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_allclose(model.transform(Y), model.transform(X.toarray()), rtol=1e-6)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_matrix_too_wide_to_train_is_refused_before_anything_is_allocated(method):
    """An empty CSR of 2 x 3e8 allocated its scaling (4.5 GiB) before the memory check
    refused the networks."""
    import tracemalloc

    X = scipy.sparse.csr_matrix((2, 300_000_000))
    model = ACAITransformer(n_components=2)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match="300,000,000 features"):
            getattr(model, method)(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**26, f"{peak / 2**20:.0f} MiB"
    assert not hasattr(model, "mean_")
