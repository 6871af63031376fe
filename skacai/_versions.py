"""The library versions that model files and pickles record, and the warning when a
model is read under other versions than it was saved with."""

from __future__ import annotations

import platform
import warnings

import numpy as np
import safetensors
import sklearn
import torch

from skacai._version import __version__
from skacai.exceptions import VersionMismatchWarning

__all__ = ["version_mismatches", "versions", "warn_version_mismatch"]


def versions():
    """The library versions a model file records."""
    return {
        "skacai": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


# Versions whose difference is worth a warning: the ones that compute the model.
_CHECKED_VERSIONS = ("skacai", "torch", "scikit-learn")


def version_mismatches(recorded):
    """``"name recorded -> current"`` for each checked library whose version differs."""
    current = versions()
    return [
        f"{name} {recorded[name]} -> {current[name]}"
        for name in _CHECKED_VERSIONS
        if name in recorded and recorded[name] != current[name]
    ]


def warn_version_mismatch(what, recorded, *, stacklevel):
    mismatches = version_mismatches(recorded)
    if mismatches:
        warnings.warn(
            f"{what} was saved with different library versions ({', '.join(mismatches)}). "
            "It loaded, but its outputs may differ slightly; refit or save it again with "
            "these versions to silence this warning.",
            VersionMismatchWarning,
            stacklevel=stacklevel + 1,
        )
