"""Fixtures for every test pytest collects here: ``tests/`` and the doctests in ``skacai/``."""

import pytest
import torch

# Initialises CUDA (reading CUDA_VISIBLE_DEVICES) in this process now, before the
# fixture below hides GPUs from the processes the tests start.
torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _auto_device_is_the_cpu(monkeypatch):
    """``device="auto"`` (the default) means the CPU throughout the suite, in the
    processes it starts too, also on a machine with a GPU.

    Many tests check exact equalities (bit-identical reloads, transforms of the
    same weights in two processes) that hold on one device but not between
    cuBLAS and the CPU's kernels. The GPU is tested where a test names
    ``device="cuda"``: ``tests/test_cuda.py`` and the CUDA cases in
    ``test_training.py``, ``test_persistence.py`` and ``test_safe_persistence.py``.
    """
    from skacai import _device

    resolve = _device.resolve_device

    def resolve_auto_to_the_cpu(device):
        return resolve("cpu" if device == "auto" else device)

    monkeypatch.setattr(_device, "resolve_device", resolve_auto_to_the_cpu)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
