"""
Interpolating lines: ACAI against a plain autoencoder
=====================================================

The ACAI paper's synthetic benchmark: images of a line at a random angle
(:func:`skacai.datasets.make_lines`). Between two such images the right
interpolation is known: the line should rotate from one angle to the other, and
every frame should still be a line. This example trains two small convolutional
autoencoders that differ only in ``adversarial_weight``: ACAI (0.5, the paper's
value) and a plain autoencoder (0, no critic in its loss). It then draws their
interpolations between the same pairs of unseen lines with
:func:`skacai.plotting.plot_interpolations`, and prints the paper's two scores
from :mod:`skacai.metrics` for each, over 256 pairs of unseen lines, 16 frames
each:

* **Mean Distance**: how far each frame is from the nearest real line (cosine
  distance; lower means the frames look more like lines);
* **Smoothness**: how unevenly the angle moves from frame to frame: the largest
  step as a fraction of the whole change, minus its value for even steps; 0 for
  a line that rotates evenly, 1 - 1/15 = 0.93 for one that jumps all at once.
  Lower is better.

A pixel-space cross-fade of the same pairs (fading one line out as the other
fades in) is scored as a reference.

The budget is tiny next to the paper's (2,000 16x16 lines, 5 epochs), so
neither model is good yet: even the
reconstructions of the endpoints are blurred, and some are at the wrong angle.
What the printed scores show at this budget: ACAI's interpolations are smoother
than the plain autoencoder's (a lower Smoothness), while its Mean Distance is no
better, and both models' frames are further from real lines than the
cross-fade's. The difference is clearer in the scores than in the four pairs
drawn. ``docs/benchmarks.md`` trains the paper's models with larger budgets and
compares their scores with the paper's.

Run it as a script::

    python examples/interpolation_pictures.py
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer
from skacai.datasets import make_lines
from skacai.metrics import evaluate_lines, line_interpolation_scores
from skacai.plotting import plot_interpolations

# A short training budget, to keep the example quick: it stops before converging.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# Training data and the two models
# --------------------------------
#
# 2,000 lines of 16x16 pixels, values in [-1, 1]. The convolutional networks halve
# the image three times (``n_scales=3``), so the code is a 2x2 grid of 4 channels:
# ``n_components=16``.

X_train, _ = make_lines(2000, image_size=16, random_state=0)

models = {}
for name, weight in [("ACAI", 0.5), ("plain autoencoder", 0.0)]:
    models[name] = ACAITransformer(
        16,
        architecture="conv",
        image_shape=(16, 16),
        conv_width=8,
        n_scales=3,
        adversarial_weight=weight,
        learning_rate_init=3e-4,
        batch_size=64,
        max_iter=5,
        random_state=0,
    ).fit(X_train)

# %%
# Interpolation pictures
# ----------------------
#
# Four pairs of lines the models have not seen (drawn with another seed than the
# training lines). Each row morphs one line into another; the dashed columns at
# the ends are the real inputs, the orange and blue framed ones their
# reconstructions (alpha = 0 and 1). ``plot_interpolations`` draws into the
# pyplot figure it is given, so the picture appears in the gallery and with
# ``plt.show()``.

test_lines, _ = make_lines(512, image_size=16, random_state=1)
starts, ends = test_lines[:256], test_lines[256:]

fig = plt.figure(figsize=(10, 9.6))
for panel, (name, model) in zip(fig.subfigures(2, 1), models.items(), strict=True):
    plot_interpolations(
        model, starts[:4], ends[:4], n_steps=8, show_inputs=True, vmin=-1, vmax=1, fig=panel
    )
    panel.subplots_adjust(top=0.86)
    panel.suptitle(name, fontsize=12, y=0.99)

# %%
# The paper's scores
# ------------------
#
# :func:`skacai.metrics.evaluate_lines` decodes 16-frame interpolations between
# 256 pairs of fresh lines (``random_state=1``: the same unseen lines as above,
# not the training lines) and scores them; ``line_interpolation_scores`` scores
# the cross-fade of the same pairs.

t = np.linspace(0, 1, 16)[None, :, None]
cross_fade = (1 - t) * starts[:, None] + t * ends[:, None]
scores = {
    name: evaluate_lines(model, n_pairs=256, random_state=1) for name, model in models.items()
}
scores["pixel cross-fade"] = line_interpolation_scores(cross_fade)

print(f"{'interpolation':<20} {'Mean Distance (x 1e-3)':>23} {'Smoothness':>11}")
for name, (distance, smoothness) in scores.items():
    print(f"{name:<20} {distance * 1e3:>23.2f} {smoothness:>11.3f}")

plt.show()
