"""What the commands and ``save`` / ``export`` write (issue 35, items 2-6): CSV headers
that no spreadsheet reads as formulas, outputs that never replace what is not a
regular file, never destroy the previous output on a failed write, fit any legal
file name, and never overlap training."""

import csv

import numpy as np
import pytest

from skacai import ACAITransformer
from skacai._cli import load_data, main

PARAMS = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 1, "random_state": 0}


def cli(capsys, *argv):
    """``main(argv)``: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(30, 6))


# Line breaks and other control characters inside a name: a bare "\r" ended the
# header's record for spreadsheets and Python's csv reader, which then read a row
# that starts with a formula.
CONTROL_NAMES = ["x\r=cmd|' /C calc'!A0", "y\r\n@SUM(1)", "esc\x1b[2J", "vt\x0bz", "nul\x00",
                 "ls\u2028+1", "", "plain"]  # fmt: skip


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_a_control_character_in_a_name_cannot_start_a_csv_row(X, tmp_path, capsys):
    model = ACAITransformer(**PARAMS).fit(np.random.default_rng(1).normal(size=(30, 8)))
    model.feature_names_in_ = np.asarray(CONTROL_NAMES, dtype=object)
    model.save(tmp_path / "model.st")
    codes = model.transform(np.random.default_rng(2).normal(size=(4, 8)))
    np.save(tmp_path / "codes.npy", codes)
    out = tmp_path / "decoded.csv"
    code, _, err = cli(capsys, "transform", tmp_path / "model.st", tmp_path / "codes.npy",
                       "-o", out, "--inverse")  # fmt: skip
    assert code == 0, err
    with out.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == CONTROL_NAMES  # one header record, every name whole
    assert len(rows) == 1 + len(codes)
    for record in rows[1:]:  # numbers only: no formula
        assert [float(field) for field in record]
    data = load_data(out)  # skacai reads its own output back
    np.testing.assert_allclose(data.X, model.inverse_transform(codes))
    assert data.source.endswith("(header row skipped)")
