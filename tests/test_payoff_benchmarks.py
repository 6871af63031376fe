"""Smoke runs of the benchmarks behind issues 32 and 33: the budget curves (train,
resume, evaluate, report, plot), the conv speed benchmark and the realism search,
each on a tiny budget, in this process or a subprocess."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def script_path(name):
    """benchmarks/FOLDER/NAME.py (one purpose folder holds it; see benchmarks/manifest.toml)."""
    (path,) = list(BENCHMARKS.glob(f"*/{name}.py")) or [BENCHMARKS / f"{name}.py"]
    return path


def script(name):
    path = script_path(name)
    # as when run: its folder (its siblings) and benchmarks/ (_common) importable
    sys.path[:0] = [str(path.parent), str(BENCHMARKS)]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # about 30 s: CI runs it (make check-smoke)
def test_budget_curves_train_resume_evaluate_report_and_plot(tmp_path, monkeypatch, capsys):
    curves = script("budget_curves")
    monkeypatch.setattr(curves, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(curves, "TRAIN_LOG", tmp_path / "train.jsonl")
    monkeypatch.setattr(curves, "SCORES", tmp_path / "scores.jsonl")
    monkeypatch.setattr(curves, "FIGURE", tmp_path / "curves_{data}.png")
    monkeypatch.setattr(curves, "STAGES", {"digits": (1, 2), "mnist": (1,)})
    monkeypatch.setattr(curves, "N_PAIRS", 40)
    monkeypatch.setattr(curves, "KMEANS_RESTARTS", 2)
    common = ["--data", "digits", "--seeds", "0", "--threads", "1"]
    curves.main(["train", *common, "--max-samples", "1400"])  # the first budget point only
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "digits-acai-seed0-epoch1.skacai",
        "digits-acai-seed0-latest.skacai",
        "digits-ae-seed0-epoch1.skacai",
        "digits-ae-seed0-latest.skacai",
    ]
    curves.main(["train", *common])  # resumes from epoch 1: one more epoch each
    log = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert [(r["model"], r["epoch"]) for r in log] == [
        ("acai", 1), ("ae", 1), ("acai", 2), ("ae", 2),
    ]  # fmt: skip
    curves.main(["evaluate", *common])
    curves.main(["evaluate", *common])  # nothing left to score: nothing appended
    scores = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert sorted((r["model"], r["epoch"]) for r in scores) == [
        ("acai", 1), ("acai", 2), ("ae", 1), ("ae", 2), ("pca", 0), ("pixels", 0),
    ]  # fmt: skip
    assert all(0 < r["confidence"] <= 1 for r in scores if r["model"] in ("acai", "ae"))
    capsys.readouterr()
    curves.main(["report", "--data", "digits"])
    assert "ACAI - AE" in capsys.readouterr().out
    curves.main(["report", "--markdown", "--data", "digits"])
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| data, samples | seeds | KMeans, raw codes |")
    assert [row.split(" | ")[:2] for row in table[2:]] == [
        ["| digits, 1,347", "1"],
        ["| digits, 2,694", "1"],
    ]
    assert {model for *_, model in curves.jobs(["digits"], [0], 10**7, ["ae"])} == {"ae"}
    curves.main(["plot", "--data", "digits"])
    assert (tmp_path / "curves_digits.png").stat().st_size > 10_000


@pytest.mark.slow  # about 30 s: CI runs it (make check-smoke)
def test_conv_speed_prints_both_variants_and_their_ratio(mnist_path, tmp_path):
    out = tmp_path / "speed.jsonl"
    result = subprocess.run(
        [sys.executable, str(script_path("conv_speed")), "--threads", "1", "--widths", "8",
         "--batch-sizes", "64", "--rows", "128", "--seconds", "0.1", "--repeats", "1",
         "--data", str(mnist_path), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "current / before: fit" in result.stdout
    record = json.loads(out.read_text())
    variants = {(r["precision"], r["variant"]) for r in record["results"]}
    assert ("float32", "before") in variants and ("float32", "current") in variants
    assert all(r["fit_mflop_per_sample"] > 50 for r in record["results"])  # about 85


@pytest.mark.slow  # about 2 minutes: CI runs it (make check-smoke)
def test_realism_search_records_each_scores_pick(tmp_path):
    search = script("realism_search")
    out = tmp_path / "search.jsonl"
    search.main(["--seeds", "0", "--weights", "0", "0.5", "--epochs", "1", "--json", str(out)])
    record = json.loads(out.read_text())
    assert set(record["picks"]) == set(search.SCORES)
    assert all(pick in (0.0, 0.5) for pick in record["picks"].values())
    assert "0.0" in record["realism"]
