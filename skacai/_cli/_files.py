"""Reading and writing the commands' files: data (``.npy``, ``.npz``, ``.csv``), models and
results, with one clear message for each way a file can be wrong."""

from __future__ import annotations

import math
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skacai._cli._common import CommandError, describe_error, quote
from skacai._custom import NetworksNeeded
from skacai._estimator import ACAITransformer
from skacai._memory import available_bytes, format_bytes
from skacai._model_file import atomic_write, check_writable, output_target
from skacai._validation import all_finite

DATA_SUFFIXES = (".npy", ".npz", ".csv")
OUTPUT_SUFFIXES = (".npy", ".npz", ".csv")
FRAMES_SUFFIXES = (".npy", ".npz")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def check_input_file(path, what):
    """``Path(path)`` if it is an existing file; OSError with a clear message otherwise."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"the {what} {quote(path)} is a folder, not a file")
    if not path.is_file():
        if path.exists():
            raise OSError(f"the {what} {quote(path)} is not a regular file")
        raise FileNotFoundError(f"the {what} {quote(path)} does not exist")
    return path


def check_output_file(path, what, suffixes=None, *, force=False, inputs=()):
    """``Path(path)`` if it can be written: a known suffix, an existing folder, a regular
    file or nothing (:func:`~skacai._model_file.output_target`: links followed), none
    of ``inputs``, and not an existing file (or a link) unless ``force``.

    Like ``gzip`` and ``zstd``, the commands never replace an existing file unless told
    to (``--force``), and never write over a file they read, even then.
    """
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ValueError(
            f"cannot write the {what} {quote(path)}: {found}; use one of {', '.join(suffixes)}"
        )
    target = output_target(path, what)  # a folder, a FIFO or a device is refused
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write the {what} {quote(path)}: the folder {quote(folder)} does not exist"
        )
    if target.exists():
        for name, other in inputs:
            if other is not None and Path(other).exists() and target.samefile(other):
                raise ValueError(
                    f"cannot write the {what} {quote(path)}: it is the {name}, which the "
                    f"command reads; choose another file for the {what}"
                )
    if (target.exists() or path.is_symlink()) and not force:
        dangling = "" if target.exists() else f" (a link to {quote(target)}, not yet a file)"
        raise FileExistsError(
            f"the {what} {quote(path)}{dangling} already exists; choose another name, or "
            "pass --force to replace it"
        )
    check_writable(path, what)  # the folder takes a new file of this name
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
            f"cannot read the data file {quote(path)}: {found}; data files must be "
            f"{', '.join(DATA_SUFFIXES[:-1])} or {DATA_SUFFIXES[-1]}"
        )
    source = quote(path)
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
    source = quote(path)
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
    source = quote(path)
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
    source = quote(path)
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
    if X.dtype.kind == "f" and not all_finite(X):
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{source} holds NaN or infinite values (the first in row {row}, column {column}, "
            "counting from 0); skacai needs finite numbers"
        )


def write_array(path, array, *, key, column_names):
    """Write ``array`` as ``.npy``, ``.npz`` (under ``key``) or ``.csv`` (with a header).

    CSV values are written with enough digits to read back exactly
    (9 significant digits for float32, 17 for float64). Written to a temporary file
    renamed over ``path`` (:func:`~skacai._model_file.atomic_write`): a failed write
    leaves ``path`` as it was.
    """
    suffix = Path(path).suffix.lower()

    def write(temporary):
        if suffix == ".csv":
            digits = 9 if array.dtype == np.float32 else 17
            with open(temporary, "w", newline="", encoding="utf-8") as file:
                file.write(",".join(_csv_field(csv_cell(name)) for name in column_names) + "\n")
                np.savetxt(file, array, fmt=f"%.{digits}g", delimiter=",")
            return
        with open(temporary, "wb") as file:  # a file object: numpy must not append a suffix
            if suffix == ".npz":
                np.savez(file, **{key: array})
            else:
                np.save(file, array)

    atomic_write(Path(path), write, "output file")


# Cells starting with these are formulas to a spreadsheet (OWASP's CSV injection list).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(name):
    """A header cell for ``name``: a leading formula character is quoted with ``'``.

    :func:`_csv_field` then quotes the cell as RFC 4180 says where it must.
    """
    name = str(name)
    return "'" + name if name.startswith(_FORMULA_PREFIXES) else name


def _csv_field(cell):
    """``cell`` as a CSV field: in double quotes (its own doubled) if it is empty or holds
    a comma, a quote or any character that is not printable (line breaks of every kind,
    ``\\r`` included, and other control characters), so that no reader ends the record
    inside it and no spreadsheet starts a row, and a formula, with what follows."""
    if cell and cell.isprintable() and "," not in cell and '"' not in cell:
        return cell
    return '"' + cell.replace('"', '""') + '"'


def load_data_arg(args, n_columns=None):
    """:func:`load_data` on a command's ``DATA`` argument and data file options."""
    return load_data(
        args.data,
        key=args.key,
        skip_header=args.skip_header,
        delimiter=args.delimiter,
        n_columns=n_columns,
    )


def load_model(path):
    """``ACAITransformer.load`` with a clear message for folders and missing files, and
    for models with networks of the user's (which only Python code can build)."""
    try:
        return ACAITransformer.load(check_input_file(path, "model file"))
    except NetworksNeeded as error:
        raise CommandError(
            f"{error} The command line cannot build networks of your own: load the "
            "model in Python."
        ) from None
