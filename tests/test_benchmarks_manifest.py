"""benchmarks/manifest.toml is the map of benchmarks/: every script and every results
file is in it, named after its script, and every path and docs section it names exists.
The docs' own ``benchmarks/...`` paths exist too, so a move updates them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
MANIFEST = tomllib.loads((BENCHMARKS / "manifest.toml").read_text(encoding="utf-8"))
SCRIPTS = MANIFEST["script"]
IDS = [entry["path"] for entry in SCRIPTS]


def where(entry):
    """The script's file today: ``now_at`` while it waits for its move, else ``path``."""
    return entry.get("now_at", entry["path"])


def script_files():
    """Every benchmark script on disk, relative to benchmarks/ (``_*`` are helpers)."""
    return {
        path.relative_to(BENCHMARKS).as_posix()
        for pattern in ("*.py", "*.sh", "*/*.py", "*/*.sh")
        for path in BENCHMARKS.glob(pattern)
        if not path.name.startswith("_") and not path.parts[-2].startswith((".", "_"))
    }


def listed_results():
    """results path -> the script (or legacy origin) that lists it."""
    owners = {}
    for entry in SCRIPTS:
        for run in entry["run"]:
            for name in run["results"]:
                owners.setdefault(name, set()).add(entry["path"])
    for legacy in MANIFEST.get("legacy", []):
        owners.setdefault(legacy["path"], set()).add("legacy")
    return owners


def headings(page):
    """The headings of a Markdown page, outside fenced code blocks."""
    found, fence = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and line.startswith("#"):
            found.add(line.lstrip("#").strip())
    return found


def test_every_script_is_in_the_manifest_once_in_a_purpose_folder():
    listed = [where(entry) for entry in SCRIPTS]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(script_files())
    names = [Path(entry["path"]).name for entry in SCRIPTS]
    assert len(names) == len(set(names))  # `skacai benchmarks NAME` finds each by its name
    for entry in SCRIPTS:
        folder, _, name = entry["path"].partition("/")
        assert folder in MANIFEST["purposes"] and "/" not in name, entry["path"]
        assert entry["summary"].strip() and entry["run"], entry["path"]
        if "now_at" in entry:  # waits for its move: then it is where it will be, by name
            assert Path(entry["now_at"]).name == name and not (BENCHMARKS / entry["path"]).exists()


def test_every_results_file_is_in_the_manifest():
    owners = listed_results()
    for name, scripts in owners.items():
        assert len(scripts) == 1, f"{name} is listed by {sorted(scripts)}"
        path = RESULTS / name
        assert path.is_dir() if name.endswith("/") else path.is_file(), f"no {path}"
    folders = tuple(name for name in owners if name.endswith("/"))
    unlisted = [
        relative
        for path in RESULTS.rglob("*")
        if path.is_file()
        and not (relative := path.relative_to(RESULTS).as_posix()).startswith(folders)
        and relative not in owners
    ]
    assert not unlisted, f"results files missing from benchmarks/manifest.toml: {unlisted}"


def test_results_files_are_named_after_their_scripts():
    for entry in SCRIPTS:
        stem = Path(entry["path"]).stem
        for run in entry["run"]:
            for name in run["results"]:
                assert re.fullmatch(rf"{re.escape(stem)}([_.].*|/)", name), (entry["path"], name)
    for legacy in MANIFEST.get("legacy", []):
        assert legacy["path"].startswith("legacy/") and legacy["origin"].strip()


@pytest.mark.parametrize("entry", SCRIPTS, ids=IDS)
def test_each_command_runs_its_script_where_it_is(entry):
    for run in entry["run"]:
        for name in run.get("reads", []):
            assert (RESULTS / name).is_file(), (entry["path"], name)
        command = run["command"].split()
        assert command[:2] in (
            ["python", f"benchmarks/{where(entry)}"],
            ["bash", f"benchmarks/{where(entry)}"],
        ) or (command[0] == "bash" and command[1] in [f"benchmarks/{where(e)}" for e in SCRIPTS])
        for path in re.findall(r"benchmarks/results/[\w./-]+", run["command"]):
            name = path.removeprefix("benchmarks/results/")
            assert name in run["results"] + run.get("reads", []), (entry["path"], name)


@pytest.mark.parametrize("entry", SCRIPTS, ids=IDS)
def test_each_docs_section_exists(entry):
    for run in entry["run"]:
        for reference in run["docs"]:
            page, _, section = reference.partition(": ")
            path = ROOT / page if page == "README.md" else ROOT / "docs" / page
            assert path.is_file(), reference
            assert section in headings(path), f"no heading {section!r} in {page}"


def private_imports(path):
    """The skacai private modules a script imports, also in code it runs as a child."""
    if path.suffix != ".py":
        return set()
    text = path.read_text(encoding="utf-8")
    modules = set(re.findall(r"\b(?:from|import) +skacai\.(_\w+)", text))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module == "skacai":
            modules |= {alias.name for alias in node.names if alias.name.startswith("_")}
    return modules


@pytest.mark.parametrize("entry", SCRIPTS, ids=IDS)
def test_a_script_on_private_modules_says_why(entry):
    """Benchmarks use public API; one that measures internals on purpose names them."""
    private = private_imports(BENCHMARKS / where(entry))
    if not private:
        assert "private" not in entry, f"{entry['path']} imports no private module"
        return
    assert "private" in entry, f"{entry['path']} imports {sorted(private)}: say why"
    for module in private:
        assert f"skacai.{module}" in entry["private"], (entry["path"], module)


def test_the_readme_lists_every_script():
    readme = (BENCHMARKS / "README.md").read_text(encoding="utf-8")
    for entry in SCRIPTS:
        assert f"`{where(entry)}`" in readme, entry["path"]


# Paths written in these files must exist. CHANGELOG.md (history) and the results files
# (records of what ran) keep the paths of their time; NAME, <name> and PATH are
# placeholders.
WRITTEN = ["README.md", "Makefile", "docs/*.md", "examples/*.py", "tests/*.py"]
WRITTEN += ["benchmarks/*.md", "benchmarks/*.toml", "benchmarks/*/*.py", "benchmarks/*/*.sh"]
WRITTEN += ["skacai/_cli/*.py"]
PATH = re.compile(r"(?<![\w/.])benchmarks/[\w./-]*[\w/]")


def test_every_benchmarks_path_written_in_the_docs_exists():
    missing = []
    for pattern in WRITTEN:
        for file in sorted(ROOT.glob(pattern)):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                for path in PATH.findall(line):
                    if "NAME" in path or "<" in line[line.index(path) + len(path) :][:1]:
                        continue
                    if not (ROOT / path).exists():
                        missing.append(f"{file.relative_to(ROOT)}:{number}: {path}")
    assert not missing, "\n".join(missing)
