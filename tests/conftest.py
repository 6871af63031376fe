import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

# Lets scikit-learn's array-API estimator check run instead of skipping; must be set
# before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


# Reads CUDA_VISIBLE_DEVICES now, before the fixture below hides GPUs from subprocesses.
HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _auto_device_is_the_cpu(monkeypatch):
    """``device="auto"`` (the default) means the CPU throughout the suite, in the
    processes it starts too, also on a machine with a GPU.

    Many tests check exact equalities (bit-identical reloads, transforms of the
    same weights in two processes) that hold on one device but not between
    cuBLAS and the CPU's kernels. The GPU is tested where a test names
    ``device="cuda"``: ``tests/test_cuda.py`` and the CUDA cases in
    ``test_training.py``, ``test_persistence.py`` and ``test_safe_persistence.py``.
    """
    from skacai import _estimator

    resolve = _estimator._resolve_device

    def resolve_auto_to_the_cpu(device):
        return resolve("cpu" if device == "auto" else device)

    monkeypatch.setattr(_estimator, "_resolve_device", resolve_auto_to_the_cpu)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


SHARED_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="session")
def mnist_path():
    """The project's shared MNIST file; tests that need it skip where it is absent."""
    if not SHARED_MNIST.exists():
        pytest.skip(f"MNIST not found at {SHARED_MNIST} (the project's shared data folder)")
    return SHARED_MNIST


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
