"""benchmarks/defaults_sweep.py runs, resumes and reports (a tiny budget: a smoke test)."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "defaults_sweep.py"


def load_script():
    spec = importlib.util.spec_from_file_location("defaults_sweep", SCRIPT)
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
    assert "| l10 | 1 |" in table and "| pca10 | 1 |" in table
