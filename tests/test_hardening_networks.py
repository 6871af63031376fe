"""Networks of the user's own that must round-trip through ``save`` and ``load``
(issue 35, item 7): parameters in any floating dtype, tied weights, and factory
arguments recorded by value (NumPy scalars included) or refused at fit."""

import threading
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skacai import ACAITransformer, Network

warnings.filterwarnings("ignore", category=ConvergenceWarning)
PARAMS = {"n_components": 2, "max_iter": 2, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(40, 6))


class TypedEncoder(nn.Module):
    """An encoder whose parameters are in ``dtype`` (a string, so that it is recorded)."""

    def __init__(self, n_features, n_components, dtype="float64"):
        super().__init__()
        self.layer = nn.Linear(n_features, n_components).to(getattr(torch, dtype))

    def forward(self, x):
        return self.layer(x.to(self.layer.weight.dtype)).to(x.dtype)


class TiedEncoder(nn.Module):
    """Two layers that are one: ``second`` is ``first`` (tied weights)."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.first = nn.Linear(n_features, n_features)
        self.second = self.first
        self.head = nn.Linear(n_features, n_components)

    def forward(self, x):
        return self.head(torch.relu(self.second(torch.relu(self.first(x)))))


def round_trip(model, path, **networks):
    model.save(path)
    return ACAITransformer.load(path, **networks)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "float16"])
def test_parameters_in_any_float_dtype_round_trip(X, tmp_path, dtype):
    encoder = Network(TypedEncoder, dtype=dtype)
    model = ACAITransformer(**PARAMS, encoder=encoder).fit(X)
    assert model.encoder_.layer.weight.dtype == getattr(torch, dtype)
    loaded = round_trip(model, tmp_path / "model.st", encoder=encoder)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    loaded.partial_fit(X)  # the optimiser state, in the parameters' dtype, carries on
    model.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_tied_weights_round_trip(X, tmp_path):
    model = ACAITransformer(**PARAMS, encoder=TiedEncoder).fit(X)
    loaded = round_trip(model, tmp_path / "model.st", encoder=TiedEncoder)
    assert loaded.encoder_.first.weight is loaded.encoder_.second.weight
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    loaded.partial_fit(X)
    model.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


class Wide(nn.Sequential):
    def __init__(self, n_features, n_components, width=8, gain=1.0, sizes=(4,), options=None):
        super().__init__(nn.Linear(n_features, int(width)), nn.Linear(int(width), n_components))


@pytest.mark.parametrize(
    ("saved", "given"),
    [
        ({"width": np.int64(8)}, {"width": np.int64(16)}),
        ({"gain": np.float32(0.5)}, {"gain": np.float32(2.0)}),
        ({"sizes": (np.int32(4), 2)}, {"sizes": (np.int32(5), 2)}),
        ({"options": {"bias": True}}, {"options": {"bias": False}}),
        ({"options": np.bool_(True)}, {"options": np.bool_(False)}),
    ],
)
def test_factory_arguments_are_recorded_by_value(X, tmp_path, saved, given):
    """A model saved with one value loads with the same value, and is refused with another
    (a type name would have matched any value of the type)."""
    model = ACAITransformer(**PARAMS, encoder=Network(Wide, **saved)).fit(X)
    path = tmp_path / "model.st"
    model.save(path)
    ACAITransformer.load(path, encoder=Network(Wide, **saved))
    with pytest.raises(ValueError, match=r"was saved with encoder .*Wide"):
        ACAITransformer.load(path, encoder=Network(Wide, **given))
    with pytest.raises(ValueError, match="encoder changed from"):  # warm_start sees it too
        model.set_params(warm_start=True, encoder=Network(Wide, **given)).fit(X)


@pytest.mark.parametrize(
    "value",
    [torch.ones(2), object(), nn.ReLU(), float("nan"), {1: "a"}, np.ones(2)],
    ids=["tensor", "object", "module", "nan", "int-key", "array"],
)
def test_a_factory_argument_no_file_can_record_is_refused_at_fit(X, value):
    model = ACAITransformer(**PARAMS, encoder=Network(Wide, options=value))
    refused = r"Network\(Wide, options=.*\)'s argument options=.* cannot be recorded"
    with pytest.raises(ValueError, match=refused):
        model.fit(X)
    assert not hasattr(model, "encoder_")


def test_classes_and_functions_as_arguments_are_recorded_by_name(X, tmp_path):
    model = ACAITransformer(**PARAMS, encoder=Network(Wide, options=nn.ReLU)).fit(X)
    path = tmp_path / "model.st"
    model.save(path)
    ACAITransformer.load(path, encoder=Network(Wide, options=nn.ReLU))
    with pytest.raises(ValueError, match="was saved with encoder"):
        ACAITransformer.load(path, encoder=Network(Wide, options=nn.Tanh))


# ---------------------------------------------------------------- exports, right or refused


class Branching(nn.Module):
    """An encoder whose forward takes a Python branch on the data: tracing records the
    branch the example took (zeros), whatever the data later say."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.layer = nn.Linear(n_features, n_components)

    def forward(self, x):
        if bool(x[:, 0].mean() > 0):
            return self.layer(x)
        return self.layer(x) * 0.0


def exported_codes(path, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates TorchScript
        graph = torch.jit.load(path)
    return graph(torch.from_numpy(X.astype(np.float32))).numpy()


def test_an_export_that_does_not_compute_transform_is_refused(X, tmp_path):
    model = ACAITransformer(**PARAMS, encoder=Branching).fit(X)
    path = tmp_path / "encoder.pt"
    with pytest.raises(
        ValueError, match=r"the exported TorchScript graph gives .* where the model"
    ):
        model.export(path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_scale_float32_holds_imprecisely_is_refused(X, tmp_path):
    """scale_ of about 1e-44 is a float32 subnormal with three significant bits: the
    exported graph's codes were off by 2e-2."""
    small = (X + 10.0) * 1e-44
    model = ACAITransformer(**PARAMS, hidden_layer_sizes=(8,), scaling="feature").fit(small)
    with pytest.raises(
        ValueError, match=r"cannot export this model: its (mean_|scale_) .*float32"
    ):
        model.export(tmp_path / "encoder.pt")
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_computes_transform_still_passes(X, tmp_path):
    model = ACAITransformer(**PARAMS, encoder=TiedEncoder).fit(X)
    model.export(tmp_path / "encoder.pt")
    np.testing.assert_allclose(
        exported_codes(tmp_path / "encoder.pt", X), model.transform(X), rtol=1e-4, atol=1e-5
    )


# ------------------------------------------------------------ factories fitted in threads


class Slow(nn.Sequential):
    """A factory that draws weights, waits (another thread's factory runs meanwhile) and
    draws more: its weights are the seeded ones only if no other factory reseeds torch's
    generator in between."""

    def __init__(self, n_features, n_components):
        first = nn.Linear(n_features, 8)
        time.sleep(0.2)
        super().__init__(first, nn.ReLU(), nn.Linear(8, n_components))


def test_factories_fitted_in_threads_are_reproducible(X):
    def fit(seed):
        return ACAITransformer(**PARAMS | {"random_state": seed}, encoder=Slow).fit(X)

    serial = [fit(seed).transform(X) for seed in (0, 1)]
    torch.manual_seed(1234)
    caller = torch.get_rng_state()
    results = {}
    threads = [
        threading.Thread(target=lambda seed=seed: results.update({seed: fit(seed)}))
        for seed in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert torch.equal(torch.get_rng_state(), caller)  # the caller's generator untouched
    for seed in (0, 1):
        np.testing.assert_array_equal(results[seed].transform(X), serial[seed])


# ------------------------------------------------------- padding fields of a model file

CONV = {"n_components": 4, "image_shape": (4, 4), "n_scales": 1, "conv_width": 2}


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        ({}, "loss_on_padding", True),
        ({}, "pad_center", True),
        ({}, "pad_value", 3.0),
        (CONV, "loss_on_padding", True),
        (CONV | {"scaling": "minmax"}, "loss_on_padding", False),
        (CONV | {"scaling": "minmax"}, "pad_value", 0.0),
    ],
)
def test_padding_fields_that_contradict_the_parameters_are_refused(tmp_path, params, field, value):
    """A forged padding field loaded, then partial_fit raised AttributeError (or trained
    networks other than those the parameters describe)."""
    from skacai import _model_file, _persistence
    from skacai.exceptions import ModelFileError

    X = np.random.default_rng(0).uniform(size=(40, 16))
    model = ACAITransformer(**PARAMS | {"n_components": 2} | params).fit(X)
    description, tensors = _persistence._describe(model)
    description["state"]["network_spec"][field] = value
    path = tmp_path / "forged.st"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match=f"invalid model description: its network's {field}="):
        ACAITransformer.load(path)


@pytest.mark.parametrize("value", [[], {"mlp": 1}, None, 3])
def test_an_architecture_that_is_not_a_name_is_refused(tmp_path, value):
    """A list as the architecture raised TypeError (unhashable) in the registry lookup
    (found by the long fuzz run after the architectures became a registry)."""
    from skacai import _model_file, _persistence
    from skacai.exceptions import ModelFileError

    model = ACAITransformer(**PARAMS | {"n_components": 2}).fit(
        np.random.default_rng(0).uniform(size=(40, 16))
    )
    description, tensors = _persistence._describe(model)
    description["state"]["network_spec"]["architecture"] = value
    path = tmp_path / "forged.st"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match="invalid model description: unknown architecture"):
        ACAITransformer.load(path)


# ------------------------------------------------------------ bounded cost of a model file


@pytest.mark.parametrize(
    "dtype", ["<U200000000", "V100000000", "<f8,(100000000,)i1", "O", "<M8[ns]", "<c16"]
)
def test_a_parameter_array_of_a_forged_dtype_is_refused_at_no_cost(tmp_path, dtype):
    """A 1 kB file whose parameter array claimed a 800 MB string dtype cost 6.7 s and
    2.2 GB to load (and loaded)."""
    import time
    import tracemalloc

    from skacai import _model_file, _persistence
    from skacai.exceptions import ModelFileError

    model = ACAITransformer(**PARAMS)
    description, tensors = _persistence._describe(model)
    description["params"]["hidden_layer_sizes"] = {"__array__": [8, 8], "dtype": dtype}
    path = tmp_path / "forged.st"
    path.write_bytes(_model_file.serialize(description, tensors))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match=r"dtype .* booleans, integers or floats"):
            ACAITransformer.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 2**24


def test_a_forged_width_is_refused_before_the_networks_are_built(X, tmp_path):
    """A forged n_features made load build the user's networks at that width (+2 GB,
    6.7 s for a large file) before the tensor table, which contradicts it, was read."""
    from skacai import _model_file, _persistence
    from skacai.exceptions import ModelFileError

    widths = []

    def encoder(n_features, n_components):
        widths.append(n_features)
        return nn.Linear(n_features, n_components)

    model = ACAITransformer(**PARAMS, encoder=encoder).fit(X)
    description, tensors = _persistence._describe(model)
    description["state"]["network_spec"]["n_features"] = 5000
    path = tmp_path / "forged.st"
    path.write_bytes(_model_file.serialize(description, tensors))
    widths.clear()
    with pytest.raises(ModelFileError, match=r"names 5000 features, but its tensor 'mean_'"):
        ACAITransformer.load(path, encoder=encoder)
    assert widths == []
