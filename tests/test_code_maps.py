"""Code maps (issue 34): a post-processing of the codes is a ``_scaling.CodeMap`` in
``_scaling.CODE_MAPS`` plus the estimator's parameter that turns it on, and nothing
else. A map defined here, registered by patching the registry alone, goes through
transform, inverse_transform, model files, pickles and export; and no module but
``_scaling`` and ``_estimator`` names the whitening, the one map skacai has."""

from __future__ import annotations

import ast
import inspect
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

import skacai
from skacai import ACAITransformer, _model_file, _persistence, _scaling
from skacai._scaling import CodeMap, Whitening
from skacai.exceptions import ModelFileError

PACKAGE = Path(skacai.__file__).parent


@dataclass(frozen=True, eq=False)
class Shift(CodeMap):
    """Codes minus (their mean + 10): what transform returns has mean -10."""

    offset: np.ndarray

    name = "shift"
    parameter = "shift"
    flag = "shifted"

    @classmethod
    def fit(cls, codes, weights=None):
        return cls(np.average(codes, axis=0, weights=weights) + 10.0)

    @staticmethod
    def forward(codes, offset):
        return codes - offset

    @staticmethod
    def backward(codes, offset):
        return codes + offset

    @classmethod
    def shapes(cls, n_components):
        return (("shift.offset", (n_components,)),)


class Shifted(ACAITransformer):
    """ACAITransformer with the parameter that turns ``Shift`` on."""

    _parameter_constraints: ClassVar[dict] = {
        **ACAITransformer._parameter_constraints,
        "shift": ["boolean"],
    }

    def __init__(self, shift=True, **params):
        super().__init__(**params)
        self.shift = shift


_base = inspect.signature(ACAITransformer.__init__)
Shifted.__init__.__signature__ = _base.replace(
    parameters=[
        *_base.parameters.values(),
        inspect.Parameter("shift", inspect.Parameter.KEYWORD_ONLY, default=True),
    ]
)

PARAMS = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, random_state=0)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(_scaling, "CODE_MAPS", (Whitening, Shift))


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(120, 6))


@pytest.fixture
def models(registered, X):
    """The same networks (same seed) with both maps, and with the whitening alone."""
    return Shifted(**PARAMS).fit(X), Shifted(shift=False, **PARAMS).fit(X)


def test_a_registered_map_follows_the_ones_before_it(models, X):
    shifted, white = models
    assert [m.name for m in shifted._model.code_maps] == ["whitening", "shift"]
    codes = shifted.transform(X)
    np.testing.assert_allclose(codes, white.transform(X) - white.transform(X).mean(0) - 10)
    np.testing.assert_allclose(codes.mean(axis=0), -10.0, atol=1e-9)
    # Decoding undoes both maps: the same data as the model without the shift.
    np.testing.assert_allclose(
        shifted.inverse_transform(codes), white.inverse_transform(white.transform(X)), atol=1e-9
    )
    np.testing.assert_allclose(
        shifted.interpolate(X[:2], X[2:4], n_steps=3),
        white.interpolate(X[:2], X[2:4], n_steps=3),
        atol=1e-9,
    )


def test_turning_a_map_off_leaves_it_out(registered, X):
    raw = Shifted(shift=False, whiten=False, **PARAMS).fit(X)
    assert raw._model.code_maps == ()
    only = Shifted(whiten=False, **PARAMS).fit(X)
    assert [m.name for m in only._model.code_maps] == ["shift"]
    np.testing.assert_allclose(only.transform(X), raw.transform(X) - raw.transform(X).mean(0) - 10)


def test_model_files_and_pickles_keep_a_registered_map(models, X, tmp_path):
    shifted = models[0]
    description, tensors = _persistence._describe(shifted)
    assert description["state"]["shifted"] is True and "shift.offset" in tensors
    shifted.save(tmp_path / "shifted.skacai")
    loaded = Shifted.load(tmp_path / "shifted.skacai")
    unpickled = pickle.loads(pickle.dumps(shifted))
    for copy in (loaded, unpickled):
        np.testing.assert_array_equal(copy.transform(X), shifted.transform(X))
        assert copy._model.code_map("shift") == shifted._model.code_map("shift")


def test_files_and_pickles_from_before_a_map_load_without_it(models, X, tmp_path):
    white = models[1]
    before = Shifted(**PARAMS).fit(X)
    description, tensors = _persistence._describe(before)
    del description["params"]["shift"], description["state"]["shifted"]
    del tensors["shift.offset"]
    path = tmp_path / "before.skacai"
    path.write_bytes(_model_file.serialize(description, tensors))
    old_file = Shifted.load(path)
    state = before.__getstate__()
    del state["_shift"], state["shift"]
    old_pickle = Shifted.__new__(Shifted)
    old_pickle.__setstate__(state)
    for old in (old_file, old_pickle):
        assert old.shift is False and old._model.code_map("shift") is None
        np.testing.assert_array_equal(old.transform(X), white.transform(X))


def test_a_forged_registered_map_is_refused(models, tmp_path):
    description, tensors = _persistence._describe(models[0])
    tensors["shift.offset"] = torch.full_like(tensors["shift.offset"], float("nan"))
    path = tmp_path / "forged.skacai"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match="saved shift holds non-finite values"):
        Shifted.load(path)


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_exported_graphs_apply_a_registered_map(models, X, part, check_pt2_export):
    check_pt2_export(models[0], X, part)


def _named_in_code(path, word):
    """Identifiers, attributes and strings of ``path``'s code (not its docstrings or
    comments) that contain ``word``."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = "" if id(node) in docstrings else node.value
        else:
            continue
        if word in text.lower():
            found.append(f"{path.name}:{node.lineno}: {text!r}")
    return found


def test_only_the_scaling_and_the_estimator_name_the_whitening():
    """The fitted model, inference, export, model files and pickles handle any code
    map through the registry; naming one there would make a new map touch them."""
    # _estimator: the parameter, and ``_whitening`` for tests and benchmarks.
    allowed = {"_scaling.py", "_estimator.py"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name not in allowed and path.name != "metrics.py":  # the paper's protocol
            found += _named_in_code(path, "whiten")
    assert not found, "\n".join(found)
    # The check sees code: it finds the estimator's own uses.
    assert _named_in_code(PACKAGE / "_estimator.py", "whiten")
