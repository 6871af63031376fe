"""
Networks of your own: a small ResNet encoder and decoder
========================================================

:class:`~skacai.ACAITransformer` trains skacai's own networks unless it is given
others: its ``encoder``, ``decoder`` and ``critic`` parameters take any PyTorch
module, and ACAI's losses, interpolation mixing and optimisers stay as they are.
This example writes a small ResNet-style convolutional encoder and decoder
(residual blocks, average pooling down and upsampling up) for scikit-learn's
1,797 bundled 8x8 digits, and

* clusters the digits with ACAI + :class:`~sklearn.cluster.KMeans` in a
  :class:`~sklearn.pipeline.Pipeline`, next to skacai's own convolutional
  networks at the same short budget, three seeds each;
* searches the encoder's ``width`` with
  :class:`~sklearn.model_selection.GridSearchCV`, through the
  ``acai__encoder__width`` parameter that :class:`skacai.Network` creates;
* saves the model with ``save`` and loads it back with ``ACAITransformer.load``,
  which needs the same networks again (the file holds their weights, not their
  code);
* draws a few digits, their reconstructions and interpolations between them.

The critic stays skacai's: given ``image_shape``, that is the paper's
convolutional critic, which reads images and guesses the mixing coefficient of
an interpolation. Keeping it means the two models compared below differ in
their encoder and decoder only.

The budget is 3 epochs in batches of 128, so that the example runs in seconds;
neither model has converged. At this budget the three seeds' accuracies of the two kinds of
networks overlap (see the printed output), and the ResNet networks have more
weights than skacai's, so the example shows *how* to plug in networks of your
own, not that either kind is better.

Run it as a script::

    python examples/custom_networks.py
"""

import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from torch import nn

from skacai import ACAITransformer, Network
from skacai.metrics import clustering_accuracy
from skacai.plotting import plot_interpolations

# A short training budget, to keep the example quick: it stops before converging.
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)

# %%
# The networks
# ------------
#
# Each row of ``X`` is one flattened image; skacai scales the rows and hands the
# networks ``(n, 64)`` float tensors. The encoder reshapes them to
# ``(n, channels, height, width)`` images (rows of images are flattened
# channel-first, in C-order) and returns ``(n, n_components)`` codes; the decoder
# maps codes back to flat ``(n, 64)`` rows.
#
# Both classes name ``image_shape`` and ``n_components`` in their signatures, so
# skacai passes them when it builds the networks at fit time; ``width`` (the
# number of channels) is the user's own keyword argument, given through
# :class:`skacai.Network`.


class ResidualBlock(nn.Module):
    """conv-ReLU-conv, plus the input (the skip connection), then ReLU."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class ResNetEncoder(nn.Module):
    """Image -> residual block -> 2x2 average pooling -> residual block -> codes."""

    def __init__(self, image_shape, n_components, width=8):
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels, height, width_px = self.image_shape
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            ResidualBlock(width),
            nn.AvgPool2d(2),
            ResidualBlock(width),
        )
        self.head = nn.Linear(width * (height // 2) * (width_px // 2), n_components)

    def forward(self, x):
        images = x.reshape(-1, *self.image_shape)
        return self.head(self.body(images).flatten(1))


class ResNetDecoder(nn.Module):
    """Codes -> residual block -> 2x nearest-neighbour upsampling -> residual block -> image."""

    def __init__(self, image_shape, n_components, width=8):
        super().__init__()
        channels, height, width_px = image_shape
        self.grid = (width, height // 2, width_px // 2)
        self.head = nn.Linear(n_components, int(np.prod(self.grid)))
        self.body = nn.Sequential(
            nn.ReLU(),
            ResidualBlock(width),
            nn.Upsample(scale_factor=2),
            ResidualBlock(width),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, z):
        return self.body(self.head(z).reshape(-1, *self.grid)).flatten(1)


# %%
# Clustering the digits: your networks beside skacai's
# ----------------------------------------------------
#
# Two ACAI models with 16 components, the same ``image_shape``, critic and budget:
# one with the ResNet encoder and decoder, one with skacai's own convolutional
# networks (``conv_width=8``, one halving down to a 4x4 grid). Each sits in front of
# ``KMeans(10)``; ``fit_predict`` fits both steps on all the digits, and
# :func:`skacai.metrics.clustering_accuracy` matches the clusters to the digit
# labels (1.0 is a perfect clustering, about 0.1 chance). Three seeds each.

common = {"n_components": 16, "image_shape": (1, 8, 8), "max_iter": 3, "batch_size": 128}
candidates = {
    "ResNet (yours)": ACAITransformer(
        **common,
        encoder=Network(ResNetEncoder, width=8),
        decoder=Network(ResNetDecoder, width=8),
    ),
    "skacai's conv": ACAITransformer(**common, conv_width=8),
}
fitted = {}
for name, acai in candidates.items():
    scores = []
    for seed in range(3):
        pipe = Pipeline(
            [
                ("acai", clone(acai).set_params(random_state=seed)),
                ("km", KMeans(10, n_init=10, random_state=0)),
            ]
        )
        scores.append(clustering_accuracy(y, pipe.fit_predict(X)))
        fitted.setdefault(name, pipe)  # keep seed 0's pipeline
    model = fitted[name].named_steps["acai"]
    sizes = [sum(p.numel() for p in net.parameters()) for net in (model.encoder_, model.decoder_)]
    print(
        f"{name:>15}: clustering accuracy {np.mean(scores):.3f} +- {np.std(scores):.3f} "
        f"(seeds: {', '.join(f'{s:.3f}' for s in scores)}); "
        f"encoder {sizes[0]:,} and decoder {sizes[1]:,} weights"
    )

# %%
# The networks' arguments are parameters
# --------------------------------------
#
# A :class:`skacai.Network`'s keyword arguments appear in ``get_params`` as
# ``encoder__<name>`` and ``decoder__<name>``, so ``set_params``, ``clone`` and
# :class:`~sklearn.model_selection.GridSearchCV` reach them like any other
# parameter (``acai__encoder__width`` inside the pipeline).

pipe = fitted["ResNet (yours)"]
print(
    "parameters of the networks:",
    [key for key in pipe.get_params() if key.startswith(("acai__encoder", "acai__decoder"))],
)

# %%
# A tiny grid over the encoder's width (2 values, 2 folds), scored by the
# adjusted Rand index of the held-out fold's clusters against its labels. It
# demonstrates the search; one seed and two folds decide nothing about which width
# is better.

search = GridSearchCV(
    clone(pipe).set_params(acai__random_state=0),
    {"acai__encoder__width": [4, 8]},
    cv=2,
    scoring="adjusted_rand_score",
    refit=False,
).fit(X, y)
results = search.cv_results_
for params, mean in zip(results["params"], results["mean_test_score"], strict=True):
    print(f"encoder width {params['acai__encoder__width']}: adjusted Rand index {mean:.3f}")

# %%
# Saving and loading
# ------------------
#
# ``save`` writes the weights of the networks (a safetensors file, loaded without
# running any code from it). To load it, give ``ACAITransformer.load`` the same
# networks again: the same classes with the same keyword arguments. The critic is
# skacai's own, so it is left out.

model = pipe.named_steps["acai"]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "resnet_acai.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(
        path,
        encoder=Network(ResNetEncoder, width=8),
        decoder=Network(ResNetDecoder, width=8),
    )
    same = np.array_equal(loaded.transform(X), model.transform(X))
    print("loaded model gives identical codes:", same)

    # Without the networks it was saved with, ``load`` refuses the file and says
    # what it needs.
    try:
        ACAITransformer.load(path)
    except ValueError as error:
        print("load() without the encoder:", str(error).replace(str(path), "<file>"))

# %%
# Reconstructions and interpolations
# ----------------------------------
#
# :func:`skacai.plotting.plot_interpolations` decodes interpolations between the
# codes of pairs of digits. With ``show_inputs=True`` the first and last columns
# are the real digits (dashed frames), and the orange and blue framed columns next
# to them are their reconstructions (alpha = 0 and 1). After 3 epochs the
# reconstructions are still blurred.

fig = plt.figure(figsize=(8, 4.6))
plot_interpolations(model, X[:4], X[4:8], n_steps=6, show_inputs=True, fig=fig)
fig.suptitle("ResNet encoder and decoder: digits 0-3 morphing into 4-7", fontsize=10, y=1.0)
plt.show()
