"""
Searching ACAI's two coefficients with GridSearchCV
===================================================

The paper's two coefficients, ``adversarial_weight`` (lambda, the weight of the
critic's verdict in the autoencoder's loss) and ``critic_regularization``
(gamma), are ordinary constructor parameters of
:class:`~skacai.ACAITransformer`, so :class:`~sklearn.model_selection.GridSearchCV`
searches them like any other parameter, through the usual ``step__parameter``
names of a :class:`~sklearn.pipeline.Pipeline`.

This example scores each lambda by the 3-fold cross-validated accuracy of a
logistic regression trained on the codes. Scoring a downstream task is the point:
without ``scoring=``, ``GridSearchCV`` would use ACAITransformer's own ``score``
(minus the reconstruction error), which always favours lambda = 0, the plain
autoencoder.

With the short budget used here (15 epochs), the three lambdas score less than one
percentage point apart, about as far apart as the three folds' scores of any one
lambda (their standard deviation is printed after each mean). So the example shows
*how* to search the coefficients; its result does not show that one lambda is
better than another.

Run it as a script::

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
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)

# %%
# The pipeline and the grid
# -------------------------
#
# ``n_jobs=2`` fits two candidates at a time in separate processes; skacai's
# models then use one torch thread each, so the two workers do not oversubscribe
# a 2-core machine.

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

# scikit-learn >= 1.7 passes warning filters on to the worker processes; for older
# versions the environment variable carries the ConvergenceWarning filter there.
# It is restored afterwards, so that nothing outlives the example.
saved = os.environ.get("PYTHONWARNINGS")
os.environ["PYTHONWARNINGS"] = "ignore:ACAITransformer stopped after max_iter"
try:
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
finally:
    if saved is None:
        del os.environ["PYTHONWARNINGS"]
    else:
        os.environ["PYTHONWARNINGS"] = saved

# %%
# The results
# -----------
#
# The mean accuracy over the three folds, and its standard deviation across them.

results = search.cv_results_
for params, mean, std in zip(
    results["params"], results["mean_test_score"], results["std_test_score"], strict=True
):
    print(f"lambda={params['acai__adversarial_weight']:<4} accuracy={mean:.3f} +- {std:.3f}")
print("best:", search.best_params_)
