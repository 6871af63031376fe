"""Early stopping on your own validation data (``fit(X, X_val=...)``) and on your
own score (the ``scoring`` parameter)."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skacai._estimator
import skacai._fit_loop
from skacai import ACAITransformer

SMALL = {
    "n_components": 2,
    "hidden_layer_sizes": (8,),
    "batch_size": 16,
    "max_iter": 4,
    "early_stopping": True,
    "random_state": 0,
}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6)) + 3.0


@pytest.fixture(scope="module")
def X_val():
    return np.random.default_rng(1).normal(scale=2.0, size=(25, 6))


def negative_error(estimator, X_val):
    """A scoring function at module level (picklable): ``estimator.score``."""
    return estimator.score(X_val)


def scaled_error(model, X_val):
    """The default validation score of the model as it is: -MSE on the scaled rows."""
    x = torch.from_numpy(((X_val - model.mean_) / model.scale_).astype(np.float32))
    with torch.no_grad():
        return -(model.decoder_(model.encoder_(x)) - x).square().mean().item()


def weights(model):
    return [p.detach().clone() for m in (model.encoder_, model.decoder_) for p in m.parameters()]


def assert_same_weights(a, b):
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def assert_equal_values(new, old, where):
    if hasattr(old, "to_attributes"):  # the fitted model: the attributes pickles hold
        assert_equal_values(new.to_attributes(), old.to_attributes(), where)
    elif isinstance(old, torch.nn.Module):
        assert_equal_values(new.state_dict(), old.state_dict(), where)
    elif isinstance(old, torch.Tensor):
        assert torch.equal(new, old), where
    elif isinstance(old, np.ndarray):
        np.testing.assert_array_equal(new, old, err_msg=where)
    elif isinstance(old, dict):
        assert list(new) == list(old), where
        for key in old:
            assert_equal_values(new[key], old[key], f"{where}[{key!r}]")
    elif isinstance(old, (list, tuple)):
        assert len(new) == len(old), where
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            assert_equal_values(a, b, f"{where}[{i}]")
    else:
        assert new == old, where


def assert_unchanged(model, saved):
    """``model`` holds exactly what ``saved`` (a deep copy taken before) held."""
    assert set(vars(model)) == set(vars(saved))
    for name, value in vars(saved).items():
        assert_equal_values(getattr(model, name), value, name)


# ------------------------------------------------------------------- X_val


def test_X_val_is_the_monitored_validation_data(X, X_val):
    model = ACAITransformer(**SMALL).fit(X, X_val=X_val)
    assert len(model.validation_scores_) == model.n_iter_ == 4
    assert model.best_validation_score_ == max(model.validation_scores_)
    # The kept weights are the best epoch's, scored on X_val scaled with the model's scaling.
    assert model.best_validation_score_ == pytest.approx(scaled_error(model, X_val), rel=1e-5)
    held_out = ACAITransformer(**SMALL).fit(X)
    assert held_out.validation_scores_ != model.validation_scores_


def test_with_X_val_all_of_X_trains_and_scales(X, X_val, monkeypatch):
    rows = []
    train_epoch = skacai._fit_loop.train_epoch

    def counting(networks, optimizers, data, **kwargs):
        rows.append(data.shape[0])
        return train_epoch(networks, optimizers, data, **kwargs)

    def no_split(*args, **kwargs):
        raise AssertionError("X was split although X_val was given")

    monkeypatch.setattr(skacai._fit_loop, "train_epoch", counting)
    ACAITransformer(**SMALL).fit(X)
    assert rows == [80 - 8] * 4  # validation_fraction=0.1 held out
    rows.clear()
    monkeypatch.setattr(skacai._plan, "train_test_split", no_split)
    model = ACAITransformer(**SMALL, scaling="feature").fit(X, X_val=X_val)
    assert rows == [80] * 4
    np.testing.assert_allclose(model.mean_, X.mean(axis=0))
    np.testing.assert_allclose(model.scale_, X.std(axis=0))


def test_X_val_needs_early_stopping(X, X_val):
    model = ACAITransformer(**{**SMALL, "early_stopping": False}).fit(X)
    saved = copy.deepcopy(model)
    with pytest.raises(ValueError, match="X_val is given to fit while early_stopping=False"):
        model.fit(X, X_val=X_val)
    assert_unchanged(model, saved)


def test_partial_fit_takes_no_X_val(X, X_val):
    with pytest.raises(TypeError, match="X_val"):
        ACAITransformer(**SMALL).partial_fit(X, X_val=X_val)


BAD_X_VAL = {
    "features": (lambda V: V[:, :5], ValueError, "X_val is invalid: X has 5 features"),
    "nan": (
        lambda V: np.where(np.arange(6) == 2, np.nan, V),
        ValueError,
        "X_val is invalid: Input X contains NaN",
    ),
    "one-d": (lambda V: V[0], ValueError, "X_val is invalid: Expected 2D array, got 1D"),
    "sparse-nan": (  # sparse X_val is accepted (tests/test_sparse.py), checked as dense
        lambda V: pytest.importorskip("scipy.sparse").csr_matrix(
            np.where(np.arange(6) == 2, np.nan, V)
        ),
        ValueError,
        "X_val is invalid: Input X contains NaN",
    ),
}


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("case", BAD_X_VAL)
def test_bad_X_val_raises_and_leaves_the_model_unchanged(X, X_val, case, warm_start):
    make, error, message = BAD_X_VAL[case]
    model = ACAITransformer(**SMALL, warm_start=warm_start).fit(X)
    saved = copy.deepcopy(model)
    with pytest.raises(error, match=message):
        model.fit(X, X_val=make(X_val))
    assert_unchanged(model, saved)
    unfitted = ACAITransformer(**SMALL)
    with pytest.raises(error, match=message):
        unfitted.fit(X, X_val=make(X_val))
    assert not hasattr(unfitted, "n_features_in_")


def test_X_val_with_other_feature_names_is_refused(X, X_val):
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(6)]
    model = ACAITransformer(**SMALL).fit(pd.DataFrame(X, columns=columns))
    saved = copy.deepcopy(model)
    renamed = pd.DataFrame(X_val, columns=["g0", *columns[1:]])
    with pytest.raises(ValueError, match="X_val is invalid: The feature names should match"):
        model.fit(pd.DataFrame(X, columns=columns), X_val=renamed)
    assert_unchanged(model, saved)
    # A DataFrame X_val reaches the scoring callable as given, names included.
    seen = []
    model.set_params(scoring=lambda est, V: seen.append(V) or est.score(V))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "X does not have valid feature names")
        model.fit(pd.DataFrame(X, columns=columns), X_val=pd.DataFrame(X_val, columns=columns))
    assert all(isinstance(V, pd.DataFrame) for V in seen) and len(seen) == model.n_iter_


# ----------------------------------------------------------------- scoring


def test_scoring_is_called_each_epoch_and_the_best_epoch_is_kept(X, X_val):
    designed = [1.0, 3.0, 2.0, 0.5, 0.25]  # best: epoch 2; two epochs without improvement
    calls = []

    def scoring(estimator, V):
        assert V is X_val  # as given
        assert not estimator.encoder_.training  # inference's state
        assert estimator.n_iter_ == len(calls) + 1
        codes = estimator.transform(V)
        assert codes.shape == (25, 2) and estimator.inverse_transform(codes).shape == (25, 6)
        calls.append((estimator, weights(estimator)))
        return designed[len(calls) - 1]

    model = ACAITransformer(**{**SMALL, "max_iter": 10}, tol=0.0, n_iter_no_change=2)
    model.set_params(scoring=scoring).fit(X, X_val=X_val)
    assert model.n_iter_ == len(calls) == 4
    assert all(estimator is model for estimator, _ in calls)
    assert model.validation_scores_ == designed[:4]
    assert model.best_validation_score_ == 3.0
    assert_same_weights(weights(model), calls[1][1])  # epoch 2's weights restored
    assert model.best_loss_ is None


def test_scoring_on_the_held_out_rows(X):
    seen, returned = [], []

    def scoring(estimator, V):
        seen.append(V)
        returned.append(estimator.score(V))
        return returned[-1]

    model = ACAITransformer(**SMALL, scoring=scoring).fit(X)
    assert len(seen) == model.n_iter_ and all(V.shape == (8, 6) for V in seen)
    assert all(np.array_equal(V, seen[0]) for V in seen)  # the same rows each epoch
    assert all((X == row).all(axis=1).any() for row in seen[0])  # rows of X
    assert model.validation_scores_ == returned  # what scoring returned, epoch by epoch
    assert model.best_validation_score_ == max(returned)
    assert model.best_validation_score_ == pytest.approx(model.score(seen[0]))


def test_conv_networks_with_padding_are_scored_as_inference_sees_them(X):
    images = np.random.default_rng(2).random((40, 49))  # 7x7, padded to 8x8 inside
    params = {
        "n_components": 16,
        "architecture": "conv",
        "image_shape": (7, 7),
        "conv_width": 2,
        "scaling": "minmax",
        "max_iter": 3,
        "early_stopping": True,
        "random_state": 0,
    }
    default = ACAITransformer(**params).fit(images)
    scored = ACAITransformer(**params, scoring=lambda est, V: est.score(V)).fit(images)
    assert scored._network_spec.loss_on_padding
    assert scored.inverse_transform(scored.transform(images[:2])).shape == (2, 49)
    # Scoring changes which epoch is kept, never the training itself.
    assert default.loss_curve_ == scored.loss_curve_


def test_a_scoring_that_uses_the_model_does_not_change_training(X, X_val):
    def busy(estimator, V):
        clone(estimator).set_params(scoring=None, max_iter=1).fit(V)
        estimator.score_samples(V.astype(np.float32))
        estimator.interpolate(V[:2], V[2:4], n_steps=3)
        return 0.0  # never an improvement after the first: the last epoch is not kept

    def counter(estimator, V):
        return float(estimator.n_iter_)  # always better: the last epoch is kept

    plain = ACAITransformer(**SMALL, scoring=counter).fit(X, X_val=X_val)
    busy_model = ACAITransformer(**SMALL, scoring=busy, n_iter_no_change=10).fit(X, X_val=X_val)
    assert busy_model.loss_curve_ == plain.loss_curve_
    assert busy_model.n_iter_ == plain.n_iter_ == 4


class ScoringError(Exception):
    pass


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_scoring_that_raises_propagates_and_leaves_the_model_unchanged(X, X_val, warm_start):
    model = ACAITransformer(**SMALL, warm_start=warm_start).fit(X, X_val=X_val)
    saved = copy.deepcopy(model)

    def failing(estimator, V):
        if estimator.n_iter_ >= (6 if warm_start else 2):  # after some training
            raise ScoringError("no")
        return 0.0

    with pytest.raises(ScoringError):
        model.set_params(scoring=failing).fit(X, X_val=X_val)
    model.set_params(scoring=None)
    assert_unchanged(model, saved)
    unfitted = ACAITransformer(**{**SMALL, "max_iter": 8}, scoring=failing)
    with pytest.raises(ScoringError):
        unfitted.fit(X)
    assert not hasattr(unfitted, "encoder_")


@pytest.mark.parametrize("value", [np.nan, np.inf, "0.5", None, True, np.array([1.0])])
def test_a_scoring_that_returns_no_finite_number_is_refused(X, X_val, value):
    model = ACAITransformer(**SMALL).fit(X)
    saved = copy.deepcopy(model)

    def scoring(estimator, V):
        return value

    with pytest.raises(ValueError, match=r"scoring=.*returned .* in epoch 1; it must return a"):
        model.set_params(scoring=scoring).fit(X, X_val=X_val)
    model.set_params(scoring=None)
    assert_unchanged(model, saved)


@pytest.mark.parametrize("value", [np.float32(0.5), np.int64(2), 1])
def test_numpy_and_int_scores_are_accepted(X, X_val, value):
    model = ACAITransformer(**SMALL, scoring=lambda est, V: value).fit(X, X_val=X_val)
    assert model.validation_scores_[0] == float(value)
    assert all(type(score) is float for score in model.validation_scores_)


def test_scikit_learn_scorers_of_the_estimator_work(X, X_val):
    """A GridSearchCV scoring function (with ``y=None``) and ``check_scoring``'s."""
    three = ACAITransformer(**SMALL, scoring=lambda est, V, y=None: est.score(V)).fit(
        X, X_val=X_val
    )
    passthrough = ACAITransformer(**SMALL, scoring=check_scoring(ACAITransformer()))
    passthrough.fit(X, X_val=X_val)
    assert three.validation_scores_ == passthrough.validation_scores_


@pytest.mark.parametrize("value", ["neg_mean_squared_error", 1])
def test_scoring_must_be_a_callable_or_none(X, value):
    with pytest.raises(ValueError, match="The 'scoring' parameter of ACAITransformer must be"):
        ACAITransformer(**SMALL, scoring=value).fit(X)


# ------------------------------------------------------- scikit-learn's tools


def test_clone_pickle_and_grid_search_with_scoring(X, X_val):
    model = ACAITransformer(**SMALL, scoring=negative_error)
    assert clone(model).get_params()["scoring"] is negative_error
    fitted = model.fit(X, X_val=X_val)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    assert restored.validation_scores_ == fitted.validation_scores_
    search = GridSearchCV(model, {"n_components": [2, 3]}, cv=2).fit(X, X_val=X_val)
    assert search.best_estimator_.scoring is negative_error
    assert len(search.best_estimator_.validation_scores_) == search.best_estimator_.n_iter_


def test_a_pipeline_transforms_X_val_for_the_estimator(X, X_val):
    """``transform_input=["X_val"]`` (scikit-learn >= 1.6, with metadata routing)."""
    seen = []

    def scoring(estimator, V):
        seen.append(V)
        return estimator.score(V)

    with sklearn.config_context(enable_metadata_routing=True):
        acai = ACAITransformer(**SMALL, scoring=scoring).set_fit_request(X_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("acai", acai)], transform_input=["X_val"])
        codes = pipe.fit(X, X_val=X_val).transform(X)
    assert codes.shape == (80, 2) and len(seen) == acai.n_iter_
    np.testing.assert_allclose(seen[0], StandardScaler().fit(X).transform(X_val))


def test_save_refuses_a_scoring_callable_and_keeps_none(X, tmp_path):
    model = ACAITransformer(**SMALL, scoring=negative_error).fit(X)
    with pytest.raises(TypeError, match="cannot record parameter scoring=<function negative_e"):
        model.save(tmp_path / "model.safetensors")
    assert not (tmp_path / "model.safetensors").exists()
    model.set_params(scoring=None).save(tmp_path / "model.safetensors")
    loaded = ACAITransformer.load(tmp_path / "model.safetensors")
    assert loaded.scoring is None
    assert loaded.validation_scores_ == model.validation_scores_


# ------------------------------------------------------------ sample_weight_val


def weighted_scaled_error(model, X_val, w):
    x = torch.from_numpy(((X_val - model.mean_) / model.scale_).astype(np.float32))
    with torch.no_grad():
        per_row = (model.decoder_(model.encoder_(x)) - x).square().mean(dim=1).numpy()
    return -float(np.sum(per_row * w) / np.sum(w))


def test_sample_weight_val_weights_the_validation_rows(X, X_val):
    w = np.linspace(0.0, 3.0, len(X_val))  # the first row weighs nothing
    model = ACAITransformer(**SMALL).fit(X, X_val=X_val, sample_weight_val=w)
    assert model.best_validation_score_ == pytest.approx(
        weighted_scaled_error(model, X_val, w), rel=1e-5
    )
    unweighted = ACAITransformer(**SMALL).fit(X, X_val=X_val)
    assert model.validation_scores_ != unweighted.validation_scores_
    # Training is the same: only what early stopping follows differs.
    assert model.loss_curve_ == unweighted.loss_curve_
    # Equal weights are exactly no weights; zero weights exactly leaving the rows out.
    equal = ACAITransformer(**SMALL).fit(X, X_val=X_val, sample_weight_val=np.full(25, 2.0))
    assert equal.validation_scores_ == unweighted.validation_scores_
    zero = np.r_[np.zeros(5), np.ones(20)]
    dropped = ACAITransformer(**SMALL).fit(X, X_val=X_val, sample_weight_val=zero)
    kept = ACAITransformer(**SMALL).fit(X, X_val=X_val[5:])
    assert dropped.validation_scores_ == kept.validation_scores_


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_weight_val": np.ones(25)}, "sample_weight_val is given without X_val"),
        (
            {"sample_weight_val": np.ones(24), "X_val": "X_val"},
            r"sample_weight_val is invalid .*per row of X_val \(25 rows\)",
        ),
        (
            {"sample_weight_val": -np.ones(25), "X_val": "X_val"},
            "sample_weight_val is invalid",
        ),
        (
            {"sample_weight_val": np.full(25, np.nan), "X_val": "X_val"},
            "sample_weight_val is invalid",
        ),
        (
            {"sample_weight_val": np.ones(25), "X_val": "X_val", "scoring": negative_error},
            r"sample_weight_val weights the default score .* but scoring=",
        ),
    ],
)
def test_bad_sample_weight_val_raises_and_leaves_the_model_unchanged(X, X_val, kwargs, message):
    model = ACAITransformer(**SMALL).fit(X)
    saved = copy.deepcopy(model)
    kwargs = dict(kwargs)
    if kwargs.pop("X_val", None):
        kwargs["X_val"] = X_val
    if "scoring" in kwargs:
        model.set_params(scoring=kwargs.pop("scoring"))
    with pytest.raises(ValueError, match=message):
        model.fit(X, **kwargs)
    model.set_params(scoring=None)
    assert_unchanged(model, saved)


def test_a_pipeline_routes_sample_weight_val(X, X_val):
    with sklearn.config_context(enable_metadata_routing=True):
        acai = ACAITransformer(**SMALL).set_fit_request(X_val=True, sample_weight_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("acai", acai)], transform_input=["X_val"])
        w = np.linspace(1.0, 2.0, len(X_val))
        pipe.fit(X, X_val=X_val, sample_weight_val=w)
    fitted = pipe.named_steps["acai"]
    scaled = pipe.named_steps["scale"].transform(X_val)
    assert fitted.best_validation_score_ == pytest.approx(
        weighted_scaled_error(fitted, scaled, w), rel=1e-5
    )


# ------------------------------------------------------------ Ctrl-C in scoring


def test_ctrl_c_while_scoring_keeps_the_completed_epochs(X, X_val):
    scored = {}  # epoch -> the weights it was scored with

    def interrupted(estimator, V):
        if estimator.n_iter_ == 3:
            raise KeyboardInterrupt
        scored[estimator.n_iter_] = weights(estimator)
        return -float(estimator.n_iter_)  # the first epoch scores best

    model = ACAITransformer(**{**SMALL, "max_iter": 6}, scoring=interrupted)
    message = "interrupted .* while early stopping scored epoch 3; .* weights from epoch 1 "
    with pytest.warns(UserWarning, match=message):
        model.fit(X, X_val=X_val)
    assert model.n_iter_ == 3 and model.validation_scores_ == [-1.0, -2.0]
    assert model.best_validation_score_ == -1.0
    assert_same_weights(weights(model), scored[1])  # the warning's epoch 1, not epoch 3
    assert np.isfinite(model.transform(X)).all()


def test_an_interrupted_warm_start_names_the_best_epoch_it_keeps(X, X_val):
    model = ACAITransformer(**SMALL, warm_start=True).fit(X, X_val=X_val)  # epochs 1-4
    scored = {}  # epoch -> the weights it was scored with

    def interrupted(estimator, V):
        if estimator.n_iter_ == 7:
            raise KeyboardInterrupt
        scored[estimator.n_iter_] = weights(estimator)
        return 1.0 if estimator.n_iter_ == 6 else 0.0  # epoch 6 scores best

    model.set_params(scoring=interrupted, max_iter=10)
    with pytest.warns(
        UserWarning, match=r"scored epoch 7; the model keeps the weights from epoch 6 "
    ) as record:
        model.fit(X, X_val=X_val)
    assert record[0].filename == __file__  # points at the caller, not at skacai
    assert model.n_iter_ == 7 and model.best_validation_score_ == 1.0
    assert_same_weights(weights(model), scored[6])  # the warning's epoch 6, not epoch 7
