"""benchmarks/defaults/defaults_sweep.py runs, resumes and reports (a tiny budget: a smoke
test)."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "defaults" / "defaults_sweep.py"


def load_script(name="defaults_sweep"):
    if str(SCRIPT.parent) not in sys.path:  # as when run: its siblings importable
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location(name, SCRIPT.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_pairs_each_recipe_with_its_autoencoder_and_resumes(tmp_path, capsys):
    sweep = load_script()
    out = tmp_path / "sweep.jsonl"
    argv = ["--sets", "wine", "--recipes", "l10", "--seeds", "0", "--epochs", "1"]
    assert sweep.main([*argv, "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["recipe"] for r in records] == ["l10", "l10-ae", "raw", "pca10"]
    acai, ae = records[0], records[1]
    assert acai["params"]["n_components"] == 10 and "adversarial_weight" not in acai["params"]
    assert ae["params"]["adversarial_weight"] == 0.0
    for record in records:
        assert 0.0 <= record["kmeans_accuracy"] <= 1.0 and 0.0 <= record["probe_accuracy"] <= 1.0
    sweep.main([*argv, "--out", str(out)])  # everything is there: nothing reruns
    assert len(out.read_text().splitlines()) == 4
    capsys.readouterr()
    sweep.main(["--report", str(out)])
    table = capsys.readouterr().out
    assert "| l10 | 1 | 1 |" in table and "| pca10 | 1 | 1 |" in table


def test_image_sets_pass_their_shape_so_the_recipe_trains_conv_networks(tmp_path):
    sweep = load_script()
    out = tmp_path / "sweep.jsonl"
    argv = ["--sets", "digits_image", "--recipes", "conv16s1", "--seeds", "0", "--epochs", "1"]
    assert sweep.main([*argv, "--out", str(out)]) == 0
    acai = json.loads(out.read_text().splitlines()[0])
    assert acai["recipe"] == "conv16s1"
    assert acai["params"]["image_shape"] == [8, 8] and acai["params"]["n_scales"] == 1
    assert acai["n_components"] == 16


@pytest.mark.slow
def test_the_umap_comparison_trains_acai_for_umaps_time(tmp_path):
    if os.environ.get("CI", "").lower() == "true":  # make check-slow installs it
        import umap  # noqa: F401  (in CI a missing umap-learn fails, not skips)
    else:
        pytest.importorskip("umap")
    module = load_script("umap_compare")
    out = tmp_path / "umap.jsonl"
    argv = ["--n-train", "300", "--seeds", "0", "--equal-time", "--chunk", "100"]
    assert module.main([*argv, "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["method"] for r in records] == ["umap", "acai-mlp", "acai-conv"]
    for acai in records[1:]:
        assert acai["fit_seconds"] >= acai["budget_seconds"] == records[0]["fit_seconds"]
        assert acai["samples"] >= 100


def test_the_default_fit_time_benchmark_times_the_defaults(tmp_path, mnist_path):
    module = load_script("default_fit_time")
    out = tmp_path / "times.jsonl"
    argv = ["--n-train", "200", "--max-iter", "2", "--data", str(mnist_path), "--out", str(out)]
    assert module.main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["model"] for r in records] == ["mlp", "conv"]
    assert records[1]["params"] == {"image_shape": [28, 28]}
    assert all(r["n_iter"] == 2 and r["fit_seconds"] > 0 for r in records)
