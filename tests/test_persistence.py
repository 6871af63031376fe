"""joblib / pickle persistence, checked by reloading in a fresh Python process."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from skacai import ACAITransformer

FAST = {"hidden_layer_sizes": (32, 16), "batch_size": 32, "max_iter": 3, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(200, 12))


def test_fitted_model_reloads_in_a_fresh_process_with_identical_transform(
    X, tmp_path, transform_in_fresh_process
):
    model = ACAITransformer(n_components=4, **FAST).fit(X)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    reloaded = transform_in_fresh_process(path, X)
    np.testing.assert_array_equal(reloaded, model.transform(X))


def test_pipeline_reloads_in_a_fresh_process_with_identical_output(
    X, tmp_path, transform_in_fresh_process
):
    pipe = Pipeline(
        [
            ("acai", ACAITransformer(n_components=4, **FAST)),
            ("km", KMeans(3, n_init=3, random_state=0)),
        ]
    ).fit(X)
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    reloaded = transform_in_fresh_process(path, X)
    np.testing.assert_array_equal(reloaded, pipe.transform(X))


def test_reloaded_model_keeps_training_where_it_stopped(X):
    model = ACAITransformer(n_components=4, **FAST).fit(X)
    copy = pickle.loads(pickle.dumps(model))
    model.partial_fit(X)
    copy.partial_fit(X)
    np.testing.assert_array_equal(copy.transform(X), model.transform(X))
    assert copy.n_iter_ == model.n_iter_ == 4


def test_the_file_holds_weights_not_the_training_data(X):
    small = pickle.dumps(ACAITransformer(n_components=4, **FAST).fit(X[:50]))
    big_X = np.random.default_rng(1).normal(size=(5000, 12))
    big = pickle.dumps(ACAITransformer(n_components=4, **FAST).fit(big_X))
    assert abs(len(big) - len(small)) < 1000  # history lengths are equal; data size is not
    model = pickle.loads(big)
    n_parameters = sum(
        p.numel() for m in (model.encoder_, model.decoder_, model.critic_) for p in m.parameters()
    )
    # float32 weights plus Adam's two moment estimates, and pickle's per-tensor metadata
    assert len(big) < 3 * 4 * n_parameters + 64_000


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_model_fitted_on_gpu_loads_on_a_cpu_only_process(
    X, tmp_path, architecture, transform_in_fresh_process
):
    conv = (
        {"architecture": "conv", "image_shape": (3, 4), "n_scales": 1}
        if architecture == "conv"
        else {}
    )
    model = ACAITransformer(n_components=4, device="cuda", **FAST, **conv).fit(X)
    assert model.device_.startswith("cuda")
    path = tmp_path / "gpu_model.joblib"
    joblib.dump(model, path)
    reloaded = transform_in_fresh_process(path, X, env={"CUDA_VISIBLE_DEVICES": ""})
    np.testing.assert_allclose(reloaded, model.transform(X), rtol=1e-4, atol=1e-5)
    assert model.device_.startswith("cuda")  # pickling did not move the live model
