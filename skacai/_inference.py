"""Inference: the fitted networks applied to NumPy arrays batch by batch, in the
input's precision. Every function takes what it needs as arguments, never the estimator."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from skacai import _progress
from skacai._device import float32_convolutions
from skacai._networks import ARCHITECTURES
from skacai._objective import squared_errors
from skacai._scaling import apply_code_maps, invert_code_maps
from skacai._validation import checked

# Rows per forward pass in transform / inverse_transform / interpolate / score:
# bounds their memory without changing their results.
INFERENCE_BATCH_SIZE = 4096
# ... except for the architectures whose activations then stay in a CPU's caches
# (``Architecture.small_cpu_batches``: the conv networks, 16 x 32 x 32 floats a row
# for MNIST).
CONV_CPU_INFERENCE_BATCH_SIZE = 128
# Sparse input is densified at most this many values at a time (4,096 rows of 1,024
# features): fewer rows for wide data such as text's tens of thousands of columns.
SPARSE_BATCH_VALUES = 2**22


def batch_rows(architecture, device):
    """Rows per forward pass of the inference methods."""
    if ARCHITECTURES[architecture].small_cpu_batches and torch.device(device).type == "cpu":
        return min(INFERENCE_BATCH_SIZE, CONV_CPU_INFERENCE_BATCH_SIZE)
    return INFERENCE_BATCH_SIZE


def sparse_batch_rows(rows, n_features):
    """Rows per dense batch of sparse input: ``rows``, or fewer where they would hold
    more than ``SPARSE_BATCH_VALUES`` values."""
    return max(1, min(rows, SPARSE_BATCH_VALUES // max(n_features, 1)))


class Model:
    """A :class:`~skacai._model.FittedModel` applied to NumPy arrays (or CSR matrices,
    densified batch by batch), ``rows`` at a time: scaling, networks, code maps."""

    def __init__(self, fitted, *, verbose=0):
        self.encoder, self.decoder = fitted.encoder, fitted.decoder
        self.scaling, self.code_maps = fitted.scaling, fitted.code_maps
        self.n_features, self.n_components = fitted.spec.n_features, fitted.spec.n_components
        self.device, self.verbose = fitted.device, verbose
        self.rows = batch_rows(fitted.spec.architecture, fitted.device)

    def transform(self, X):
        """X -> codes, mapped by the model's code maps (e.g. whitened; ``transform``)."""
        codes = checked(self.encode(X), "transform", X.dtype)
        return apply_code_maps(self.code_maps, codes)

    def inverse_transform(self, codes):
        """Codes (as ``transform`` returns them) -> data."""
        codes = invert_code_maps(self.code_maps, codes)
        return checked(self.decode(codes), "inverse_transform", codes.dtype)

    def bar(self, method, X):
        """A progress bar over X's rows for a long call when verbose, else a no-op."""
        return _progress.inference_bar(self.verbose, method, X.shape[0], self.rows)

    def encode(self, X, method="transform"):
        """X -> raw codes, computed batch by batch in X's precision (float32 or float64)."""
        run = Runner(self.encoder, self.device, X.dtype)

        def encode(batch):
            return run(self.scaling.apply(batch))

        return map_batches(encode, X, self.n_components, self.rows, bar=self.bar(method, X))

    def decode(self, codes, method="inverse_transform"):
        """Codes -> data in the input's units, batch by batch in the codes' precision."""
        run = Runner(self.decoder, self.device, codes.dtype)

        def decode(batch):
            return self.scaling.inverse(run(batch))

        return map_batches(decode, codes, self.n_features, self.rows, bar=self.bar(method, codes))

    def score_samples(self, X, method):
        """Negative mean squared reconstruction error of each row of X (float64)."""

        def score(batch):  # batch by batch, so that no temporary is the size of X
            reconstruction = self.decode(self.encode(batch))
            return -np.mean(squared_errors(batch, reconstruction), axis=1, keepdims=True)

        bar = self.bar(method, X)
        scores = map_batches(score, X, 1, self.rows, dtype=np.float64, bar=bar)[:, 0]
        return checked(scores, method, X.dtype)


class Runner:
    """Evaluates a module on NumPy batches in a given precision, without changing it.

    float64 batches run on a float64 copy of the module (an exact upcast), so
    a sample's result does not depend on the other rows of its batch beyond
    float64 rounding, as scikit-learn's invariance checks require; float32
    batches use the module as it is.
    """

    def __init__(self, module, device, dtype):
        self.device = device
        self.dtype = np.dtype(dtype)
        self.module = float64_copy(module) if self.dtype == np.float64 else module

    def __call__(self, batch):
        x = torch.from_numpy(np.require(batch, self.dtype, ["C", "W"])).to(self.device)
        with torch.inference_mode(), float32_convolutions(torch.device(self.device)):
            y = self.module(x)
        return y.cpu().numpy()


def float64_copy(module):
    """A float64 copy of ``module`` that shares everything with it but the tensors.

    Not ``torch.func.functional_call``: that swaps the parameters of the shared
    module for the duration of the call, which breaks other threads using the
    model meanwhile (and can leave float64 weights in it). Not
    ``copy.deepcopy(module).double()`` either, which costs ten times as much
    for copying every Python attribute too.
    """
    twin = object.__new__(type(module))
    twin.__dict__.update(module.__dict__)
    twin.__dict__.update(
        _parameters={
            name: None if p is None else p.detach().double()
            for name, p in module._parameters.items()
        },
        _buffers={
            name: b.double() if b is not None and b.is_floating_point() else b
            for name, b in module._buffers.items()
        },
        _modules={
            name: None if child is None else float64_copy(child)
            for name, child in module._modules.items()
        },
    )
    return twin


def map_batches(function, X, n_out, rows, dtype=None, bar=None):
    """``function`` applied to X's rows, ``rows`` at a time, into one (n, n_out) array
    of ``dtype`` (X's by default), advancing the progress ``bar`` if one is given.

    A sparse X (CSR) is densified one batch of rows at a time, never whole, and
    of at most ``SPARSE_BATCH_VALUES`` values (:func:`sparse_batch_rows`).
    """
    out = np.empty((X.shape[0], n_out), dtype=X.dtype if dtype is None else dtype)
    if sparse.issparse(X):
        rows = sparse_batch_rows(rows, X.shape[1])
    # Scaling an input far outside the training range can overflow (above all in
    # the cast to float32); the public methods check their results instead.
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, X.shape[0], rows):
                stop = start + rows
                batch = X[start:stop]
                out[start:stop] = function(batch.toarray() if sparse.issparse(batch) else batch)
                if bar is not None:
                    bar.update(min(stop, X.shape[0]) - start)
    finally:
        if bar is not None:
            bar.close()
    return out
