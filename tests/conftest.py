import os
from pathlib import Path

import pytest

# Lets scikit-learn's array-API estimator check run instead of skipping; must be set
# before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


SHARED_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="session")
def mnist_path():
    """The project's shared MNIST file; tests that need it skip where it is absent."""
    if not SHARED_MNIST.exists():
        pytest.skip(f"MNIST not found at {SHARED_MNIST} (the project's shared data folder)")
    return SHARED_MNIST
