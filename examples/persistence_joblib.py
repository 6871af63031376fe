"""
Saving and loading models: joblib and the safe format
=====================================================

A fitted :class:`~skacai.ACAITransformer` can be kept in two formats:

* ``joblib.dump`` / ``joblib.load`` (pickle), like any scikit-learn estimator. It
  stores any Python object, for example a whole
  :class:`~sklearn.pipeline.Pipeline`, but **loading a pickle runs code chosen by
  whoever wrote the file**: load only pickles you trust.
* ``model.save(path)`` / ``ACAITransformer.load(path)``, skacai's own
  `safetensors <https://huggingface.co/docs/safetensors>`_ file. Loading it parses
  numbers and JSON only, so it cannot run code, whoever made the file; it is
  checksummed and written atomically. It holds one model, not a pipeline. Use it
  for the models you exchange or keep for long.

This example writes a model in both formats, checks that each reloaded model
transforms exactly as the original does (the printed maximum absolute difference
is 0.0), shows that ``ACAITransformer.load`` refuses the joblib file rather than
unpickle it, persists a whole ACAI + KMeans pipeline with joblib, and continues
training a reloaded model with ``partial_fit``, exactly as the original continues.
``docs/persistence.md`` compares the two formats in full.

All files go to a temporary folder that is removed at the end.

Run it as a script::

    python examples/persistence_joblib.py
"""

import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from skacai import ACAITransformer
from skacai.exceptions import ModelFileError

# A short training budget, to keep the example quick: it stops before converging.
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X_train, X_new = X[:1500], X[1500:]  # X_new: later data, to continue training on

model = ACAITransformer(
    n_components=10, hidden_layer_sizes=(128,), max_iter=10, random_state=0
).fit(X_train)
codes = model.transform(X)

folder_handle = tempfile.TemporaryDirectory()
folder = Path(folder_handle.name)


def max_abs_difference(a, b):
    return float(np.max(np.abs(a - b)))


# %%
# joblib
# ------
#
# ``joblib.dump`` pickles the whole estimator: the three networks, both Adam
# optimisers' state, the input scaling and the training history.

joblib_path = folder / "acai.joblib"
joblib.dump(model, joblib_path)
from_joblib = joblib.load(joblib_path)  # runs code from the file: trusted files only
print(f"joblib file: {joblib_path.stat().st_size / 1024:.0f} KiB")
print(
    "joblib: max abs difference of the codes:", max_abs_difference(from_joblib.transform(X), codes)
)

# %%
# The safe format
# ---------------
#
# ``save`` writes one safetensors file; ``ACAITransformer.load`` reads it back
# without unpickling anything.

safe_path = folder / "acai.safetensors"
model.save(safe_path)
from_safe = ACAITransformer.load(safe_path)
print(f"safe file: {safe_path.stat().st_size / 1024:.0f} KiB")
print(
    "safe format: max abs difference of the codes:",
    max_abs_difference(from_safe.transform(X), codes),
)

# %%
# ``load`` never unpickles: given the joblib file, it refuses it with a
# :class:`~skacai.exceptions.ModelFileError` (a ``ValueError``) and says why.

try:
    ACAITransformer.load(joblib_path)
except ModelFileError as error:
    print("ACAITransformer.load(joblib file) refused:", str(error).replace(str(folder), "<tmp>"))

# %%
# A whole pipeline with joblib
# ----------------------------
#
# The safe format holds one model; a :class:`~sklearn.pipeline.Pipeline` (here
# ACAI followed by KMeans) is persisted as a whole with joblib.

pipe = Pipeline(
    [
        ("acai", ACAITransformer(10, hidden_layer_sizes=(128,), max_iter=10, random_state=0)),
        ("km", KMeans(10, n_init=10, random_state=0)),
    ]
).fit(X_train)
pipe_path = folder / "pipeline.joblib"
joblib.dump(pipe, pipe_path)
reloaded_pipe = joblib.load(pipe_path)
same = np.array_equal(reloaded_pipe.predict(X), pipe.predict(X))
print("pipeline: reloaded cluster labels identical:", same)

# %%
# Continuing training after loading
# ---------------------------------
#
# Both formats keep the Adam optimisers' state and the training random
# generator, so ``partial_fit`` (one epoch over new data) on a reloaded model
# continues exactly as it would have on the original.

model.partial_fit(X_new)
from_safe.partial_fit(X_new)
from_joblib.partial_fit(X_new)
continued = model.transform(X)
print(f"epochs trained: {model.n_iter_} (10 + 1 partial_fit epoch)")
print("codes changed by the extra epoch:", max_abs_difference(continued, codes) > 0)
print(
    "continued, safe format vs original: max abs difference",
    max_abs_difference(from_safe.transform(X), continued),
)
print(
    "continued, joblib vs original: max abs difference",
    max_abs_difference(from_joblib.transform(X), continued),
)

folder_handle.cleanup()  # removes the folder and the files in it
