"""
Clustering digits with KMeans on ACAI codes
===========================================

:class:`~skacai.ACAITransformer` is a scikit-learn transformer, so it can sit in a
:class:`~sklearn.pipeline.Pipeline` in front of :class:`~sklearn.cluster.KMeans`.
This example clusters scikit-learn's 1,797 bundled 8x8 digits into 10 clusters
three ways: on the 64 raw pixels, on 10 PCA components and on 10-dimensional
ACAI codes. Each clustering is scored by
:func:`skacai.metrics.clustering_accuracy`: the accuracy after matching each
cluster to one digit label (Hungarian matching), so 1.0 is a perfect clustering
and about 0.1 is chance.

The ACAI model trains for 30 epochs only, so that the example runs in seconds.
At this budget, on this small data set, its codes cluster *worse* than the raw
pixels and PCA do (see the printed output). The example shows how to put ACAI in
a clustering pipeline; it is not evidence that ACAI clusters digits better. On
MNIST, with more training, ACAI's codes do cluster better than a plain
autoencoder's: see ``docs/defaults.md``.

Run it as a script::

    python examples/pipeline_kmeans.py
"""

import warnings

from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from skacai import ACAITransformer
from skacai.metrics import clustering_accuracy

# A short training budget, to keep the example quick: it stops before converging.
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)

# %%
# Three pipelines that differ only in their first step
# ----------------------------------------------------
#
# Every pipeline ends with the same ``KMeans(10)``; ``fit_predict`` fits the
# feature extractor and KMeans on all the digits and returns the cluster labels.

candidates = {
    "raw pixels": [],
    "PCA(10)": [("pca", PCA(10, random_state=0))],
    "ACAI(10)": [
        (
            "acai",
            ACAITransformer(
                n_components=10, hidden_layer_sizes=(256, 128), max_iter=30, random_state=0
            ),
        )
    ],
}
for name, steps in candidates.items():
    pipe = Pipeline([*steps, ("km", KMeans(10, n_init=10, random_state=0))])
    labels = pipe.fit_predict(X)
    print(f"{name:>10}: clustering accuracy {clustering_accuracy(y, labels):.3f}")
