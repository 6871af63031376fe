"""Refactorings change no number: SHA-256 hashes of what a model computes, recorded.

Each configuration trains a small model, then hashes its ``transform``,
``inverse_transform``, ``score_samples`` and ``interpolate`` outputs, its loss
curves, a reloaded file's and an unpickled copy's codes, then trains once more with
``partial_fit`` and hashes again. ``tests/data/refactor_hashes.json`` holds the
hashes recorded before a refactoring; a change that moves code without changing
behaviour leaves every one of them equal. Regenerate the file (only for a deliberate
change of the numbers) with ``python tests/test_refactor_hashes.py``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from scipy import sparse

from skacai import ACAITransformer, Network

RECORD = Path(__file__).parent / "data" / "refactor_hashes.json"


class _Encoder(torch.nn.Module):
    """A network of the user's: one hidden layer of ``width``."""

    def __init__(self, n_features, n_components, width=6):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, width),
            torch.nn.Tanh(),
            torch.nn.Linear(width, n_components),
        )

    def forward(self, x):
        return self.layers(x)


class _Decoder(torch.nn.Module):
    """The user's decoder: codes back to features."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_components, 7), torch.nn.Tanh(), torch.nn.Linear(7, n_features)
        )

    def forward(self, x):
        return self.layers(x)


def _rows(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)


def _pixels(n, side, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, side * side))


MLP = {"n_components": 3, "hidden_layer_sizes": (12, 6), "max_iter": 3, "random_state": 0}
CONFIGURATIONS = {
    "mlp": (MLP, lambda: _rows(60, 8), {}),
    "mlp_feature_raw_codes": (
        {**MLP, "scaling": "feature", "whiten": False}, lambda: _rows(60, 8), {},
    ),
    "conv_global_padding": (
        {"n_components": 4, "image_shape": (7, 7), "n_scales": 2, "conv_width": 2,
         "max_iter": 2, "random_state": 1},
        lambda: _pixels(30, 7),
        {},
    ),
    "conv_minmax_padding": (
        {"n_components": 4, "image_shape": (6, 6), "n_scales": 2, "conv_width": 2,
         "scaling": "minmax", "max_iter": 2, "random_state": 2},
        lambda: _pixels(30, 6),
        {},
    ),
    "early_stopping": (
        {**MLP, "max_iter": 8, "early_stopping": True, "validation_fraction": 0.25,
         "n_iter_no_change": 2, "tol": 0.5},
        lambda: _rows(80, 8),
        {},
    ),
    "dropout": ({**MLP, "dropout": 0.3}, lambda: _rows(60, 8), {}),
    "sample_weight": (
        MLP,
        lambda: _rows(60, 8),
        {"sample_weight": np.random.default_rng(3).uniform(0, 2, size=60)},
    ),
    "user_encoder": (
        {**MLP, "encoder": Network(_Encoder, width=5), "decoder": Network(_Decoder)},
        lambda: _rows(60, 8),
        {},
    ),
    "sparse_no_scaling": (
        {**MLP, "scaling": None},
        lambda: sparse.random(60, 10, density=0.3, format="csr", random_state=4),
        {},
    ),
}  # fmt: skip


def _digest(*arrays):
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        hasher.update(str((array.dtype.str, array.shape)).encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()[:24]


def _outputs(model, X, tmp):
    dense = X.toarray() if sparse.issparse(X) else X
    codes = model.transform(X)
    own = {part: model.get_params()[part] for part in ("encoder", "decoder", "critic")}
    path = tmp / "model.skacai"
    model.save(path)
    tensors = sorted((name, tensor.numpy()) for name, tensor in load_file(path).items())
    return {
        "transform": _digest(codes, model.transform(dense[:7].astype(np.float32))),
        "inverse_transform": _digest(model.inverse_transform(codes)),
        "score_samples": _digest(model.score_samples(X), model.score(X)),
        "interpolate": _digest(model.interpolate(dense[:4], dense[4:8], n_steps=3)),
        "history": _digest(
            model.loss_curve_,
            *(model.history_[key] for key in sorted(model.history_)),
            [model.n_iter_],
            [np.nan if model.best_loss_ is None else model.best_loss_],
            model.validation_scores_ or [],
        ),
        "file_tensors": _digest(*(array for _, array in tensors)),
        "loaded": _digest(ACAITransformer.load(path, **own).transform(X)),
        "unpickled": _digest(pickle.loads(pickle.dumps(model)).transform(X)),
    }


def hashes(name, tmp):
    params, data, fit_params = CONFIGURATIONS[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reductions in one fixed order
    try:
        X = data()
        model = ACAITransformer(**params, device="cpu").fit(X, **fit_params)
        first = _outputs(model, X, tmp)
        model.partial_fit(X[::-1], **fit_params)
        return {"fit": first, "partial_fit": _outputs(model, X, tmp)}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_outputs_hash_as_recorded(name, tmp_path):
    recorded = json.loads(RECORD.read_text())
    assert hashes(name, tmp_path) == recorded[name]


def test_every_configuration_is_recorded():
    assert set(json.loads(RECORD.read_text())) == set(CONFIGURATIONS)


if __name__ == "__main__":  # python tests/test_refactor_hashes.py: record anew
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        record = {name: hashes(name, Path(folder)) for name in sorted(CONFIGURATIONS)}
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}", file=sys.stderr)
