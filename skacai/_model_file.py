"""The model file's container: a safetensors file whose header carries skacai's JSON
description and a SHA-256 digest, written atomically and read header first.

This module knows the format, not the estimator: :mod:`skacai._persistence` maps a
model to a description and tensors and back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import struct
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save as _save_tensors
from safetensors.torch import save_file as _save_file

from skacai._validation import is_int
from skacai._version import __version__
from skacai.exceptions import ModelFileError

FORMAT = "skacai-model"
FORMAT_VERSION = 1
# The safetensors header length is a little-endian u64; refuse absurd headers
# before reading them.
MAX_HEADER_BYTES = 100 * 2**20
# The tensor dtypes a model file uses (safetensors' names).
DTYPES = {"F32", "F64", "BF16", "F16", "U8", "I64"}


# The dtypes of the parameter arrays that ``save`` records: booleans, integers and
# floats of at most 16 bytes, in any byte order. Any other dtype string (a string,
# void, structured or object dtype, whose size a file may claim at will) is refused
# before NumPy builds it.
_ARRAY_DTYPE = re.compile(r"[<>|=]?(b1|[iu](1|2|4|8)|f(2|4|8|16))")


def array_dtype(text):
    """The NumPy dtype of a parameter array read from a file; TypeError for any other."""
    if not isinstance(text, str) or not _ARRAY_DTYPE.fullmatch(text):
        raise TypeError(
            f"a parameter array has dtype {str(text)[:40]!r}; model files record arrays of "
            "booleans, integers or floats only"
        )
    return np.dtype(text)


def digest(description_json, tensors):
    """SHA-256 over the description and every tensor's name, dtype, shape and bytes.

    Computed from the tensors rather than from the file's layout, so it is
    known before serialising (and stored in the header) and can be checked
    on the tensors that were read.
    """
    hasher = hashlib.sha256(description_json.encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        hasher.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        hasher.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
    return hasher.hexdigest()


def metadata(description, tensors):
    """The safetensors header's metadata: marker, description and checksum."""
    description_json = json.dumps(description, sort_keys=True)
    return {
        "format": FORMAT,
        "skacai": description_json,
        "sha256": digest(description_json, tensors),
    }


def serialize(description, tensors):
    """The bytes of a model file (``save`` streams them to disk instead)."""
    return _save_tensors(tensors, metadata=metadata(description, tensors))


def write_file(path, tensors, metadata):
    """Write a model file; an OSError (not safetensors' own error) if the write fails."""
    try:
        _save_file(tensors, path, metadata=metadata)
    except SafetensorError as error:
        code = re.search(r"\(os error (\d+)\)", str(error))
        if code is None:
            raise OSError(str(error)) from None
        raise OSError(int(code[1]), os.strerror(int(code[1]))) from None


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def output_target(path, what="file"):
    """The file that writing ``path`` replaces: ``path`` with symbolic links followed.

    The policy of every writer (``save``, ``export`` and the commands): a link is
    followed, so its target is replaced and the link stays (a dangling link's target
    is created); a folder, or anything else that exists and is not a regular file (a
    FIFO, a device such as ``/dev/null``, a socket), is refused with an OSError and
    left as it is. ``what`` names the file in the message.
    """
    target = Path(os.path.realpath(path))
    limit = _name_max(target.parent)
    if len(os.fsencode(target.name)) > limit:
        raise OSError(
            f"cannot write the {what} {str(path)!r}: its name is "
            f"{len(os.fsencode(target.name))} bytes long, more than the {limit} that its "
            "file system allows; choose a shorter name"
        )
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"cannot write the {what} {str(path)!r}: it is a folder")
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
        linked = f" (a link to {str(target)!r})" if target != Path(path).absolute() else ""
        raise FileExistsError(
            f"cannot write the {what} {str(path)!r}{linked}: it is {kind}, not a regular "
            "file, and skacai never replaces one; choose the name of a file"
        )
    return target


def atomic_write(path, write, what="file"):
    """Call ``write(temporary)`` on a temporary file next to ``path``, then rename it.

    The temporary file is flushed to disk before it atomically replaces
    ``path``, so ``path`` holds either its previous content or the complete new
    file, whenever the process stops. ``path`` is checked and links followed by
    :func:`output_target`.
    """
    target = output_target(path, what)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(folder)!r} does not exist."
        )
    temporary = _new_file(folder, target.name)
    try:
        # The mode open() would give: a replaced file's own, else the umask's (the new
        # empty file's). Set after writing: safetensors writes files private (0600).
        mode = stat.S_IMODE((target if target.is_file() else Path(temporary)).stat().st_mode)
        try:
            write(temporary)
        except OSError as error:  # a full disk, a file size limit, an I/O error
            raise _not_written(error, path, what) from error
        os.chmod(temporary, mode)
        _sync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def save_figure(fig, path, **kwargs):
    """``fig.savefig(path, **kwargs)``, written as :func:`atomic_write` writes (the format
    from ``path``'s suffix, as ``savefig`` picks it, since the temporary file's is .tmp)."""
    format = Path(path).suffix[1:].lower() or fig.canvas.get_default_filetype()
    atomic_write(
        Path(path), lambda temporary: fig.savefig(temporary, format=format, **kwargs), "picture"
    )


def _not_written(error, path, what):
    """The OSError of a write that failed: the cause, and that ``path`` is as it was."""
    cause = error.strerror or str(error) or type(error).__name__
    new = OSError(
        f"cannot write the {what} {str(path)!r} ({cause}); it is unchanged (nothing was "
        "replaced): make room on its disk, or choose another folder, and try again"
    )
    new.errno = error.errno
    return new


def check_writable(path, what="file"):
    """OSError, naming ``path``, unless :func:`atomic_write` can create its temporary
    file (the command line checks its outputs so before any long work)."""
    target = output_target(path, what)
    try:
        os.unlink(_new_file(target.parent, target.name))
    except OSError as error:
        cause = error.strerror or str(error)
        raise OSError(f"cannot write the {what} {str(path)!r}: {cause}") from None


def _name_max(folder):
    """The longest file name, in bytes, that ``folder``'s file system allows."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # a missing folder, or not POSIX
        return 255


def _new_file(folder, name):
    """Create an empty ``.NAME.RANDOM.tmp`` in ``folder`` with the mode ``open()`` gives.

    NAME is cut short where the whole name would be longer than the file system
    allows, so that any legal ``name`` has a temporary file. Not
    ``tempfile.mkstemp``, whose files are private (0600) whatever the umask: a
    model file must be as readable as any other file its user writes.
    """
    limit = _name_max(folder) - len(".." + 12 * "0" + ".tmp")
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    while True:
        temporary = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return str(temporary)


def _sync_file(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder):
    """Make the rename durable (POSIX); a no-op where folders cannot be synced."""
    try:
        _sync_file(folder)
    except OSError:
        pass


def looks_like_pickle(head, header_length, size):
    """Whether a file starting with ``head`` is a pickle (protocol 2+) or a zip (joblib, torch).

    A safetensors file starts with its header's length (``header_length``, None
    for a file shorter than 8 bytes), whose first bytes can be these too (one
    file in 256 starts with 0x80), so a file whose header length fits and whose
    header starts as JSON is never taken for a pickle.
    """
    if header_length is not None and header_length <= size - 8 and head[8:9] == b"{":
        return False
    return (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or (
        head[:4] == b"PK\x03\x04"
    )


def read_header(file, size, where):
    """The file's safetensors header, read alone (after checking its claimed length)."""
    head = file.read(9)
    header_length = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
    if looks_like_pickle(head, header_length, size):
        raise ModelFileError(
            f"{where} is a pickle or joblib file, not a skacai model file. "
            "ACAITransformer.load never unpickles; load it with joblib.load only if you "
            "trust whoever wrote it."
        )
    if header_length is None:
        raise ModelFileError(f"{where} is not a skacai model file: only {size} bytes.")
    if header_length > min(MAX_HEADER_BYTES, size - 8) or header_length < 2:
        raise ModelFileError(
            f"{where} is truncated or not a skacai model file: its header claims "
            f"{header_length} bytes but the file holds {size}."
        )
    return head[8:] + file.read(header_length - 1)


def parse_json(text, where, what):
    try:
        return json.loads(text)
    except RecursionError:
        raise ModelFileError(
            f"{where} is not a valid skacai model file: {what} nests too deeply."
        ) from None
    except ValueError:
        raise ModelFileError(f"{where} is not a skacai model file ({what} is not JSON).") from None


def parse_header(header, where):
    """The description, checksum and tensor table of a safetensors header."""
    header = parse_json(header, where, "its safetensors header")
    metadata = header.pop("__metadata__", None) if isinstance(header, dict) else None
    if not isinstance(header, dict):
        raise ModelFileError(
            f"{where} is not a skacai model file (its header is not safetensors JSON)."
        )
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"{where} is not a skacai model file (no {FORMAT!r} marker in its header); "
            "write model files with ACAITransformer.save."
        )
    description_json, digest = metadata.get("skacai"), metadata.get("sha256")
    if not isinstance(description_json, str) or not isinstance(digest, str):
        raise ModelFileError(f"{where} is damaged: its description or checksum is missing.")
    table = {}
    for name, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if (
            not isinstance(shape, list)
            or not all(is_int(n) and 0 <= n < 2**63 for n in shape)
            or entry.get("dtype") not in DTYPES
        ):
            raise ModelFileError(
                f"{where} is damaged: the header's entry for tensor {name!r} is not a "
                "safetensors tensor of a dtype skacai writes."
            )
        table[name] = (entry["dtype"], tuple(shape))
    return description_json, digest, table


def parse_description(description_json, where):
    description = parse_json(description_json, where, "its description")
    if not isinstance(description, dict):
        raise ModelFileError(f"{where} has an invalid model description (not a JSON object).")
    version = description.get("format_version")
    if is_int(version) and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} uses model file format {version!r}, newer than the format "
            f"{FORMAT_VERSION} this skacai {__version__} reads; upgrade skacai to load it."
        )
    if not is_int(version) or version < 1:
        raise ModelFileError(
            f"{where} has an invalid model description: format_version {version!r} is not "
            f"a format number (1 to {FORMAT_VERSION})."
        )
    return description
