"""Errors and warnings specific to skacai."""

__all__ = ["ModelFileError", "VersionMismatchWarning"]


class ModelFileError(ValueError):
    """A file given to ``ACAITransformer.load`` is not a readable skacai model.

    Raised for pickles and other foreign files, truncated or corrupted files,
    files modified after they were saved (checksum mismatch), and files written
    in a newer format than this skacai reads. Nothing in the file is executed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skacai import ACAITransformer
    >>> from skacai.exceptions import ModelFileError
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "model.safetensors"
    ...     _ = path.write_bytes(b"not a model")
    ...     try:
    ...         ACAITransformer.load(path)
    ...     except ModelFileError as error:
    ...         print("refused:", type(error).__name__)
    refused: ModelFileError
    """


class VersionMismatchWarning(UserWarning):
    """A model was saved under other skacai, torch or scikit-learn versions.

    The model still loads (the file format is what guarantees that), but its
    outputs may differ slightly from those under the versions that wrote it.
    Save it again under the current versions to silence the warning.

    Examples
    --------
    A deployment that must not run a model under other versions can turn the
    warning into an error:

    >>> import pathlib, tempfile, warnings
    >>> import numpy as np
    >>> from skacai import ACAITransformer
    >>> from skacai.exceptions import VersionMismatchWarning
    >>> X = np.random.default_rng(0).normal(size=(50, 6))
    >>> model = ACAITransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
    ...     warnings.simplefilter("error", VersionMismatchWarning)
    ...     model.save(pathlib.Path(folder) / "model.safetensors")
    ...     same = ACAITransformer.load(pathlib.Path(folder) / "model.safetensors")
    >>> bool(np.array_equal(same.transform(X), model.transform(X)))
    True
    """
