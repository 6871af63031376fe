"""skacai: adversarially constrained autoencoders (ACAI) as scikit-learn transformers."""

from skacai._custom import Network
from skacai._estimator import ACAITransformer
from skacai._version import __version__

__all__ = ["ACAITransformer", "Network", "__version__"]
