"""The Sphinx site leaves nothing out: every page is in a toctree, every public name in the API.

Fast checks on the sources only; ``make docs`` (run by CI) builds the site itself.
"""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import skacai

DOCS = Path(__file__).resolve().parents[1] / "docs"


def directive_entries(path, directive):
    """The entries (indented lines that are not options) under each ``.. directive::``."""
    entries, inside = [], False
    for line in path.read_text().splitlines():
        if re.match(rf"\s*\.\. {directive}::", line):
            inside, indent = True, None
            continue
        if not inside or not line.strip():
            continue
        current = len(line) - len(line.lstrip())
        if current == 0 or (indent is not None and current < indent):
            inside = False
            continue
        indent = current if indent is None else indent
        if not line.strip().startswith(":"):
            entries.append(line.strip())
    return entries


def public_modules():
    names = [
        f"skacai.{module.name}"
        for module in pkgutil.iter_modules(skacai.__path__)
        if not module.name.startswith("_")
    ]
    return ["skacai", *sorted(names)]


def public_names(module):
    """``__all__``, or else the public classes and functions the module defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def api_entries():
    """Fully qualified names in api.rst's autosummary tables, under their currentmodule."""
    names, module = set(), None
    lines = (DOCS / "api.rst").read_text().splitlines()
    in_summary = False
    for line in lines:
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        if re.match(r"\.\. autosummary::", line):
            in_summary = True
            continue
        if in_summary and line and not line[0].isspace():
            in_summary = False
        if in_summary and line.strip() and not line.strip().startswith(":"):
            names.add(f"{module}.{line.strip().lstrip('~')}")
    return names


def test_every_markdown_page_is_in_the_toctree():
    listed = set(directive_entries(DOCS / "index.rst", "toctree"))
    pages = {path.stem for path in DOCS.glob("*.md")}
    assert pages, "no Markdown pages found"
    missing = sorted(pages - listed)
    assert not missing, f"docs/index.rst's toctree leaves out: {missing}"


def test_toctree_has_api_gallery_and_changelog():
    listed = directive_entries(DOCS / "index.rst", "toctree")
    for page in ("api", "auto_examples/index", "changelog"):
        assert page in listed


@pytest.mark.parametrize("module_name", public_modules())
def test_api_reference_lists_every_public_name(module_name):
    module = importlib.import_module(module_name)
    documented = api_entries()
    text = (DOCS / "api.rst").read_text()
    missing = []
    for name in public_names(module):
        value = getattr(module, name)
        if inspect.isclass(value) or callable(value):
            if f"{module_name}.{name}" not in documented:
                missing.append(name)
        elif f"{module_name}.{name}" not in text:  # data, such as __version__
            missing.append(name)
    assert not missing, f"docs/api.rst does not list {module_name}: {missing}"


def test_api_reference_lists_no_stale_name():
    for qualified in api_entries():
        module_name, _, name = qualified.rpartition(".")
        module = importlib.import_module(module_name)
        assert hasattr(module, name), f"docs/api.rst lists {qualified}, which does not exist"


def public_callables():
    """Every public function, class and public method of a public class, by name."""
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # __version__
            yield f"{module_name}.{name}", value
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    member = getattr(member, "__func__", member)  # classmethods
                    if not attribute.startswith("_") and inspect.isfunction(member):
                        yield f"{module_name}.{name}.{attribute}", member


@pytest.mark.parametrize(
    ("name", "value"), list(public_callables()), ids=lambda item: getattr(item, "__name__", item)
)
def test_every_public_callable_has_a_doctest_example(name, value):
    # --doctest-modules runs these examples in the default test suite.
    docstring = inspect.getdoc(value) or ""
    assert re.search(r"^Examples\n-{8}\n", docstring, re.M), f"{name} has no Examples section"
    assert ">>> " in docstring.split("Examples", 1)[1], f"{name}'s Examples has no doctest"
