"""Undo: a failed call leaves the fitted model exactly as it was, and a failed epoch
leaves the networks as they were before it."""

from __future__ import annotations

import copy
import functools
import threading
import weakref
from contextlib import contextmanager

import torch


@contextmanager
def unchanged_on_error(model):
    """Leave ``model`` (a fitted model, or None) exactly as it was if the block raises,
    and re-raise.

    Its fields are restored by reference; what training mutates in place is saved
    too: the networks' weights and device, the optimiser states (whose tensors the
    live optimisers share and update) and the lengths of the append-only record.
    """
    if model is None:
        yield
        return
    saved = dict(vars(model))
    networks = list(model.networks)
    weights = module_states(networks)
    optimizer_states = map_tensors(torch.Tensor.clone, model.optimizer_states)
    histories = [model.loss_curve, *model.history.values()]
    lengths = [len(values) for values in histories]
    try:
        yield
    except BaseException:
        vars(model).clear()
        vars(model).update(saved)
        for module in networks:
            module.to(model.device)
        load_states(networks, weights)
        model.optimizer_states = optimizer_states
        for values, length in zip(histories, lengths, strict=True):
            del values[length:]
        raise


# The calls running on each object: [thread id, method name, writes] per call.
_RUNNING = weakref.WeakKeyDictionary()
_RUNNING_LOCK = threading.Lock()


def one_writer(*, writes):
    """Decorate an estimator method so that it never overlaps training in another thread.

    A method that ``writes`` (``fit``, ``partial_fit``: they change the weights at every
    step) runs only while no other thread runs any decorated method on the same
    estimator; one that reads (``save``, ``export``, ``transform``, ...) only while no
    other thread trains it. Reads overlap each other, and a thread may nest calls (a
    ``scoring`` callable that calls ``transform`` during ``fit``). A call that would
    overlap raises RuntimeError at once, changing nothing: a file saved mid-training
    would mix the weights of two steps.
    """

    def decorate(method):
        name = method.__name__

        @functools.wraps(method)
        def guarded(instance, *args, **kwargs):
            call = [threading.get_ident(), name, writes]
            with _RUNNING_LOCK:
                running = _RUNNING.setdefault(instance, [])
                for thread, other, other_writes in running:
                    if thread != call[0] and (writes or other_writes):
                        raise RuntimeError(
                            f"{name} cannot run while {other} runs on this "
                            f"{type(instance).__name__} in another thread: training changes "
                            f"its weights at every step. Wait until {other} returns (join "
                            "its thread), or give each thread its own model "
                            "(sklearn.base.clone)."
                        )
                running.append(call)
            try:
                return method(instance, *args, **kwargs)
            finally:
                with _RUNNING_LOCK:
                    running.remove(call)

        return guarded

    return decorate


def map_tensors(function, value):
    """``value`` (nested dicts, lists and tuples, e.g. optimiser states) with
    ``function`` applied to every tensor in it."""
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, dict):
        return {key: map_tensors(function, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map_tensors(function, item) for item in value)
    return value


def weights_finite(networks):
    """Whether every parameter of the networks is finite.

    A finite sum proves all its terms finite, so the exact element-wise test
    (slower on the CPU; ``docs/reliability.md``) only runs when a sum is not
    finite.
    """
    parameters = [p for module in networks for p in module.parameters()]
    with torch.no_grad():
        if bool(torch.stack([p.sum() for p in parameters]).isfinite().all()):
            return True
        return bool(torch.stack([torch.isfinite(p).all() for p in parameters]).all())


def module_states(networks):
    """Copies of the networks' weights (on their device)."""
    return [copy.deepcopy(module.state_dict()) for module in networks]


def load_states(networks, states):
    """Load the weights copied by :func:`module_states`."""
    for module, state in zip(networks, states, strict=True):
        module.load_state_dict(state)


def snapshot(networks, optimizers, generator):
    """Copies of the weights, optimiser and generator states, to roll back an epoch."""
    return (
        module_states(networks),
        [copy.deepcopy(optimizer.state_dict()) for optimizer in optimizers],
        generator.get_state(),
    )


def restore(networks, optimizers, generator, saved):
    """Return the networks, optimisers and generator to a :func:`snapshot`."""
    weights, optimizer_states, generator_state = saved
    load_states(networks, weights)
    for optimizer, state in zip(optimizers, optimizer_states, strict=True):
        optimizer.load_state_dict(state)
    generator.set_state(generator_state)


def module_on_cpu(module):
    """``module`` if it is on the CPU, else a copy of it there."""
    if all(p.device.type == "cpu" for p in module.parameters()):
        return module
    return copy.deepcopy(module).to("cpu")
