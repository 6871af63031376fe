"""Argument helpers shared by the commands: the help layout, argument types and the
options that several commands take."""

from __future__ import annotations

import argparse
import ast
import textwrap

DATA_FORMATS = """\
DATA is a .npy, .npz or .csv file holding a 2-D array of numbers, one row per
sample and one column per feature (flatten images to rows: C-order, channel first).
An .npz file with several arrays needs --key NAME. A .csv file may start with a
header line: a first line with a field that is not a number is skipped (or pass
--skip-header); lines starting with '#' are comments."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog; keeps indented examples as written."""

    def _fill_text(self, text, width, indent):
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


def int_at_least(minimum):
    """An argparse ``type``: an int of at least ``minimum``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def count_or_auto(text):
    """The value of ``--max-iter`` or ``--batch-size``: a positive int or ``"auto"``."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number or 'auto', got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_assignment(text):
    """``"NAME=VALUE"`` -> ``(NAME, value)``; VALUE is a Python literal, else a string.

    Used by ``--set``: the value is parsed with :func:`ast.literal_eval`, which
    evaluates literals only (numbers, strings, tuples, lists, None, True, False)
    and never runs code. Anything that is not a literal is taken as a string.

    Examples
    --------
    >>> parse_assignment("hidden_layer_sizes=(64, 32)")
    ('hidden_layer_sizes', (64, 32))
    >>> parse_assignment("scaling=None")
    ('scaling', None)
    >>> parse_assignment("device=cuda:1")
    ('device', 'cuda:1')
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    value = value.strip()
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = value
    return name, parsed


def add_file_arguments(parser, *, data, output, metavar, model=False):
    """The files a command reads and writes: ``MODEL`` (with ``model``), ``DATA``
    (described by ``data``), ``-o/--output`` (required, named ``metavar``, described by
    ``output``) and ``-f/--force``."""
    if model:
        parser.add_argument("model", metavar="MODEL", help="a model file written by skacai fit")
    parser.add_argument("data", metavar="DATA", help=data)
    parser.add_argument("-o", "--output", required=True, metavar=metavar, help=output)
    parser.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="replace output files that exist (never the command's own input files)",
    )


def add_data_options(parser):
    """The options that say how to read a data file: ``--key``, ``--skip-header``,
    ``--delimiter`` (read by :func:`skacai._cli._files.load_data_arg`)."""
    group = parser.add_argument_group("data file options")
    group.add_argument(
        "--key",
        metavar="NAME",
        help="the array to read from an .npz data file (default: its only array)",
    )
    group.add_argument(
        "--skip-header",
        action="store_true",
        help="skip the first line of a .csv data file (default: skip it only when one of its "
        "fields is not a number)",
    )
    group.add_argument(
        "--delimiter",
        default=",",
        metavar="CHAR",
        help="field separator of a .csv data file (default: ',')",
    )
