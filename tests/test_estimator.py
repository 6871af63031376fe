"""ACAITransformer's behaviour: fitted state, dtypes, scaling, interpolation, errors."""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skacai import ACAITransformer

SMALL = {"hidden_layer_sizes": (32,), "batch_size": 32, "max_iter": 4, "random_state": 0}


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=4.0, size=(3, 10))
    return centers[rng.integers(0, 3, 150)] + rng.normal(size=(150, 10))


@pytest.fixture(scope="module")
def fitted(blobs):
    return ACAITransformer(n_components=3, **SMALL).fit(blobs)


def test_fitted_attributes_have_documented_shapes(fitted, blobs):
    assert fitted.n_features_in_ == 10
    assert fitted.n_iter_ == 4
    assert fitted.mean_.shape == fitted.scale_.shape == (10,)
    assert fitted.loss_curve_ == fitted.history_["loss"]
    assert set(fitted.history_) == {
        "loss",
        "reconstruction",
        "adversarial",
        "critic",
        "critic_regularization",
    }
    assert all(len(curve) == 4 for curve in fitted.history_.values())
    expected_loss = np.add(
        fitted.history_["reconstruction"], 0.5 * np.array(fitted.history_["adversarial"])
    )
    np.testing.assert_allclose(fitted.loss_curve_, expected_loss)
    assert fitted.device_ == "cpu"
    x = torch.zeros(5, 10)
    assert fitted.encoder_(x).shape == (5, 3)
    assert fitted.decoder_(fitted.encoder_(x)).shape == (5, 10)
    assert fitted.critic_(x).shape == (5,)
    assert fitted.best_loss_ == min(fitted.history_["reconstruction"])
    assert fitted.validation_scores_ is None and fitted.best_validation_score_ is None
    assert list(fitted.get_feature_names_out()) == [f"acaitransformer{i}" for i in range(3)]


def test_outputs_shapes_and_dtypes(fitted, blobs):
    for dtype in (np.float32, np.float64):
        X = blobs.astype(dtype)
        codes = fitted.transform(X)
        assert codes.shape == (150, 3) and codes.dtype == dtype
        recon = fitted.inverse_transform(codes)
        assert recon.shape == (150, 10) and recon.dtype == dtype
        frames = fitted.interpolate(X[:4], X[4:8], n_steps=6)
        assert frames.shape == (4, 6, 10) and frames.dtype == dtype
        assert fitted.score_samples(X).dtype == np.float64
    assert fitted.transform(blobs.astype(np.int64)).dtype == np.float64
    np.testing.assert_allclose(
        fitted.transform(blobs.astype(np.float32)), fitted.transform(blobs), rtol=1e-4, atol=1e-4
    )


def test_transform_is_independent_of_the_inference_batches(fitted, blobs, monkeypatch):
    from skacai import _inference

    whole = fitted.transform(blobs.astype(np.float32))
    monkeypatch.setattr(_inference, "INFERENCE_BATCH_SIZE", 7)
    assert fitted._inference().rows == 7
    np.testing.assert_allclose(
        fitted.transform(blobs.astype(np.float32)), whole, rtol=0, atol=1e-6
    )


def test_conv_inference_on_cpu_runs_in_small_batches_with_the_same_results(monkeypatch):
    from skacai import _inference

    X = np.random.default_rng(0).normal(size=(300, 64)).astype(np.float32)
    model = ACAITransformer(
        16,
        architecture="conv",
        image_shape=(8, 8),
        conv_width=4,
        n_scales=1,
        max_iter=1,
        random_state=0,
    ).fit(X)
    assert model._inference().rows == _inference.CONV_CPU_INFERENCE_BATCH_SIZE < 300
    codes, recon = model.transform(X), model.inverse_transform(model.transform(X))
    monkeypatch.setattr(_inference, "CONV_CPU_INFERENCE_BATCH_SIZE", 4096)
    assert model._inference().rows == 4096
    np.testing.assert_array_equal(model.transform(X), codes)
    np.testing.assert_array_equal(model.inverse_transform(codes), recon)


@pytest.mark.parametrize(
    "name",
    [
        "n_components",
        "conv_width",
        "n_scales",
        "max_iter",
        "batch_size",
        "n_iter_no_change",
        "random_state",
    ],
)
def test_int_parameters_refuse_bools(blobs, name):
    """True is the int 1 to Python, but max_iter=True is a mistake, not one epoch."""
    model = ACAITransformer(**{**SMALL, name: True})
    with pytest.raises(
        ValueError, match=rf"The '{name}' parameter .*\(not a bool\).* Got True instead"
    ):
        model.fit(blobs)
    assert not hasattr(model, "n_iter_")


def test_reconstruction_falls_during_training(blobs):
    model = ACAITransformer(n_components=3, **{**SMALL, "max_iter": 15}).fit(blobs)
    curve = model.history_["reconstruction"]
    assert curve[-1] < 0.5 * curve[0]


def test_same_random_state_same_codes_and_different_otherwise(blobs):
    first = ACAITransformer(n_components=3, **SMALL).fit(blobs).transform(blobs)
    again = ACAITransformer(n_components=3, **SMALL).fit(blobs).transform(blobs)
    other = ACAITransformer(n_components=3, **{**SMALL, "random_state": 1}).fit(blobs)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other.transform(blobs))


@pytest.mark.parametrize("random_state", [None, 0, np.random.RandomState(0)])
def test_global_random_states_are_never_touched(blobs, random_state):
    np.random.seed(123)  # noqa: NPY002 (the global state is what is tested)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    torch_state = torch.get_rng_state().clone()
    model = ACAITransformer(n_components=3, **{**SMALL, "random_state": random_state})
    model.fit(blobs).partial_fit(blobs)
    model.interpolate(blobs[:2], blobs[2:4])
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_none_random_state_gives_different_models(blobs):
    params = {**SMALL, "random_state": None}
    a = ACAITransformer(n_components=3, **params).fit(blobs).transform(blobs)
    b = ACAITransformer(n_components=3, **params).fit(blobs).transform(blobs)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("scaling", ["global", "minmax"])
def test_scaling_makes_training_independent_of_scale_and_offset(blobs, scaling):
    params = {"n_components": 3, **SMALL, "scaling": scaling}
    base = ACAITransformer(**params).fit(blobs)
    shifted = 1e4 * blobs - 3e3
    scaled = ACAITransformer(**params).fit(shifted)
    np.testing.assert_allclose(scaled.transform(shifted), base.transform(blobs), atol=1e-4)
    np.testing.assert_allclose(
        scaled.inverse_transform(scaled.transform(shifted)),
        1e4 * base.inverse_transform(base.transform(blobs)) - 3e3,
        rtol=1e-4,
        atol=1.0,
    )


def test_feature_scaling_standardizes_each_feature(blobs):
    X = blobs * np.arange(1, 11)
    model = ACAITransformer(n_components=3, scaling="feature", **SMALL).fit(X)
    np.testing.assert_allclose(model.mean_, X.mean(axis=0))
    np.testing.assert_allclose(model.scale_, X.std(axis=0))
    unscaled = ACAITransformer(n_components=3, scaling=None, **SMALL).fit(X)
    np.testing.assert_array_equal(unscaled.mean_, np.zeros(10))
    np.testing.assert_array_equal(unscaled.scale_, np.ones(10))


def test_constant_features_are_not_divided_by_zero():
    X = np.column_stack([np.full(20, 5.0), np.linspace(0, 1, 20)])
    model = ACAITransformer(n_components=1, scaling="feature", **SMALL).fit(X)
    assert model.scale_[0] == 0.0  # no spread: divided by 1, decoded as its mean
    assert np.all(np.isfinite(model.transform(X)))
    np.testing.assert_array_equal(model.inverse_transform(model.transform(X))[:, 0], 5.0)


def test_interpolate_endpoints_are_the_reconstructions(fitted, blobs):
    frames = fitted.interpolate(blobs[:5], blobs[5:10], n_steps=4)
    recon = fitted.inverse_transform(fitted.transform(blobs[:10]))
    np.testing.assert_allclose(frames[:, 0], recon[:5], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(frames[:, -1], recon[5:], rtol=1e-10, atol=1e-10)


def test_interpolate_follows_the_documented_alpha_convention(fitted, blobs):
    alphas = [0.0, 0.3, 1.0]
    frames = fitted.interpolate(blobs[:2], blobs[2:4], alphas=alphas)
    z_start, z_end = fitted.transform(blobs[:2]), fitted.transform(blobs[2:4])
    expected = fitted.inverse_transform(0.7 * z_start + 0.3 * z_end)
    np.testing.assert_allclose(frames[:, 1], expected, rtol=1e-10, atol=1e-10)
    assert fitted.interpolate(blobs[:2], blobs[2:4]).shape == (2, 10, 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_steps": 1}, "n_steps must be an int >= 2"),
        ({"n_steps": 2.5}, "n_steps must be an int >= 2"),
        ({"n_steps": 3, "alphas": [0, 1]}, "either n_steps or alphas"),
        ({"alphas": [0, 1.5]}, r"alphas must lie in \[0, 1\]"),
        ({"alphas": [-0.1, 0.5]}, r"alphas must lie in \[0, 1\]"),
        ({"alphas": [[0, 1]]}, "alphas must be 1-D"),
    ],
)
def test_interpolate_rejects_bad_alphas(fitted, blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fitted.interpolate(blobs[:2], blobs[2:4], **kwargs)


def test_interpolate_rejects_unpaired_rows(fitted, blobs):
    with pytest.raises(ValueError, match="same shape"):
        fitted.interpolate(blobs[:2], blobs[2:5])
    with pytest.raises(ValueError, match="expecting 10 features"):
        fitted.interpolate(blobs[:2, :9], blobs[2:4, :9])


def test_inverse_transform_rejects_codes_of_the_wrong_width(fitted):
    with pytest.raises(ValueError, match=r"expects codes with 3 columns .* got 4"):
        fitted.inverse_transform(np.zeros((2, 4)))


def test_score_is_negative_mean_squared_reconstruction_error(fitted, blobs):
    recon = fitted.inverse_transform(fitted.transform(blobs))
    per_sample = -np.mean((blobs - recon) ** 2, axis=1)
    np.testing.assert_allclose(fitted.score_samples(blobs), per_sample, rtol=1e-10)
    assert fitted.score(blobs) == pytest.approx(per_sample.mean())


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError):
        ACAITransformer().transform(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        ACAITransformer().interpolate(np.zeros((2, 3)), np.zeros((2, 3)))


def test_partial_fit_trains_one_epoch_per_call_and_keeps_the_first_scaling(blobs):
    model = ACAITransformer(n_components=3, **SMALL)
    model.partial_fit(blobs[:75])
    mean = model.mean_.copy()
    model.partial_fit(blobs[75:] + 100)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    np.testing.assert_array_equal(model.mean_, mean)
    with pytest.raises(ValueError, match="expecting 10 features"):
        model.partial_fit(blobs[:, :5])
    assert model.n_iter_ == 2


def test_partial_fit_is_reproducible(blobs):
    def chunks():
        model = ACAITransformer(n_components=3, **SMALL)
        for chunk in np.array_split(blobs, 3):
            model.partial_fit(chunk)
        return model.transform(blobs)

    np.testing.assert_array_equal(chunks(), chunks())


def test_warm_start_continues_training(blobs):
    model = ACAITransformer(n_components=3, warm_start=True, **SMALL).fit(blobs)
    weights = next(model.encoder_.parameters()).detach().clone()
    model.set_params(max_iter=2, learning_rate_init=1e-4).fit(blobs)
    assert model.n_iter_ == 6 and len(model.history_["critic"]) == 6
    delta = (next(model.encoder_.parameters()).detach() - weights).abs().max().item()
    assert 0 < delta < 0.05
    cold = ACAITransformer(n_components=3, **SMALL).fit(blobs).set_params(max_iter=2).fit(blobs)
    assert cold.n_iter_ == 2


def test_early_stopping_monitors_a_validation_split_and_keeps_the_best_weights(blobs):
    model = ACAITransformer(
        n_components=3,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=2,
        tol=10.0,
        **{**SMALL, "max_iter": 50},
    ).fit(blobs)
    # tol=10: only the first epoch improves (on -inf); two more without improvement stop it
    assert model.n_iter_ == 3
    assert len(model.validation_scores_) == 3
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None


def test_early_stopping_needs_a_validation_sample():
    with pytest.raises(ValueError, match="at least one training and one validation"):
        ACAITransformer(early_stopping=True, **SMALL).fit(np.zeros((1, 3)))


def test_convergence_warning_when_max_iter_is_reached(blobs):
    with pytest.warns(ConvergenceWarning, match="max_iter=4") as record:
        ACAITransformer(n_components=3, **SMALL).fit(blobs)
    assert record[0].filename == __file__  # points at the caller, not at skacai


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_training_stops_when_converged(blobs):
    model = ACAITransformer(
        n_components=3, tol=1e3, n_iter_no_change=1, **{**SMALL, "max_iter": 30}
    )
    model.fit(blobs)  # a ConvergenceWarning would be an error here
    assert model.n_iter_ == 2


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_never_warns_about_convergence(blobs):
    ACAITransformer(n_components=3, **SMALL).partial_fit(blobs)


def test_failed_fit_leaves_a_fitted_model_exactly_as_it_was(fitted, blobs):
    model = clone(fitted).fit(blobs)
    before = model.transform(blobs)
    state = {k: v for k, v in vars(model).items()}
    bad = blobs.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad[:, :7])
    with pytest.raises(ValueError, match="device='nonsense'"):
        model.set_params(device="nonsense").fit(blobs[:, :7])
    model.set_params(device="cpu")
    assert vars(model).keys() == state.keys()
    assert model.n_features_in_ == 10
    np.testing.assert_array_equal(model.transform(blobs), before)


def test_device_errors_are_clear(blobs):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ACAITransformer(device="cuda", **SMALL).fit(blobs)
    with pytest.raises(ValueError, match="not a torch device"):
        ACAITransformer(device="gpu0", **SMALL).fit(blobs)


@pytest.mark.parametrize("sizes", [(0,), (16, -1), (1.5,), (True,)])
def test_bad_hidden_layer_sizes_are_rejected(blobs, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a positive int"):
        ACAITransformer(hidden_layer_sizes=sizes, max_iter=1).fit(blobs)


def test_hidden_layer_sizes_accepts_an_int_and_an_empty_tuple(blobs):
    deep = ACAITransformer(n_components=2, hidden_layer_sizes=7, max_iter=1).fit(blobs)
    assert [layer.out_features for layer in deep.encoder_.layers] == [7, 2]
    linear = ACAITransformer(n_components=2, hidden_layer_sizes=(), max_iter=1).fit(blobs)
    assert len(linear.encoder_.layers) == 1


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "encoder_")


def test_dataframe_feature_names_are_kept_and_set_output_works(blobs):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(10)])
    model = ACAITransformer(n_components=3, **SMALL).set_output(transform="pandas")
    codes = model.fit_transform(frame)
    assert list(model.feature_names_in_) == list(frame.columns)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == ["acaitransformer0", "acaitransformer1", "acaitransformer2"]
    assert model.inverse_transform(codes).shape == (150, 10)


def test_reconstructs_digits_much_better_than_pca():
    X, _ = load_digits(return_X_y=True)
    X_train, X_test = X[:1500], X[1500:]
    model = ACAITransformer(
        n_components=8, hidden_layer_sizes=(256, 128), batch_size=64, max_iter=30, random_state=0
    ).fit(X_train)
    acai_error = -model.score(X_test)
    pca = PCA(8).fit(X_train)
    pca_error = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    # measured: 4.17 vs 6.48 (ratio 0.64)
    assert acai_error < 0.8 * pca_error


def test_divergence_stops_training_and_keeps_the_last_finite_weights(blobs):
    model = ACAITransformer(n_components=3, warm_start=True, **SMALL).fit(blobs)
    codes = model.transform(blobs)
    model.set_params(learning_rate_init=1e12, max_iter=20)
    with pytest.warns(
        RuntimeWarning, match="non-finite in epoch 5; .* from epoch 4 were kept"
    ) as record:
        model.fit(blobs)
    assert record[0].filename == __file__  # points at the caller, not at skacai
    assert model.n_iter_ == 4 and len(model.loss_curve_) == 4
    np.testing.assert_array_equal(model.transform(blobs), codes)
    # and the optimiser state was rolled back too: training resumes normally
    model.set_params(learning_rate_init=1e-3, max_iter=2).fit(blobs)
    assert model.n_iter_ == 6 and np.all(np.isfinite(model.transform(blobs)))


def test_divergence_in_the_first_epoch_keeps_the_initial_weights(blobs):
    model = ACAITransformer(n_components=3, learning_rate_init=1e12, **SMALL)
    with pytest.warns(RuntimeWarning, match="from initialisation were kept"):
        model.fit(blobs * 1e3)
    assert model.n_iter_ == 0
    assert np.all(np.isfinite(model.transform(blobs)))


def test_ctrl_c_keeps_the_last_completed_epoch_and_warns(blobs, monkeypatch):
    from skacai import _device, _fit_loop

    real_train_epoch = _fit_loop.train_epoch
    calls = []

    def interrupted_in_third_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            real_train_epoch(*args, **kwargs)  # the epoch's updates happen, then Ctrl-C
            raise KeyboardInterrupt
        return real_train_epoch(*args, **kwargs)

    params = {**SMALL, "max_iter": 10}
    # A context of its own: monkeypatch.undo() would also undo the root conftest's
    # pinning of device="auto" to the CPU.
    with monkeypatch.context() as patch:
        patch.setattr(_fit_loop, "train_epoch", interrupted_in_third_epoch)
        with pytest.warns(UserWarning, match="interrupted .* in epoch 3; .* from epoch 2"):
            model = ACAITransformer(n_components=3, **params).fit(blobs)
    assert len(calls) == 3
    assert _device.resolve_device.__name__ == "resolve_auto_to_the_cpu"
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    two_epochs = ACAITransformer(n_components=3, **{**params, "max_iter": 2}).fit(blobs)
    np.testing.assert_array_equal(model.transform(blobs), two_epochs.transform(blobs))
    # and training resumes exactly where two uninterrupted epochs would have left it
    model.partial_fit(blobs)
    two_epochs.partial_fit(blobs)
    np.testing.assert_array_equal(model.transform(blobs), two_epochs.transform(blobs))


def real_resolve_device():
    """skacai's own ``resolve_device``, which the root conftest wraps to pin "auto"."""
    from skacai import _device

    wrapper = _device.resolve_device
    assert wrapper.__name__ == "resolve_auto_to_the_cpu"  # the pin is in place
    return inspect.getclosurevars(wrapper).nonlocals["resolve"]


@pytest.mark.parametrize("cuda", [True, False])
def test_device_auto_picks_cuda_when_available_else_the_cpu(monkeypatch, cuda):
    resolve = real_resolve_device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve("auto") == torch.device("cuda" if cuda else "cpu")


def test_device_auto_in_a_process_that_sees_the_machine():
    """Unpinned and with the machine's GPUs visible: "auto" is CUDA exactly when torch has it."""
    code = (
        "import torch; from skacai._device import resolve_device; "
        "print(resolve_device('auto').type, torch.cuda.is_available())"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    device, available = result.stdout.split()
    assert device == ("cuda" if available == "True" else "cpu")
