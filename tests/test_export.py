"""``ACAITransformer.export`` and ``skacai export``: the encoder / decoder with the
scaling built in, as TorchScript, a torch.export program or ONNX, giving what
``transform`` / ``inverse_transform`` give."""

import importlib.util
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skacai import ACAITransformer, _export
from skacai._cli import main

N_FEATURES = 64
# transform scales in float64 before the float32 networks, the exported graph in float32:
# they agree to float32 rounding (measured: at most 5e-7 on data of magnitude 10).
RTOL, ATOL = 1e-5, 1e-5


def rows(n, seed):
    """Raw float32 features far from standardised: offsets, unequal scales, a constant."""
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=3.0, scale=np.tile([1.0, 2.0, 5.0, 0.5], N_FEATURES // 4), size=(n, 64))
    X[:, 5] = 7.0
    return X.astype(np.float32)


MODELS = {
    "mlp": dict(n_components=3, hidden_layer_sizes=(16,), max_iter=2, scaling="feature"),
    "conv": dict(n_components=16, image_shape=(8, 8), conv_width=4, n_scales=1, max_iter=1),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    return ACAITransformer(**MODELS[request.param], random_state=0).fit(rows(60, 0))


@pytest.fixture(scope="module")
def mlp():
    return ACAITransformer(**MODELS["mlp"], random_state=0).fit(rows(60, 0))


def load(path, format):
    """A callable float32 array -> float32 array for an exported file."""
    if format == "onnx":
        onnxruntime = pytest.importorskip("onnxruntime")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (graph_input,) = session.get_inputs()
        return lambda x: session.run(None, {graph_input.name: x})[0]
    if format == "torchscript":
        with warnings.catch_warnings():  # torch deprecates TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(path)
    else:
        module = torch.export.load(path).module()
    return lambda x: module(torch.from_numpy(x)).detach().numpy()


def expected(model, part, X):
    """(input of the exported graph, what the model gives for it)."""
    if part == "encoder":
        return X, model.transform(X)
    codes = model.transform(X)
    return codes, model.inverse_transform(codes)


@pytest.mark.parametrize("part", _export.PARTS)
@pytest.mark.parametrize("format", ["torchscript", "pt2", "onnx"])
def test_export_gives_what_the_model_gives(model, part, format, tmp_path):
    if format == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    path = tmp_path / f"{part}.{format}"
    model.export(path, part=part, format=format)
    run = load(path, format)
    for n in (1, 7, 300):  # the batch dimension is dynamic
        inputs, reference = expected(model, part, rows(n, n))
        result = run(inputs)
        assert result.dtype == np.float32 and result.shape == reference.shape
        np.testing.assert_allclose(result, reference, rtol=RTOL, atol=ATOL)
    assert sorted(os.listdir(tmp_path)) == [path.name]  # one file, no temporaries


def test_onnx_graph_names_and_dynamic_batch(mlp, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    for part, (input_name, output_name) in _export.IO_NAMES.items():
        path = tmp_path / f"{part}.onnx"
        mlp.export(path, part=part)
        graph = onnx.load(path).graph
        assert [value.name for value in graph.input] == [input_name]
        assert [value.name for value in graph.output] == [output_name]
        dims = graph.input[0].type.tensor_type.shape.dim
        assert dims[0].dim_param == _export.BATCH_AXIS
        width = N_FEATURES if part == "encoder" else 3
        assert dims[1].dim_value == width


@pytest.mark.parametrize("suffix", [".pt", ".pt2"])
def test_exported_file_runs_without_skacai(mlp, tmp_path, suffix):
    path = tmp_path / f"encoder{suffix}"
    mlp.export(path)
    X = rows(5, 1)
    np.save(tmp_path / "X.npy", X)
    load = "torch.jit.load(path)" if suffix == ".pt" else "torch.export.load(path).module()"
    script = (
        "import sys, numpy as np, torch\n"
        "sys.modules['skacai'] = None  # importing skacai would fail\n"
        f"path = {str(path)!r}\n"
        f"module = {load}\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.save({str(tmp_path / 'codes.npy')!r}, module(torch.from_numpy(X)).numpy())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    codes = np.load(tmp_path / "codes.npy")
    np.testing.assert_allclose(codes, mlp.transform(X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    ("name", "format"),
    [("a.pt", "torchscript"), ("a.PTH", "torchscript"), ("a.torchscript", "torchscript"),
     ("a.pt2", "pt2"), ("a.onnx", "onnx")],
)  # fmt: skip
def test_auto_format_follows_the_suffix(name, format):
    assert _export.resolve_format(name, "auto") == format
    assert _export.resolve_format("a.bin", format) == format


def test_unfitted_model_cannot_export(tmp_path):
    with pytest.raises(NotFittedError):
        ACAITransformer().export(tmp_path / "encoder.pt")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        ("a.pt", {"part": "critic"}, ValueError, "part must be 'encoder' or 'decoder'"),
        ("a.pt", {"part": None}, ValueError, "part must be"),
        ("a.pt", {"format": "tflite"}, ValueError, "format must be 'auto', 'torchscript'"),
        ("a.bin", {}, ValueError, "cannot tell the export format from the suffix '.bin'"),
        ("encoder", {}, ValueError, "a file name without suffix"),
        ("missing/a.pt", {}, FileNotFoundError, "the folder .* does not exist"),
        (".", {"format": "pt2"}, IsADirectoryError, "it is a folder"),
    ],
)
def test_bad_arguments_give_clear_errors(mlp, tmp_path, name, kwargs, error, match):
    with pytest.raises(error, match=match):
        mlp.export(tmp_path / name, **kwargs)
    assert not os.listdir(tmp_path)


def test_scaling_beyond_float32_cannot_be_exported(tmp_path):
    X = rows(40, 0).astype(np.float64) * 1e200
    model = ACAITransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=1).fit(X)
    with pytest.raises(ValueError, match="float32 cannot"):
        model.export(tmp_path / "encoder.pt")


def test_onnx_without_its_packages_says_how_to_install_them(mlp, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    with pytest.raises(ImportError, match=r"pip install 'skacai\[onnx\]'"):
        mlp.export(tmp_path / "encoder.onnx")
    assert not os.listdir(tmp_path)


def test_failed_export_changes_nothing(tmp_path):
    model = ACAITransformer(**MODELS["mlp"], random_state=0).fit(rows(60, 0))
    path = tmp_path / "encoder.pt"
    path.write_bytes(b"previous")
    weights = {k: v.clone() for k, v in model.encoder_.state_dict().items()}
    state = dict(model.__dict__)
    training = model.encoder_.training
    with (
        mock.patch.object(torch.jit, "save", side_effect=RuntimeError("disk full")) as save,
        pytest.raises(RuntimeError, match="disk full"),
    ):
        model.export(path)
    save.assert_called_once()
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == [path.name]
    assert model.__dict__ == state and model.device_ == "cpu"
    assert model.encoder_.training == training
    for name, value in model.encoder_.state_dict().items():
        assert torch.equal(value, weights[name])
    assert next(model.encoder_.parameters()).requires_grad


def test_export_leaves_the_model_as_it_was(mlp, tmp_path):
    X = rows(10, 3)
    before = mlp.transform(X)
    mlp.export(tmp_path / "decoder.pt2", part="decoder")
    np.testing.assert_array_equal(mlp.transform(X), before)
    assert all(p.requires_grad for p in mlp.decoder_.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_model_on_the_gpu_exports_a_cpu_graph_and_stays_on_the_gpu(tmp_path):
    X = rows(60, 0)
    model = ACAITransformer(**MODELS["conv"], device="cuda", random_state=0).fit(X)
    path = tmp_path / "encoder.pt2"
    model.export(path)
    assert model.device_.startswith("cuda")
    assert all(p.is_cuda for p in model.encoder_.parameters())
    np.testing.assert_allclose(load(path, "pt2")(X), model.transform(X), rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, mlp):
    path = tmp_path_factory.mktemp("export") / "model.safetensors"
    mlp.save(path)
    return path


def cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exports_the_encoder_and_decoder(capsys, model_file, mlp, tmp_path):
    code, out, err = cli(capsys, "export", model_file, "-o", tmp_path / "encoder.pt2")
    assert code == 0, err
    assert out == (
        "Wrote the encoder (64 features -> 3 codes, float32, any number of rows) as a "
        f"torch.export program to {tmp_path / 'encoder.pt2'}\n"
    )
    X = rows(4, 2)
    np.testing.assert_allclose(
        load(tmp_path / "encoder.pt2", "pt2")(X), mlp.transform(X), rtol=RTOL, atol=ATOL
    )
    argv = ["export", model_file, "-o", tmp_path / "d.bin", "--part", "decoder"]
    code, out, err = cli(capsys, *argv, "--format", "torchscript")
    assert code == 0, err
    assert "Wrote the decoder (3 codes -> 64 features" in out and "as TorchScript" in out
    codes = mlp.transform(X)
    decoded = load(tmp_path / "d.bin", "torchscript")(codes)
    np.testing.assert_allclose(decoded, mlp.inverse_transform(codes), rtol=RTOL, atol=ATOL)


def assert_one_line_error(code, err, *fragments):
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("skacai export: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_errors_are_one_line(capsys, model_file, tmp_path, monkeypatch):
    code, _, err = cli(capsys, "export", model_file, "-o", tmp_path / "encoder.bin")
    assert_one_line_error(code, err, "cannot tell the export format", "--format")
    code, _, err = cli(capsys, "export", tmp_path / "none.safetensors", "-o", tmp_path / "e.pt")
    assert_one_line_error(code, err, "does not exist")
    code, _, err = cli(capsys, "export", model_file, "-o", tmp_path / "no" / "e.pt")
    assert_one_line_error(code, err, "does not exist")
    (tmp_path / "taken.pt").write_bytes(b"x")
    code, _, err = cli(capsys, "export", model_file, "-o", tmp_path / "taken.pt")
    assert_one_line_error(code, err, "already exists", "--force")
    code, _, err = cli(capsys, "export", model_file, "-o", model_file, "--format", "pt2", "-f")
    assert_one_line_error(code, err, "it is the model file")
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    code, _, err = cli(capsys, "export", model_file, "-o", tmp_path / "e.onnx")
    assert_one_line_error(code, err, "pip install 'skacai[onnx]'")
    assert sorted(os.listdir(tmp_path)) == ["taken.pt"]


def test_cli_usage_errors(capsys, model_file, tmp_path):
    code, _, err = cli(capsys, "export", model_file, "-o", tmp_path / "e.pt", "--part", "critic")
    assert code == 2 and "invalid choice: 'critic'" in err
    code, _, err = cli(capsys, "export", model_file)
    assert code == 2 and "-o/--output" in err


# ---------------------------------------------------------------- documentation


def guide_examples():
    """The python blocks of the user guide's "Exporting a model" section."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "user_guide.md").read_text()
    section = text.split("\n## Exporting a model\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_user_guide_examples_run(tmp_path, monkeypatch, capsys):
    blocks = guide_examples()
    assert len(blocks) == 2 and "onnxruntime" in blocks[1]
    if not all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime")):
        blocks = blocks[:1]
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for block in blocks:
            exec(compile(block, "docs/user_guide.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "torch.Size([5, 64])"
    assert all(float(out[i]) < 1e-5 for i in range(0, len(out), 2))
