"""One fitted model used for inference from several threads at once."""

import sys
import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skacai import ACAITransformer, _inference

N_THREADS = 8
REPEATS = 4
BATCH = 16  # inference batch size in these tests: every call below spans several batches

ARCHITECTURES = {
    "mlp": {"n_components": 3, "hidden_layer_sizes": (16,)},
    "conv": {
        "n_components": 12,
        "architecture": "conv",
        "image_shape": (3, 4),
        "n_scales": 1,
        "conv_width": 2,
    },
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(100, 12))


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def model(request, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ACAITransformer(
            **ARCHITECTURES[request.param], max_iter=2, batch_size=32, random_state=0
        ).fit(X)


def calls(model, X):
    """(name, zero-argument call) pairs covering every inference method and both dtypes."""
    result = []
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        codes = model.transform(Xd)
        result += [
            (f"transform-{dtype.__name__}", lambda Xd=Xd: model.transform(Xd)),
            (f"inverse_transform-{dtype.__name__}", lambda c=codes: model.inverse_transform(c)),
            (f"score_samples-{dtype.__name__}", lambda Xd=Xd: model.score_samples(Xd)),
            (
                f"interpolate-{dtype.__name__}",
                lambda Xd=Xd: model.interpolate(Xd[:20], Xd[20:40], n_steps=5),
            ),
        ]
    return result


def test_concurrent_inference_matches_serial_inference(model, X, monkeypatch):
    monkeypatch.setattr(_inference, "INFERENCE_BATCH_SIZE", BATCH)
    assert model._inference().rows == BATCH
    work = calls(model, X)
    expected = {name: call() for name, call in work}
    weights = [
        p.detach().clone() for m in (model.encoder_, model.decoder_) for p in m.parameters()
    ]
    start = threading.Barrier(N_THREADS)
    errors, mismatches = [], []

    def worker(index):
        try:
            start.wait()
            order = work[index % len(work) :] + work[: index % len(work)]
            for _ in range(REPEATS):
                for name, call in order:
                    result = call()
                    if result.dtype != expected[name].dtype or not np.array_equal(
                        result, expected[name]
                    ):
                        mismatches.append(name)
        except BaseException as error:  # reported below, with the thread's traceback lost
            errors.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, to give races a chance
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert mismatches == []
    # the model itself was not touched: same float32 weights, same serial results
    after = [p.detach() for m in (model.encoder_, model.decoder_) for p in m.parameters()]
    assert all(p.dtype == torch.float32 for p in after)
    assert all(torch.equal(a, b) for a, b in zip(after, weights, strict=True))
    for name, call in work:
        np.testing.assert_array_equal(call(), expected[name])
