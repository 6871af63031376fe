"""benchmarks/speed/time_to_accuracy.py: its --ema scoring leaves the training untouched."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed" / "time_to_accuracy.py"


def fake_mnist(path):
    rng = np.random.default_rng(0)
    digits = {
        name: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        for name, n in (("x_train", 300), ("x_test", 100))
    }
    labels = {name: rng.integers(0, 10, size=n) for name, n in (("y_train", 300), ("y_test", 100))}
    np.savez(path, **digits, **labels)
    return path


def run(*args):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )
    return result


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow  # a benchmark smoke run (10-40 s): CI runs it (make check-smoke)
def test_ema_scores_the_averages_without_changing_the_training(tmp_path):
    data = fake_mnist(tmp_path / "mnist.npz")
    common = [
        "--data", str(data), "--architecture", "conv", "--latent", "16", "--conv-width", "4",
        "--batch-size", "32", "--samples", "256", "512", "--chunk", "128",
        "--kmeans-seeds", "2", "--threads", "1",
    ]  # fmt: skip
    plain, averaged = tmp_path / "plain.jsonl", tmp_path / "ema.jsonl"
    assert run(*common, "--out", str(plain)).returncode == 0
    result = run(*common, "--ema", "0.5", "0.9", "--out", str(averaged))
    assert result.returncode == 0, result.stderr
    for without, with_ema in zip(records(plain), records(averaged), strict=True):
        assert with_ema["samples"] == without["samples"]
        assert with_ema["kmeans_accuracy_seeds"] == without["kmeans_accuracy_seeds"]
        assert with_ema["test_mse"] == without["test_mse"]
        for decay in ("0.5", "0.9"):
            scores = with_ema[f"kmeans_accuracy_seeds_ema{decay}"]
            assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
        assert "kmeans_accuracy_seeds_ema0.5" not in without


def test_ema_refuses_a_resumable_run(tmp_path):
    data = fake_mnist(tmp_path / "mnist.npz")
    result = run("--data", str(data), "--ema", "0.9", "--state", str(tmp_path / "s.safetensors"))
    assert result.returncode != 0
    assert "--ema does not go with --state" in result.stderr


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_to_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_encoder_averages_are_exponential_moving_averages(monkeypatch):
    """The averages follow a = d a + (1 - d) w from the first weights, per decay, and the
    scoring sees the average and gives the trained weights back."""
    import torch

    script = load_script()
    encoder = torch.nn.Linear(3, 2)
    averages = script.EncoderAverages([0.5, 0.9])
    steps = [torch.full_like(encoder.weight, float(v)) for v in (1.0, 3.0, -2.0)]
    for weight in steps:
        with torch.no_grad():
            encoder.weight.copy_(weight)
            encoder.bias.fill_(weight[0, 0])
        averages.update(encoder)
    for decay in (0.5, 0.9):
        expected = 1.0
        for value in (3.0, -2.0):
            expected = decay * expected + (1 - decay) * value
        average = averages.averages[decay]
        torch.testing.assert_close(average["weight"], torch.full((2, 3), expected))
        torch.testing.assert_close(average["bias"], torch.full((2,), expected))

    seen = []

    def fake_scores(model, *args):
        seen.append(model.encoder_.weight.detach().clone())
        return None, [0.5]

    monkeypatch.setattr(script, "cluster_scores", fake_scores)

    class Model:
        encoder_ = encoder

    result = averages.scores(Model(), None, None, None, 1)
    assert set(result) == {"kmeans_accuracy_seeds_ema0.5", "kmeans_accuracy_seeds_ema0.9"}
    torch.testing.assert_close(seen[0], torch.full((2, 3), 0.5 * (0.5 * 1 + 0.5 * 3) - 1.0))
    torch.testing.assert_close(encoder.weight.detach(), steps[-1])  # trained weights back
