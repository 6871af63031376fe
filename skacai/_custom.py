"""Networks of the user's own: the ``encoder``, ``decoder`` and ``critic`` parameters.

Each may be None (skacai's own network for ``architecture``), a
:class:`Network` (a factory with keyword arguments that ``get_params``,
``set_params``, ``clone`` and ``GridSearchCV`` see), any other callable that
returns a ``torch.nn.Module`` (a module class or a function), or a module
instance. This module builds them, describes them for the model file and for
``warm_start``'s comparison, and checks what they compute on the first rows.
"""

from __future__ import annotations

import copy
import inspect
import math
import threading

import numpy as np
import torch
from torch import nn

from skacai._networks import Critic
from skacai.exceptions import ModelFileError

PARTS = ("encoder", "decoder", "critic")
# What skacai fills in for a factory that names them in its signature.
SHAPE_ARGUMENTS = ("n_features", "n_components", "image_shape")
# Rows of X that the first-batch check runs the networks on.
_CHECK_ROWS = 2


class Network:
    """A network of your own for ``ACAITransformer``'s encoder, decoder or critic.

    ``Network(module, **kwargs)`` builds ``module(**kwargs)`` when the model is
    fitted; ``module`` is a ``torch.nn.Module`` subclass or a function that
    returns a module. skacai adds whichever of ``n_features``,
    ``n_components`` and ``image_shape`` (the validated ``(channels,
    height, width)``, or None) the signature of ``module`` names, so one
    class fits data of any width.

    The keyword arguments are parameters in scikit-learn's sense:
    ``get_params``, ``set_params``, ``clone`` and ``GridSearchCV`` see them
    as ``encoder__<name>`` (``decoder__``, ``critic__``) of the estimator.

    Parameters
    ----------
    module : callable
        A ``torch.nn.Module`` subclass, or any callable that returns a
        ``torch.nn.Module``.

    **kwargs
        Keyword arguments for ``module``.

    Examples
    --------
    >>> from torch import nn
    >>> from skacai import ACAITransformer, Network
    >>> class Encoder(nn.Sequential):
    ...     def __init__(self, n_features, n_components, width=32):
    ...         super().__init__(
    ...             nn.Linear(n_features, width), nn.ReLU(), nn.Linear(width, n_components)
    ...         )
    >>> model = ACAITransformer(n_components=4, encoder=Network(Encoder, width=16))
    >>> model.get_params()["encoder__width"]
    16
    >>> model.set_params(encoder__width=64).encoder
    Network(Encoder, width=64)
    """

    def __init__(self, module, **kwargs):
        self.module = module
        self.kwargs = kwargs

    def get_params(self, deep=True):
        """``module`` and the keyword arguments, as scikit-learn's ``get_params``.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: a network has no nested parameters.

        Returns
        -------
        params : dict
            ``{"module": module, **kwargs}``.

        Examples
        --------
        >>> from torch import nn
        >>> from skacai import Network
        >>> Network(nn.Linear, bias=False).get_params()
        {'module': <class 'torch.nn.modules.linear.Linear'>, 'bias': False}
        """
        return {"module": self.module, **self.kwargs}

    def set_params(self, **params):
        """Set ``module`` or keyword arguments, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params
            ``module`` or keyword arguments of ``module``. A name that
            ``module``'s signature does not take (unless it takes
            ``**kwargs``), or one of the shapes skacai passes itself
            (``n_features``, ``n_components``, ``image_shape``), raises
            ``ValueError``.

        Returns
        -------
        self : Network
            This network.

        Examples
        --------
        >>> from torch import nn
        >>> from skacai import Network
        >>> Network(nn.Linear, bias=False).set_params(bias=True)
        Network(Linear, bias=True)
        """
        accepted, any_name = _keywords(params.get("module", self.module))
        accepted -= set(SHAPE_ARGUMENTS)
        for name in params:
            if name in SHAPE_ARGUMENTS or (
                name != "module" and not any_name and name not in accepted
            ):
                raise ValueError(
                    f"Invalid parameter {name!r} for {self!r}: {_name(self.module)} takes "
                    f"{', '.join(sorted(accepted)) or 'no keyword arguments'} (skacai "
                    f"passes {', '.join(SHAPE_ARGUMENTS)} itself)."
                )
        for name, value in params.items():
            if name == "module":
                self.module = value
            else:
                self.kwargs[name] = value
        return self

    def __call__(self, **shapes):
        """The module built for data of these shapes (see the class docstring)."""
        given = sorted(set(self.kwargs) & set(SHAPE_ARGUMENTS))
        if given:
            raise ValueError(
                f"{self!r} sets {', '.join(given)}, which skacai passes from the data and "
                "the estimator's parameters; leave it out."
            )
        accepted, _ = _keywords(self.module)
        return self.module(**self.kwargs, **{k: v for k, v in shapes.items() if k in accepted})

    def __repr__(self):
        arguments = "".join(f", {name}={value!r}" for name, value in self.kwargs.items())
        return f"Network({getattr(self.module, '__name__', repr(self.module))}{arguments})"

    def __eq__(self, other):
        return (
            type(other) is Network
            and other.module is self.module
            and other.kwargs.keys() == self.kwargs.keys()
            and all(_same(other.kwargs[k], v) for k, v in self.kwargs.items())
        )

    __hash__ = None


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays: ambiguous truth value
        return a is b


def _keywords(module):
    """The keyword arguments ``module`` names, and whether it takes any others too
    (``**kwargs``, or a signature that cannot be read)."""
    try:
        signature = inspect.signature(module)
    except (TypeError, ValueError):
        return set(), True
    named = {
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    kinds = {p.kind for p in signature.parameters.values()}
    return named, inspect.Parameter.VAR_KEYWORD in kinds


def _name(value):
    """``package.module.Name`` of a class or function (of an instance's class)."""
    kind = value if callable(value) and not isinstance(value, nn.Module) else type(value)
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", type(kind).__qualname__)
    return f"{module}.{name}" if module else name


def _plain(value):
    """A JSON value that records ``value`` exactly: None, booleans, integers, finite
    floats and strings (NumPy scalars as these), lists, tuples and string-keyed dicts of
    them, and classes and named functions as ``"<package.module.Name>"``; TypeError for
    anything else, which a model file could only record by its type."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{value!r} is not a finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("it is a dict whose keys are not all strings")
        return {key: _plain(item) for key, item in value.items()}
    if (inspect.isclass(value) or inspect.isroutine(value)) and "<" not in _name(value):
        return f"<{_name(value)}>"
    raise TypeError(f"it is a {type(value).__name__}")


def describe(value):
    """What a model file and ``warm_start`` record of a parameter (None: skacai's own).

    A JSON object: the factory's qualified name and keyword arguments (by value,
    :func:`_plain`; ValueError for an argument that cannot be recorded), or an
    instance's class.
    """
    if value is None:
        return None
    if isinstance(value, nn.Module):
        return {"instance": _name(value)}
    if isinstance(value, Network):
        kwargs = {}
        for key, item in value.kwargs.items():
            try:
                kwargs[key] = _plain(item)
            except TypeError as error:
                raise ValueError(
                    f"{value!r}'s argument {key}={item!r} cannot be recorded in a model file "
                    f"or compared by warm_start ({error}): pass None, booleans, numbers, "
                    "strings, classes or named functions, or lists, tuples and string-keyed "
                    "dicts of them, and build other objects inside the factory."
                ) from None
        return {"factory": _name(value.module), "kwargs": kwargs}
    return {"factory": _name(value), "kwargs": {}}


def text(description):
    """A description as a reader sees it: ``pkg.Encoder(width=32)``, or ``an instance
    of pkg.Encoder``."""
    if "instance" in description:
        return f"an instance of {description['instance']}"
    arguments = ", ".join(f"{k}={v!r}" for k, v in description["kwargs"].items())
    return f"{description['factory']}({arguments})"


_SEEDING = threading.RLock()  # reentrant: a factory may fit a model with a factory


def build(part, value, shapes, seed):
    """The ``part``'s module from its parameter ``value`` (not None), on the CPU.

    A factory runs with torch's global generator seeded with ``seed`` for the
    call (so that ``random_state`` decides its initial weights) and restored
    after; a module instance is deep-copied, so that the parameter is never
    trained and every fit starts from its weights. A critic is wrapped to
    average its output to one value per row.
    """
    if isinstance(value, nn.Module):
        module = copy.deepcopy(value)
    else:
        factory = value if isinstance(value, Network) else Network(value)
        # torch's CPU generator is global: one factory at a time seeds it, draws and
        # restores it, so that fits in threads neither mix their draws nor leave the
        # caller's generator changed.
        with _SEEDING, torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            try:
                module = factory(**shapes)
            except Exception as error:
                raise ValueError(
                    f"{part}={value!r} failed to build its network for "
                    f"{_shapes_text(shapes)}: {type(error).__name__}: {error}"
                ) from error
        if not isinstance(module, nn.Module):
            raise ValueError(
                f"{part}={value!r} returned a {type(module).__name__}, not a torch.nn.Module."
            )
    if not any(True for _ in module.parameters()) and part == "critic":
        raise ValueError(
            f"critic={value!r} has no parameters to train; the critic must learn to "
            "guess the mixing coefficient."
        )
    return Critic(module) if part == "critic" else module


def _shapes_text(shapes):
    return ", ".join(f"{name}={value!r}" for name, value in shapes.items())


def check_outputs(networks, x, spec):
    """Run the networks on the first rows ``x`` (scaled) and check what they return.

    Each must return a floating-point tensor: the encoder ``(rows,
    n_components)`` codes, the decoder ``(rows, n_features)`` data from them
    and the critic one or more values per row, which it averages. The
    messages say which networks are the user's (``spec.custom``).
    """
    n_components = spec.n_components
    customized = [part for part, own in zip(PARTS, spec.builtin, strict=True) if not own]
    x = x[:_CHECK_ROWS]
    rows, n_features = x.shape
    modes = [module.training for module in networks]
    try:
        for module in networks:
            module.eval()
        with torch.no_grad():
            z = _run(networks.encoder, "encoder", x, customized)
            _expect(z, (rows, n_components), "encoder", f"n_components={n_components} values")
            x_hat = _run(networks.decoder, "decoder", z, customized)
            _expect(x_hat, (rows, n_features), "decoder", f"X's {n_features} features")
            body = networks.critic.body
            verdict = _run(body, "critic", x_hat, customized)
            if not (verdict.dim() >= 1 and verdict.shape[0] == rows and verdict.numel() >= rows):
                raise ValueError(
                    f"The critic returned shape {tuple(verdict.shape)} for {rows} rows; it "
                    f"must return ({rows},) or ({rows}, ...): one or more values per row, "
                    "which skacai averages to one."
                )
    finally:
        for module, mode in zip(networks, modes, strict=True):
            module.train(mode)


def _run(module, part, x, customized):
    try:
        y = module(x)
    except Exception as error:
        whose = "your " if part in customized else ""
        raise ValueError(
            f"Running {whose}{part} on a batch of shape {tuple(x.shape)} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(y, torch.Tensor) or not y.is_floating_point():
        raise ValueError(
            f"The {part} returned {type(y).__name__}"
            f"{'' if not isinstance(y, torch.Tensor) else f' of dtype {y.dtype}'}; it must "
            "return a floating-point torch.Tensor."
        )
    return y


def _expect(y, shape, part, what):
    if tuple(y.shape) != shape:
        raise ValueError(
            f"The {part} returned shape {tuple(y.shape)} for a batch of {shape[0]} rows; "
            f"it must return shape {shape}: {what} per row."
        )


def changes(before, after):
    """``"encoder changed from ... to ..."`` for each part whose description differs."""
    return [
        f"{part} changed from {_text_or_own(old)} to {_text_or_own(new)}"
        for part, old, new in zip(PARTS, before, after, strict=True)
        if old != new
    ]


def _text_or_own(description):
    return "skacai's own network" if description is None else text(description)


def is_description(value):
    """Whether a value read from a model file is a well-formed :func:`describe` result."""
    if not isinstance(value, dict):
        return False
    if set(value) == {"instance"}:
        return _printable_name(value["instance"])
    return (
        set(value) == {"factory", "kwargs"}
        and _printable_name(value["factory"])
        and isinstance(value["kwargs"], dict)
        and all(isinstance(key, str) and key.isidentifier() for key in value["kwargs"])
    )


def _printable_name(name):
    return isinstance(name, str) and 0 < len(name) <= 1000 and name.isprintable()


class NetworksNeeded(ValueError):
    """``load`` was not given a network of the user's that the model was saved with."""


def check_given(saved, given, where):
    """ValueError unless the networks given to ``load`` are those the file was saved with.

    ``saved``: the file's descriptions (None: skacai's own network); ``given``:
    the ``encoder``, ``decoder`` and ``critic`` passed to ``load``. Compared by
    :func:`describe`: the factory's qualified name and keyword arguments, or
    an instance's class.
    """
    for part, old, value in zip(PARTS, saved, given, strict=True):
        new = describe(value)
        if old == new:
            continue
        if old is None:
            problem = f"uses skacai's own {part}, but load() was given {part}={value!r}"
            remedy = f"leave {part} out"
        elif new is None:
            problem = f"was saved with your own {part}, {text(old)}"
            remedy = f"pass the same to load: ACAITransformer.load(path, {part}=...)"
        else:
            problem = f"was saved with {part} {text(old)}, but load() was given {text(new)}"
            remedy = f"pass the {part} the model was saved with"
        error = NetworksNeeded if new is None else ValueError
        raise error(f"The model in {where} {problem}; {remedy}.")


def build_for_file(spec, given, size, where):
    """The user's networks built for a model file's ``spec`` (None for skacai's own).

    The file's shapes are bounded by its ``size`` first (its scaling holds
    8 bytes per feature, so no honest file has more features than bytes), so
    a forged file cannot make a factory build networks of any size it names.
    Factories run seeded (the file's weights replace what they draw).
    """
    if not any(given):
        return (None, None, None)
    if max(spec.n_features, spec.n_components) > size:
        raise ModelFileError(
            f"{where} has an invalid model description: it names {spec.n_features} "
            f"features and {spec.n_components} codes, more than its {size} bytes can hold."
        )
    shapes = {
        "n_features": spec.n_features,
        "n_components": spec.n_components,
        "image_shape": spec.image_shape,
    }
    return tuple(
        None if value is None else build(part, value, shapes, seed=0)
        for part, value in zip(PARTS, given, strict=True)
    )
