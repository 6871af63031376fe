"""Bad input gets a clear, documented error, and a failed call changes nothing.

Every case runs on a freshly fitted model, records its complete fitted state
(weights, optimiser state, scaling, history, the codes of a reference input),
makes the failing call and checks that the state is exactly as before.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted
from torch import nn

from skacai import ACAITransformer, _fit_loop, _rollback

TINY = {"hidden_layer_sizes": (16,), "batch_size": 16, "max_iter": 3, "random_state": 0}
N_FEATURES = 10
N_COMPONENTS = 3


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return rng.normal(scale=2.0, size=(60, N_FEATURES)) + rng.integers(-3, 3, N_FEATURES)


def make_model(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ACAITransformer(**{"n_components": N_COMPONENTS, **TINY, **params}).fit(X)


@pytest.fixture
def model(X):
    return make_model(X)


def _flatten(value, path=()):
    """(path, leaf) pairs of nested dicts / lists / tuples, e.g. optimiser states."""
    if isinstance(value, dict):
        for key in sorted(value, key=repr):
            yield from _flatten(value[key], (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _flatten(item, (*path, i))
    else:
        yield path, value


def fitted_state(model, X):
    """Everything a failed call must leave alone, copied."""
    modules = (model.encoder_, model.decoder_, model.critic_)
    return {
        "attributes": set(vars(model)),
        "params": model.get_params(),
        "n_iter_": model.n_iter_,
        "loss_curve_": list(model.loss_curve_),
        "history_": {name: list(curve) for name, curve in model.history_.items()},
        "mean_": model.mean_.copy(),
        "scale_": model.scale_.copy(),
        "weights": [p.detach().clone() for m in modules for p in m.parameters()],
        "optimizer": [
            (path, leaf.clone() if isinstance(leaf, torch.Tensor) else leaf)
            for path, leaf in _flatten(model._model.optimizer_states)
        ],
        "generator": model._model.generator_state[1].clone(),
        "codes": model.transform(X),
    }


def assert_unchanged(model, X, before):
    after = fitted_state(model, X)
    assert after["attributes"] == before["attributes"]
    assert after["params"] == before["params"]
    assert after["n_iter_"] == before["n_iter_"]
    assert after["loss_curve_"] == before["loss_curve_"]
    assert after["history_"] == before["history_"]
    np.testing.assert_array_equal(after["mean_"], before["mean_"])
    np.testing.assert_array_equal(after["scale_"], before["scale_"])
    assert len(after["weights"]) == len(before["weights"])
    for new, old in zip(after["weights"], before["weights"], strict=True):
        assert torch.equal(new, old)
    assert [path for path, _ in after["optimizer"]] == [path for path, _ in before["optimizer"]]
    for (_, new), (_, old) in zip(after["optimizer"], before["optimizer"], strict=True):
        assert torch.equal(new, old) if isinstance(new, torch.Tensor) else new == old
    assert torch.equal(after["generator"], before["generator"])
    np.testing.assert_array_equal(after["codes"], before["codes"])


def with_value(X, row, col, value, dtype=None):
    X = X.astype(dtype or X.dtype, copy=True)
    X[row, col] = value
    return X


def codes(n, value=0.0, width=N_COMPONENTS, dtype=np.float64):
    return np.full((n, width), value, dtype=dtype)


# (id, call(model, X), error type, message pattern). X is the model's training data.
NAN = "Input X contains NaN"
INF = "Input X contains infinity"
FEATURES = "X has 9 features, but ACAITransformer is expecting 10 features"
NOT_2D = "Expected 2D array, got 1D array"
DIM_3 = "Found array with dim 3"
NO_ROWS = r"Found array with 0 sample\(s\)"
NO_COLS = r"Found array with 0 feature\(s\)"
STRING = "could not convert string to float"
COMPLEX = "Complex data not supported"
SPARSE = r"Sparse data was passed for X, but dense data is required. Use '.toarray\(\)'"
CENTRES = r"centres X .* sparse X into a dense array\. Train on sparse X with scaling=None"
WIDTH = r"inverse_transform expects codes with 3 columns \(n_components of the fitted model\)"
STRINGS = np.full((4, N_FEATURES), "a")

CASES = [
    # NaN and infinity
    ("fit-nan", lambda m, X: m.fit(with_value(X, 3, 3, np.nan)), ValueError, NAN),
    ("fit-inf", lambda m, X: m.fit(with_value(X, 3, 3, np.inf)), ValueError, INF),
    (
        "fit--inf-float32",
        lambda m, X: m.fit(with_value(X, 0, 0, -np.inf, np.float32)),
        ValueError,
        INF,
    ),
    ("partial_fit-nan", lambda m, X: m.partial_fit(with_value(X, 0, 9, np.nan)), ValueError, NAN),
    ("partial_fit-inf", lambda m, X: m.partial_fit(with_value(X, 0, 9, np.inf)), ValueError, INF),
    ("transform-nan", lambda m, X: m.transform(with_value(X, 5, 1, np.nan)), ValueError, NAN),
    ("transform-inf", lambda m, X: m.transform(with_value(X, 5, 1, -np.inf)), ValueError, INF),
    ("inverse_transform-nan", lambda m, X: m.inverse_transform(codes(2, np.nan)), ValueError, NAN),
    ("inverse_transform-inf", lambda m, X: m.inverse_transform(codes(2, np.inf)), ValueError, INF),
    (
        "interpolate-nan-start",
        lambda m, X: m.interpolate(with_value(X[:2], 0, 0, np.nan), X[:2]),
        ValueError,
        NAN,
    ),
    (
        "interpolate-inf-end",
        lambda m, X: m.interpolate(X[:2], with_value(X[:2], 1, 1, np.inf)),
        ValueError,
        INF,
    ),
    (
        "score_samples-nan",
        lambda m, X: m.score_samples(with_value(X, 0, 0, np.nan)),
        ValueError,
        NAN,
    ),
    ("score-inf", lambda m, X: m.score(with_value(X, 0, 0, np.inf)), ValueError, INF),
    # the wrong number of features
    ("transform-9-features", lambda m, X: m.transform(X[:, :9]), ValueError, FEATURES),
    ("partial_fit-9-features", lambda m, X: m.partial_fit(X[:, :9]), ValueError, FEATURES),
    ("score-9-features", lambda m, X: m.score(X[:, :9]), ValueError, FEATURES),
    ("score_samples-9-features", lambda m, X: m.score_samples(X[:, :9]), ValueError, FEATURES),
    (
        "interpolate-9-features",
        lambda m, X: m.interpolate(X[:2, :9], X[2:4, :9]),
        ValueError,
        FEATURES,
    ),
    (
        "warm-start-fit-9-features",
        lambda m, X: m.set_params(warm_start=True).fit(X[:, :9]),
        ValueError,
        FEATURES,
    ),
    (
        "inverse_transform-4-columns",
        lambda m, X: m.inverse_transform(codes(2, width=4)),
        ValueError,
        WIDTH + ", got 4",
    ),
    (
        "inverse_transform-10-columns",
        lambda m, X: m.inverse_transform(X),
        ValueError,
        WIDTH + ", got 10",
    ),
    # 1-D and 3-D arrays
    ("fit-1d", lambda m, X: m.fit(X[0]), ValueError, NOT_2D),
    ("partial_fit-1d", lambda m, X: m.partial_fit(X[0]), ValueError, NOT_2D),
    ("transform-1d", lambda m, X: m.transform(X[0]), ValueError, NOT_2D),
    ("inverse_transform-1d", lambda m, X: m.inverse_transform(codes(1)[0]), ValueError, NOT_2D),
    ("interpolate-1d", lambda m, X: m.interpolate(X[0], X[1]), ValueError, NOT_2D),
    ("fit-3d", lambda m, X: m.fit(X[None]), ValueError, DIM_3),
    ("transform-3d", lambda m, X: m.transform(X.reshape(6, 10, 10)), ValueError, DIM_3),
    (
        "inverse_transform-3d",
        lambda m, X: m.inverse_transform(codes(4).reshape(2, 2, 3)),
        ValueError,
        DIM_3,
    ),
    ("score-3d", lambda m, X: m.score(X[None]), ValueError, DIM_3),
    # empty arrays
    ("fit-0-rows", lambda m, X: m.fit(X[:0]), ValueError, NO_ROWS),
    ("fit-0-columns", lambda m, X: m.fit(X[:, :0]), ValueError, NO_COLS),
    ("partial_fit-0-rows", lambda m, X: m.partial_fit(X[:0]), ValueError, NO_ROWS),
    ("transform-0-rows", lambda m, X: m.transform(X[:0]), ValueError, NO_ROWS),
    ("transform-0-columns", lambda m, X: m.transform(X[:, :0]), ValueError, NO_COLS),
    ("inverse_transform-0-rows", lambda m, X: m.inverse_transform(codes(0)), ValueError, NO_ROWS),
    (
        "inverse_transform-0-columns",
        lambda m, X: m.inverse_transform(codes(2, width=0)),
        ValueError,
        NO_COLS,
    ),
    ("interpolate-0-rows", lambda m, X: m.interpolate(X[:0], X[:0]), ValueError, NO_ROWS),
    ("score_samples-0-rows", lambda m, X: m.score_samples(X[:0]), ValueError, NO_ROWS),
    # object, string and complex dtypes
    ("fit-object-strings", lambda m, X: m.fit(STRINGS.astype(object)), ValueError, STRING),
    ("fit-str", lambda m, X: m.fit(STRINGS), ValueError, STRING),
    (
        "transform-object-strings",
        lambda m, X: m.transform(STRINGS.astype(object)),
        ValueError,
        STRING,
    ),
    (
        "transform-object-none",
        lambda m, X: m.transform(with_value(X, 0, 0, None, object)),
        ValueError,
        NAN,
    ),
    (
        "inverse_transform-str",
        lambda m, X: m.inverse_transform(np.full((2, 3), "a")),
        ValueError,
        STRING,
    ),
    ("fit-complex", lambda m, X: m.fit(X + 1j), ValueError, COMPLEX),
    (
        "partial_fit-complex",
        lambda m, X: m.partial_fit(X.astype(np.complex64)),
        ValueError,
        COMPLEX,
    ),
    ("transform-complex", lambda m, X: m.transform(X + 0j), ValueError, COMPLEX),
    (
        "inverse_transform-complex",
        lambda m, X: m.inverse_transform(codes(2) + 1j),
        ValueError,
        COMPLEX,
    ),
    ("interpolate-complex", lambda m, X: m.interpolate(X[:2] + 1j, X[:2]), ValueError, COMPLEX),
    # scipy sparse matrices (accepted, tests/test_sparse.py), but not with a centring
    # scaling in training, nor as codes
    (
        "fit-sparse-centred",
        lambda m, X: m.set_params(scaling="feature").fit(scipy.sparse.csr_matrix(X)),
        ValueError,
        CENTRES,
    ),
    (
        "partial_fit-sparse-centred",  # the model's mean_ (scaling="auto" on dense X)
        lambda m, X: m.partial_fit(scipy.sparse.csc_array(X)),
        ValueError,
        "this model's first fit .*" + CENTRES,
    ),
    (
        "transform-sparse-nan",
        lambda m, X: m.transform(scipy.sparse.coo_matrix(with_value(X, 3, 3, np.nan))),
        ValueError,
        NAN,
    ),
    (
        "inverse_transform-sparse",
        lambda m, X: m.inverse_transform(scipy.sparse.csr_matrix(codes(2))),
        TypeError,
        SPARSE,
    ),
    (
        "interpolate-sparse-features",
        lambda m, X: m.interpolate(scipy.sparse.csr_matrix(X[:2, :9]), X[:2, :9]),
        ValueError,
        FEATURES,
    ),
    (
        "score-sparse-inf",
        lambda m, X: m.score(scipy.sparse.csr_matrix(with_value(X, 0, 0, np.inf))),
        ValueError,
        INF,
    ),
    # image_shape inconsistent with the number of features
    (
        "image_shape-mlp",
        lambda m, X: m.set_params(image_shape=(3, 3)).fit(X),
        ValueError,
        r"image_shape=\(3, 3\) describes 9 values per sample but X has 10 features",
    ),
    (
        "image_shape-conv",
        lambda m, X: m.set_params(architecture="conv", image_shape=(1, 3, 4)).fit(X),
        ValueError,
        r"image_shape=\(1, 3, 4\) describes 12 values per sample but X has 10 features",
    ),
    (
        "conv-latent-grid",
        lambda m, X: m.set_params(architecture="conv", image_shape=(2, 5), n_scales=0).fit(X),
        ValueError,
        "n_components must be a multiple of 10",
    ),
    (
        "conv-with-dropout",
        lambda m, X: m.set_params(architecture="conv", image_shape=(2, 5), dropout=0.5).fit(X),
        ValueError,
        "dropout=0.5 applies to architecture='mlp' only",
    ),
    (
        "partial_fit-conv-with-dropout",
        lambda m, X: m.set_params(architecture="conv", dropout=0.5).partial_fit(X),
        ValueError,
        "dropout=0.5 applies to architecture='mlp' only",
    ),
    # interpolate's own arguments
    (
        "interpolate-unpaired",
        lambda m, X: m.interpolate(X[:2], X[2:5]),
        ValueError,
        r"X_start and X_end must have the same shape .* got \(2, 10\) and \(3, 10\)",
    ),
    (
        "interpolate-alpha-above-1",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[0, 1.01]),
        ValueError,
        r"alphas must lie in \[0, 1\]",
    ),
    (
        "interpolate-alpha-below-0",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[-1e-9]),
        ValueError,
        r"alphas must lie in \[0, 1\]",
    ),
    (
        "interpolate-alpha-nan",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[np.nan]),
        ValueError,
        "Input alphas contains NaN",
    ),
    (
        "interpolate-alphas-2d",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[[0, 1]]),
        ValueError,
        "alphas must be 1-D",
    ),
    (
        "interpolate-alphas-empty",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[]),
        ValueError,
        "alphas must hold at least one mixing coefficient, got none",
    ),
    (
        "interpolate-alphas-empty-2d",
        lambda m, X: m.interpolate(X[:2], X[2:4], alphas=[[]]),
        ValueError,
        r"alphas must be 1-D, got shape \(1, 0\)",
    ),
    (
        "interpolate-n_steps-1",
        lambda m, X: m.interpolate(X[:2], X[2:4], n_steps=1),
        ValueError,
        "n_steps must be an int >= 2",
    ),
    (
        "interpolate-n_steps-float",
        lambda m, X: m.interpolate(X[:2], X[2:4], n_steps=3.0),
        ValueError,
        "n_steps must be an int >= 2",
    ),
    (
        "interpolate-n_steps-bool",
        lambda m, X: m.interpolate(X[:2], X[2:4], n_steps=True),
        ValueError,
        "n_steps must be an int >= 2",
    ),
    (
        "interpolate-both",
        lambda m, X: m.interpolate(X[:2], X[2:4], 3, alphas=[0, 1]),
        ValueError,
        "either n_steps or alphas",
    ),
    # continuing training of networks the parameters no longer describe
    (
        "warm-start-other-n_components",
        lambda m, X: m.set_params(warm_start=True, n_components=4).fit(X),
        ValueError,
        "warm_start=True continues training the fitted networks, but n_components changed "
        "from 3 to 4 .* set warm_start=False",
    ),
    (
        "warm-start-other-architecture",
        lambda m, X: m.set_params(warm_start=True, architecture="conv").fit(X),
        ValueError,
        "architecture changed from 'mlp' to 'conv'",
    ),
    (
        "partial_fit-other-hidden_layer_sizes",
        lambda m, X: m.set_params(hidden_layer_sizes=(16, 8)).partial_fit(X),
        ValueError,
        r"partial_fit continues .* hidden_layer_sizes changed from \(16,\) to \(16, 8\)",
    ),
    (
        "early-stopping-one-sample",
        lambda m, X: m.set_params(early_stopping=True).fit(X[:1]),
        ValueError,
        "at least one training and one validation sample",
    ),
    # values that overflow float32 training or float64 statistics
    (
        "fit-beyond-float32-unscaled",
        lambda m, X: m.set_params(scaling=None).fit(X * 1e39),
        ValueError,
        r"X has values beyond float32's range .* \(scaling=None\).* or use scaling='global'",
    ),
    (
        "partial_fit-beyond-float32-scaled",
        lambda m, X: m.partial_fit(X * 1e40),
        ValueError,
        "beyond float32's range .* vastly larger scale than the data that fixed mean_",
    ),
    (
        "warm-start-fit-beyond-float32-scaled",
        lambda m, X: m.set_params(warm_start=True).fit(X * 1e40),
        ValueError,
        "beyond float32's range",
    ),
    # inference results that overflow
    (
        "interpolate-overflow-mixed-dtypes",
        lambda m, X: m.interpolate(X[:2].astype(np.float32), X[:2] * 1e300),
        ValueError,
        "interpolate overflowed",
    ),
    (
        "score_samples-overflow",
        lambda m, X: m.score_samples(np.full((2, N_FEATURES), 1e200)),
        ValueError,
        "score_samples overflowed: its input lies so far outside the range of the training data",
    ),
    (
        "score-overflow",
        lambda m, X: m.score(np.full((2, N_FEATURES), -1e200)),
        ValueError,
        "score overflowed",
    ),
]

# An invalid value for every constructor parameter, set on a fitted model before fit.
INVALID_PARAMS = {
    "n_components": [0, 2.5],
    "hidden_layer_sizes": [(0,), (16, -1), -3, "abc"],
    "dropout": [-0.1, 1.0, 1.5, np.nan, "half"],
    "precision": ["float16", "bf16", None, 32],
    "adversarial_weight": [-1, np.nan, np.inf],
    "critic_regularization": [1.5, -0.1],
    "architecture": ["rnn"],
    "image_shape": [(0, 5), (2, 5.0), (1, 2, 5, 1), 5],
    "conv_width": [0],
    "n_scales": [-1],
    "encoder": ["Encoder", 3],
    "decoder": [(1, 2)],
    "critic": [nn.Linear],  # builds Linear(): a TypeError, named and wrapped
    "scaling": ["standard"],
    "max_iter": [0],
    "batch_size": [0, np.int64(0)],
    "learning_rate_init": [0, np.inf],
    "tol": [-1, np.nan],
    "early_stopping": ["yes"],
    "validation_fraction": [1.0, 0.0],
    "scoring": ["neg_mean_squared_error", 1],
    "n_iter_no_change": [0],
    "shuffle": ["yes"],
    "random_state": ["seed", -1],
    "verbose": [-1, 0.5],
    "warm_start": [2],
    "whiten": ["yes", 1],
    "device": ["gpu0", 0],
}
SIZES = "hidden_layer_sizes must be a positive int or a sequence of positive ints"
SHAPE = r"image_shape must be \(channels, height, width\) or \(height, width\) with positive"
OUR_MESSAGES = {  # the values our code rejects after scikit-learn's parameter validation
    ("hidden_layer_sizes", (0,)): SIZES,
    ("hidden_layer_sizes", (16, -1)): SIZES,
    ("image_shape", (0, 5)): SHAPE,
    ("image_shape", (2, 5.0)): SHAPE,
    ("image_shape", (1, 2, 5, 1)): SHAPE,
    ("device", "gpu0"): "device='gpu0' is not a torch device",
    ("critic", nn.Linear): r"critic=<class 'torch.nn.modules.linear.Linear'> failed to build",
}
PARAM_CASES = [(name, value) for name, values in INVALID_PARAMS.items() for value in values]


def test_every_constructor_parameter_has_invalid_values():
    assert set(INVALID_PARAMS) == set(ACAITransformer._parameter_constraints)
    assert set(INVALID_PARAMS) == set(ACAITransformer().get_params())


@pytest.mark.parametrize(
    ("call", "error", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_raises_and_leaves_a_fitted_model_unchanged(model, X, call, error, message):
    before = fitted_state(model, X)
    params = model.get_params()
    with pytest.raises(error, match=message):
        call(model, X)
    model.set_params(**params)
    assert_unchanged(model, X, before)


@pytest.mark.parametrize(
    ("name", "value"), PARAM_CASES, ids=[f"{n}={v!r}" for n, v in PARAM_CASES]
)
def test_invalid_parameter_raises_at_fit_and_leaves_the_model_unchanged(model, X, name, value):
    before = fitted_state(model, X)
    original = model.get_params()[name]
    model.set_params(**{name: value})
    if (name, value) in OUR_MESSAGES:
        error, message = ValueError, OUR_MESSAGES[name, value]
    else:  # scikit-learn's InvalidParameterError, both a ValueError and a TypeError
        error, message = (
            (ValueError, TypeError),
            f"The '{name}' parameter of ACAITransformer must be",
        )
    with pytest.raises(error, match=message) as excinfo:
        model.fit(X)
    if (name, value) not in OUR_MESSAGES:
        assert excinfo.type.__name__ == "InvalidParameterError"
        assert isinstance(excinfo.value, ValueError) and isinstance(excinfo.value, TypeError)
    model.set_params(**{name: original})
    assert_unchanged(model, X, before)
    unfitted = clone(model).set_params(**{name: value})
    with pytest.raises(error, match=message):  # and the same on an unfitted model
        unfitted.fit(X)
    assert_unfitted(unfitted)


@pytest.mark.parametrize("method", ["transform", "score_samples", "partial_fit"])
def test_mismatched_dataframe_column_names_are_refused(X, method):
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(N_FEATURES)]
    model = make_model(pd.DataFrame(X, columns=columns))
    before = fitted_state(model, pd.DataFrame(X, columns=columns))
    renamed = pd.DataFrame(X, columns=["g0", *columns[1:]])
    with pytest.raises(ValueError, match="The feature names should match those that were passed"):
        getattr(model, method)(renamed)
    reordered = pd.DataFrame(X[:, ::-1], columns=columns[::-1])
    with pytest.raises(
        ValueError, match="Feature names must be in the same order as they were in fit"
    ):
        getattr(model, method)(reordered)
    assert_unchanged(model, pd.DataFrame(X, columns=columns), before)


# ---------------------------------------------------------------- unfitted models


def assert_unfitted(model):
    fresh = clone(model)
    assert set(vars(model)) == set(vars(fresh))
    assert model.get_params() == fresh.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


@pytest.mark.parametrize(
    "method",
    [
        "transform",
        "inverse_transform",
        "score_samples",
        "score",
        "interpolate",
        "get_feature_names_out",
    ],
)
def test_unfitted_model_raises_not_fitted_error(X, method):
    model = ACAITransformer(n_components=N_COMPONENTS, **TINY)
    args = {
        "transform": (X,),
        "inverse_transform": (codes(2),),
        "score_samples": (X,),
        "score": (X,),
        "interpolate": (X[:2], X[2:4]),
        "get_feature_names_out": (),
    }[method]
    with pytest.raises(NotFittedError, match="This ACAITransformer instance is not fitted yet"):
        getattr(model, method)(*args)
    assert_unfitted(model)


FIT_FAILURES = [
    ("nan", lambda X: with_value(X, 0, 0, np.nan), {}, NAN),
    ("sparse-centred", scipy.sparse.csr_matrix, {"scaling": "global"}, CENTRES),
    ("1d", lambda X: X[0], {}, NOT_2D),
    ("strings", lambda X: STRINGS, {}, STRING),
    ("image_shape", lambda X: X, {"image_shape": (3, 3)}, "describes 9 values"),
    ("conv-grid", lambda X: X, {"architecture": "conv", "n_scales": 0}, "multiple of 10"),
    ("conv-dropout", lambda X: X, {"architecture": "conv", "dropout": 0.1}, "mlp' only"),
    ("unscaled-overflow", lambda X: X * 1e39, {"scaling": None}, "beyond float32's range"),
]


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    ("data", "params", "message"),
    [case[1:] for case in FIT_FAILURES],
    ids=[case[0] for case in FIT_FAILURES],
)
def test_failed_first_fit_leaves_the_model_unfitted(X, method, data, params, message):
    model = ACAITransformer(n_components=N_COMPONENTS, **{**TINY, **params})
    with pytest.raises((ValueError, TypeError), match=message):
        getattr(model, method)(data(X))
    assert_unfitted(model)


# ------------------------------------------------------------ training failures


def fail_in_epoch(monkeypatch, epoch, failure):
    """Make the ``epoch``-th epoch from now run and then fail with ``failure(networks)``."""
    real_train_epoch = _fit_loop.train_epoch
    calls = []

    def train_epoch(networks, *args, **kwargs):
        terms = real_train_epoch(networks, *args, **kwargs)  # the epoch's updates happen
        calls.append(1)
        if len(calls) == epoch:
            return failure(networks, terms)
        return terms

    monkeypatch.setattr(_fit_loop, "train_epoch", train_epoch)
    return calls


def out_of_memory(networks, terms):
    raise RuntimeError("simulated out of memory")


@pytest.mark.parametrize(
    "how", ["fresh-fit", "warm-start-fit", "partial_fit", "early-stopping-fit"]
)
def test_an_exception_during_training_leaves_a_fitted_model_as_it_was(X, monkeypatch, how):
    model, reference = make_model(X), make_model(X)  # identical (seeded, on the CPU)
    before = fitted_state(model, X)
    if how == "warm-start-fit":
        model.set_params(warm_start=True)
    if how == "early-stopping-fit":
        model.set_params(early_stopping=True, warm_start=True)
    epoch = 1 if how == "partial_fit" else 2
    with monkeypatch.context() as patch:  # undo() would also undo the root conftest's
        calls = fail_in_epoch(patch, epoch, out_of_memory)
        with pytest.raises(RuntimeError, match="simulated out of memory"):
            model.partial_fit(X) if how == "partial_fit" else model.fit(X)
    assert len(calls) == epoch  # the failure happened where intended, after real updates
    model.set_params(warm_start=False, early_stopping=False)
    assert_unchanged(model, X, before)
    # optimiser and generator states too: training continues exactly as the reference's
    model.partial_fit(X)
    reference.partial_fit(X)
    np.testing.assert_array_equal(model.transform(X), reference.transform(X))
    assert model.loss_curve_ == reference.loss_curve_


def test_an_exception_during_a_first_fit_leaves_the_model_unfitted(X, monkeypatch):
    model = ACAITransformer(n_components=N_COMPONENTS, **TINY)
    fail_in_epoch(monkeypatch, 2, out_of_memory)
    with pytest.raises(RuntimeError, match="simulated out of memory"):
        model.fit(X)
    assert_unfitted(model)


@pytest.mark.parametrize("network", ["encoder", "decoder", "critic"])
def test_non_finite_weights_after_finite_losses_roll_the_epoch_back(X, monkeypatch, network):
    def poison(networks, terms):
        with torch.no_grad():
            list(getattr(networks, network).parameters())[-1].view(-1)[0] = np.nan
        assert np.all(np.isfinite(list(terms.values())))
        return terms

    with monkeypatch.context() as patch:  # undo() would also undo the root conftest's
        fail_in_epoch(patch, 3, poison)
        with pytest.warns(RuntimeWarning, match="non-finite in epoch 3; .* from epoch 2 were"):
            model = make_model(X, max_iter=6)
    two_epochs = make_model(X, max_iter=2)
    assert model.n_iter_ == 2 and model.loss_curve_ == two_epochs.loss_curve_
    for module in (model.encoder_, model.decoder_, model.critic_):
        assert all(torch.isfinite(p).all() for p in module.parameters())
    np.testing.assert_array_equal(model.transform(X), two_epochs.transform(X))
    model.partial_fit(X)  # and the optimiser state was rolled back with the weights
    two_epochs.partial_fit(X)
    np.testing.assert_array_equal(model.transform(X), two_epochs.transform(X))


def test_the_weights_check_is_exact(model):
    networks = (model.encoder_, model.decoder_, model.critic_)
    assert _rollback.weights_finite(networks)
    weight = model.critic_.body.layers[0].weight
    original = weight.detach().clone()
    with torch.no_grad():
        weight.fill_(3e38)  # finite, but the sum of the weights overflows
        assert torch.isinf(weight.sum())
        assert _rollback.weights_finite(networks)
        for value in (np.inf, -np.inf, np.nan):
            weight[1, 2] = value
            assert not _rollback.weights_finite(networks)
        weight.copy_(original)


def test_a_warning_turned_into_an_error_keeps_the_trained_epochs(X):
    model = ACAITransformer(n_components=N_COMPONENTS, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="max_iter=3"):
            model.fit(X)
    assert model.n_iter_ == 3  # a warning reports on a finished fit; it is not a failure
    np.testing.assert_array_equal(model.transform(X), make_model(X).transform(X))


# ------------------------------------------------------------- overflow at inference


def test_inference_overflow_is_refused_for_inputs_far_below_the_training_scale(X):
    # Trained on values around 1e-6, the model scales its inputs up by about 1e6.
    model = make_model(X * 1e-6)
    before = fitted_state(model, X * 1e-6)
    float32 = "float32 input is computed in float32, whose range ends near 3.4e38: pass float64"
    with pytest.raises(ValueError, match=f"transform overflowed: .*; {float32}"):
        model.transform(np.full((2, N_FEATURES), 1e36, dtype=np.float32))
    with pytest.raises(ValueError, match=r"transform overflowed: .* closer to the training data"):
        model.transform(np.full((2, N_FEATURES), 1e305))
    with pytest.raises(ValueError, match="interpolate overflowed"):
        model.interpolate(np.full((2, N_FEATURES), -1e305), X[:2])
    with pytest.raises(ValueError, match="score_samples overflowed"):
        model.score_samples(np.full((2, N_FEATURES), 1e36, dtype=np.float32))
    assert_unchanged(model, X * 1e-6, before)
    # values far outside the training range that do not overflow are fine
    assert np.isfinite(model.transform(np.full((2, N_FEATURES), 1e290))).all()
    assert np.isfinite(model.transform(np.full((2, N_FEATURES), 1e30, dtype=np.float32))).all()


def test_reconstructing_training_data_near_the_float64_limit_says_what_to_do():
    """Data near 1.8e308 (found by hypothesis): a reconstruction of the training data
    itself can exceed it. inverse_transform refuses, and says to divide X beforehand."""
    big = 1.62052006e308
    X_big = np.array([[0.0, big, big, big], [big, big, big, big]])
    model = ACAITransformer(2, hidden_layer_sizes=(8,), max_iter=2, batch_size=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_big)
    with pytest.raises(ValueError, match=r"overflowed: .* divide X by a constant before fitting"):
        model.inverse_transform(model.transform(X_big))
    scaled = ACAITransformer(**model.get_params())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scaled.fit(X_big / 1e10)
    decoded = scaled.inverse_transform(scaled.transform(X_big / 1e10))
    assert np.isfinite(decoded).all()  # the remedy works


def test_inference_overflow_is_refused_for_codes_far_above_the_training_scale(X):
    # Trained on values around 1e150, the model scales its outputs up by about 1e150.
    model = make_model(X * 1e150)
    before = fitted_state(model, X * 1e150)
    with pytest.raises(ValueError, match=r"inverse_transform overflowed: .* closer to"):
        model.inverse_transform(codes(2, 1e300))
    with pytest.raises(ValueError, match=r"inverse_transform overflowed: .* pass float64"):
        model.inverse_transform(codes(2, 1e30, dtype=np.float32))
    assert_unchanged(model, X * 1e150, before)
    assert np.isfinite(model.inverse_transform(codes(2, 1e100))).all()
    assert model.inverse_transform(codes(2, 1e30)).dtype == np.float64


def test_normal_results_do_not_warn(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            Xd = X.astype(dtype)
            model.inverse_transform(model.transform(Xd))
            model.interpolate(Xd[:2], Xd[2:4])
            model.score(Xd)


# ----------------------------------------------------------------- edge cases that work


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_a_single_sample_can_be_fitted(X, architecture):
    conv = (
        {"architecture": "conv", "n_scales": 1, "conv_width": 2} if architecture == "conv" else {}
    )
    n_components = 5 if architecture == "conv" else N_COMPONENTS
    model = make_model(X[:1], n_components=n_components, **conv)
    assert model.n_iter_ == 3 and np.all(np.isfinite(model.loss_curve_))
    np.testing.assert_array_equal(model.scale_, np.zeros(N_FEATURES))  # no spread: none
    for output in (
        model.transform(X),
        model.inverse_transform(model.transform(X)),
        model.interpolate(X[:2], X[2:4], n_steps=3),
        model.score_samples(X),
    ):
        assert np.all(np.isfinite(output))
    model.partial_fit(X[5:6])
    assert model.n_iter_ == 4
    assert make_model(X[:1], scaling="feature").transform(X[:1]).shape == (1, N_COMPONENTS)


def test_more_components_than_features_is_an_overcomplete_code(X):
    model = make_model(X, n_components=2 * N_FEATURES, max_iter=20)
    codes_ = model.transform(X)
    assert codes_.shape == (len(X), 2 * N_FEATURES) and np.all(np.isfinite(codes_))
    assert model.inverse_transform(codes_).shape == X.shape
    assert model.history_["reconstruction"][-1] < model.history_["reconstruction"][0]
    assert len(model.get_feature_names_out()) == 2 * N_FEATURES


def test_inverse_transform_refuses_a_damaged_sparse_matrix_before_reading_it():
    """scikit-learn's complex-data message prints X, which converts a DIA matrix whose
    offsets overflow; the sparse refusal comes first (found by tests/test_fuzz.py)."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    model = ACAITransformer(n_components=2, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    damaged = scipy.sparse.random(1, 2, density=1.0, random_state=0).todia()
    offsets = damaged.offsets.astype(object)
    offsets[0] = 2**63
    damaged.offsets = offsets
    damaged.data = damaged.data.astype(np.complex128)
    with pytest.raises(TypeError, match=SPARSE):
        model.inverse_transform(damaged)
