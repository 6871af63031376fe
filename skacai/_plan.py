"""The fit plan: every ``"auto"`` value and cross-parameter rule, resolved once.

``plan(params, X)`` reads the estimator's parameters (``get_params(deep=False)``)
and the training data and returns a frozen :class:`FitPlan`: the networks to build,
the scaling, the number of epochs and how each epoch trains. ``warm_start``,
``partial_fit``, ``save`` and ``load`` compare the networks a plan describes with
the fitted ones (:func:`check_same_networks`), field by field (the architecture's
``fields`` in the registry, and the user's networks), naming what changed. The rest
of a plan may change between calls by design: the number of epochs, the batch size
and the step's settings (a warm start with another ``adversarial_weight`` trains on
with it); the input scaling is the first fit's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from skacai import _custom, _networks, _scaling
from skacai._fit_loop import StepSettings
from skacai._networks import ARCHITECTURES, NetworkSpec
from skacai._validation import check_image_shape

AUTO_MAX_EPOCHS = 100  # max_iter="auto" never trains more epochs than this
OWN_NETWORKS = _custom.PARTS  # the parameters that take networks of the user's


@dataclass(frozen=True)
class FitPlan:
    """What one ``fit`` or ``partial_fit`` does, every ``"auto"`` resolved."""

    spec: NetworkSpec  # the networks the parameters describe for X's width
    scaling: str | None  # the scaling a new model fits to X (None when continuing one)
    max_epochs: int
    settings: StepSettings


def plan(params, X, fitted=None):
    """The plan for training on X (the training rows); ``fitted``: the spec of the
    networks a continued fit trains, whose padding the step follows."""
    spec = network_spec(params, X.shape[1])
    architecture = ARCHITECTURES[spec.architecture]
    batch_size = params["batch_size"]
    settings = StepSettings(
        batch_size=min(
            architecture.auto_batch if batch_size == "auto" else batch_size, X.shape[0]
        ),
        shuffle=params["shuffle"],
        adversarial_weight=params["adversarial_weight"],
        critic_regularization=params["critic_regularization"],
        dropout=params["dropout"],
        precision=params["precision"],
        padded=(fitted or spec).loss_on_padding,
    )
    return FitPlan(
        spec=spec,
        scaling=None
        if fitted
        else _scaling.resolve(params["scaling"], X, images=params["image_shape"] is not None),
        max_epochs=max_epochs(params["max_iter"], spec.architecture, X.shape[0]),
        settings=settings,
    )


def split(params, X, weights, rng):
    """``(X_train, X_val, weights_train, weights_val)``: the early-stopping hold-out."""
    if not params["early_stopping"]:
        return X, None, weights, None
    fraction = params["validation_fraction"]
    n_val = int(np.ceil(fraction * X.shape[0]))
    if n_val < 1 or X.shape[0] - n_val < 1:
        raise ValueError(
            f"early_stopping=True needs at least one training and one validation "
            f"sample; validation_fraction={fraction} of "
            f"{X.shape[0]} samples leaves none. Use more samples or "
            "early_stopping=False."
        )
    if weights is None:
        return (*train_test_split(X, test_size=n_val, random_state=rng), None, None)
    return train_test_split(X, weights, test_size=n_val, random_state=rng)


def architecture(params):
    """``architecture`` with ``"auto"`` resolved: conv for images, MLP otherwise
    (``_networks.auto_architecture``)."""
    if params["architecture"] == "auto":
        return _networks.auto_architecture(images=params["image_shape"] is not None)
    return params["architecture"]


def max_epochs(max_iter, architecture, n_samples):
    """``max_iter`` with ``"auto"`` resolved: the architecture's budget in samples."""
    if max_iter != "auto":
        return max_iter
    budget = ARCHITECTURES[architecture].auto_budget
    return int(min(AUTO_MAX_EPOCHS, max(1, round(budget / n_samples))))


def check_params(params):
    """The cross-parameter rules that need no data: ValueError where they fail."""
    _networks.hidden_sizes(params["hidden_layer_sizes"])
    dropout = params["dropout"]
    if dropout > 0 and all(params[part] is not None for part in OWN_NETWORKS):
        raise ValueError(
            f"dropout={dropout} applies to skacai's own MLP networks, and the "
            "encoder, decoder and critic are all yours: put dropout layers in your "
            "modules and use dropout=0."
        )
    name = architecture(params)
    if dropout > 0 and not ARCHITECTURES[name].dropout:
        with_dropout = " or ".join(repr(n) for n, a in ARCHITECTURES.items() if a.dropout)
        raise ValueError(
            f"dropout={dropout} applies to architecture={with_dropout} only: "
            f"{ARCHITECTURES[name].description} have no dropout layers. Use dropout=0 "
            f"with architecture={name!r}."
        )


def padding(params):
    """How conv networks pad images (``NetworkSpec``'s padding fields), by ``scaling``.

    Image networks with ``"minmax"``: the paper's (centred, filled with the scaled
    minimum -1, the loss and the critic over the padded image); otherwise, and
    whenever a network is the user's (which reads and returns the unpadded rows),
    skacai's original (at the end, zeros, cropped before the loss and the critic).
    """
    own = any(params[part] is not None for part in OWN_NETWORKS)
    images = ARCHITECTURES[architecture(params)].images
    if images and params["scaling"] == "minmax" and not own:
        return {"pad_center": True, "pad_value": -1.0, "loss_on_padding": True}
    return {"pad_center": False, "pad_value": 0.0, "loss_on_padding": False}


def network_spec(params, n_features):
    """The networks that the parameters describe for ``n_features`` inputs."""
    name = architecture(params)
    shape = params["image_shape"]
    if shape is not None:
        shape = check_image_shape(shape, n_features, "X")
    elif ARCHITECTURES[name].images:
        shape = (1, 1, n_features)  # a 1-D signal
    n_scales = params["n_scales"]
    return NetworkSpec(
        architecture=name,
        n_features=n_features,
        n_components=params["n_components"],
        hidden_layer_sizes=_networks.hidden_sizes(params["hidden_layer_sizes"]),
        image_shape=shape,
        conv_width=params["conv_width"],
        n_scales=_networks.auto_n_scales(shape) if n_scales == "auto" else n_scales,
        **padding(params),
        custom=tuple(_custom.describe(params[part]) for part in OWN_NETWORKS),
    )


# what the check is for -> (what it does to the fitted networks, the remedy)
_REMEDIES = {
    "warm_start=True": ("continues training", "set warm_start=False to train new networks"),
    "save": ("writes", "set the parameters back, or fit again, before saving"),
    "loading": ("restores", "the file is inconsistent; save the model again"),
    "partial_fit": (
        "continues training",
        "use fit, or a clone of the model, to train new networks",
    ),
}


def check_same_networks(params, fitted, how):
    """ValueError naming what changed where the parameters no longer describe the
    ``fitted`` networks (a ``NetworkSpec``); ``how``: a key of ``_REMEDIES``."""
    current = network_spec(params, fitted.n_features)
    if not any(fitted.builtin):  # the user's networks only: skacai's layout is unused
        compared = ("n_components",)
    elif current.architecture != fitted.architecture:
        compared = ("architecture",)
    else:
        compared = ARCHITECTURES[fitted.architecture].fields
    changed = [
        f"{name} changed from {getattr(fitted, name)!r} to {getattr(current, name)!r}"
        for name in compared
        if getattr(current, name) != getattr(fitted, name)
    ] + _custom.changes(fitted.custom, current.custom)
    if changed:
        does, remedy = _REMEDIES[how]
        raise ValueError(
            f"{how} {does} the fitted networks, but "
            f"{' and '.join(changed)} since they were built; {remedy}."
        )


def check_padding(params, saved_spec):
    """ValueError where the padding fields a file holds (files from before them hold
    none) are not those the parameters give: the training step reads them."""
    expected = padding(params)
    wrong = [f"{k}={saved_spec[k]!r}" for k, v in expected.items() if saved_spec.get(k, v) != v]
    if wrong:
        settings = ", ".join(f"{name}={value!r}" for name, value in expected.items())
        raise ValueError(
            f"its network's {' and '.join(wrong)} contradicts its parameters (architecture "
            f"{architecture(params)!r}, scaling {params['scaling']!r}), which give "
            f"{settings}"
        )
