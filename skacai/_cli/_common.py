"""What every command shares: the program's name, the exit codes, the user errors
and their one-line messages."""

from __future__ import annotations

import sys

from skacai import _optional
from skacai._persistence import printable

PROG = "skacai"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
MATPLOTLIB_HINT = 'pip install "skacai[plots]"'


class CommandError(Exception):
    """A user error that is neither an ``OSError`` nor a ``ValueError`` (one line, exit 1)."""


def one_line(text):
    """Collapse all whitespace (newlines included) in ``text`` into single spaces, and
    escape any other unprintable character: messages can quote a file's content, which
    must not reach the terminal as control sequences.

    Examples
    --------
    >>> one_line("Expected 2D array, got 1D array instead:\\narray=[1. 2.].\\n")
    'Expected 2D array, got 1D array instead: array=[1. 2.].'
    >>> one_line("name 'x\\x1b[2J'")
    "name 'x\\\\x1b[2J'"
    """
    return printable(" ".join(str(text).split()))


def describe_error(error):
    """One line for an exception: its message, without ``[Errno N]`` noise."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        message = f"{error.strerror}: {str(error.filename)!r}"
    else:
        message = str(error) or type(error).__name__
    return one_line(message)


def warning_printer(command):
    """A ``warnings.showwarning`` replacement: one short line per warning, no source."""

    def show(message, category, filename, lineno, file=None, line=None):
        stream = sys.stderr if file is None else file
        try:
            print(f"{command}: warning: {one_line(message)}", file=stream)
        except OSError:  # stderr closed: warnings must never break the command
            pass

    return show


def quote(path):
    """``path`` as it appears in messages: ``'folder/file.npy'``."""
    return repr(str(path))


def shown(text):
    """``text`` (a path, a file's content) as a command prints it: control characters and
    undecodable bytes escaped (``\\x1b``), so that no file name or content reaches the
    terminal as a control sequence, or stops a print that cannot encode it."""
    return printable(str(text))


def require_matplotlib():
    """matplotlib, or a :class:`CommandError` that says how to install it."""
    try:
        return _optional.matplotlib()
    except ImportError:
        raise CommandError(f"pictures need matplotlib: {MATPLOTLIB_HINT}") from None
