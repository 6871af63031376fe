"""Search ACAI's two coefficients with GridSearchCV, scored by a downstream classifier.

``adversarial_weight`` (lambda) and ``critic_regularization`` (gamma) are ordinary
parameters, so ``GridSearchCV`` searches them like any other. Scoring the whole
pipeline with a classifier picks the codes that classify best; ACAITransformer's
own ``score`` (minus the reconstruction error) would always favour lambda = 0.

    python examples/grid_search_coefficients.py
"""

import os
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skacai import ACAITransformer

# A short training budget, to keep the example quick: it stops before converging.
# The environment variable carries the filter into GridSearchCV's worker processes.
warnings.simplefilter("ignore", ConvergenceWarning)
os.environ["PYTHONWARNINGS"] = "ignore:ACAITransformer stopped after max_iter"
X, y = load_digits(return_X_y=True)

pipe = Pipeline(
    [
        ("acai", ACAITransformer(n_components=8, hidden_layer_sizes=(128,), max_iter=15)),
        ("clf", LogisticRegression(max_iter=2000)),
    ]
)
grid = {
    "acai__adversarial_weight": [0.0, 0.5, 1.0],
    "acai__critic_regularization": [0.2],
    "acai__random_state": [0],
}
search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"lambda={params['acai__adversarial_weight']:<4} accuracy={score:.3f}")
print("best:", search.best_params_)
