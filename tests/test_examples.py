"""The examples gallery: every script in examples/ runs and is in sphinx-gallery's format.

Each example runs as a plain script in a fresh interpreter, as a user would run it,
with matplotlib's non-interactive Agg backend (so ``plt.show()`` opens no window) and
an empty working folder, which must still be empty afterwards. The Sphinx build
(``make docs``) runs them all again through sphinx-gallery.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
# The five longest (20-45 s each on the 2-core machine) run as slow tests, which CI
# runs on their own (make check-smoke), keeping the default suite under 10 minutes;
# the Sphinx build runs them too.
SLOW_EXAMPLES = {
    "classifier_features.py",
    "custom_networks.py",
    "grid_search_coefficients.py",
    "interpolation_pictures.py",
    "latent_space.py",
}
RUNS = [
    pytest.param(path, marks=pytest.mark.slow) if path.name in SLOW_EXAMPLES else path
    for path in EXAMPLES
]


def rst_title(lines):
    """The title of an RST text: a line underlined with "=" of the same length, or None."""
    if len(lines) >= 2 and lines[0].strip() and lines[1] == "=" * len(lines[0]):
        return lines[0]
    return None


@pytest.mark.parametrize("script", RUNS, ids=lambda path: path.name)
def test_example_runs_prints_and_leaves_no_files(script, tmp_path):
    # One torch thread, as in test_cli.py: on a 2-core machine shared with other work,
    # two threads made the small convolutional fits several times slower (the examples
    # themselves leave the thread count alone).
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example printed nothing"
    assert not list(tmp_path.iterdir()), "the example left files in the working folder"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_is_in_gallery_format(script):
    module = ast.parse(script.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(module)
    assert docstring, "an example starts with a docstring"
    first = module.body[0]
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    lines = docstring.splitlines()
    assert rst_title(lines), f"the docstring must start with 'Title\\n=====', got {lines[:2]}"
    # then a paragraph of explanation: text after a blank line under the title
    assert len(lines) > 3 and not lines[2].strip() and lines[3].strip()


def test_sphinx_gallery_splits_each_example_into_text_and_code():
    parser = pytest.importorskip("sphinx_gallery.py_source_parser")
    for script in EXAMPLES:
        _, blocks = parser.split_code_and_text_blocks(str(script))
        kinds = [block[0] for block in blocks]  # (type, content, line number)
        assert kinds[0] == "text" and "code" in kinds, (script.name, kinds)


def test_gallery_header_exists_with_a_title():
    header = EXAMPLES_DIR / "GALLERY_HEADER.rst"
    assert header.is_file()
    lines = header.read_text(encoding="utf-8").splitlines()
    assert rst_title(lines)
    assert any(line.strip() for line in lines[2:]), "a paragraph under the title"


def test_there_are_examples():
    assert len(EXAMPLES) >= 5
