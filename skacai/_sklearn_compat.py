"""The one module that imports scikit-learn's private helpers.

If scikit-learn moves them, this file is the only one to edit.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions", "_fit_context"]
