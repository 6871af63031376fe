"""Forged and unlucky inputs: model files, tiny-valued data, the command line's files.

Each test names what a file or a call could do before skacai checked it (issue 23):
allocate what a forged description claims, read a whole foreign file, fail with a
traceback instead of ``ModelFileError``, load an inconsistent model that fails
later, write private model files, treat small data as constant, reconstruct
constant columns in absolute units, overwrite the command's own input.
"""

import json
import os
import stat
import struct

import numpy as np
import pytest
import torch

from skacai import ACAITransformer, _model, _model_file, _persistence
from skacai.exceptions import ModelFileError

FAST = {"hidden_layer_sizes": (16, 8), "batch_size": 32, "max_iter": 2, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(96, 12))


@pytest.fixture(scope="module")
def fitted(X):
    return ACAITransformer(n_components=4, **FAST).fit(X)


def forge(fitted, tmp_path, edit=None, tensors_edit=None):
    """A model file with a valid checksum over an edited description or tensors."""
    description, tensors = _persistence._describe(fitted)
    if edit is not None:
        edit(description)
    if tensors_edit is not None:
        tensors_edit(tensors)
    path = tmp_path / "forged.safetensors"
    path.write_bytes(_model_file.serialize(description, tensors))
    return path


def never(*args, **kwargs):
    raise AssertionError("called before the file was refused")


# ------------------------------------------------------------- cost of refusing


def test_a_description_claiming_more_layers_than_the_file_holds_builds_nothing(
    fitted, tmp_path, monkeypatch
):
    def layers(description):
        description["state"]["network_spec"]["hidden_layer_sizes"] = [8] * 30_000

    path = forge(fitted, tmp_path, layers)
    monkeypatch.setattr(_persistence, "meta_networks", never)
    monkeypatch.setattr(_model, "build_networks", never)  # FittedModel.from_state_dict
    monkeypatch.setattr(_persistence, "_load_tensors", never)
    with pytest.raises(
        ModelFileError, match="30000 hidden layers but the file holds only 18 tensors"
    ):
        ACAITransformer.load(path)


def test_tensors_no_part_of_the_model_uses_are_refused_before_reading_data(
    fitted, tmp_path, monkeypatch
):
    def extra(tensors):
        tensors.update({f"unused.{i}": torch.zeros(2) for i in range(1000)})

    path = forge(fitted, tmp_path, tensors_edit=extra)
    monkeypatch.setattr(_persistence, "_load_tensors", never)
    with pytest.raises(ModelFileError, match=r"holds 1000 tensor\(s\) no part of it uses"):
        ACAITransformer.load(path)


def test_a_tensor_of_the_wrong_shape_is_refused_before_reading_data(fitted, tmp_path, monkeypatch):
    def reshape(tensors):
        tensors["encoder_.layers.0.weight"] = torch.zeros(16, 13)

    path = forge(fitted, tmp_path, tensors_edit=reshape)
    monkeypatch.setattr(_persistence, "_load_tensors", never)
    with pytest.raises(
        ModelFileError, match=r"'encoder_.layers.0.weight' is F32 of shape \[16, 13\]"
    ):
        ACAITransformer.load(path)


def sparse_file(path, head, size):
    """A file of ``size`` bytes starting with ``head``: sparse, so it costs no disk."""
    with path.open("wb") as file:
        file.write(head)
        file.truncate(size)
    if path.stat().st_blocks * 512 > 2**20:
        pytest.skip("this file system does not make sparse files")
    return path


@pytest.mark.parametrize(
    "head",
    [b"\x93NUMPY\x01\x00v\x00{'descr'", struct.pack("<Q", 28) + b'{"__metadata__": {"f": "x"}}'],
    ids=["npy-data", "foreign-safetensors"],
)
def test_a_huge_foreign_file_is_refused_from_its_header(tmp_path, head):
    """A terabyte file (sparse) is refused without being read: read whole, it cannot be."""
    path = sparse_file(tmp_path / "data.npy", head, 2**40)
    with pytest.raises(ModelFileError, match="not a skacai model file"):
        ACAITransformer.load(path)


# ------------------------------------------------------- every failure, one type


def nest(depth):
    return "[" * depth + "]" * depth


def header_of(description_json):
    metadata = {"format": "skacai-model", "skacai": description_json, "sha256": "0"}
    return json.dumps({"__metadata__": metadata})


@pytest.mark.parametrize("where", ["header", "description"])
def test_deeply_nested_json_is_a_model_file_error(tmp_path, where):
    header = nest(100_000) if where == "header" else header_of(nest(100_000))
    path = tmp_path / "nested.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode())
    with pytest.raises(ModelFileError, match="nests too deeply"):
        ACAITransformer.load(path)


@pytest.mark.parametrize(
    "entry",
    [
        [],
        ["MT19937"],
        ["MT19937", [1, 2, 3], 0, 0, 0.0],
        ["MT19937", "keys", 0, 0, 0.0],
        {"kind": "MT19937"},
    ],
    ids=["empty", "short", "few-keys", "string-keys", "dict"],
)
def test_a_malformed_random_state_is_a_model_file_error(fitted, tmp_path, entry):
    def edit(description):
        description["params"]["random_state"] = {"__random_state__": entry}

    with pytest.raises(ModelFileError, match="invalid model description"):
        ACAITransformer.load(forge(fitted, tmp_path, edit))


def test_optimiser_state_for_an_unknown_parameter_is_a_model_file_error(fitted, tmp_path):
    def edit(description):
        states = description["state"]["optimizers"][0]["state"]
        states["99"] = {"step": {"value": 1.0}}

    with pytest.raises(ModelFileError, match=r"state for parameter '99'.*12 parameters"):
        ACAITransformer.load(forge(fitted, tmp_path, edit))


def test_a_conv_spec_with_a_zero_image_side_is_a_model_file_error(tmp_path):
    model = ACAITransformer(
        architecture="conv",
        image_shape=(4, 4),
        conv_width=2,
        n_scales=1,
        n_components=4,
        max_iter=1,
        batch_size=16,
        random_state=0,
    ).fit(np.random.default_rng(0).normal(size=(32, 16)))

    def edit(description):
        description["state"]["network_spec"]["image_shape"] = [1, 0, 16]

    with pytest.raises(ModelFileError, match=r"image shape \[1, 0, 16\]"):
        ACAITransformer.load(forge(model, tmp_path, edit))


# --------------------------------------------------- inconsistent state refused


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["state"].update(n_features_in_=11),
            "n_features_in_ is 11 but the networks read 12",
        ),
        (lambda d: d["state"].update(n_features_in_=True), "n_features_in_ is True"),
        (lambda d: d["state"].update(history_=[]), "history_ is not a dict"),
        (
            lambda d: d["state"]["history_"].update(loss=["a", "b"]),
            r"history_\['loss'\] is not a list of numbers",
        ),
        (lambda d: d["state"].update(n_iter_=5), "n_iter_ is 5 but the curves hold"),
        (lambda d: d["state"].update(best_loss_="low"), "best_loss_ is 'low'"),
        (
            lambda d: d["state"].update(feature_names_in_=["a"]),
            "feature_names_in_ is not 12 strings",
        ),
        (
            lambda d: d["params"].update(n_components=8),
            "n_components changed from 4 to 8",
        ),
        (
            lambda d: d["params"].update(n_components=10**30),
            r"'n_components' parameter .* must be an int \(not a bool\) "
            r"in the range \[1, 2147483647\]",
        ),
        (
            lambda d: d["params"].update(hidden_layer_sizes={"__tuple__": [16]}),
            "hidden_layer_sizes changed",
        ),
        (lambda d: d.update(format_version=0), "format_version 0 is not a format number"),
        (lambda d: d.update(format_version=-1), "format_version -1 is not"),
        (lambda d: d.update(format_version=True), "format_version True is not"),
        (lambda d: d.update(format_version="1"), "format_version '1' is not"),
        (lambda d: d.update(fitted="yes"), "'fitted' is 'yes'"),
    ],
    ids=[
        "n-features",
        "n-features-bool",
        "history-type",
        "history-values",
        "n-iter",
        "best-loss",
        "feature-names",
        "n-components",
        "n-components-huge",
        "hidden-sizes",
        "version-0",
        "version-negative",
        "version-bool",
        "version-string",
        "fitted",
    ],
)
def test_an_inconsistent_fitted_state_is_refused_on_load(fitted, tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        ACAITransformer.load(forge(fitted, tmp_path, edit))


@pytest.mark.parametrize(
    ("tensors_edit", "message"),
    [
        (
            lambda t: t.update(generator_state=t["generator_state"].float()),
            "'generator_state' is F32",
        ),
        (
            lambda t: t.update(generator_state=t["generator_state"][:100]),
            "'generator_state' is U8 of shape",
        ),
        (lambda t: t.update(scale_=-t["scale_"]), "non-finite or negative"),
        (lambda t: t.update(mean_=t["mean_"] * np.nan), "non-finite or negative"),
    ],
    ids=["generator-float", "generator-short", "scale-negative", "mean-nan"],
)
def test_inconsistent_tensors_are_refused_on_load(fitted, tmp_path, tensors_edit, message):
    with pytest.raises(ModelFileError, match=message):
        ACAITransformer.load(forge(fitted, tmp_path, tensors_edit=tensors_edit))


def test_save_refuses_parameters_changed_after_fitting_and_keeps_the_file(X, tmp_path):
    model = ACAITransformer(n_components=4, **FAST).fit(X)
    path = tmp_path / "model.safetensors"
    model.save(path)
    before = path.read_bytes()
    model.set_params(n_components=8)
    with pytest.raises(ValueError, match="save writes the fitted networks, but n_components"):
        model.save(path)
    assert path.read_bytes() == before
    model.set_params(n_components=4).save(path)  # set back: saves and loads
    ACAITransformer.load(path)


def test_version_strings_reach_the_warning_escaped(fitted, tmp_path, monkeypatch):
    versions = {**_persistence.versions(), "torch": "1.0\x1b[2J"}
    with monkeypatch.context() as patch:  # undo() would undo the conftest's CPU pin too
        patch.setattr(_persistence, "versions", lambda: versions)
        path = tmp_path / "model.safetensors"
        fitted.save(path)
    with pytest.warns(Warning, match=r"torch 1\.0\\x1b\[2J") as record:
        ACAITransformer.load(path)
    assert "\x1b" not in str(record[0].message)


def test_control_characters_from_a_file_never_reach_the_terminal(fitted, tmp_path, capsys):
    def edit(description):
        description["params"]["evil\x1b[2J"] = 1

    path = forge(fitted, tmp_path, edit)
    with pytest.raises(ModelFileError, match=r"evil\\x1b\[2J") as error:
        ACAITransformer.load(path)
    assert "\x1b" not in str(error.value)
    np.save(tmp_path / "data.npy", np.zeros((2, 12)))
    code, _, err = cli(capsys, "transform", path, tmp_path / "data.npy", "-o", tmp_path / "c.npy")
    one_line_error(code, err, "evil\\x1b[2J")
    assert "\x1b" not in err


# ------------------------------------------------------------------- file modes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_model_file_follows_the_umask(fitted, tmp_path, umask):
    old = os.umask(umask)
    try:
        fitted.save(tmp_path / "model.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.safetensors").stat().st_mode) == 0o666 & ~umask


def test_a_replaced_model_file_keeps_its_mode(fitted, tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    path.chmod(0o640)
    fitted.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    ACAITransformer.load(path)


# ---------------------------------------------------------------------- scaling


SCALING_FIT = {
    "n_components": 3,
    "hidden_layer_sizes": (16,),
    "max_iter": 3,
    "batch_size": 32,
    "random_state": 0,
}


@pytest.mark.parametrize(
    ("scaling", "factor"),
    [
        ("global", 1e-16),
        ("feature", 1e-16),
        ("global", 1e-300),
        ("feature", 1e300),
        ("minmax", 1e-300),
    ],
)
def test_codes_do_not_depend_on_the_data_s_overall_scale(X, scaling, factor):
    reference = ACAITransformer(scaling=scaling, **SCALING_FIT).fit(X)
    scaled = ACAITransformer(scaling=scaling, **SCALING_FIT).fit(X * factor)
    np.testing.assert_allclose(scaled.scale_, reference.scale_ * factor, rtol=1e-12)
    np.testing.assert_allclose(scaled.transform(X * factor), reference.transform(X), atol=1e-4)
    np.testing.assert_allclose(
        scaled.inverse_transform(scaled.transform(X * factor)) / factor,
        reference.inverse_transform(reference.transform(X)),
        atol=1e-4,
    )


def test_a_tiny_column_keeps_its_own_scale_like_standard_scaler(X):
    from sklearn.preprocessing import StandardScaler

    data = X.copy()
    data[:, 0] *= 1e-17
    model = ACAITransformer(scaling="feature", **SCALING_FIT).fit(data)
    np.testing.assert_allclose(model.scale_, StandardScaler().fit(data).scale_, rtol=1e-12)
    assert model.scale_[0] < 1e-16


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_data_below_the_smallest_normal_float_warns(X, method):
    model = ACAITransformer(**SCALING_FIT)
    with pytest.warns(UserWarning, match="less than the smallest normal float64") as record:
        getattr(model, method)(X * 1e-310)
    tiny = [w for w in record if "smallest normal" in str(w.message)]
    assert tiny[0].filename == __file__  # points at the caller, not at scikit-learn


@pytest.mark.parametrize("magnitude", [1e-5, 1.0, 1e5])
def test_constant_features_are_reconstructed_exactly(X, magnitude):
    data = X * magnitude
    data[:, [2, 7]] = [3.25 * magnitude, -magnitude]
    model = ACAITransformer(scaling="feature", **SCALING_FIT).fit(data)
    np.testing.assert_array_equal(model.scale_[[2, 7]], 0.0)
    decoded = model.inverse_transform(model.transform(data))
    np.testing.assert_array_equal(decoded[:, [2, 7]], data[:, [2, 7]])
    frames = model.interpolate(data[:2], data[2:4], n_steps=3)
    np.testing.assert_array_equal(frames[..., 2], 3.25 * magnitude)
    # the constant columns add nothing to the reconstruction error
    others = np.delete(np.arange(data.shape[1]), [2, 7])
    expected = -np.mean((decoded[:, others] - data[:, others]) ** 2, axis=1) * len(others) / 12
    np.testing.assert_allclose(model.score_samples(data), expected, rtol=1e-6)


# ----------------------------------------------------------------- command line


def cli(capsys, *argv):
    from skacai._cli import main

    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    assert code == 1, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


TINY = ["--n-components", "3", "--hidden-layer-sizes", "8", "--max-iter", "1",
        "--batch-size", "16", "--random-state", "0"]  # fmt: skip


@pytest.fixture
def files(tmp_path, X, capsys):
    np.save(tmp_path / "data.npy", X)
    code, _, err = cli(capsys, "fit", tmp_path / "data.npy", "-o", tmp_path / "model.st", *TINY)
    assert code == 0, err
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ("transform {t}/model.st {t}/data.npy -o {t}/data.npy", "it is the data file"),
        ("transform {t}/model.st {t}/data.npy -o {t}/data.npy --force", "it is the data file"),
        ("fit {t}/data.npy -o {t}/data.npy", "it is the data file"),
        ("fit {t}/data.npy -o {t}/data.npy --force", "it is the data file"),
        ("interpolate {t}/model.st {t}/data.npy -o {t}/p.png --frames-out {t}/data.npy -f",
         "it is the data file"),
    ],
    ids=["transform-data", "transform-data-forced", "fit-data", "fit-data-forced",
         "frames-data"],
)  # fmt: skip
def test_the_command_line_never_writes_over_its_input(files, capsys, argv, fragment):
    if "interpolate" in argv:
        pytest.importorskip("matplotlib")
    before = {path.name: path.read_bytes() for path in files.iterdir()}
    code, _, err = cli(capsys, *argv.format(t=files).split())
    one_line_error(code, err, fragment)
    assert {path.name: path.read_bytes() for path in files.iterdir()} == before


@pytest.mark.parametrize("command", ["fit", "transform"])
def test_an_existing_output_is_replaced_only_with_force(files, capsys, command):
    output = files / ("out.st" if command == "fit" else "out.npy")
    output.write_bytes(b"keep me")
    inputs = [files / "data.npy"] + ([] if command == "fit" else [files / "model.st"])
    argv = [command, *inputs[::-1], "-o", output, *(TINY if command == "fit" else [])]
    code, _, err = cli(capsys, *argv)
    one_line_error(code, err, "already exists", "--force")
    assert output.read_bytes() == b"keep me"
    code, _, err = cli(capsys, *argv, "--force")
    assert code == 0, err
    assert output.read_bytes() != b"keep me"


def npy_header(shape, dtype="<f8"):
    """A .npy file's bytes up to its data (header only)."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return np.lib.format.MAGIC_PREFIX + b"\x01\x00" + buffer.getvalue()[8:]


@pytest.mark.parametrize("container", ["npy", "npz"])
def test_a_header_claiming_a_huge_array_is_one_line_not_a_memory_error(files, capsys, container):
    import zipfile

    head = npy_header((10**11, 64)) + b"\0" * 64
    path = files / f"huge.{container}"
    if container == "npy":
        path.write_bytes(head)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("X.npy", head)
    for argv in (["transform", files / "model.st", path, "-o", files / "c.npy"],
                 ["fit", path, "-o", files / "m.st"]):  # fmt: skip
        code, _, err = cli(capsys, *argv)
        one_line_error(code, err, "truncated or damaged", "100000000000 x 64 float64")


def test_an_array_larger_than_free_memory_is_refused_before_reading(files, capsys, monkeypatch):
    monkeypatch.setattr("skacai._cli._files.available_bytes", lambda device="cpu": 2**10)
    code, _, err = cli(capsys, "fit", files / "data.npy", "-o", files / "m.st")
    one_line_error(code, err, "more than the 1 KiB of memory free")


def test_data_passed_transposed_gets_a_one_line_error(tmp_path, capsys, monkeypatch):
    """2 rows of 200,000 columns: the default networks would need ~5 GB; say X.T."""
    monkeypatch.setattr("skacai._device.available_bytes", lambda device="cpu": 2**30)
    np.save(tmp_path / "wide.npy", np.zeros((2, 200_000), dtype=np.float32))
    code, _, err = cli(capsys, "fit", tmp_path / "wide.npy", "-o", tmp_path / "m.st")
    one_line_error(code, err, "need 4.59 GiB to train, more than the 1 GiB free", "pass X.T")
    assert not (tmp_path / "m.st").exists()


def test_transform_checks_the_columns_before_reading(files, capsys):
    path = files / "wide.npy"
    path.write_bytes(npy_header((5, 13)) + b"\0" * (5 * 13 * 8))
    code, _, err = cli(capsys, "transform", files / "model.st", path, "-o", files / "c.npy")
    one_line_error(code, err, "holds 13 columns, but the model reads 12")


NAMES = ["plain", "a,b", 'say "hi"', "two\nlines", "=1+1", "+x", "-y", "@z", "\tt",
         *[f"x{i}" for i in range(3)]]  # fmt: skip


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_feature_names_reach_a_csv_quoted_and_defused(X, tmp_path, capsys):
    import csv

    from skacai._cli import load_data

    model = ACAITransformer(n_components=3, hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    model.fit(X)
    model.feature_names_in_ = np.asarray(NAMES, dtype=object)
    model.save(tmp_path / "model.st")
    np.save(tmp_path / "codes.npy", model.transform(X[:4]))
    code, _, err = cli(
        capsys, "transform", tmp_path / "model.st", tmp_path / "codes.npy",
        "-o", tmp_path / "decoded.csv", "--inverse",
    )  # fmt: skip
    assert code == 0, err
    with (tmp_path / "decoded.csv").open(newline="") as file:
        header = next(csv.reader(file))
    assert header == ["plain", "a,b", 'say "hi"', "two\nlines", "'=1+1", "'+x", "'-y",
                      "'@z", "'\tt", "x0", "x1", "x2"]  # fmt: skip
    data = load_data(tmp_path / "decoded.csv")  # skacai reads its own output back
    np.testing.assert_allclose(data.X, model.inverse_transform(model.transform(X[:4])))
    assert data.source.endswith("(header row skipped)")


# ---------------------------------------------------------------------- datasets


def test_an_idx_file_is_read_no_further_than_its_header_announces(tmp_path, monkeypatch):
    """A gzip file of a few kB that decompresses to 1 GiB: refused after its header,
    or read only as far as the array it announces (never decompressed whole)."""
    import gzip

    from skacai import datasets

    reads = []
    real_open = gzip.open

    def counting_open(*args, **kwargs):
        file = real_open(*args, **kwargs)
        real_read = file.read

        def read(size=-1):
            reads.append(size)
            return real_read(size)

        file.read = read
        return file

    monkeypatch.setattr(gzip, "open", counting_open)
    path = tmp_path / "labels.gz"
    with real_open(path, "wb") as f:
        f.write((2049).to_bytes(4, "big") + (3000).to_bytes(4, "big"))  # 3,000 labels
        for _ in range(1024):
            f.write(b"\0" * 2**20)  # then 1 GiB of zeros
    assert path.stat().st_size < 2**22
    with pytest.raises(ValueError, match=r"truncated or corrupt.*announces 3000 bytes"):
        datasets._read_idx(path)
    assert -1 not in reads and max(reads) <= 3001
