"""MNIST loading from local files, and digits as images."""

import gzip
import hashlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skacai.datasets import MNIST_IDX_FILES, load_digits_images, load_mnist


def fake_mnist(rng, n_train=6, n_test=4):
    return {
        "x_train": rng.integers(0, 256, (n_train, 5, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 5, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx(path, array):
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_npz_and_idx_folder_give_the_same_arrays(tmp_path):
    arrays = fake_mnist(np.random.default_rng(0))
    np.savez(tmp_path / "mnist.npz", **arrays)
    for key, name in MNIST_IDX_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    from_npz = load_mnist(tmp_path / "mnist.npz", as_float=False)
    from_idx = load_mnist(tmp_path, as_float=False)
    for got_npz, got_idx, key in zip(from_npz, from_idx, MNIST_IDX_FILES, strict=True):
        np.testing.assert_array_equal(got_npz, arrays[key])
        np.testing.assert_array_equal(got_idx, arrays[key])


def test_float_images_are_flattened_and_scaled(tmp_path):
    arrays = fake_mnist(np.random.default_rng(1))
    np.savez(tmp_path / "m.npz", **arrays)
    X_train, y_train, X_test, _ = load_mnist(tmp_path / "m.npz")
    assert X_train.shape == (6, 15) and X_test.shape == (4, 15)
    assert X_train.dtype == np.float32
    np.testing.assert_allclose(X_train, arrays["x_train"].reshape(6, 15) / 255, rtol=1e-6)
    np.testing.assert_array_equal(y_train, arrays["y_train"])


def test_missing_file_says_where_to_put_what(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST not found at .*downloads nothing"):
        load_mnist(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_mnist(tmp_path)  # an empty folder


def test_foreign_and_corrupt_files_are_refused(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"not an MNIST \.npz: it lacks x_train"):
        load_mnist(tmp_path / "other.npz")
    arrays = fake_mnist(np.random.default_rng(2))
    for key, name in MNIST_IDX_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    path = tmp_path / MNIST_IDX_FILES["x_test"]
    with gzip.open(path, "rb") as f:
        data = f.read()
    with gzip.open(path, "wb") as f:
        f.write(data[:-7])  # truncated
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(tmp_path)
    with gzip.open(path, "wb") as f:
        f.write((1234).to_bytes(4, "big") + data[4:])
    with pytest.raises(ValueError, match="not an MNIST IDX file"):
        load_mnist(tmp_path)


def test_mismatched_image_and_label_counts_are_refused(tmp_path):
    arrays = fake_mnist(np.random.default_rng(3))
    arrays["y_test"] = arrays["y_test"][:2]
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(ValueError, match="MNIST test split"):
        load_mnist(tmp_path / "m.npz")


def test_real_mnist_loads_byte_for_byte(mnist_path):
    x_train, y_train, x_test, y_test = load_mnist(mnist_path, as_float=False)
    # md5 sums of the official release, from the shared data's README
    expected = {
        "6510e85a72c3e9475c492d559d3770d2": x_train,
        "e86ee40d66677c011a9abda399ec8c4d": y_train,
        "240610fa99e73bfa49df8e7fc24d3206": x_test,
        "073c3904dfbd3e141ff8aa01cfde6b15": y_test,
    }
    for md5, array in expected.items():
        assert hashlib.md5(array.tobytes()).hexdigest() == md5
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_a_missing_mnist_file_skips_but_fails_in_ci(tmp_path, ci, outcome):
    """Tests that need the data file skip where it is absent (the reason said), but
    under CI=true they fail: a CI run without the file must not pass quietly."""
    env = {**os.environ, "CI": ci, "SKACAI_MNIST": str(tmp_path / "absent.npz")}
    test = f"{Path(__file__)}::test_real_mnist_loads_byte_for_byte"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert outcome in run.stdout and "absent.npz" in run.stdout, run.stdout
    assert (run.returncode != 0) == (ci == "true"), run.stdout


def test_digits_as_images_in_unit_range():
    X, y = load_digits_images()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((None,), {}, "path"),
        ((3,), {}, "path"),
        ((b"mnist.npz",), {}, "path"),
        (("mnist.npz",), {"as_float": 1}, "as_float"),
        (("mnist.npz",), {"as_float": "no"}, "as_float"),
        (("mnist.npz",), {"as_float": None}, "as_float"),
    ],
)
def test_load_mnist_bad_arguments_name_the_parameter(args, kwargs, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of load_mnist must be"):
        load_mnist(*args, **kwargs)


def test_load_mnist_takes_str_and_path_and_numpy_bools(tmp_path):
    arrays = fake_mnist(np.random.default_rng(4))
    np.savez(tmp_path / "m.npz", **arrays)
    from_str = load_mnist(str(tmp_path / "m.npz"), as_float=np.False_)
    np.testing.assert_array_equal(from_str[0], arrays["x_train"])
    assert str(inspect.signature(load_mnist)) == "(path, *, as_float=True)"
    assert str(inspect.signature(load_digits_images)) == "()"
