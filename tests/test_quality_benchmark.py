"""benchmarks/quality/quality.py and table3_gpu.py on a tiny fake MNIST (smoke tests)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks" / "quality"


def fake_mnist(path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(120, 28, 28), dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
        "y_train": np.arange(120) % 10,
        "y_test": np.arange(60) % 10,
    }
    np.savez(path, **arrays)
    return path


def run(script, *args):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return fake_mnist(tmp_path_factory.mktemp("data") / "mnist.npz")


@pytest.mark.slow  # a benchmark smoke run (10-40 s): CI runs it (make check-smoke)
def test_quality_runs_pairs_resumes_and_reports(mnist, tmp_path):
    out = tmp_path / "quality.jsonl"
    common = ["--data", mnist, "--epochs", "1", "--kmeans-init", "2", "--out", out]
    run("quality.py", "--settings", "paper", "paper-ae", "centred", "--seeds", "0", *common)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["setting"], r["seed"]) for r in records] == [
        ("paper", 0),
        ("paper-ae", 0),
        ("centred", 0),
    ]
    for r in records:
        assert 0 <= r["kmeans_accuracy"] <= 1 and 0 <= r["kmeans_train_accuracy"] <= 1
        assert 0 <= r["probe_accuracy"] <= 1 and r["kmeans_init"] == 2
        # the MSE is in [0, 1] pixel units whatever the setting trained on
        assert 0 < r["test_mse"] < 1
    paper, ae, centred = records
    assert paper["padding"] == {"pad_center": True, "pad_value": -1.0, "loss_on_padding": True}
    assert centred["padding"]["pad_value"] == 0.0 and centred["params"]["scaling"] is None
    # the setting's padding, not what scaling=None gives: centred, the loss over it
    assert centred["padding"]["pad_center"] and centred["padding"]["loss_on_padding"]
    assert (paper["params"]["adversarial_weight"], ae["params"]["adversarial_weight"]) == (0.5, 0)
    # a rerun skips the runs already in the file
    run("quality.py", "--settings", "paper", "--seeds", "0", *common)
    assert len(out.read_text().splitlines()) == 3
    table = run("quality.py", "--report", out)
    assert "| paper | 120 | 1 |" in table
    assert "vs paper-ae (n=1)" in table and "vs paper (n=1)" in table


@pytest.mark.slow  # a benchmark smoke run (10-40 s): CI runs it (make check-smoke)
def test_quality_scores_the_lines(mnist, tmp_path):
    out = tmp_path / "lines.jsonl"
    run(
        "quality.py",
        *("--settings", "lines", "--seeds", "0", "--epochs", "1", "--n-train", "64"),
        *("--data", mnist, "--out", out),
    )
    (record,) = map(json.loads, out.read_text().splitlines())
    assert record["samples"] == 64 and record["params"]["n_components"] == 64
    assert record["mean_distance_x1e3"] > 0 and "smoothness" in record
    assert "| lines | 64 | 1 |" in run("quality.py", "--report", out)


@pytest.mark.slow  # a benchmark smoke run (10-40 s): CI runs it (make check-smoke)
def test_table3_trains_both_models_at_once_and_scores_them(mnist, tmp_path):
    out = tmp_path / "table3.jsonl"
    run(
        "table3_gpu.py",
        *("--data", mnist, "--device", "cpu", "--samples", "240", "--epochs-per-call", "1"),
        *("--kmeans-init", "2", "--out", out),
    )
    records = {r["model"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"ACAI", "plain AE"}
    for r in records.values():
        assert r["samples"] == 240 and r["paper_fraction"] == round(240 / 2**24, 4)
        assert r["concurrent_models"] == 2 and 0 <= r["kmeans_accuracy"] <= 1
