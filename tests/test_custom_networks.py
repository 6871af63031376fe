"""Networks of the user's own: the encoder, decoder and critic parameters and skacai.Network."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from torch import nn

from skacai import ACAITransformer, Network, _mlp_step
from skacai._networks import Networks

warnings.filterwarnings("ignore", category=ConvergenceWarning)


class Encoder(nn.Sequential):
    """A small MLP of the user's: ``n_features -> width -> n_components``."""

    def __init__(self, n_features, n_components, width=16, norm=False):
        super().__init__(
            nn.Linear(n_features, width),
            nn.BatchNorm1d(width) if norm else nn.Identity(),
            nn.ReLU(),
            nn.Linear(width, n_components),
        )


class Decoder(nn.Sequential):
    def __init__(self, n_features, n_components, width=16):
        super().__init__(nn.Linear(n_components, width), nn.ReLU(), nn.Linear(width, n_features))


class Critic(nn.Module):
    """Returns ``(n, outputs)``: several values per row, which skacai averages."""

    def __init__(self, n_features, outputs=1):
        super().__init__()
        self.layer = nn.Linear(n_features, outputs)
        self.outputs = outputs

    def forward(self, x):
        y = self.layer(x)
        return y[:, 0] if self.outputs == 1 else y


class ConvEncoder(nn.Module):
    """An image encoder of the user's, reading the ``image_shape`` skacai passes."""

    def __init__(self, image_shape, n_components, channels=4):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.conv = nn.Conv2d(image_shape[0], channels, 3, padding=1)
        self.head = nn.Linear(channels * image_shape[1] * image_shape[2] // 4, n_components)

    def forward(self, x):
        image = x.reshape(x.shape[0], *self.image_shape)
        pooled = nn.functional.avg_pool2d(torch.relu(self.conv(image)), 2)
        return self.head(pooled.flatten(1))


def make_encoder(n_features, n_components):
    """A factory function (not a class)."""
    return nn.Linear(n_features, n_components)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def custom(**params):
    defaults = {
        "n_components": 4,
        "encoder": Network(Encoder, width=16),
        "decoder": Network(Decoder, width=16),
        "critic": Network(Critic),
        "max_iter": 3,
        "batch_size": 32,
        "random_state": 0,
    }
    return ACAITransformer(**(defaults | params))


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ building


def test_factories_build_the_networks_they_name_and_train(digits):
    X, _ = digits
    model = custom(max_iter=15).fit(X)
    assert isinstance(model.encoder_, Encoder)
    assert isinstance(model.decoder_, Decoder)
    assert isinstance(model.critic_.body, Critic)  # averaged to one value per row
    assert model.encoder_[0].in_features == 64 and model.encoder_[0].out_features == 16
    assert model.transform(X).shape == (300, 4)
    assert model.inverse_transform(model.transform(X)).shape == (300, 64)
    assert model.interpolate(X[:2], X[2:4], n_steps=3).shape == (2, 3, 64)
    # It learns: the reconstruction error falls.
    assert model.history_["reconstruction"][-1] < 0.8 * model.history_["reconstruction"][0]
    # Networks of the user's train with autograd, not skacai's hand-written MLP step.
    assert not _mlp_step.handles(Networks(model.encoder_, model.decoder_, model.critic_))


def test_the_parameters_are_not_touched_by_fit(digits):
    X, _ = digits
    encoder = Network(Encoder, width=16)
    model = custom(encoder=encoder).fit(X)
    assert model.encoder is encoder and encoder.kwargs == {"width": 16}
    assert model.encoder_ is not encoder


def test_a_class_a_function_and_an_instance_are_accepted(digits):
    X, _ = digits
    instance = Encoder(64, 4, width=8)
    before = weights(instance)
    for encoder in (Encoder, make_encoder, instance):
        model = custom(encoder=encoder).fit(X)
        assert model.transform(X).shape == (300, 4)
    # The instance is copied, never trained: each fit starts from its weights.
    assert same_weights(weights(instance), before)
    first = custom(encoder=instance, random_state=1).fit(X).transform(X)
    second = custom(encoder=instance, random_state=1).fit(X).transform(X)
    np.testing.assert_array_equal(first, second)


def test_only_the_shape_arguments_a_factory_names_are_passed(digits):
    X, _ = digits
    seen = {}

    def factory(n_components, **kwargs):
        seen.update(kwargs, n_components=n_components)
        return nn.Linear(64, n_components)

    def decoder(n_features, n_components, image_shape):
        seen["image_shape"] = image_shape
        return nn.Linear(n_components, n_features)

    custom(encoder=Network(factory, extra=1), decoder=decoder).fit(X)
    # **kwargs gets only the user's keyword arguments, not the shapes.
    assert seen == {"extra": 1, "n_components": 4, "image_shape": None}


def test_random_state_decides_a_factorys_initial_weights_and_the_global_generator_is_left(
    digits,
):
    X, _ = digits
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = custom(max_iter=1).fit(X)
    assert torch.equal(torch.get_rng_state(), state)
    b = custom(max_iter=1).fit(X)
    c = custom(max_iter=1, random_state=1).fit(X)
    assert same_weights(weights(a.encoder_), weights(b.encoder_))
    assert not same_weights(weights(a.encoder_), weights(c.encoder_))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_a_critic_may_return_one_or_several_values_per_row(digits):
    X, _ = digits
    for outputs in (1, 3):
        model = custom(critic=Network(Critic, outputs=outputs)).fit(X)
        assert model.critic_(torch.zeros(5, 64)).shape == (5,)

    class Column(nn.Module):  # (n, 1)
        def __init__(self, n_features):
            super().__init__()
            self.layer = nn.Linear(n_features, 1)

        def forward(self, x):
            return self.layer(x)

    assert custom(critic=Column).fit(X).critic_(torch.zeros(5, 64)).shape == (5,)


def test_your_networks_mix_with_skacais(digits):
    X, _ = digits
    # Only a critic of the user's: skacai's MLP encoder and decoder, with dropout.
    model = ACAITransformer(
        n_components=4,
        hidden_layer_sizes=(16,),
        critic=Network(Critic, outputs=2),
        dropout=0.2,
        max_iter=2,
        random_state=0,
    ).fit(X)
    assert model.encoder_.layers[0].out_features == 16
    assert isinstance(model.critic_.body, Critic)
    # Only an encoder: skacai's decoder and critic.
    model = custom(decoder=None, critic=None, hidden_layer_sizes=(8,)).fit(X)
    assert model.decoder_.layers[0].in_features == 4


def test_an_image_encoder_of_yours_beside_skacais_conv_decoder():
    X = load_digits().data[:200]
    for scaling in ("global", "minmax"):
        model = ACAITransformer(
            n_components=16,
            image_shape=(1, 8, 8),
            encoder=Network(ConvEncoder, channels=2),
            conv_width=2,
            scaling=scaling,
            max_iter=2,
            random_state=0,
        ).fit(X)
        assert isinstance(model.encoder_, ConvEncoder)
        assert type(model.decoder_).__name__ == "ConvDecoder"
        # Your encoder reads the unpadded rows, so the padding is skacai's own.
        assert not model._network_spec.loss_on_padding
        assert model.inverse_transform(model.transform(X[:5])).shape == (5, 64)


def test_bfloat16_early_stopping_and_weights_train_your_networks(digits):
    X, _ = digits
    weights_ = np.linspace(1.0, 2.0, len(X))
    params = {"precision": "bfloat16", "early_stopping": True, "max_iter": 15}
    model = custom(**params).fit(X, sample_weight=weights_)
    assert len(model.validation_scores_) == model.n_iter_
    # It learns: the training loss falls, and the kept epoch beats the first on
    # the held-out rows.
    assert model.history_["reconstruction"][-1] < 0.8 * model.history_["reconstruction"][0]
    assert model.best_validation_score_ > 0.8 * model.validation_scores_[0]  # negative
    # The precision and the weights reach the training: other models without them.
    codes = model.transform(X)
    assert np.isfinite(codes).all()
    for other in (custom(**{**params, "precision": "float32"}).fit(X, sample_weight=weights_),
                  custom(**params).fit(X)):  # fmt: skip
        assert not np.array_equal(other.transform(X), codes)


def test_float64_input_runs_your_networks_in_float64(digits):
    X, _ = digits
    model = custom(encoder=Network(Encoder, norm=True)).fit(X)
    codes64 = model.transform(X)
    codes32 = model.transform(X.astype(np.float32))
    assert codes64.dtype == np.float64 and codes32.dtype == np.float32
    np.testing.assert_allclose(codes64, codes32, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------- scikit-learn


def test_get_params_set_params_and_clone_see_a_networks_arguments(digits):
    X, _ = digits
    model = custom()
    params = model.get_params()
    assert params["encoder__width"] == 16 and params["encoder__module"] is Encoder
    model.set_params(encoder__width=8, decoder__width=8)
    assert model.encoder == Network(Encoder, width=8)
    copy = clone(model)
    assert copy.encoder is not model.encoder and copy.encoder == model.encoder
    np.testing.assert_array_equal(copy.fit(X).transform(X), clone(model).fit(X).transform(X))
    assert copy.encoder_[0].out_features == 8
    assert repr(model.encoder) == "Network(Encoder, width=8)"
    with pytest.raises(
        ValueError, match=r"Invalid parameter .widht.*Encoder takes norm, width \(skacai passes"
    ):
        model.set_params(encoder__widht=3)


def test_grid_search_over_a_networks_arguments(digits):
    X, y = digits
    pipeline = Pipeline([("acai", custom()), ("km", KMeans(10, n_init=2, random_state=0))])
    search = GridSearchCV(
        pipeline,
        {"acai__encoder__width": [8, 32], "acai__adversarial_weight": [0.0, 0.5]},
        cv=2,
        scoring="adjusted_rand_score",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_.named_steps["acai"]
    assert best.encoder_[0].out_features == search.best_params_["acai__encoder__width"]


def test_pickle_and_joblib_keep_your_networks(digits):
    X, _ = digits
    model = custom().fit(X)
    for dumped in (pickle.loads(pickle.dumps(model)), joblib_round_trip(model)):
        np.testing.assert_array_equal(dumped.transform(X), model.transform(X))
        assert dumped.encoder == model.encoder


def joblib_round_trip(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


# -------------------------------------------------------------- bad networks


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"encoder": Network(Encoder), "n_components": 4, "decoder": None},
            None,  # fine: a sanity case
        ),
        (
            {"encoder": lambda n_features: nn.Linear(n_features, 5)},
            r"The encoder returned shape \(2, 5\) for a batch of 2 rows; it must return "
            r"shape \(2, 4\): n_components=4 values per row",
        ),
        (
            {"decoder": lambda n_components: nn.Linear(n_components, 10)},
            r"The decoder returned shape \(2, 10\).*shape \(2, 64\): X's 64 features per row",
        ),
        (
            {"critic": lambda n_features: _Scalar()},
            r"The critic returned shape \(\) for 2 rows; it must return \(2,\) or \(2, \.\.\.\)",
        ),
        (
            {"encoder": lambda: nn.Linear(3, 4)},
            r"Running your encoder on a batch of shape \(2, 64\) failed: RuntimeError",
        ),
        (
            {"encoder": lambda: _Integers()},
            r"The encoder returned Tensor of dtype torch.int64; it must return a "
            "floating-point torch.Tensor",
        ),
    ],
)
def test_wrong_shapes_are_named_on_the_first_batch(digits, params, message):
    X, _ = digits
    model = custom(**params)
    if message is None:
        model.fit(X)
        return
    with pytest.raises(ValueError, match=message):
        model.fit(X)
    assert not hasattr(model, "encoder_")


class _Scalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.weight + x.sum()


class _Integers(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.zeros(x.shape[0], 4, dtype=torch.int64)


def broken(n_features, n_components):
    raise RuntimeError("no such layer")


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (
            {"encoder": broken},
            ValueError,
            r"encoder=<function broken at .*> failed to build its network for n_features=64, "
            r"n_components=4, image_shape=None: RuntimeError: no such layer",
        ),
        (
            {"decoder": Network(Decoder, depth=3)},
            ValueError,
            r"decoder=Network\(Decoder, depth=3\) failed to build.*TypeError.*depth",
        ),
        (
            {"encoder": Network(Encoder, n_features=3)},
            ValueError,
            r"sets n_features, which skacai passes from the data",
        ),
        ({"encoder": lambda: "a string"}, ValueError, r"returned a str, not a torch.nn.Module"),
        (
            {"critic": lambda: nn.ReLU()},
            ValueError,
            r"critic=.* has no parameters to train",
        ),
        (
            {
                "encoder": lambda: nn.Identity(),
                "decoder": lambda: nn.Identity(),
                "n_components": 64,
            },
            ValueError,
            r"The encoder and decoder have no parameters to train",
        ),
        ({"encoder": "Encoder"}, ValueError, r"The 'encoder' parameter"),
        ({"dropout": 0.5}, ValueError, r"dropout=0.5 applies to skacai's own MLP networks"),
    ],
)
def test_bad_networks_leave_a_fitted_model_as_it_was(digits, params, error, message):
    X, _ = digits
    model = custom().fit(X)
    before = (weights(model.encoder_), model.transform(X), model.get_params()["encoder"])
    with pytest.raises(error, match=message):
        model.set_params(**params).fit(X)
    assert same_weights(weights(model.encoder_), before[0])
    np.testing.assert_array_equal(model.transform(X), before[1])


def test_warm_start_and_partial_fit_refuse_changed_networks(digits):
    X, _ = digits
    model = custom(warm_start=True).fit(X)
    model.set_params(encoder__width=8)
    changed = r"encoder changed from \S*Encoder\(width=16\) to \S*Encoder\(width=8\)"
    with pytest.raises(ValueError, match=changed):
        model.fit(X)
    with pytest.raises(ValueError, match="encoder changed from"):
        model.partial_fit(X)
    model.set_params(encoder__width=16)
    model.partial_fit(X)  # the same networks again: training continues
    assert model.n_iter_ == 4


# ------------------------------------------------------------------ files


def test_save_and_load_with_the_same_networks_continue_exactly(digits, tmp_path):
    X, _ = digits
    model = custom(encoder=Network(Encoder, width=16, norm=True)).fit(X)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(
        path,
        encoder=Network(Encoder, width=16, norm=True),
        decoder=Network(Decoder, width=16),
        critic=Network(Critic),
    )
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert loaded.encoder == model.encoder
    # The optimiser and generator states came along: training continues identically.
    model.partial_fit(X)
    loaded.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_an_unfitted_model_and_an_instance_save_and_load(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "model.safetensors"
    custom(encoder=Encoder).save(path)
    loaded = ACAITransformer.load(
        path, encoder=Encoder, decoder=Network(Decoder, width=16), critic=Network(Critic)
    )
    assert not hasattr(loaded, "encoder_") and loaded.encoder is Encoder
    model = custom(encoder=Encoder(64, 4), decoder=None, critic=None).fit(X)
    model.save(path)
    loaded = ACAITransformer.load(path, encoder=Encoder(64, 4, width=16))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def changing_factory(n_features, n_components):
    """The same function, a different network: as if its code had changed."""
    return nn.Linear(n_features, n_components + changing_factory.extra)


changing_factory.extra = 0


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, r"was saved with your own encoder, .*Encoder\(width=16\); pass the same to load"),
        (
            {"encoder": Network(Encoder, width=8)},
            r"saved with encoder .*Encoder\(width=16\), but load\(\) was given "
            r".*Encoder\(width=8\)",
        ),
        (
            {"encoder": Network(Encoder, width=16), "decoder": Decoder, "critic": Critic},
            r"saved with decoder .*Decoder\(width=16\), but load\(\) was given .*Decoder\(\)",
        ),
    ],
)
def test_loading_with_other_networks_is_a_clear_error(digits, tmp_path, given, message):
    X, _ = digits
    path = tmp_path / "model.safetensors"
    custom().fit(X).save(path)
    with pytest.raises(ValueError, match=message):
        ACAITransformer.load(path, **{"decoder": Network(Decoder, width=16)} | given)


def test_loading_networks_into_a_model_of_skacais_own_is_refused(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "model.safetensors"
    ACAITransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=1).fit(X).save(path)
    with pytest.raises(ValueError, match=r"uses skacai's own encoder, but load\(\) was given"):
        ACAITransformer.load(path, encoder=Encoder)


def test_a_factory_whose_code_changed_is_caught_by_its_tensors(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "model.safetensors"
    custom(encoder=changing_factory, decoder=None, critic=None).fit(X).save(path)
    changing_factory.extra = 1
    try:
        with pytest.raises(
            ValueError,
            match=r"The encoder given to load\(\) builds other tensors than the model in .* "
            r"holds for it \(bias: \[5\] built, \[4\] in the file; weight: \[5, 64\] built, "
            r"\[4, 64\] in the file\)",
        ):
            ACAITransformer.load(path, encoder=changing_factory)
    finally:
        changing_factory.extra = 0


def test_export_takes_your_encoder_along(digits, tmp_path):
    X, _ = digits
    model = custom().fit(X)
    path = tmp_path / "encoder.pt2"
    model.export(path)
    program = torch.export.load(path)
    codes = program.module()(torch.from_numpy(X[:10].astype(np.float32)))
    np.testing.assert_allclose(
        codes.numpy(), model.transform(X[:10].astype(np.float32)), atol=1e-5
    )


def test_the_command_line_says_it_cannot_build_your_networks(digits, tmp_path, capsys):
    from skacai._cli import main

    X, _ = digits
    path = tmp_path / "model.safetensors"
    custom().fit(X).save(path)
    np.save(tmp_path / "X.npy", X)
    code = main(["transform", str(path), str(tmp_path / "X.npy"), "-o", str(tmp_path / "c.npy")])
    assert code == 1
    err = capsys.readouterr().err
    assert "was saved with your own encoder" in err
    assert "The command line cannot build networks of your own: load the model in Python" in err


def test_your_networks_train_on_sparse_input_as_on_dense(digits):
    import scipy.sparse

    X, _ = digits
    dense = custom(scaling=None).fit(X)
    sparse = custom(scaling=None).fit(scipy.sparse.csr_matrix(X))
    np.testing.assert_array_equal(sparse.transform(scipy.sparse.csr_matrix(X)), dense.transform(X))
