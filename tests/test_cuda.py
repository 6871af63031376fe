"""Training on a CUDA GPU: everything stays there, no host synchronisation per step,
results comparable to the CPU's, and models move back to the CPU.

Every test here skips without a CUDA device (the project's CI machine has none);
on a GPU machine run ``pytest tests/test_cuda.py`` (``tests/test_training.py``,
``tests/test_persistence.py`` and ``tests/test_safe_persistence.py`` also have
CUDA cases).
"""

import warnings

import numpy as np
import pytest
import torch

from skacai import ACAITransformer, _fit_loop, _mlp_step
from skacai._networks import NetworkSpec, build_networks
from skacai._training import Networks, Optimizers, StepGraph, train_epoch

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

CONFIGS = {
    "mlp": {"hidden_layer_sizes": (32, 32)},
    "mlp_dropout": {"hidden_layer_sizes": (32, 32), "dropout": 0.5},
    "mlp_bf16": {"hidden_layer_sizes": (32, 32), "precision": "bfloat16"},
    "conv": {"architecture": "conv", "image_shape": (8, 8), "conv_width": 4, "n_scales": 1},
    "conv_bf16": {
        "architecture": "conv",
        "image_shape": (8, 8),
        "conv_width": 4,
        "n_scales": 1,
        "precision": "bfloat16",
    },
}


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 64))
    return (centres[rng.integers(4, size=640)] + rng.normal(size=(640, 64))).astype(np.float32)


def model_for(name, **params):
    n_components = 16 if name.startswith("conv") else 4
    defaults = {"device": "cuda", "batch_size": 16, "max_iter": 1, "random_state": 0}
    return ACAITransformer(n_components, **{**defaults, **CONFIGS[name], **params})


def count_host_syncs(function):
    """How many times ``function`` made the host wait for the GPU (torch's sync debug mode)."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            function()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("name", CONFIGS)
def test_an_epoch_waits_for_the_gpu_as_often_whatever_its_number_of_steps(X, name):
    """Each call captures its CUDA graph once (which synchronises); steps never do."""
    model = model_for(name).partial_fit(X)  # first-call work (cuDNN plans) done
    twenty_steps = count_host_syncs(lambda: model.partial_fit(X[:320]))
    forty_steps = count_host_syncs(lambda: model.partial_fit(X))
    assert forty_steps == twenty_steps, (twenty_steps, forty_steps)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_waits_for_the_gpu_per_epoch_not_per_step(X, early_stopping):
    def fit(n_rows):
        model = model_for("mlp", max_iter=3, early_stopping=early_stopping)
        return count_host_syncs(lambda: model.fit(X[:n_rows]))

    fit(640)  # warm-up
    assert fit(320) == fit(640)  # 3 epochs of 20 or of 40 steps


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_the_model_and_its_optimiser_state_live_on_the_gpu(X, name):
    model = model_for(name).fit(X)
    assert model.device_.startswith("cuda")
    modules = (model.encoder_, model.decoder_, model.critic_)
    assert all(p.is_cuda for m in modules for p in m.parameters())
    for state in model._optimizer_states:
        for values in state["state"].values():
            assert all(v.is_cuda for v in values.values() if isinstance(v, torch.Tensor))
    if name == "conv":
        weights = [p for m in modules for p in m.parameters() if p.dim() == 4]
        assert weights
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)


@pytest.mark.parametrize("name", ["mlp", "conv", "mlp_bf16", "conv_bf16"])
def test_the_gpu_trains_as_well_as_the_cpu(X, name):
    """Other random streams and kernels, so not the same numbers: the same quality."""
    errors = {}
    for device in ("cpu", "cuda"):
        model = model_for(name, device=device, max_iter=15, learning_rate_init=3e-3).fit(X)
        reconstruction = model.inverse_transform(model.transform(X))
        errors[device] = float(np.mean((reconstruction - X) ** 2))
    variance = float(np.mean((X - X.mean(axis=0)) ** 2))  # predicting the mean
    assert errors["cuda"] < 0.5 * variance
    assert errors["cuda"] < 1.5 * errors["cpu"], errors


@pytest.mark.parametrize("name", ["mlp", "mlp_dropout", "conv"])
def test_a_gpu_model_saved_and_loaded_keeps_training_exactly_on_the_gpu(X, name, tmp_path):
    model = model_for(name).fit(X)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_allclose(loaded.transform(X), model.transform(X), rtol=1e-4, atol=1e-5)
    model.partial_fit(X)
    loaded.partial_fit(X)  # back on the GPU (its device parameter), same generator state
    assert loaded.device_.startswith("cuda")
    # cuDNN's convolution gradients are summed in no fixed order: equal to rounding
    atol = 1e-4 if name == "conv" else 1e-5
    np.testing.assert_allclose(loaded.transform(X), model.transform(X), rtol=1e-4, atol=atol)


def test_transform_on_the_gpu_matches_the_same_weights_on_the_cpu(X, tmp_path):
    model = model_for("conv").fit(X)
    path = tmp_path / "model.safetensors"
    model.save(path)
    on_cpu = ACAITransformer.load(path)
    codes = model.transform(X)
    np.testing.assert_allclose(codes, on_cpu.transform(X), rtol=1e-3, atol=1e-3)  # TF32 convs
    np.testing.assert_allclose(
        model.inverse_transform(codes), on_cpu.inverse_transform(codes), rtol=1e-3, atol=1e-3
    )


# ------------------------------------------------------------ the CUDA graph


def networks_and_optimizers(name):
    spec = {
        "mlp": NetworkSpec("mlp", 64, 4, (32, 32)),
        "conv": NetworkSpec("conv", 64, 16, (), (1, 8, 8), 4, 1),
    }[name]
    networks = Networks(*build_networks(spec, torch.Generator().manual_seed(0), "cuda"))
    optimizers = Optimizers(
        *(
            torch.optim.Adam(params, lr=1e-3, fused=True, capturable=True)
            for params in (networks.autoencoder_parameters(), networks.critic_parameters())
        )
    )
    return networks, optimizers


@pytest.mark.parametrize("name", ["mlp", "conv"])
@pytest.mark.parametrize("precision", [None, torch.bfloat16])
def test_the_replayed_graph_trains_exactly_like_the_eager_step(X, name, precision, monkeypatch):
    # The graph replays train_step: compare it with train_step, not the hand-written MLP step.
    monkeypatch.setattr(_mlp_step, "handles", lambda networks: False)
    results = {}
    for graph in (None, StepGraph()):
        networks, optimizers = networks_and_optimizers(name)
        generator = torch.Generator("cuda").manual_seed(0)
        epochs = [
            train_epoch(
                networks,
                optimizers,
                torch.from_numpy(X).cuda(),
                batch_size=48,
                shuffle=True,
                generator=generator,
                adversarial_weight=0.5,
                critic_regularization=0.2,
                autocast_dtype=precision,
                graph=graph,
            )
            for _ in range(2)
        ]
        weights = torch.cat([p.detach().flatten() for m in networks for p in m.parameters()])
        results["eager" if graph is None else "graph"] = (epochs, weights)
        if graph is not None:
            assert graph.graph is not None  # 13 full batches of 48 an epoch: captured
    # float32 convolutions run in TF32 on the GPU (cuDNN's default), and the captured
    # step may use other cuDNN algorithms than the eager one: equal to that rounding
    rtol, atol = (1e-3, 5e-4) if name == "conv" else (1e-4, 1e-5)
    for got, expected in zip(results["graph"][0], results["eager"][0], strict=True):
        assert got == pytest.approx(expected, rel=rtol)
    torch.testing.assert_close(results["graph"][1], results["eager"][1], rtol=rtol, atol=atol)


def test_fit_on_the_gpu_replays_a_graph_unless_dropout_draws_masks(X, monkeypatch):
    graphs = []

    class Recorded(StepGraph):
        def __init__(self):
            super().__init__()
            graphs.append(self)

    monkeypatch.setattr(_fit_loop, "StepGraph", Recorded)
    model_for("conv").fit(X)
    assert len(graphs) == 1 and graphs[0].graph is not None
    model_for("mlp_dropout").fit(X)
    assert len(graphs) == 1


def test_a_failed_capture_warns_and_trains_on_eagerly(X, monkeypatch):
    reference = model_for("mlp", max_iter=2).fit(X)

    def refuse(graph):
        raise RuntimeError("capture is not supported here")

    monkeypatch.setattr(torch.cuda, "graph", refuse)
    with pytest.warns(RuntimeWarning, match="CUDA graph failed") as record:
        model = model_for("mlp", max_iter=2).fit(X)
    capture = [w for w in record if "CUDA graph failed" in str(w.message)]
    assert capture[0].filename == __file__  # points at the caller, not at skacai
    np.testing.assert_allclose(model.transform(X), reference.transform(X), rtol=1e-5, atol=1e-6)
