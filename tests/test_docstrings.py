"""Docstrings say what and how; the docs pages say how much (issue 34, item 6).

A measurement (a speed, a ratio of speeds, a timing, an accuracy, the machine it was
taken on) goes stale in a docstring, where nothing reruns it: it belongs in a docs
page (``docs/performance.md``, ``docs/defaults.md``, ``docs/fidelity.md``, ...) beside
the command that produced it, and the docstring points there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skacai"

NUMBER = r"\d[\d,]*(?:\.\d+)?"
MEASUREMENT = re.compile(
    rf"""
      samples\s*/\s*s | steps\s*/\s*s | \b[GMT]FLOPs?\b | page\s+faults
    | {NUMBER}\s*(?:x|times)\s+(?:as\s+)?(?:fast|faster|slow|slower)\b
    | \bx\s+(?:faster|slower)\b
    | \b(?:twice|half|\w+\s+times)\s+(?:as\s+)?(?:fast|faster|slow|slower)\b
    | \b(?:EPYC|Xeon|Ryzen|H100|H200|A100|V100|RTX\s*\d+)\b | \b\d+-core\b
    | {NUMBER}\s*%\s*(?:on|of|faster|slower|better|worse|points?)\b
    | {NUMBER}\s+points?\s+(?:better|worse|higher|lower|ahead|behind)\b
    | \bby\s+{NUMBER}(?:\s+to\s+{NUMBER})?\s+points\b
    | {NUMBER}\s*(?:s|ms|seconds|minutes|hours)\b(?!\s*[/=])
    """,
    re.VERBOSE | re.IGNORECASE,
)


def docstrings():
    """``(where, docstring)`` of every module, class and function in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(node, clean=False)
                if text:
                    name = getattr(node, "name", "<module>")
                    yield f"{path.relative_to(PACKAGE.parent)}:{name}", text


def measurements(text):
    """The measurement-like phrases in ``text`` (whitespace folded)."""
    return [m.group(0) for m in MEASUREMENT.finditer(" ".join(text.split()))]


def test_docstrings_carry_no_measurements():
    found = [
        f"{where}: {', '.join(repr(m) for m in hits)}"
        for where, text in docstrings()
        if (hits := measurements(text))
    ]
    assert not found, "measurements belong in the docs pages:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "sentence",
    [
        # what the docstrings said before the measurements moved to the docs
        "on an H100, the paper's conv model trained 3.2 times as fast (float32)",
        "CPUs with AVX-512 BF16 or AMX, where it measured 1.6-1.7 times as fast",
        "17 times slower than float32 on an AMD EPYC without bfloat16 instructions",
        "10 epochs (MLP, 95 s) or 2 (conv, 3 minutes) for MNIST's 60,000 images",
        "on a 2-core CPU",
        "6 % of a step's arithmetic with the blog's 1000-1000 networks",
        "over a million page faults per step under autograd",
        "one restart takes about 0.17 s on one CPU thread",
        "3 scales (a 1x1 grid) clustered 9 points worse than 1",
        "each choice clustered better on its kind of data, by 5 to 17 points",
        "On a CPU, 8 trains about twice as fast as 16",
        "the exact element-wise test (ten times slower on the CPU)",
        "it clustered 78.6 % on the digits",
        "12,000 samples/s",
        "trains 2x faster",
        "1.3x faster",
        "4.2 GFLOP per step",
    ],
)
def test_measurements_are_recognised(sentence):
    assert measurements(sentence), sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "halves the image 3 times (at least 0): 3 for 28x28 or 32x32 images",
        "``round(budget / n_samples)`` epochs, at least 1, at most 100",
        "a bar for calls that run longer than two seconds",
        "4,096 rows of 1,024 features; 2**22 values at a time",
        "bfloat16 keeps 8 significant bits",
        "MNIST's largest IDX file holds 47 MB",
        "adversarial_weight=0.5 with scaling='global'",
    ],
)
def test_descriptions_are_not_taken_for_measurements(sentence):
    assert not measurements(sentence), sentence
