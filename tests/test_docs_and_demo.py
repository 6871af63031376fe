"""The README's usage example and the demo (the README's main job) actually run."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skacai._demo import run_demo

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path="README.md"):
    text = (ROOT / path).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize(
    "path", ["docs/user_guide.md", "docs/lines_benchmark.md", "docs/persistence.md"]
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_self_contained_doc_examples_run(path, tmp_path, monkeypatch):
    """Blocks that start with an import are complete programs: run them (in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    blocks = [block for block in python_blocks(path) if block.startswith("from ")]
    assert blocks, f"{path} has no self-contained example"
    for block in blocks:
        exec(compile(block, path, "exec"), {})


def test_readme_usage_example_runs(capsys, tmp_path, monkeypatch):
    """The README's blocks run in order, as one session (in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert blocks, "the README has no python example"
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    accuracy = float(re.search(r"clustering accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.5  # ten digit classes: chance is about 0.1
    assert "(1797, 16) (1797, 64) (3, 7, 64)" in out
    assert (tmp_path / "acai.safetensors").is_file()
    assert namespace["acai"].n_iter_ == 20  # the reloaded model


def without_times(lines):
    """The demo's lines with the last column (fit seconds, which vary) cut off its rows."""
    return [re.sub(r"\s+[0-9]+\.[0-9]$", "", line) for line in lines]


@pytest.mark.slow  # about 3 minutes: CI runs it on its own (make check-readme)
def test_demo_compares_four_representations_and_the_readme_shows_what_it_prints():
    """The demo at its defaults (what ``make demo`` runs); the README's table is its
    output, but for the fit times (measured separately, as the README says)."""
    lines = []
    rows = run_demo(out=lines.append)
    assert [row.method.split(" (")[0] for row in rows] == [
        "raw pixels",
        "PCA",
        "plain autoencoder",
        "ACAI",
    ]
    plain, acai = rows[2], rows[3]
    # The codes carry the images: reconstructions far closer than the pixels' variance.
    variance = load_digits().data.var(axis=0).mean()
    assert acai.mse < 0.3 * variance and plain.mse < 0.3 * variance
    for row in rows:
        assert 0.5 < row.kmeans <= 1 and 0.8 < row.probe <= 1
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```text\n(skacai demo:.*?)```", readme, flags=re.DOTALL).group(1)
    shown = [line for line in block.splitlines() if not line.startswith("Interpolations")]
    assert without_times(shown) == without_times(lines)


@pytest.mark.slow  # 20 s: CI runs it with the README demo (make check-readme)
def test_demo_command_line_saves_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "interpolation.png"
    result = subprocess.run(
        [sys.executable, "-m", "skacai", "demo", "--max-iter", "2", "--plot", str(png)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "ACAI (16)" in result.stdout
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert np.ptp(pixels[..., :3]) > 0.5  # not a blank canvas


def test_command_line_rejects_bad_arguments():
    result = subprocess.run(
        [sys.executable, "-m", "skacai", "demo", "--max-iter", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "argument --max-iter: must be at least 1" in result.stderr
