"""skacai: adversarially constrained autoencoders (ACAI) as scikit-learn transformers."""

from skacai._estimator import ACAITransformer

__version__ = "0.1.0"

__all__ = ["ACAITransformer", "__version__"]
