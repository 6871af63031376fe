"""benchmarks/quality/paper_tables.py: prints the paper's numbers beside ours, and really
trains."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "quality" / "paper_tables.py"


def run(*args):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_report_puts_the_papers_numbers_beside_ours(tmp_path):
    common = {"samples": 4096, "fit_seconds": 12.0}
    records = [
        {"table": 1, "model": "plain AE", "mean_distance_x1e3": 9.5, "smoothness": 0.5, **common},
        {"table": 1, "model": "ACAI", "mean_distance_x1e3": 3.25, "smoothness": 0.2, **common},
        {"table": "2+3", "latent": 32, "model": "ACAI", "probe_accuracy": 0.9, **common}
        | {"kmeans_accuracy": 0.625},
    ]
    report = tmp_path / "results.jsonl"
    report.write_text("".join(json.dumps(r) + "\n" for r in records))
    table1 = run("table1", "--report", str(report))
    assert "| Mean Distance x1e-3 | 6.88 | 9.5 | 0.24 | 3.25 |" in table1
    assert "| Smoothness | 0.44 | 0.5 | 0.1 | 0.2 |" in table1
    assert "budget: AE 4,096 samples (12 s)" in table1
    mnist = run("mnist", "--report", str(report))
    assert "| 32 | 94.90 % | not run | 98.25 % | 90.00 % | 4,096 samples (12 s) |" in mnist
    assert "| 32 | 77.56 % | not run | 94.38 % | 62.50 % |" in mnist
    assert "| 256 | 50.55 % | not run | 96.17 % | not run |" in mnist
    assert "Table 1" not in mnist and "Table 2" not in run("table3", "--report", str(report))


@pytest.mark.slow
def test_table1_trains_and_scores_both_models(tmp_path):
    out = tmp_path / "run.jsonl"
    printed = run("table1", "--samples", "256", "--n-train", "256", "--out", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["model"] for r in records] == ["plain AE", "ACAI"]
    assert all(r["samples"] == 256 and r["fit_seconds"] > 0 for r in records)
    assert "Table 1: lines" in printed
    out.unlink()
    run(
        "table1",
        "--checkpoints",
        "64,192",
        "--models",
        "ACAI",
        "--n-train",
        "128",
        "--out",
        str(out),
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["model"], r["samples"]) for r in records] == [("ACAI", 64), ("ACAI", 192)]
    assert records[0]["fit_seconds"] < records[1]["fit_seconds"]
