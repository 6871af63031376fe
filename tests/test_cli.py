"""The ``skacai`` command line: fit / transform / interpolate / benchmarks / demo.

Most tests call ``main([...])`` in-process (fast); a few run ``python -m skacai``
in a subprocess to check the real entry point.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

import skacai.__main__
from skacai import ACAITransformer
from skacai._cli import _files, load_data, main
from skacai._cli import benchmarks as benchmarks_command

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["demo", "fit", "transform", "interpolate", "export", "benchmarks"]
N_SAMPLES, N_FEATURES, N_COMPONENTS = 40, 6, 3
# Tiny models: 2 epochs of one hidden layer of 8 units.
PARAMS = {
    "n_components": N_COMPONENTS,
    "hidden_layer_sizes": (8,),
    "max_iter": 2,
    "batch_size": 32,
    "random_state": 0,
}
FAST = [
    "--n-components",
    str(N_COMPONENTS),
    "--hidden-layer-sizes",
    "8",
    "--max-iter",
    "2",
    "--batch-size",
    "32",
    "--random-state",
    "0",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    """``main(argv)``: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, command, *fragments):
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skacai {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(N_SAMPLES, N_FEATURES))


@pytest.fixture(scope="module")
def files(tmp_path_factory, X):
    """A folder with data files of every kind and a fitted model."""
    folder = tmp_path_factory.mktemp("cli")
    np.save(folder / "data.npy", X)
    np.save(folder / "data32.npy", X.astype(np.float32))
    np.savez(folder / "one.npz", train=X)
    np.savez(folder / "two.npz", train=X, test=X[:10])
    header = ",".join(f"f{i}" for i in range(N_FEATURES))
    np.savetxt(folder / "header.csv", X, delimiter=",", header=header, comments="")
    np.savetxt(folder / "plain.csv", X, delimiter=",")
    np.save(folder / "five.npy", X[:, :5])
    np.save(folder / "one_row.npy", X[:1])
    np.save(folder / "vector.npy", X[:, 0])
    np.save(folder / "cube.npy", X.reshape(N_SAMPLES, 2, 3))
    np.save(folder / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(folder / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    with_nan = X.copy()
    with_nan[3, 2] = np.nan
    np.save(folder / "nan.npy", with_nan)
    (folder / "data.txt").write_text("1,2\n3,4\n")
    (folder / "text.npy").write_text("not numpy\n")
    (folder / "broken.npz").write_bytes(b"PK\x03\x04 this is no zip archive")
    (folder / "letters.csv").write_text("a,b\n1,2\nx,4\n")
    (folder / "ragged.csv").write_text("1,2\n3,4\n5\n")
    (folder / "empty.csv").write_text("\n\n")
    (folder / "header_only.csv").write_text("a,b\n")
    (folder / "a_folder").mkdir()
    model = ACAITransformer(**PARAMS).fit(X)
    model.save(folder / "model.safetensors")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (folder / "random.safetensors").write_bytes(np.random.default_rng(1).bytes(500))
    joblib.dump(model, folder / "model.joblib")
    return folder


# ------------------------------------------------------------------------ fit


@pytest.mark.parametrize(
    ("data", "options", "dtype"),
    [
        ("data.npy", [], np.float64),
        ("data32.npy", [], np.float32),
        ("one.npz", [], np.float64),
        ("two.npz", ["--key", "test"], np.float64),
        ("header.csv", [], np.float64),
        ("plain.csv", [], np.float64),
    ],
)
def test_fit_then_transform_round_trip(capsys, files, tmp_path, data, options, dtype):
    model_path, codes_path = tmp_path / "model.safetensors", tmp_path / "codes.npy"
    code, out, err = run(capsys, "fit", files / data, "-o", model_path, *FAST, *options)
    assert code == 0, err
    assert err == ""  # ConvergenceWarning is ignored by the test configuration
    code, out, err = run(capsys, "transform", model_path, files / data, "-o", codes_path, *options)
    assert code == 0, err
    X = load_data(files / data, key=options[1] if options else None).X
    assert X.dtype == dtype  # .npy / .npz keep their dtype, .csv reads float64
    codes = np.load(codes_path)
    # transform returns float32 codes for float32 data, float64 for anything else;
    # the command writes them as they are.
    assert codes.dtype == dtype
    np.testing.assert_array_equal(codes, ACAITransformer.load(model_path).transform(X))
    assert f"Wrote codes of shape ({len(X)}, {N_COMPONENTS}) ({np.dtype(dtype)})" in out


def test_fit_passes_the_parameters_and_prints_a_summary(capsys, files, tmp_path, X):
    model_path = tmp_path / "model.safetensors"
    code, out, err = run(capsys, "fit", files / "data.npy", "-o", model_path, *FAST)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(
        f"Fitted ACAITransformer on {N_SAMPLES} samples x {N_FEATURES} features from "
    )
    assert "data.npy" in lines[0]
    assert lines[1].startswith("epochs: 2 (max_iter=2), final loss ")
    assert "(reconstruction " in lines[1]
    assert lines[2] == f"Model ({N_COMPONENTS} components) saved to {model_path}"
    loaded = ACAITransformer.load(model_path)
    assert {name: loaded.get_params()[name] for name in PARAMS} == PARAMS
    # Same parameters, same seed: the same model as in Python (on CPU).
    expected = ACAITransformer(**PARAMS).fit(X).transform(X)
    np.testing.assert_array_equal(loaded.transform(X), expected)


def test_fit_options_and_set(capsys, files, tmp_path):
    model_path = tmp_path / "model.safetensors"
    code, _, err = run(
        capsys,
        "fit",
        files / "data.npy",
        "-o",
        model_path,
        "--n-components",
        "2",
        "--hidden-layer-sizes",  # no widths: linear networks
        "--adversarial-weight",
        "0.25",
        "--critic-regularization",
        "0.1",
        "--max-iter",
        "1",
        "--batch-size",
        "16",
        "--learning-rate",
        "0.002",
        "--random-state",
        "3",
        "--set",
        "scaling=None",
        "--set",
        "device=cpu",
        "--set",
        "tol = 0.5",
    )
    assert code == 0, err
    params = ACAITransformer.load(model_path).get_params()
    expected = {
        "n_components": 2,
        "hidden_layer_sizes": (),
        "adversarial_weight": 0.25,
        "critic_regularization": 0.1,
        "max_iter": 1,
        "batch_size": 16,
        "learning_rate_init": 0.002,
        "random_state": 3,
        "scaling": None,
        "device": "cpu",
        "tol": 0.5,
    }
    assert {name: params[name] for name in expected} == expected


def test_fit_conv_architecture_with_image_shape(capsys, files, tmp_path):
    model_path = tmp_path / "model.safetensors"
    options = ["--architecture", "conv", "--image-shape", "1", "2", "3", "--n-components", "4"]
    code, _, err = run(
        capsys,
        "fit",
        files / "data.npy",
        "-o",
        model_path,
        "--max-iter",
        "1",
        "--set",
        "n_scales=1",
        "--set",
        "conv_width=2",
        *options,
    )
    assert code == 0, err
    model = ACAITransformer.load(model_path)
    assert model.architecture == "conv" and model.image_shape_ == (1, 2, 3)


def test_fit_reports_a_csv_header(capsys, files, tmp_path):
    code, out, _ = run(capsys, "fit", files / "header.csv", "-o", tmp_path / "m", *FAST)
    assert code == 0
    assert "header.csv' (header row skipped)" in out


@pytest.mark.filterwarnings("always::sklearn.exceptions.ConvergenceWarning")
def test_warnings_are_one_line_each(capsys, files, tmp_path):
    original = warnings.showwarning
    code, _, err = run(capsys, "fit", files / "data.npy", "-o", tmp_path / "m", *FAST)
    assert code == 0
    assert err.splitlines() == [
        "skacai fit: warning: ACAITransformer stopped after max_iter=2 epochs before "
        "converging; pass a larger max_iter (an int) if the loss is still falling."
    ]
    assert warnings.showwarning is original  # restored after the command


def test_multi_line_warnings_are_collapsed(capsys, files, monkeypatch, tmp_path):
    def load_with_warning(*args, **kwargs):
        warnings.warn("first line\n  second line", UserWarning, stacklevel=1)
        return load(*args, **kwargs)

    load = _files.load_data
    monkeypatch.setattr(_files, "load_data", load_with_warning)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = run(
            capsys, "transform", files / "model.safetensors", files / "data.npy", "-o",
            tmp_path / "c.npy",
        )  # fmt: skip
    assert code == 0
    assert err == "skacai transform: warning: first line second line\n"


# ------------------------------------------------------------------ transform


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_transform_writes_each_format(capsys, files, tmp_path, X, suffix):
    out_path = tmp_path / f"codes{suffix.upper() if suffix == '.npy' else suffix}"
    model_path = files / "model.safetensors"
    code, _, err = run(capsys, "transform", model_path, files / "data32.npy", "-o", out_path)
    assert code == 0, err
    expected = ACAITransformer.load(model_path).transform(X.astype(np.float32))
    assert expected.dtype == np.float32
    if suffix == ".npy":
        assert [p.name for p in tmp_path.iterdir()] == ["codes.NPY"]  # no suffix added
        codes = np.load(out_path)
    elif suffix == ".npz":
        with np.load(out_path) as archive:
            assert archive.files == ["codes"]
            codes = archive["codes"]
    else:
        lines = out_path.read_text().splitlines()
        assert lines[0] == ",".join(f"acaitransformer{i}" for i in range(N_COMPONENTS))
        # float32 written with 9 significant digits: read back exactly once cast to float32.
        codes = np.loadtxt(out_path, delimiter=",", skiprows=1).astype(np.float32)
        # The header is detected, so the codes read back with load_data too.
        np.testing.assert_array_equal(load_data(out_path).X.astype(np.float32), expected)
    np.testing.assert_array_equal(codes, expected)


def test_transform_csv_round_trips_float64_exactly(capsys, files, tmp_path, X):
    out_path = tmp_path / "codes.csv"
    model_path = files / "model.safetensors"
    code, _, _ = run(capsys, "transform", model_path, files / "data.npy", "-o", out_path)
    assert code == 0
    expected = ACAITransformer.load(model_path).transform(X)
    assert expected.dtype == np.float64
    np.testing.assert_array_equal(np.loadtxt(out_path, delimiter=",", skiprows=1), expected)


def test_transform_inverse_decodes_codes(capsys, files, tmp_path, X):
    model = ACAITransformer.load(files / "model.safetensors")
    codes = model.transform(X)
    np.save(tmp_path / "codes.npy", codes)
    code, out, err = run(
        capsys, "transform", files / "model.safetensors", tmp_path / "codes.npy", "-o",
        tmp_path / "decoded.npz", "--inverse",
    )  # fmt: skip
    assert code == 0, err
    with np.load(tmp_path / "decoded.npz") as archive:
        assert archive.files == ["data"]
        np.testing.assert_array_equal(archive["data"], model.inverse_transform(codes))
    assert f"Wrote decoded data of shape ({N_SAMPLES}, {N_FEATURES})" in out


# ---------------------------------------------------------------- interpolate


def test_interpolate_writes_a_png_and_the_frames(capsys, files, tmp_path, X):
    pytest.importorskip("matplotlib")
    picture, frames_path = tmp_path / "grid.png", tmp_path / "frames.npz"
    model_path = files / "model.safetensors"
    code, out, err = run(
        capsys, "interpolate", model_path, files / "data.npy", "-o", picture, "--pairs", "3",
        "--steps", "5", "--image-shape", "2", "3", "--frames-out", frames_path, "--dpi", "40",
    )  # fmt: skip
    assert code == 0, err
    data = picture.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    source = repr(str(files / "data.npy"))
    assert out.splitlines()[0] == f"Drew 3 pairs x 5 steps from {source} to {picture}"
    with np.load(frames_path) as archive:
        starts, ends = archive["start_rows"], archive["end_rows"]
        assert archive["frames"].shape == (3, 5, N_FEATURES)
        np.testing.assert_array_equal(archive["alphas"], np.linspace(0, 1, 5))
        assert np.all(starts != ends)
        expected = ACAITransformer.load(model_path).interpolate(X[starts], X[ends], n_steps=5)
        np.testing.assert_array_equal(archive["frames"], expected)


def test_interpolate_frames_as_npy_and_line_plots(capsys, files, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, err = run(
        capsys, "interpolate", files / "model.safetensors", files / "header.csv", "-o",
        tmp_path / "grid.svg", "--pairs", "1", "--steps", "2", "--frames-out",
        tmp_path / "frames.npy",
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "grid.svg").read_text().lstrip().startswith("<?xml")
    assert np.load(tmp_path / "frames.npy").shape == (1, 2, N_FEATURES)


def test_interpolate_without_matplotlib_says_how_to_install_it(
    capsys, files, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, _, err = run(
        capsys, "interpolate", files / "model.safetensors", files / "data.npy", "-o",
        tmp_path / "grid.png",
    )  # fmt: skip
    assert_one_line_error(code, err, "interpolate", 'pip install "skacai[plots]"')
    assert not (tmp_path / "grid.png").exists()


# ----------------------------------------------------------------- benchmarks


def test_benchmarks_lists_the_real_scripts(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./benchmarks: the checkout's folder next to the package
    code, out, err = run(capsys, "benchmarks")
    assert code == 0, err
    # Modules whose names start with "_" (shared helpers) are not scripts: not listed.
    # Scripts in the purpose folders (speed/, quality/, ...) are named FOLDER/NAME.
    folder = ROOT / "benchmarks"
    paths = [*folder.glob("*.py"), *folder.glob("[!_.]*/*.py")]
    names = sorted(
        (path.parent != folder, path.relative_to(folder).with_suffix("").as_posix())
        for path in paths
        if not path.name.startswith("_")
    )
    names = [name for _, name in names]
    assert names and "speed/persistence" in names
    lines = out.splitlines()
    assert str(folder) in lines[0]
    listed = [line.split()[0] for line in lines[1:]]
    assert listed == names
    assert any("save" in line and line.split()[0] == "speed/persistence" for line in lines)
    assert "(no description)" not in out


def test_benchmarks_runs_a_script_with_its_arguments(capfd, tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "echo.py").write_text(
        '"""Print the arguments, exit with 3."""\n'
        "import sys\nprint('args:', sys.argv[1:])\nsys.exit(3)\n"
    )
    (folder / "bare.py").write_text("print('no docstring')\n")
    assert main(["benchmarks", "--dir", str(folder)]) == 0
    out = capfd.readouterr().out
    assert "Print the arguments, exit with 3." in out and "(no description)" in out
    assert main(["benchmarks", "--dir", str(folder), "echo", "--flag", "1"]) == 3
    assert "args: ['--flag', '1']" in capfd.readouterr().out
    assert main(["benchmarks", "--dir", str(folder), "echo.py", "--", "--help"]) == 3
    assert "args: ['--help']" in capfd.readouterr().out


def test_benchmarks_finds_scripts_in_the_purpose_folders(capfd, tmp_path):
    folder = tmp_path / "bench"
    for sub in ("speed", "quality", "_helpers", "results"):
        (folder / sub).mkdir(parents=True)
    (folder / "top.py").write_text('"""At the top."""\nprint("top")\n')
    (folder / "speed" / "fast.py").write_text('"""Fast."""\nprint("fast")\n')
    (folder / "speed" / "_shared.py").write_text('"""Shared."""\n')
    (folder / "quality" / "fast.py").write_text('"""Also fast."""\nprint("quality fast")\n')
    (folder / "quality" / "good.py").write_text('"""Good."""\nimport sys\nsys.exit(4)\n')
    (folder / "_helpers" / "hidden.py").write_text('"""Not a script."""\n')
    assert main(["benchmarks", "--dir", str(folder)]) == 0
    listed = [line.split()[0] for line in capfd.readouterr().out.splitlines()[1:]]
    assert listed == ["top", "quality/fast", "quality/good", "speed/fast"]
    assert main(["benchmarks", "--dir", str(folder), "good"]) == 4  # by its stem
    assert main(["benchmarks", "--dir", str(folder), "quality/good.py"]) == 4
    assert main(["benchmarks", "--dir", str(folder), "speed/fast"]) == 0
    assert capfd.readouterr().out.splitlines()[-1] == "fast"
    # a stem that two folders hold must be named with its folder
    assert main(["benchmarks", "--dir", str(folder), "fast"]) == 1
    assert "'fast' is ambiguous: quality/fast, speed/fast" in capfd.readouterr().err


def test_benchmarks_without_a_folder_explains_where_they_are(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The checkout's folder exists, so only the patched, missing one can give the error.
    assert benchmarks_command._SOURCE_BENCHMARKS == ROOT / "benchmarks"
    assert benchmarks_command._SOURCE_BENCHMARKS.is_dir()
    monkeypatch.setattr(
        benchmarks_command, "_SOURCE_BENCHMARKS", tmp_path / "site-packages" / "benchmarks"
    )
    code, _, err = run(capsys, "benchmarks")
    assert_one_line_error(code, err, "benchmarks", "ship with the source repository")


# --------------------------------------------------------------------- errors

ERROR_CASES = {
    # id: (arguments, with {d} for the files' folder and {t} for tmp_path; command; fragment)
    "fit-missing-data": ("fit {d}/missing.npy -o {t}/m", "does not exist"),
    "fit-data-folder": ("fit {d}/a_folder -o {t}/m", "is a folder"),
    "fit-unsupported-suffix": ("fit {d}/data.txt -o {t}/m", "suffix '.txt'"),
    "fit-npz-missing-key": ("fit {d}/two.npz --key nope -o {t}/m", "no array 'nope'"),
    "fit-npz-needs-key": ("fit {d}/two.npz -o {t}/m", "choose one with --key"),
    "fit-key-for-npy": ("fit {d}/data.npy --key x -o {t}/m", "--key applies to .npz"),
    "fit-non-numeric-csv": ("fit {d}/letters.csv -o {t}/m", "line 3, column 1: 'x'"),
    "fit-ragged-csv": ("fit {d}/ragged.csv -o {t}/m", "line 3 has 1 fields"),
    "fit-empty-csv": ("fit {d}/empty.csv -o {t}/m", "holds no data"),
    "fit-header-only-csv": ("fit {d}/header_only.csv -o {t}/m", "no data rows"),
    "fit-1d-array": ("fit {d}/vector.npy -o {t}/m", "1-D array of shape (40,)"),
    "fit-3d-array": ("fit {d}/cube.npy -o {t}/m", "3-D array of shape (40, 2, 3)"),
    "fit-strings": ("fit {d}/strings.npy -o {t}/m", "skacai needs numbers"),
    "fit-objects": ("fit {d}/objects.npy -o {t}/m", "Object arrays cannot be loaded"),
    "fit-nan": ("fit {d}/nan.npy -o {t}/m", "NaN or infinite values (the first in row 3"),
    "fit-not-numpy": ("fit {d}/text.npy -o {t}/m", "is not a NumPy .npy or .npz file"),
    "fit-broken-npz": ("fit {d}/broken.npz -o {t}/m", "cannot read"),
    "fit-output-folder-missing": ("fit {d}/data.npy -o {t}/no/m", "does not exist"),
    "fit-output-is-folder": ("fit {d}/data.npy -o {d}/a_folder", "is a folder"),
    "fit-bad-n-components": ("fit {d}/data.npy -o {t}/m --n-components 0", "'n_components'"),
    "fit-bad-gamma": (
        "fit {d}/data.npy -o {t}/m --critic-regularization 2",
        "'critic_regularization' parameter",
    ),
    "fit-bad-set-value": ("fit {d}/data.npy -o {t}/m --set scaling=bogus", "'scaling'"),
    "fit-bad-set-type": (
        "fit {d}/data.npy -o {t}/m --set hidden_layer_sizes=(0,)",
        "hidden_layer_sizes",
    ),
    "fit-unknown-set": ("fit {d}/data.npy -o {t}/m --set foo=1", "no parameter 'foo'"),
    "fit-set-twice": (
        "fit {d}/data.npy -o {t}/m --max-iter 2 --set max_iter=3",
        "max_iter is given twice",
    ),
    "transform-wrong-features": (
        "transform {d}/model.safetensors {d}/five.npy -o {t}/c.npy",
        "five.npy' holds 5 columns, but the model reads 6",
    ),
    "transform-truncated-model": (
        "transform {d}/truncated.safetensors {d}/data.npy -o {t}/c.npy",
        "truncated",
    ),
    "transform-random-model": (
        "transform {d}/random.safetensors {d}/data.npy -o {t}/c.npy",
        "not a skacai model file",
    ),
    "transform-pickle-model": (
        "transform {d}/model.joblib {d}/data.npy -o {t}/c.npy",
        "is a pickle or joblib file",
    ),
    "transform-data-as-model": (
        "transform {d}/data.npy {d}/data.npy -o {t}/c.npy",
        "not a skacai model file",
    ),
    "transform-missing-model": (
        "transform {d}/none.safetensors {d}/data.npy -o {t}/c.npy",
        "the model file",
    ),
    "transform-model-folder": (
        "transform {d}/a_folder {d}/data.npy -o {t}/c.npy",
        "is a folder, not a file",
    ),
    "transform-output-suffix": (
        "transform {d}/model.safetensors {d}/data.npy -o {t}/c.txt",
        "use one of .npy, .npz, .csv",
    ),
    "transform-output-folder-missing": (
        "transform {d}/model.safetensors {d}/data.npy -o {t}/no/c.npy",
        "the folder",
    ),
    "transform-inverse-wrong-columns": (
        "transform {d}/model.safetensors {d}/data.npy -o {t}/c.npy --inverse",
        "expects codes with 3 columns",
    ),
    "interpolate-one-sample": (
        "interpolate {d}/model.safetensors {d}/one_row.npy -o {t}/i.png",
        "interpolation needs 2",
    ),
    "interpolate-wrong-features": (
        "interpolate {d}/model.safetensors {d}/five.npy -o {t}/i.png",
        "five.npy' holds 5 columns, but the model reads 6",
    ),
    "interpolate-picture-suffix": (
        "interpolate {d}/model.safetensors {d}/data.npy -o {t}/i.xyz",
        "suffix '.xyz'",
    ),
    "interpolate-bad-image-shape": (
        "interpolate {d}/model.safetensors {d}/data.npy -o {t}/i.png --image-shape 4 4",
        "image_shape",
    ),
    "interpolate-frames-suffix": (
        "interpolate {d}/model.safetensors {d}/data.npy -o {t}/i.png --frames-out {t}/f.csv",
        "use one of .npy, .npz",
    ),
    "benchmarks-unknown": ("benchmarks --dir {r}/benchmarks nope", "no benchmark 'nope'"),
    "benchmarks-missing-dir": ("benchmarks --dir {t}/none", "is not a folder"),
    "demo-plot-folder-missing": ("demo --plot {t}/no/demo.png", "does not exist"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_user_errors_print_one_line_and_exit_1(capsys, files, tmp_path, case):
    if case.startswith("interpolate") or case.startswith("demo"):
        pytest.importorskip("matplotlib")
    arguments, fragment = ERROR_CASES[case]
    argv = arguments.format(d=files, t=tmp_path, r=ROOT).split()
    before = sorted(tmp_path.iterdir())
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, argv[0], fragment)
    assert out == ""
    assert sorted(tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fit"],
        ["fit", "data.npy"],  # -o is required
        ["fit", "data.npy", "-o", "m", "--set", "no_equals_sign"],
        ["fit", "data.npy", "-o", "m", "--architecture", "rnn"],
        ["fit", "data.npy", "-o", "m", "--max-iter", "many"],
        ["transform", "model"],
        ["interpolate", "m", "d.npy", "-o", "i.png", "--steps", "1"],
        ["interpolate", "m", "d.npy", "-o", "i.png", "--pairs", "0"],
        ["nocommand"],
        ["demo", "--max-iter", "0"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("skacai")
    assert ": error: " in err.splitlines()[-1]


def test_demo_keeps_its_max_iter_check(capsys):
    code, _, err = run(capsys, "demo", "--max-iter", "0")
    assert code == 2
    assert err.splitlines()[-1] == (
        "skacai demo: error: argument --max-iter: must be at least 1, got 0"
    )


@pytest.mark.parametrize("value", ["0", "-3", "many", "1.5"])
def test_fit_max_iter_is_a_positive_whole_number_or_auto(capsys, value):
    code, _, err = run(capsys, "fit", "data.npy", "-o", "m", "--max-iter", value)
    assert code == 2
    assert err.splitlines()[-1].startswith("skacai fit: error: argument --max-iter: ")
    assert repr(value) in err or value in err


def test_interrupt_exits_130_with_one_line(capsys, files, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_files, "load_data", interrupted)
    code, _, err = run(capsys, "fit", files / "data.npy", "-o", tmp_path / "m")
    assert code == 130
    assert err == "skacai fit: error: interrupted\n"


@pytest.mark.filterwarnings("always::UserWarning")
def test_interrupted_training_saves_the_completed_epochs(capsys, files, tmp_path, monkeypatch):
    """Ctrl-C during training: fit keeps the last completed epoch, the command saves it."""
    from skacai import _fit_loop

    calls = []

    def train_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = _fit_loop.train_epoch
    monkeypatch.setattr(_fit_loop, "train_epoch", train_epoch)
    model_path = tmp_path / "model.safetensors"
    code, out, err = run(capsys, "fit", files / "data.npy", "-o", model_path, *FAST)
    assert code == 0
    assert err.startswith("skacai fit: warning: ACAITransformer's training was interrupted")
    assert len(err.splitlines()) == 1
    assert "epochs: 1 (max_iter=2)" in out
    assert ACAITransformer.load(model_path).n_iter_ == 1


def test_multi_line_error_messages_are_collapsed(capsys, files, tmp_path, monkeypatch):
    def fails(*args, **kwargs):
        raise ValueError("first line\n\n   second line\n")

    monkeypatch.setattr(_files, "load_data", fails)
    code, _, err = run(capsys, "fit", files / "data.npy", "-o", tmp_path / "m")
    assert_one_line_error(code, err, "fit")
    assert err == "skacai fit: error: first line second line\n"


def test_os_errors_lose_their_errno(capsys, files, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/some/file.npy")

    monkeypatch.setattr(_files, "load_data", denied)
    code, _, err = run(capsys, "fit", files / "data.npy", "-o", tmp_path / "m")
    assert err == "skacai fit: error: Permission denied: '/some/file.npy'\n"
    assert code == 1


def test_programming_errors_are_not_hidden(files, tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(_files, "load_data", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["fit", str(files / "data.npy"), "-o", str(tmp_path / "m")])


# ---------------------------------------------------------------- data files


def test_csv_header_detection_and_skip_header(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("# a comment\n\n0,1,2\n1.5, 2.5 ,3.5\n4,5,6\n")
    data = load_data(path)  # an all-numeric first line is data
    assert data.X.shape == (3, 3) and "header row" not in data.source
    data = load_data(path, skip_header=True)  # ... unless told otherwise
    np.testing.assert_array_equal(data.X, [[1.5, 2.5, 3.5], [4, 5, 6]])
    assert data.source.endswith("(header row skipped)")
    path.write_text('"x","y"\n"1","2"\n')
    np.testing.assert_array_equal(load_data(path).X, [[1, 2]])
    path.write_text("x;y\n1;2\n3;4\n")
    np.testing.assert_array_equal(load_data(path, delimiter=";").X, [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="see --delimiter"):
        load_data(path)


def test_one_column_csv_and_integer_npy_are_2d(tmp_path):
    path = tmp_path / "column.csv"
    path.write_text("1\n2\n3\n")
    assert load_data(path).X.shape == (3, 1)
    np.save(tmp_path / "ints.npy", np.arange(6).reshape(3, 2))
    assert load_data(tmp_path / "ints.npy").X.dtype.kind == "i"


# ---------------------------------------------------------- help and entry


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: skacai {command}")
    assert "example" in out


def test_top_level_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"skacai {skacai.__version__}"


def test_main_module_exposes_main():
    assert skacai.__main__.main is main  # pyproject: skacai = "skacai.__main__:main"


def _skacai_process(*argv, executable=None):
    """Start ``python -m skacai ARGV`` (or ``executable ARGV``) with one thread."""
    command = [sys.executable, "-m", "skacai"] if executable is None else [str(executable)]
    return subprocess.Popen(
        [*command, *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _finish(process):
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def test_fit_in_a_subprocess(files, tmp_path):
    model_path = tmp_path / "model.safetensors"
    code, out, err = _finish(_skacai_process("fit", files / "header.csv", "-o", model_path, *FAST))
    assert code == 0, err
    assert f"saved to {model_path}" in out
    # Without pytest's warning filters the ConvergenceWarning shows, on one line.
    assert err.splitlines() == [
        "skacai fit: warning: ACAITransformer stopped after max_iter=2 epochs before "
        "converging; pass a larger max_iter (an int) if the loss is still falling."
    ]
    assert ACAITransformer.load(model_path).n_features_in_ == N_FEATURES


@pytest.mark.parametrize("command", COMMANDS)
def test_help_in_a_subprocess(command):
    """``python -m skacai COMMAND --help``; ``benchmarks`` through the console script."""
    script = Path(sys.executable).with_name("skacai")  # what pyproject installs
    executable = script if command == "benchmarks" and script.exists() else None
    code, out, err = _finish(_skacai_process(command, "--help", executable=executable))
    assert code == 0, err
    assert out.startswith(f"usage: skacai {command}")


def test_fit_accepts_auto_for_the_budget_batch_and_architecture(capsys, files, tmp_path):
    model_path = tmp_path / "auto.safetensors"
    options = "--n-components 2 --hidden-layer-sizes 8 --random-state 0"
    autos = "--max-iter auto --batch-size auto --architecture auto"
    argv = ["fit", files / "data.npy", "-o", model_path, *options.split(), *autos.split()]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    params = ACAITransformer.load(model_path).get_params()
    assert (params["max_iter"], params["batch_size"], params["architecture"]) == (
        "auto",
        "auto",
        "auto",
    )
    # 40 rows: the budget of 600,000 samples is capped at 100 epochs (or stops on a plateau)
    assert "(max_iter=auto)" in out


def test_fit_help_reads_the_architecture_registry(capsys):
    """The architectures and their "auto" budgets and batches come from
    ``skacai._networks.ARCHITECTURES``, written once there."""
    from skacai._networks import ARCHITECTURES
    from skacai._plan import AUTO_MAX_EPOCHS

    code, out, _ = run(capsys, "fit", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert f"--architecture {{{','.join(('auto', *ARCHITECTURES))}}}" in text
    budgets = " or ".join(f"{a.auto_budget:,} ({name})" for name, a in ARCHITECTURES.items())
    batches = " or ".join(f"{a.auto_batch} ({name})" for name, a in ARCHITECTURES.items())
    assert f"auto: about {budgets} training samples, at most {AUTO_MAX_EPOCHS} epochs" in text
    assert f"auto: {batches} (default auto)" in text
    families = "; ".join(f"{name}: {a.description}" for name, a in ARCHITECTURES.items())
    assert f"{families}; auto: conv with --image-shape, mlp without" in text
