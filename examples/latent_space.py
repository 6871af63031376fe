"""
Looking inside a fitted model: latent space, losses, reconstructions
====================================================================

:mod:`skacai.plotting` draws a fitted :class:`~skacai.ACAITransformer`. This
example trains ACAI and, for comparison, a plain autoencoder
(``adversarial_weight=0``) with 8-dimensional codes on scikit-learn's bundled
8x8 digits (:func:`skacai.datasets.load_digits_images`, pixels in [0, 1]), and
draws:

* :func:`~skacai.plotting.plot_latent`: the codes of all 1,797 digits projected
  to 2-D with PCA, coloured by digit;
* :func:`~skacai.plotting.plot_history`: every loss term, epoch by epoch, from
  the model's ``history_``;
* :func:`~skacai.plotting.plot_reconstructions`: digits above their
  reconstructions.

It prints the numbers needed to read the pictures: how much of the codes'
variance the 2-D projection keeps (the picture hides the rest), each model's
reconstruction error, and the critic's last loss. A critic loss near
``E[alpha^2] = 1/12 ~ 0.083`` would mean the critic takes the decoded mixtures for
real digits; near 0, it sees through them. After this short training (30 epochs)
it is well below 1/12 for both models: the critic still tells most mixtures apart
from real digits.

The ``skacai.plotting`` functions draw into the pyplot figures and axes they are
given here, so the pictures appear in the gallery and with ``plt.show()``; called
without ``fig=`` or ``ax=`` they return a new Figure that pyplot does not manage.

Run it as a script::

    python examples/latent_space.py
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer
from skacai.datasets import load_digits_images
from skacai.plotting import plot_history, plot_latent, plot_reconstructions

# A short training budget, to keep the example quick: it stops before converging.
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits_images()

models = {
    name: ACAITransformer(
        8,
        hidden_layer_sizes=(256, 128),
        batch_size=64,
        max_iter=30,
        adversarial_weight=weight,
        random_state=0,
    ).fit(X)
    for name, weight in [("ACAI", 0.5), ("plain autoencoder", 0.0)]
}

for name, model in models.items():
    codes = model.transform(X)
    kept = PCA(2).fit(codes).explained_variance_ratio_.sum()
    print(
        f"{name}: reconstruction MSE {-model.score(X):.4f} (pixels in [0, 1]), "
        f"last critic loss {model.history_['critic'][-1]:.3f} (1/12 = 0.083), "
        f"2-D PCA view keeps {kept:.0%} of the codes' variance"
    )

# %%
# The latent space
# ----------------
#
# Each point is one digit's 8-dimensional code, projected on the codes' first
# two principal components.

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, (name, model) in zip(axes, models.items(), strict=True):
    plot_latent(model, X, y, method="pca", ax=ax, s=6)
    ax.set_title(f"{name}: codes (PCA to 2-D)")
fig.tight_layout()

# %%
# The training history
# --------------------
#
# ``loss`` is what the autoencoder minimises: ``reconstruction`` plus
# ``adversarial_weight`` times ``adversarial``. The plain autoencoder's critic
# trains alongside too (as in the paper's baseline), so its ``adversarial`` and
# ``critic`` terms are recorded, though they do not enter its loss.

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, model) in zip(axes, models.items(), strict=True):
    plot_history(model, ax=ax)
    ax.set_title(f"{name}: training history")
fig.tight_layout()

# %%
# Reconstructions
# ---------------
#
# The first ten digits (top) and ACAI's reconstructions of them (bottom).

plot_reconstructions(models["ACAI"], X, n=10, fig=plt.figure(figsize=(10, 2.4)))

plt.show()
