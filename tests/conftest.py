import os

# Lets scikit-learn's array-API estimator check run instead of skipping; must be set
# before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
