"""The one module that imports scikit-learn's private helpers.

If scikit-learn moves them, this file is the only one to edit.
"""

from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight as check_sample_weight

__all__ = [
    "RANDOM_STATE",
    "HasMethods",
    "Integers",
    "Interval",
    "StrOptions",
    "_fit_context",
    "check_sample_weight",
    "validate_params",
]


class Integers(Interval):
    """``Interval(Integral, left, right, closed=...)`` that refuses bools.

    Python counts ``True`` as the int 1, so scikit-learn's ``Interval(Integral, ...)``
    accepts it; ``make_lines(True)`` is a mistake, not one image.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self):
        return super().__str__().replace("an int", "an int (not a bool)", 1)


# scikit-learn's "random_state" constraint, but refusing bools (random_state=True).
RANDOM_STATE = [Integers(0, 2**32 - 1, closed="both"), np.random.RandomState, None]
