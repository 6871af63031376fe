import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# Lets scikit-learn's array-API estimator check run instead of skipping; must be set
# before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


SHARED_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="session")
def mnist_path():
    """The project's shared MNIST file (or the file ``SKACAI_MNIST`` names).

    Where it is absent the tests that need it skip with the reason, except in CI
    (``CI=true``), where they fail: some of them back figures in the docs.
    """
    path = Path(os.environ.get("SKACAI_MNIST", SHARED_MNIST))
    if not path.exists():
        reason = f"MNIST not found at {path} (the project's shared data folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; with CI=true a missing data file fails the run")
        pytest.skip(reason)
    return path


@pytest.fixture
def transform_in_fresh_process(tmp_path):
    """``run(model_path, X, loader="joblib.load", env=None)``: a new interpreter's transform.

    ``loader`` is the expression that reads the model file in that interpreter,
    e.g. ``"skacai.ACAITransformer.load"``.
    """

    def run(model_path, X, loader="joblib.load", env=None):
        X_path, out_path = tmp_path / "X.npy", tmp_path / "out.npy"
        np.save(X_path, X)
        code = textwrap.dedent(
            f"""
            import joblib, numpy as np, skacai
            model = {loader}({str(model_path)!r})
            np.save({str(out_path)!r}, model.transform(np.load({str(X_path)!r})))
            """
        )
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        return np.load(out_path)

    return run


@pytest.fixture
def check_pt2_export(tmp_path):
    """``check(model, X, part)``: the model's ``part`` exported to pt2 computes what
    ``transform`` (encoder) or ``inverse_transform`` of the codes (decoder) computes."""
    import torch

    def check(model, X, part):
        path = tmp_path / f"{part}.pt2"
        model.export(path, part=part)
        program = torch.export.load(path).module()
        X32 = X.astype(np.float32)
        codes = model.transform(X32)
        if part == "encoder":
            got, expected, atol = program(torch.from_numpy(X32)), codes, 1e-4
        else:
            got, expected = program(torch.from_numpy(codes)), model.inverse_transform(codes)
            atol = 1e-3
        np.testing.assert_allclose(got.numpy(), expected, atol=atol)

    return check
