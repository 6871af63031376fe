"""``skacai benchmarks``: list the benchmark scripts of a source checkout, or run one."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from skacai._cli._common import EXIT_OK, PROG, CommandError, quote, shown

NAME = "benchmarks"
HELP = "list the benchmark scripts of a source checkout, or run one"
DESCRIPTION = (
    "Without NAME: list the scripts in the benchmarks folder and its subfolders (speed/, "
    "quality/, ...) with their one-line summaries. With NAME (a script's name, or "
    "FOLDER/NAME): run that script with the remaining ARGS in a subprocess of this Python "
    "and exit with its exit code. The folder is --dir, else ./benchmarks, "
    "else the one next to the skacai package in a source checkout; the scripts ship with "
    "the source repository, not with the installed package."
)
EPILOG = f"""\
examples:
  {PROG} benchmarks
  {PROG} benchmarks persistence --hidden 1000 1000
  {PROG} benchmarks speed/persistence      (the same script, named with its folder)
  {PROG} benchmarks mnist_eval --help       (the script's own help)
  {PROG} benchmarks --dir ~/src/skacai/benchmarks tabular_eval"""

# The source checkout's folder of benchmark scripts (absent from installed wheels):
# this file is skacai/_cli/benchmarks.py, the folder is next to skacai/.
_SOURCE_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def add_arguments(parser):
    """``--dir``, ``NAME`` and the script's ``ARGS``."""
    parser.add_argument(
        "--dir", metavar="FOLDER", help="the benchmarks folder (give it before NAME)"
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the script to run")
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="arguments for the script (everything after NAME; a leading '--' is dropped)",
    )


def benchmark_folder(folder=None):
    """The benchmark scripts' folder: ``folder``, else ``./benchmarks``, else the checkout's."""
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"--dir {quote(path)} is not a folder")
        return path
    for candidate in (Path("benchmarks"), _SOURCE_BENCHMARKS):
        if candidate.is_dir():
            return candidate
    raise CommandError(
        "no benchmarks folder found: the benchmark scripts ship with the source repository, "
        "not with the installed package; run from a checkout or pass --dir FOLDER"
    )


def _summary(path):
    """The first line of ``path``'s docstring, or ``"(no description)"``."""
    try:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        docstring = None  # not Python, not UTF-8, unreadable, or nested too deep
    summary = docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
    return summary or "(no description)"


def _script_paths(folder):
    """The ``*.py`` scripts in ``folder`` and in its subfolders (one level: the purposes,
    e.g. ``speed/``), sorted; names (of files or subfolders) that start with ``_`` or
    ``.`` are shared helpers or hidden, not scripts."""
    folder = Path(folder)
    subfolders = sorted(
        path for path in folder.iterdir() if path.is_dir() and path.name[:1] not in ("_", ".")
    )
    for where in (folder, *subfolders):
        for path in sorted(where.glob("*.py")):
            if not path.name.startswith("_") and path.is_file():
                yield path


def benchmark_scripts(folder):
    """``{name: (path, one-line summary)}`` of the benchmark scripts in ``folder``: a
    script directly in it is named by its stem (``report``), one in a subfolder by the
    subfolder and its stem (``speed/persistence``)."""
    folder = Path(folder)
    return {
        path.relative_to(folder).with_suffix("").as_posix(): (path, _summary(path))
        for path in _script_paths(folder)
    }


def find_script(scripts, name):
    """The name in ``scripts`` that ``name`` gives: the name itself, or the one script
    of any folder with that stem (``persistence`` for ``speed/persistence``); None
    if there is none, ValueError if several folders hold one."""
    if name in scripts:
        return name
    matches = [key for key in scripts if key.rpartition("/")[2] == name]
    if len(matches) > 1:
        raise ValueError(f"benchmark {name!r} is ambiguous: {', '.join(matches)}")
    return matches[0] if matches else None


def run(args):
    """List the scripts, or run one and return its exit code."""
    import subprocess

    folder = benchmark_folder(args.dir)
    scripts = benchmark_scripts(folder)
    if args.name is None:
        if not scripts:
            raise CommandError(f"no benchmark scripts (*.py) in {quote(folder)}")
        print(f"Benchmark scripts in {shown(folder)} (run one: {PROG} benchmarks NAME [ARGS...]):")
        width = max(len(shown(name)) for name in scripts)
        for name, (_, summary) in scripts.items():  # names and docstrings: escaped
            print(f"  {shown(name):<{width}}  {shown(summary)}")
        return EXIT_OK
    name = find_script(scripts, args.name.removesuffix(".py"))
    if name is None:
        available = ", ".join(scripts) if scripts else "none"
        raise ValueError(f"no benchmark {args.name!r} in {quote(folder)}; available: {available}")
    script_args = list(args.args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    sys.stdout.flush()
    returncode = subprocess.run([sys.executable, str(scripts[name][0]), *script_args]).returncode
    return 128 - returncode if returncode < 0 else returncode  # killed by a signal: 128 + N
