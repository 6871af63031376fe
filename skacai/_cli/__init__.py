"""The ``skacai`` command line (also ``python -m skacai``).

Subcommands: ``demo``, ``fit``, ``transform``, ``interpolate``, ``export`` and
``benchmarks``;
``skacai COMMAND --help`` describes each. See ``docs/cli.md``.

Exit codes: 0 on success, 1 for an error in the data, the files or the parameters
(one line on stderr: ``skacai COMMAND: error: MESSAGE``), 2 for a usage error found
by argparse (usage and one error line), 130 when interrupted with Ctrl-C, and a
benchmark script's own exit code for ``skacai benchmarks NAME``.

Each subcommand is a module of this package with a ``NAME``, a ``HELP`` line, a
``DESCRIPTION`` and an ``EPILOG`` for its ``--help``, ``add_arguments(parser)`` and
``run(args)`` (which returns the exit code); :func:`build_parser` gives each one its
subparser. Shared pieces: ``_common`` (exit codes, errors, messages), ``_args``
(argument helpers) and ``_files`` (reading and writing files).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from skacai._cli import benchmarks, demo, export, fit, interpolate, transform
from skacai._cli._args import HelpFormatter
from skacai._cli._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandError,
    describe_error,
    warning_printer,
)
from skacai._cli._files import load_data
from skacai._version import __version__

__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "build_parser",
    "load_data",
    "main",
]

# The subcommands, in the order of ``skacai --help``.
COMMANDS = (demo, fit, transform, interpolate, export, benchmarks)

DESCRIPTION = (
    "ACAI (adversarially constrained autoencoder interpolation) for scikit-learn, on the "
    "command line: fit a model on a data file, encode data with it, draw its "
    "interpolations."
)
EPILOG = f"""\
examples:
  {PROG} demo
  {PROG} fit train.npy -o model.safetensors --n-components 16 --max-iter 50
  {PROG} transform model.safetensors test.npy -o codes.npy
  {PROG} interpolate model.safetensors test.npy -o interpolations.png
  {PROG} export model.safetensors -o encoder.onnx
  {PROG} benchmarks

'{PROG} COMMAND --help' describes each command. Errors print one line,
'{PROG} COMMAND: error: MESSAGE', and exit with 1 (2 for a bad command line)."""


def build_parser():
    """The ``skacai`` argument parser, with one subparser per command of :data:`COMMANDS`.

    Each subparser's namespace holds ``handler`` (the command's ``run``) and ``parser``
    (the subparser, for usage errors found after parsing).
    """
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        subparser = subparsers.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            epilog=command.EPILOG,
            formatter_class=HelpFormatter,
        )
        command.add_arguments(subparser)
        subparser.set_defaults(handler=command.run, parser=subparser)
    return parser


def main(argv=None):
    """Run the ``skacai`` command line on ``argv`` (default ``sys.argv[1:]``).

    Returns the exit code: 0 on success, 1 after a one-line error, 2 for a
    command line that argparse refuses, 130 when interrupted; ``benchmarks NAME``
    returns the script's exit code.

    Examples
    --------
    Errors print one line on stderr (``skacai transform: error: the model file
    'missing.safetensors' does not exist``) and return 1:

    >>> main(["transform", "missing.safetensors", "data.npy", "-o", "codes.npy"])
    1
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version and usage errors
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    command = f"{PROG} {args.command}"
    with warnings.catch_warnings():
        warnings.showwarning = warning_printer(command)
        try:
            return args.handler(args)
        except SystemExit as exit:  # parser.error in a handler
            return exit.code if isinstance(exit.code, int) else EXIT_USAGE
        except KeyboardInterrupt:
            print(f"{command}: error: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (CommandError, OSError, ValueError, TypeError, MemoryError) as error:
            print(f"{command}: error: {describe_error(error)}", file=sys.stderr)
            return EXIT_ERROR
