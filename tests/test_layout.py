"""The package's layout: imports run downwards through the layers, files and
functions stay small enough to read, and no block of code is written twice.

The layers and what lives in each are drawn in ``docs/architecture.md``; a module
may import only from strictly lower layers (lazy imports inside functions count).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skacai"

# Lowest first. A module may import skacai modules of strictly lower layers only.
LAYERS = [
    ("foundations", {"_version", "exceptions", "_sklearn_compat", "_optional", "_memory"}),
    ("checks", {"_validation", "_progress", "_versions"}),
    (
        "data, networks, objective and the file format",
        {"_scaling", "_networks", "_objective", "datasets", "_model_file"},
    ),
    (
        "metrics, devices, state and your networks",
        {"metrics", "_device", "_rollback", "_mlp_step", "_custom"},
    ),
    ("the fitted model", {"_model"}),
    ("computation", {"_training", "_inference"}),
    ("training loop", {"_fit_loop"}),
    ("fit plan", {"_plan"}),
    ("model files", {"_persistence"}),
    ("export", {"_export"}),
    ("estimator", {"_estimator"}),
    ("pictures", {"plotting"}),
    ("demo", {"_demo"}),
    ("command line", {"_cli"}),
    ("entry points", {"__init__", "__main__"}),
]
LAYER_OF = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}
MAX_FILE_LINES = 600
# The estimator is parameters, docstrings and glue (issue 34): the work lives below it.
MAX_LINES = {"_estimator": 400}
MAX_FUNCTION_LINES = 60
DUPLICATE_BLOCK = 6


def modules():
    """``(unit, path)`` for every module of the package; a subpackage's modules
    share the subpackage's unit (``skacai/_cli/run.py`` -> ``_cli``)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield parts[0], path


def imported_units(tree, path):
    """The skacai units that a module's import statements name (top-level or lazy)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names = [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "skacai":
                continue
            # `import skacai` and `from skacai import ACAITransformer` use the package root.
            unit = parts[1] if len(parts) > 1 and parts[1] in LAYER_OF else "__init__"
            yield node.lineno, unit


def code_lines(source, tree):
    """Line numbers that hold code: no blank, comment-only or docstring lines."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            lines.update(range(token.start[0], token.end[0] + 1))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            lines.difference_update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def parsed():
    for unit, path in modules():
        source = path.read_text()
        yield unit, path, source, ast.parse(source)


def test_every_module_has_a_layer():
    assert {unit for unit, _ in modules()} == set(LAYER_OF)


def test_imports_run_down_the_layers():
    offenders = []
    for unit, path, _, tree in parsed():
        for lineno, imported in imported_units(tree, path):
            if imported != unit and LAYER_OF[imported] >= LAYER_OF[unit]:
                offenders.append(
                    f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {imported} "
                    f"({LAYERS[LAYER_OF[imported]][0]}) from layer {LAYERS[LAYER_OF[unit]][0]}"
                )
    assert not offenders, "\n".join(offenders)


def test_files_stay_under_the_size_limit():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {n} lines of code "
        f"(limit {MAX_LINES.get(path.stem, MAX_FILE_LINES)})"
        for _, path, source, tree in parsed()
        if (n := len(code_lines(source, tree))) > MAX_LINES.get(path.stem, MAX_FILE_LINES)
    ]
    assert not offenders, "\n".join(offenders)


def test_functions_stay_under_the_size_limit():
    offenders = []
    for _, path, source, tree in parsed():
        lines = code_lines(source, tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = len(lines.intersection(range(node.lineno, node.end_lineno + 1)))
                if n > MAX_FUNCTION_LINES:
                    offenders.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: "
                        f"{n} lines of code (limit {MAX_FUNCTION_LINES})"
                    )
    assert not offenders, "\n".join(offenders)


def normalised_code(source, tree):
    """``(line number, stripped text)`` of each code line, in order."""
    text = source.splitlines()
    return [(n, text[n - 1].strip()) for n in sorted(code_lines(source, tree))]


def test_no_block_of_code_is_written_twice():
    """No run of six code lines appears twice in the package (a shared helper instead).

    Runs made only of brackets, ``else:``, ``try:`` and the like do not count.
    """
    seen = defaultdict(list)
    for _, path, source, tree in parsed():
        code = normalised_code(source, tree)
        for start in range(len(code) - DUPLICATE_BLOCK + 1):
            window = code[start : start + DUPLICATE_BLOCK]
            texts = tuple(text for _, text in window)
            if sum(len(text) > 12 for text in texts) < DUPLICATE_BLOCK - 1:
                continue
            seen[texts].append(f"{path.relative_to(PACKAGE.parent)}:{window[0][0]}")
    repeated = {texts: places for texts, places in seen.items() if len(places) > 1}
    assert not repeated, "\n\n".join(
        " and ".join(places) + ":\n    " + "\n    ".join(texts)
        for texts, places in repeated.items()
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('def f():\n    """Doc\n    string."""\n    # comment\n\n    return 1\n', 2),
        ("x = '''a\nb'''\n", 2),
    ],
)
def test_code_lines_skip_docstrings_comments_and_blanks(source, expected):
    assert len(code_lines(source, ast.parse(source))) == expected


def test_imports_are_resolved_to_their_units(tmp_path):
    source = (
        "import skacai\nfrom skacai import _device, plotting\nimport skacai._networks\n"
        "def f():\n    from skacai._estimator import ACAITransformer\n"
    )
    tree = ast.parse(source)
    path = PACKAGE / "_cli" / "fit.py"
    assert sorted({unit for _, unit in imported_units(tree, path)}) == [
        "__init__",
        "_device",
        "_estimator",
        "_networks",
        "plotting",
    ]
    relative = ast.parse("from .. import _device\nfrom ._args import x\n")
    assert {unit for _, unit in imported_units(relative, path)} == {"_device", "_cli"}


def estimator_private_names():
    """The private names an estimator has: its own methods and attributes (``_model``,
    ``_train``, ...) and scikit-learn's that it carries (``_validate_params``, ...)."""
    tree = ast.parse((PACKAGE / "_estimator.py").read_text())
    names = {"_validate_params", "_sklearn_output_config", "_more_tags", "_get_tags"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "self":
                names.add(node.attr)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            names.add(node.targets[0].id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def estimator_couplings(tree, private, public=False):
    """``(line, what)`` where a module takes an estimator (a parameter of that name) or
    reads one of its private names on anything but ``self``. A ``public`` module
    (``metrics``: scikit-learn's scorer signature) may take one and use its public API."""
    for node in ast.walk(tree):
        if not public and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                if argument.arg == "estimator":
                    yield node.lineno, "takes an estimator (a parameter named 'estimator')"
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in private
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            yield node.lineno, f"reads the estimator's private {node.attr!r}"


def test_no_module_below_the_estimator_takes_it():
    """Modules below the estimator receive the fitted model, networks, arrays and
    settings, never the estimator: no parameter named ``estimator``, no read of a
    private name that the estimator defines (``model._model``, ``x._network_spec``)."""
    private = estimator_private_names()
    below = LAYER_OF["_estimator"]
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{lineno} {what}"
        for unit, path, _, tree in parsed()
        if LAYER_OF[unit] < below
        for lineno, what in estimator_couplings(tree, private, not unit.startswith("_"))
    ]
    assert not offenders, "\n".join(offenders)


def test_estimator_couplings_are_found():
    private = estimator_private_names()
    assert {"_model", "_network_spec", "_validate_params", "_train"} <= private
    source = "def save(estimator, path):\n    return estimator._model\n"
    found = list(estimator_couplings(ast.parse(source), private))
    assert [lineno for lineno, _ in found] == [1, 2]
    assert not list(estimator_couplings(ast.parse("def f(self):\n    self._model\n"), private))
