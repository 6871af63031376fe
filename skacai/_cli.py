"""The ``skacai`` command line (also ``python -m skacai``).

Subcommands: ``demo``, ``fit``, ``transform``, ``interpolate`` and ``benchmarks``;
``skacai COMMAND --help`` describes each. See ``docs/cli.md``.

Exit codes: 0 on success, 1 for an error in the data, the files or the parameters
(one line on stderr: ``skacai COMMAND: error: MESSAGE``), 2 for a usage error found
by argparse (usage and one error line), 130 when interrupted with Ctrl-C, and a
benchmark script's own exit code for ``skacai benchmarks NAME``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import math
import sys
import textwrap
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import skacai
from skacai._estimator import ACAITransformer, _all_finite
from skacai._memory import available_bytes, format_bytes
from skacai._persistence import printable
from skacai._version import __version__

PROG = "skacai"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DATA_SUFFIXES = (".npy", ".npz", ".csv")
OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")
FRAMES_SUFFIXES = (".npy", ".npz")
MATPLOTLIB_HINT = 'pip install "skacai[plots]"'
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
# The source checkout's folder of benchmark scripts (absent from installed wheels).
_SOURCE_BENCHMARKS = Path(skacai.__file__).resolve().parents[1] / "benchmarks"


class CommandError(Exception):
    """A user error that is neither an ``OSError`` nor a ``ValueError`` (one line, exit 1)."""


# ------------------------------------------------------------------- messages


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


def _warning_printer(command):
    """A ``warnings.showwarning`` replacement: one short line per warning, no source."""

    def show(message, category, filename, lineno, file=None, line=None):
        stream = sys.stderr if file is None else file
        try:
            print(f"{command}: warning: {one_line(message)}", file=stream)
        except OSError:  # stderr closed: warnings must never break the command
            pass

    return show


def _quote(path):
    return repr(str(path))


# ----------------------------------------------------------------------- files


def check_input_file(path, what):
    """``Path(path)`` if it is an existing file; OSError with a clear message otherwise."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"the {what} {_quote(path)} is a folder, not a file")
    if not path.is_file():
        if path.exists():
            raise OSError(f"the {what} {_quote(path)} is not a regular file")
        raise FileNotFoundError(f"the {what} {_quote(path)} does not exist")
    return path


def check_output_file(path, what, suffixes=None, *, force=False, inputs=()):
    """``Path(path)`` if it can be written: a known suffix, an existing folder, not a folder,
    none of ``inputs``, and not an existing file unless ``force``.

    Like ``gzip`` and ``zstd``, the commands never replace an existing file unless told
    to (``--force``), and never write over a file they read, even then.
    """
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ValueError(
            f"cannot write the {what} {_quote(path)}: {found}; use one of {', '.join(suffixes)}"
        )
    if path.is_dir():
        raise IsADirectoryError(f"cannot write the {what} {_quote(path)}: it is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write the {what} {_quote(path)}: the folder {_quote(folder)} does not exist"
        )
    if path.exists():
        for name, other in inputs:
            if other is not None and Path(other).exists() and path.samefile(other):
                raise ValueError(
                    f"cannot write the {what} {_quote(path)}: it is the {name}, which the "
                    f"command reads; choose another file for the {what}"
                )
        if not force:
            raise FileExistsError(
                f"the {what} {_quote(path)} already exists; choose another name, or pass "
                "--force to replace it"
            )
    return path


@dataclass
class Data:
    """An array read from a data file, and how to name it in messages."""

    X: np.ndarray
    source: str


def load_data(path, *, key=None, skip_header=False, delimiter=",", n_columns=None):
    """Read a 2-D numeric array from a ``.npy``, ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : str or Path
        The file; its suffix (any case) picks the format.
    key : str, default=None
        The array to read from an ``.npz`` file; None reads its only array.
    skip_header : bool, default=False
        Skip the first line of a ``.csv`` file. Without it, a first line with a
        field that is not a number is skipped as a header.
    delimiter : str, default=","
        Field separator of a ``.csv`` file.

    Returns
    -------
    data : Data
        ``data.X`` is the array, as stored (``.npy`` / ``.npz``) or float64 (``.csv``);
        ``data.source`` names it, e.g. ``"'train.csv' (header row skipped)"``.

    Raises
    ------
    OSError
        If the file is missing, a folder or unreadable.
    ValueError
        If the suffix is not supported, the file is not what its suffix says,
        ``key`` is missing or needed, or the array is not a 2-D array of numbers.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "data.csv"
    ...     _ = path.write_text("height,weight\\n1.5,60\\n1.8,75\\n")
    ...     data = load_data(path)
    >>> data.X
    array([[ 1.5, 60. ],
           [ 1.8, 75. ]])
    >>> data.source.endswith("data.csv' (header row skipped)")
    True
    """
    path = check_input_file(path, "data file")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ValueError(
            f"cannot read the data file {_quote(path)}: {found}; data files must be "
            f"{', '.join(DATA_SUFFIXES[:-1])} or {DATA_SUFFIXES[-1]}"
        )
    source = _quote(path)
    if suffix == ".csv":
        if key is not None:
            raise ValueError(f"--key applies to .npz files, not to {source}")
        X, header = _load_csv(path, delimiter, skip_header)
        if header:
            source += " (header row skipped)"
    else:
        if skip_header:
            raise ValueError(f"--skip-header applies to .csv files, not to {source}")
        X, name = _load_numpy(path, key, n_columns)
        if name is not None:
            source += f" (array {name!r})"
    _check_array(X, source)
    return Data(X, source)


def _load_numpy(path, key, n_columns=None):
    """The array in a ``.npy`` file or one array of an ``.npz`` file, and its key.

    The array's header is checked before its data are read: a shape that the
    file cannot hold, that memory cannot hold, or (``n_columns``) that the
    model cannot read is refused in one line, whatever the header claims.
    """
    source = _quote(path)
    with path.open("rb") as file:
        magic = file.read(len(_NPY_MAGIC))
    if magic[:4] in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        return _load_npz(path, key, n_columns)
    if magic != _NPY_MAGIC:
        raise ValueError(f"{source} is not a NumPy .npy or .npz file")
    if key is not None:
        raise ValueError(f"--key applies to .npz files; {source} is a .npy file")
    try:
        with path.open("rb") as file:
            _check_npy_header(file, path.stat().st_size, source, n_columns)
            file.seek(0)
            return np.load(file, allow_pickle=False), None
    except (ValueError, EOFError) as error:
        if str(error).startswith(source):
            raise
        raise ValueError(f"cannot read {source}: {describe_error(error)}") from None


def _check_npy_header(file, size, source, n_columns):
    """Check the ``.npy`` array that starts at ``file``'s position before reading it.

    ``size`` is the number of bytes from that position to the end of the array's file.
    """
    start = file.tell()
    version = np.lib.format.read_magic(file)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read_header is None:  # a newer format: np.load judges it
        return
    shape, _, dtype = read_header(file)
    n_bytes = math.prod(shape) * dtype.itemsize
    stored = size - (file.tell() - start)
    described = (
        f"a {' x '.join(map(str, shape)) or 'scalar'} {dtype} array ({format_bytes(n_bytes)})"
    )
    if dtype.hasobject:
        return  # np.load refuses objects (no pickles), with its own message
    if n_bytes > stored:
        raise ValueError(
            f"{source} is truncated or damaged: its header declares {described}, but only "
            f"{format_bytes(stored)} of data follow"
        )
    if len(shape) == 2 and n_columns is not None and shape[1] != n_columns:
        hint = " (transposed? its rows have the model's width)" if shape[0] == n_columns else ""
        raise ValueError(
            f"{source} holds {shape[1]} columns, but the model reads {n_columns}{hint}"
        )
    available = available_bytes()
    if available is not None and n_bytes > available:
        raise MemoryError(
            f"{source} holds {described}: more than the {format_bytes(available)} of memory "
            "free to read it"
        )


def _load_npz(path, key, n_columns=None):
    source = _quote(path)
    try:
        with path.open("rb") as file, np.load(file, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None:
                if not names:
                    raise ValueError(f"{source} holds no arrays")
                if len(names) > 1:
                    raise ValueError(
                        f"{source} holds {len(names)} arrays ({', '.join(map(repr, names))}); "
                        "choose one with --key NAME"
                    )
                key = names[0]
            elif key not in names:
                listed = ", ".join(map(repr, names)) if names else "none"
                raise ValueError(f"{source} has no array {key!r}; its arrays: {listed}")
            member = archive.zip.getinfo(f"{key}.npy")
            with archive.zip.open(member) as stream:
                _check_npy_header(stream, member.file_size, f"{source} (array {key!r})", n_columns)
            return archive[key], key
    except (EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"cannot read {source}: {describe_error(error)}") from None
    except ValueError as error:
        if str(error).startswith(source):
            raise
        raise ValueError(f"cannot read {source}: {describe_error(error)}") from None


def _content(line):
    """A CSV line without its ``#`` comment and surrounding whitespace."""
    return line.split("#", 1)[0].strip()


def _fields(content, delimiter):
    return [field.strip().strip('"').strip() for field in content.split(delimiter)]


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_csv(path, delimiter, skip_header):
    """A float64 array from a CSV file, and whether a header line was skipped."""
    source = _quote(path)
    if not delimiter:
        raise ValueError("--delimiter must not be empty")
    first, skip = None, 0
    with path.open(encoding="utf-8-sig") as file:
        for number, line in enumerate(file, 1):
            if _content(line):
                first, skip = _content(line), number
                # A quoted field may hold line breaks (RFC 4180): the record goes on
                # while its quotes are unbalanced.
                while line.count('"') % 2:
                    following = next(file, None)
                    if following is None:
                        break
                    line += following
                    skip += 1
                break
    if first is None:
        raise ValueError(f"{source} holds no data")
    header = skip_header or not all(_is_number(f) for f in _fields(first, delimiter))
    skiprows = skip if header else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on a file without data rows
            X = np.loadtxt(
                path,
                delimiter=delimiter,
                skiprows=skiprows,
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8-sig",
                quotechar='"',
            )
    except ValueError as error:
        problem = _csv_problem(path, delimiter, skiprows) or describe_error(error)
        raise ValueError(f"cannot read {source}: {problem}") from None
    if X.size == 0:
        raise ValueError(f"{source} holds no data rows" + (" after its header" if header else ""))
    return X, header


def _csv_problem(path, delimiter, skiprows):
    """The first line of a CSV file that ``np.loadtxt`` cannot read, in words."""
    expected = None
    with path.open(encoding="utf-8-sig") as file:
        for number, line in enumerate(file, 1):
            content = _content(line)
            if number <= skiprows or not content:
                continue
            fields = _fields(content, delimiter)
            if expected is None:
                expected = len(fields)
            elif len(fields) != expected:
                return f"line {number} has {len(fields)} fields, the lines before it {expected}"
            for column, field in enumerate(fields, 1):
                if not _is_number(field):
                    hint = ""
                    if any(sep in field for sep in ",;\t|" if sep != delimiter):
                        hint = f" (the delimiter is {delimiter!r}; see --delimiter)"
                    return f"line {number}, column {column}: {field!r} is not a number{hint}"
    return None


def _check_array(X, source):
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{source} holds {X.dtype} values; skacai needs numbers")
    if X.ndim != 2:
        hint = (
            "flatten each sample first, e.g. X.reshape(len(X), -1)"
            if X.ndim > 2
            else "reshape it, e.g. X.reshape(-1, 1) for one feature"
        )
        raise ValueError(
            f"{source} holds a {X.ndim}-D array of shape {X.shape}; skacai needs a 2-D array "
            f"(one row per sample, one column per feature): {hint}"
        )
    if X.dtype.kind == "f" and not _all_finite(X):
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{source} holds NaN or infinite values (the first in row {row}, column {column}, "
            "counting from 0); skacai needs finite numbers"
        )


def write_array(path, array, *, key, column_names):
    """Write ``array`` as ``.npy``, ``.npz`` (under ``key``) or ``.csv`` (with a header).

    CSV values are written with enough digits to read back exactly
    (9 significant digits for float32, 17 for float64).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        digits = 9 if array.dtype == np.float32 else 17
        with path.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file, lineterminator="\n").writerow(map(csv_cell, column_names))
            np.savetxt(file, array, fmt=f"%.{digits}g", delimiter=",")
        return
    with path.open("wb") as file:  # a file object: numpy must not append a suffix
        if suffix == ".npz":
            np.savez(file, **{key: array})
        else:
            np.save(file, array)


# Cells starting with these are formulas to a spreadsheet (OWASP's CSV injection list).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(name):
    """A header cell for ``name``: a leading formula character is quoted with ``'``.

    Commas, quotes and line breaks are left to the ``csv`` module, which
    quotes the cell as RFC 4180 says; skacai reads such headers back.
    """
    name = str(name)
    return "'" + name if name.startswith(_FORMULA_PREFIXES) else name


def _load_data_arg(args, n_columns=None):
    return load_data(
        args.data,
        key=args.key,
        skip_header=args.skip_header,
        delimiter=args.delimiter,
        n_columns=n_columns,
    )


def load_model(path):
    """``ACAITransformer.load`` with a clear message for folders and missing files."""
    return ACAITransformer.load(check_input_file(path, "model file"))


# ----------------------------------------------------------------------- demo


def _run_demo(args):
    if args.plot is not None:
        check_output_file(args.plot, "picture", force=args.force)
        _require_matplotlib()
    from skacai._demo import run_demo

    if args.n_seeds < 1:
        args.parser.error("--n-seeds must be at least 1")
    run_demo(
        max_iter=args.max_iter,
        random_state=args.random_state,
        n_seeds=args.n_seeds,
        plot=args.plot,
    )
    return EXIT_OK


# ------------------------------------------------------------------------ fit

# Options of ``skacai fit`` that set an ACAITransformer parameter: dest -> parameter.
_FIT_OPTIONS = {
    "n_components": "n_components",
    "hidden_layer_sizes": "hidden_layer_sizes",
    "architecture": "architecture",
    "image_shape": "image_shape",
    "adversarial_weight": "adversarial_weight",
    "critic_regularization": "critic_regularization",
    "max_iter": "max_iter",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate_init",
    "random_state": "random_state",
    "verbose": "verbose",
}


def _count_or_auto(text):
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


def fit_parameters(args):
    """The ACAITransformer parameters given on the command line (options and ``--set``)."""
    params = {}
    for dest, name in _FIT_OPTIONS.items():
        value = getattr(args, dest)
        if value is not None and not (dest == "verbose" and value == 0):
            params[name] = tuple(value) if isinstance(value, list) else value
    known = ACAITransformer().get_params()
    option_of = {name: "--" + dest.replace("_", "-") for dest, name in _FIT_OPTIONS.items()}
    for name, value in args.set or []:
        if name not in known:
            raise ValueError(
                f"--set {name}: ACAITransformer has no parameter {name!r}; "
                f"its parameters: {', '.join(sorted(known))}"
            )
        if name in params:
            given = option_of.get(name, f"--set {name}")
            raise ValueError(f"{name} is given twice: by {given} and by --set {name}")
        params[name] = value
    return params


def _run_fit(args):
    model = ACAITransformer(**fit_parameters(args))
    model._validate_params()  # bad values fail before a long read of the data
    output = check_output_file(
        args.output, "model file", force=args.force, inputs=[("data file", args.data)]
    )
    data = _load_data_arg(args)
    n_samples, n_features = data.X.shape
    start = time.perf_counter()
    model.fit(data.X)
    seconds = time.perf_counter() - start
    model.save(output)
    print(
        f"Fitted ACAITransformer on {n_samples} samples x {n_features} features from "
        f"{data.source} in {seconds:.1f} s"
    )
    if model.n_iter_:
        reconstruction = model.history_["reconstruction"][-1]
        print(
            f"epochs: {model.n_iter_} (max_iter={model.max_iter}), final loss "
            f"{model.loss_curve_[-1]:.6g} (reconstruction {reconstruction:.6g})"
        )
    else:
        print(f"epochs: 0 (max_iter={model.max_iter}): no epoch completed")
    n_components = len(model.get_feature_names_out())
    print(f"Model ({n_components} components) saved to {output}")
    return EXIT_OK


# ------------------------------------------------------------------ transform


def _run_transform(args):
    inputs = [("model file", args.model), ("data file", args.data)]
    output = check_output_file(
        args.output, "output file", OUTPUT_SUFFIXES, force=args.force, inputs=inputs
    )
    model = load_model(args.model)
    data = _load_data_arg(args, n_columns=None if args.inverse else model.n_features_in_)
    if args.inverse:
        result = np.asarray(model.inverse_transform(data.X))
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(result.shape[1])]
        key, what = "data", "decoded data"
    else:
        result = np.asarray(model.transform(data.X))
        names, key, what = model.get_feature_names_out(), "codes", "codes"
    write_array(output, result, key=key, column_names=names)
    print(f"Wrote {what} of shape {result.shape} ({result.dtype}) to {output}, from {data.source}")
    return EXIT_OK


# ---------------------------------------------------------------- interpolate


def _require_matplotlib():
    try:
        import matplotlib
        import matplotlib.figure
    except ImportError:
        raise CommandError(f"pictures need matplotlib: {MATPLOTLIB_HINT}") from None
    return matplotlib


def _run_interpolate(args):
    picture = Path(args.output)
    _require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffixes = tuple(f".{name}" for name in formats)
    inputs = [("model file", args.model), ("data file", args.data)]
    check_output_file(picture, "picture", suffixes, force=args.force, inputs=inputs)
    if args.frames_out is not None:
        if Path(args.frames_out).resolve() == picture.resolve():
            raise ValueError("--frames-out and --output name the same file; give two names")
        check_output_file(
            args.frames_out, "frames file", FRAMES_SUFFIXES, force=args.force, inputs=inputs
        )
    model = load_model(args.model)
    data = _load_data_arg(args, n_columns=model.n_features_in_)
    n_samples = len(data.X)
    if n_samples < 2:
        raise ValueError(f"{data.source} holds {n_samples} sample; interpolation needs 2")
    rng = np.random.default_rng(args.random_state)
    rows = np.array([rng.choice(n_samples, size=2, replace=False) for _ in range(args.pairs)])
    starts, ends = rows[:, 0], rows[:, 1]

    from skacai.plotting import plot_interpolations

    fig = plot_interpolations(
        model,
        data.X[starts],
        data.X[ends],
        args.steps,
        image_shape=None if args.image_shape is None else tuple(args.image_shape),
        show_inputs=args.show_inputs,
        row_labels=[f"{s} \N{RIGHTWARDS ARROW} {e}" for s, e in zip(starts, ends, strict=True)],
        cmap=args.cmap,
    )
    fig.savefig(picture, dpi=args.dpi)
    print(f"Drew {args.pairs} pairs x {args.steps} steps from {data.source} to {picture}")
    if args.frames_out is not None:
        frames = model.interpolate(data.X[starts], data.X[ends], n_steps=args.steps)
        frames_out = Path(args.frames_out)
        with frames_out.open("wb") as file:
            if frames_out.suffix.lower() == ".npz":
                np.savez(
                    file,
                    frames=frames,
                    alphas=np.linspace(0.0, 1.0, args.steps),
                    start_rows=starts,
                    end_rows=ends,
                )
            else:
                np.save(file, frames)
        print(f"Wrote frames of shape {frames.shape} ({frames.dtype}) to {frames_out}")
    return EXIT_OK


# ----------------------------------------------------------------- benchmarks


def benchmark_folder(folder=None):
    """The benchmark scripts' folder: ``folder``, else ``./benchmarks``, else the checkout's."""
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"--dir {_quote(path)} is not a folder")
        return path
    for candidate in (Path("benchmarks"), _SOURCE_BENCHMARKS):
        if candidate.is_dir():
            return candidate
    raise CommandError(
        "no benchmarks folder found: the benchmark scripts ship with the source repository, "
        "not with the installed package; run from a checkout or pass --dir FOLDER"
    )


def benchmark_scripts(folder):
    """``{name: one-line summary}`` of the ``*.py`` scripts in ``folder``, by name."""
    scripts = {}
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_") or not path.is_file():
            continue
        try:
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        except (SyntaxError, ValueError, OSError):
            docstring = None
        summary = docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
        scripts[path.stem] = summary or "(no description)"
    return scripts


def _run_benchmarks(args):
    import subprocess

    folder = benchmark_folder(args.dir)
    scripts = benchmark_scripts(folder)
    if args.name is None:
        if not scripts:
            raise CommandError(f"no benchmark scripts (*.py) in {_quote(folder)}")
        print(f"Benchmark scripts in {folder} (run one: {PROG} benchmarks NAME [ARGS...]):")
        width = max(len(name) for name in scripts)
        for name, summary in scripts.items():
            print(f"  {name:<{width}}  {summary}")
        return EXIT_OK
    name = args.name.removesuffix(".py")
    if name not in scripts:
        available = ", ".join(scripts) if scripts else "none"
        raise ValueError(f"no benchmark {args.name!r} in {_quote(folder)}; available: {available}")
    script_args = list(args.args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    sys.stdout.flush()
    returncode = subprocess.run(
        [sys.executable, str(folder / f"{name}.py"), *script_args]
    ).returncode
    return 128 - returncode if returncode < 0 else returncode  # killed by a signal: 128 + N


# --------------------------------------------------------------------- parser


class _HelpFormatter(argparse.HelpFormatter):
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


def _int_at_least(minimum):
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


def _add_data_options(parser):
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


DATA_FORMATS = """\
DATA is a .npy, .npz or .csv file holding a 2-D array of numbers, one row per
sample and one column per feature (flatten images to rows: C-order, channel first).
An .npz file with several arrays needs --key NAME. A .csv file may start with a
header line: a first line with a field that is not a number is skipped (or pass
--skip-header); lines starting with '#' are comments."""


def build_parser():
    """The ``skacai`` argument parser, with one subparser per command."""
    defaults = ACAITransformer().get_params()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ACAI (adversarially constrained autoencoder interpolation) for "
        "scikit-learn, on the command line: fit a model on a data file, encode data with "
        "it, draw its interpolations.",
        epilog=f"""\
examples:
  {PROG} demo
  {PROG} fit train.npy -o model.safetensors --n-components 16 --max-iter 50
  {PROG} transform model.safetensors test.npy -o codes.npy
  {PROG} interpolate model.safetensors test.npy -o interpolations.png
  {PROG} benchmarks

'{PROG} COMMAND --help' describes each command. Errors print one line,
'{PROG} COMMAND: error: MESSAGE', and exit with 1 (2 for a bad command line).""",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # demo: as it always was (the README's main job)
    demo = commands.add_parser(
        "demo",
        help="compare raw pixels, PCA, a plain autoencoder and ACAI on the bundled digits",
        description="Train on scikit-learn's bundled digits (offline) and compare raw "
        "pixels, PCA, a plain autoencoder and ACAI: KMeans accuracy, a logistic-regression "
        "probe and the reconstruction error, in one table.",
        epilog=f"example:\n  {PROG} demo --plot demo-interpolation.png",
        formatter_class=_HelpFormatter,
    )
    demo.add_argument(
        "--max-iter",
        type=_count_or_auto,
        default="auto",
        metavar="EPOCHS",
        help="training epochs, or auto: the estimator's default budget (default auto)",
    )
    demo.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="first model seed, and the data split's (default 0)",
    )
    demo.add_argument(
        "--n-seeds",
        type=int,
        default=3,
        metavar="N",
        help="model seeds SEED, SEED+1, ...: the table shows means and spreads (default 3)",
    )
    demo.add_argument("--plot", metavar="PNG", help="save an interpolation picture here")
    demo.add_argument(
        "-f", "--force", action="store_true", help="replace the picture if it exists"
    )
    demo.set_defaults(handler=_run_demo, parser=demo)

    # fit
    fit = commands.add_parser(
        "fit",
        help="fit an ACAITransformer on a data file and save it",
        description="Fit an ACAITransformer on the rows of DATA and save it to MODEL with "
        "ACAITransformer.save (a safetensors file that loads without running code; load it "
        "in Python with ACAITransformer.load). Options left out keep the estimator's "
        "defaults; --set gives any other parameter.\n\n" + DATA_FORMATS,
        epilog=f"""\
examples:
  {PROG} fit train.npy -o model.safetensors
  {PROG} fit train.csv -o model.safetensors --n-components 8 --hidden-layer-sizes 64 32
  {PROG} fit images.npz --key train -o model.safetensors --image-shape 1 28 28 \\
      --n-components 32 --set early_stopping=True""",
        formatter_class=_HelpFormatter,
    )
    fit.add_argument("data", metavar="DATA", help="training data: .npy, .npz or .csv")
    fit.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model file to write (e.g. model.safetensors); its folder must exist",
    )
    fit.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="replace output files that exist (never the command's own input files)",
    )
    params = fit.add_argument_group("model parameters (default: the estimator's)")
    params.add_argument(
        "--n-components",
        type=int,
        metavar="K",
        help=f"size of the latent code (default {defaults['n_components']})",
    )
    params.add_argument(
        "--hidden-layer-sizes",
        type=int,
        nargs="*",
        metavar="N",
        help="widths of the encoder's hidden layers, e.g. 512 256; none for linear networks "
        f"(default {' '.join(map(str, defaults['hidden_layer_sizes']))})",
    )
    params.add_argument(
        "--architecture",
        choices=("auto", "mlp", "conv"),
        help="fully-connected or convolutional networks; auto: conv with --image-shape, "
        f"mlp without (default {defaults['architecture']})",
    )
    params.add_argument(
        "--image-shape",
        type=int,
        nargs="+",
        metavar="N",
        help="C H W (or H W) of the images whose flattened pixels are the rows; gives "
        "them conv networks and one scale for all pixels (default: none)",
    )
    params.add_argument(
        "--adversarial-weight",
        type=float,
        metavar="LAMBDA",
        help="weight of the critic in the autoencoder's loss; 0 trains a plain autoencoder "
        f"(default {defaults['adversarial_weight']})",
    )
    params.add_argument(
        "--critic-regularization",
        type=float,
        metavar="GAMMA",
        help=f"gamma in [0, 1] (default {defaults['critic_regularization']})",
    )
    params.add_argument(
        "--max-iter",
        type=_count_or_auto,
        metavar="EPOCHS",
        help="maximum number of epochs, or auto: about 600,000 training samples (MLP) or "
        f"120,000 (conv), at most 100 epochs (default {defaults['max_iter']})",
    )
    params.add_argument(
        "--batch-size",
        type=_count_or_auto,
        metavar="N",
        help="samples per training step, or auto: 128 (MLP) or 64 (conv) "
        f"(default {defaults['batch_size']})",
    )
    params.add_argument(
        "--learning-rate",
        type=float,
        metavar="RATE",
        help="Adam's learning rate, learning_rate_init "
        f"(default {defaults['learning_rate_init']})",
    )
    params.add_argument(
        "--random-state",
        type=int,
        metavar="SEED",
        help="seed, for the same model on every run on CPU (default: fresh entropy)",
    )
    params.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: a progress bar with the loss terms; -vv: also a line per epoch",
    )
    params.add_argument(
        "--set",
        action="append",
        type=parse_assignment,
        metavar="NAME=VALUE",
        help="any other ACAITransformer parameter (repeatable), VALUE a Python literal, "
        "e.g. --set scaling=None --set early_stopping=True --set device=cpu",
    )
    _add_data_options(fit)
    fit.set_defaults(handler=_run_fit)

    # transform
    transform = commands.add_parser(
        "transform",
        help="encode a data file with a saved model (or decode codes with --inverse)",
        description="Load MODEL (written by 'skacai fit' or ACAITransformer.save), encode "
        "the rows of DATA and write the codes to OUT: .npy, .npz (array 'codes') or .csv "
        "(a header line of column names, values written to read back exactly). Codes are "
        "float32 for float32 data and float64 for any other data (.csv data is float64).\n\n"
        + DATA_FORMATS,
        epilog=f"""\
examples:
  {PROG} transform model.safetensors test.npy -o codes.npy
  {PROG} transform model.safetensors test.csv -o codes.csv
  {PROG} transform model.safetensors codes.npy -o decoded.npy --inverse""",
        formatter_class=_HelpFormatter,
    )
    transform.add_argument("model", metavar="MODEL", help="a model file written by skacai fit")
    transform.add_argument("data", metavar="DATA", help="data to encode: .npy, .npz or .csv")
    transform.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="file to write: .npy, .npz or .csv (its folder must exist)",
    )
    transform.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="replace output files that exist (never the command's own input files)",
    )
    transform.add_argument(
        "--inverse",
        action="store_true",
        help="DATA holds codes: decode them with inverse_transform (.npz array 'data')",
    )
    _add_data_options(transform)
    transform.set_defaults(handler=_run_transform)

    # interpolate
    interpolate = commands.add_parser(
        "interpolate",
        help="draw decoded interpolations between random pairs of samples (needs matplotlib)",
        description="Load MODEL, pick --pairs random pairs of distinct rows of DATA and "
        "draw the decoded blends g((1 - alpha) f(a) + alpha f(b)) for --steps alphas from "
        "0 to 1, one row per pair (labelled with the two row numbers, from 0). Each frame "
        "is drawn as an image of the model's image shape (or --image-shape, or a square "
        "when the number of features is a perfect square), else as a line plot. Needs "
        f"matplotlib: {MATPLOTLIB_HINT}.\n\n" + DATA_FORMATS,
        epilog=f"""\
examples:
  {PROG} interpolate model.safetensors test.npy -o interpolations.png
  {PROG} interpolate model.safetensors test.npy -o grid.pdf --pairs 6 --steps 10 \\
      --image-shape 28 28 --frames-out frames.npz""",
        formatter_class=_HelpFormatter,
    )
    interpolate.add_argument("model", metavar="MODEL", help="a model file written by skacai fit")
    interpolate.add_argument("data", metavar="DATA", help="samples to pick pairs from")
    interpolate.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PICTURE",
        help="picture to write; its suffix picks the format (.png, .pdf, .svg...)",
    )
    interpolate.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="replace output files that exist (never the command's own input files)",
    )
    interpolate.add_argument(
        "--pairs", type=_int_at_least(1), default=4, metavar="N", help="pairs, one per row (4)"
    )
    interpolate.add_argument(
        "--steps",
        type=_int_at_least(2),
        default=8,
        metavar="N",
        help="alphas from 0 to 1, both ends included, at least 2 (8)",
    )
    interpolate.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="seed of the pairs (0)"
    )
    interpolate.add_argument(
        "--image-shape",
        type=int,
        nargs="+",
        metavar="N",
        help="H W or C H W of one sample (default: the model's, else a square, else lines)",
    )
    interpolate.add_argument(
        "--show-inputs",
        action="store_true",
        help="add the real inputs in a first and a last column",
    )
    interpolate.add_argument("--cmap", default="gray", help="colormap of one-channel images")
    interpolate.add_argument("--dpi", type=_int_at_least(1), default=100, help="resolution (100)")
    interpolate.add_argument(
        "--frames-out",
        metavar="FILE",
        help="also save the decoded frames: .npy (pairs x steps x features) or .npz "
        "(frames, alphas, start_rows, end_rows)",
    )
    _add_data_options(interpolate)
    interpolate.set_defaults(handler=_run_interpolate)

    # benchmarks
    benchmarks = commands.add_parser(
        "benchmarks",
        help="list the benchmark scripts of a source checkout, or run one",
        description="Without NAME: list the scripts in the benchmarks folder with their "
        "one-line summaries. With NAME: run benchmarks/NAME.py with the remaining ARGS in "
        "a subprocess of this Python and exit with its exit code. The folder is --dir, "
        "else ./benchmarks, else the one next to the skacai package in a source checkout; "
        "the scripts ship with the source repository, not with the installed package.",
        epilog=f"""\
examples:
  {PROG} benchmarks
  {PROG} benchmarks persistence --hidden 1000 1000
  {PROG} benchmarks mnist_eval --help       (the script's own help)
  {PROG} benchmarks --dir ~/src/skacai/benchmarks tabular_eval""",
        formatter_class=_HelpFormatter,
    )
    benchmarks.add_argument(
        "--dir", metavar="FOLDER", help="the benchmarks folder (give it before NAME)"
    )
    benchmarks.add_argument("name", nargs="?", metavar="NAME", help="the script to run")
    benchmarks.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="arguments for the script (everything after NAME; a leading '--' is dropped)",
    )
    benchmarks.set_defaults(handler=_run_benchmarks)
    return parser


# ----------------------------------------------------------------------- main


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
        warnings.showwarning = _warning_printer(command)
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
