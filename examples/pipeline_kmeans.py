"""Cluster digits with KMeans on ACAI codes, in a scikit-learn Pipeline.

Compares the clustering accuracy (Hungarian matching of clusters to labels) of
KMeans on raw pixels, on PCA and on ACAI codes. Runs in well under a minute on CPU.

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
