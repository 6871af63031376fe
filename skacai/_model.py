"""The fitted model: one object owns everything ``fit`` produces.

:class:`FittedModel` holds the networks and the spec that rebuilds them, the input
scaling, the codes' post-processings (code maps: the whitening), the optimisers' and
the training generator's states, the device and the training record. The estimator
holds one (``_model``) and exposes its :data:`FITTED_ATTRIBUTES`; persistence,
rollback, pickling, inference and export take the model, never the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from scipy import sparse

from skacai import _custom, _device, _objective, _scaling
from skacai._networks import Networks, NetworkSpec, build_networks
from skacai._rollback import map_tensors, module_on_cpu
from skacai._scaling import Scaling

# The estimator's fitted attributes: each is ``FittedModel.<name without the "_">``.
FITTED_ATTRIBUTES = (
    "encoder_",
    "decoder_",
    "critic_",
    "mean_",
    "scale_",
    "image_shape_",
    "device_",
    "n_iter_",
    "loss_curve_",
    "history_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)


@dataclass(eq=False)
class FittedModel:
    """A fitted ACAI model: networks, scaling, code maps, training state and record."""

    spec: NetworkSpec
    encoder: torch.nn.Module
    decoder: torch.nn.Module
    critic: torch.nn.Module
    scaling: Scaling
    device: str
    generator_state: tuple  # (device, torch generator state)
    optimizer_states: tuple | None = None
    code_maps: tuple = ()  # _scaling.CodeMap instances, in CODE_MAPS' order
    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    history: dict = field(default_factory=dict)
    best_loss: float | None = None
    validation_scores: list | None = None
    best_validation_score: float | None = None

    @property
    def networks(self):
        return Networks(self.encoder, self.decoder, self.critic)

    @property
    def mean(self):
        return self.scaling.mean

    @property
    def scale(self):
        return self.scaling.scale

    @property
    def image_shape(self):
        return self.spec.image_shape

    def code_map(self, name):
        """The fitted code map called ``name`` (e.g. ``"whitening"``), or None."""
        return next((m for m in self.code_maps if m.name == name), None)

    def attribute(self, name):
        """The estimator's fitted attribute ``name`` (one of :data:`FITTED_ATTRIBUTES`)."""
        return getattr(self, name[:-1])

    def networks_on(self, device):
        """The networks, moved to ``device`` (which the model then records)."""
        if str(device) != self.device:
            for module in self.networks:
                module.to(device)
            self.device = str(device)
        return self.networks

    def keep_progress(self, monitor):
        """The convergence record of the last fit (None where nothing was monitored)."""
        monitored = monitor is not None
        self.best_loss = monitor.best_loss if monitored else None
        self.validation_scores = monitor.validation_scores if monitored else None
        self.best_validation_score = monitor.best_validation_score if monitored else None

    def state_dict(self):
        """Everything the model holds, as tensors, arrays and plain values."""
        return {
            "spec": self.spec,
            "networks": {
                part: m.state_dict() for part, m in zip(_custom.PARTS, self.networks, strict=True)
            },
            "mean": self.mean,
            "scale": self.scale,
            "code_maps": _scaling.code_maps_state(self.code_maps),
            "device": self.device,
            "optimizer_states": self.optimizer_states,
            "generator_state": self.generator_state,
            **{name: getattr(self, name) for name in _RECORD},
        }

    @classmethod
    def from_state_dict(cls, state, modules=(None, None, None)):
        """The model a :meth:`state_dict` describes, on the CPU; ``modules``: the user's
        networks built for it (None: skacai's, built from the spec)."""
        networks = build_networks(state["spec"], None, "cpu")  # the weights overwrite all
        networks = [m if n is None else n for n, m in zip(networks, modules, strict=True)]
        for module, part in zip(networks, _custom.PARTS, strict=True):
            module.load_state_dict(state["networks"][part], strict=True)
            module.eval()
        return cls(
            state["spec"],
            *networks,
            scaling=Scaling(state["mean"], state["scale"]),
            device="cpu",
            generator_state=state["generator_state"],
            optimizer_states=state["optimizer_states"],
            code_maps=_scaling.code_maps_from_state(state["code_maps"]),
            **{name: state[name] for name in _RECORD},
        )

    def record(self, entry):
        """Append one epoch's history entry (``_objective.epoch_record``)."""
        self.n_iter += 1
        self.loss_curve.append(entry["loss"])
        for name, values in self.history.items():
            values.append(entry[name])

    def to_attributes(self):
        """The estimator attributes that pickles hold (the format pickles have kept since
        before this class), every tensor on the CPU so that they load anywhere."""
        attributes = {f"{name}_": getattr(self, name) for name in _RECORD}
        for part, module in zip(_custom.PARTS, self.networks, strict=True):
            attributes[f"{part}_"] = module_on_cpu(module)
        attributes |= {private: getattr(self, name) for name, private in _PICKLED.items()}
        # Each code map under "_NAME" (None when off): the format since whitening.
        attributes |= {f"_{m.name}": self.code_map(m.name) for m in _scaling.CODE_MAPS}
        attributes.update(
            mean_=self.mean,
            scale_=self.scale,
            image_shape_=self.image_shape,
            device_="cpu",
            _optimizer_states=map_tensors(lambda t: t.to("cpu"), self.optimizer_states),
        )
        return attributes

    @classmethod
    def from_attributes(cls, attributes):
        """The model in the fitted attributes of a pickled estimator (popped from
        ``attributes``, its ``__dict__``; see :meth:`to_attributes`).

        A pickle from before a code map existed gets the map's parameter set to
        False (it was fitted without it); one from before a loss term existed gets
        NaN for each of its epochs in ``history_``, as model files do.
        """
        model = cls.__new__(cls)
        for name, private in _PICKLED.items():
            setattr(model, name, attributes.pop(private, None))
        for name in (*_custom.PARTS, *_RECORD, "device"):
            setattr(model, name, attributes.pop(f"{name}_", None))
        maps = []
        for code_map in _scaling.CODE_MAPS:
            key = f"_{code_map.name}"
            if key not in attributes:  # pickled before the map existed: fitted without it
                attributes.setdefault(code_map.parameter, False)
            if (fitted := attributes.pop(key, None)) is not None:
                maps.append(fitted)
        model.code_maps = tuple(maps)
        if isinstance(model.history, dict):
            epochs = len(model.loss_curve or ())
            model.history = _objective.with_unrecorded_terms(model.history, epochs)
        model.scaling = Scaling(attributes.pop("mean_"), attributes.pop("scale_"))
        attributes.pop("image_shape_", None)
        return model


# The training record, kept under these names in state dicts.
_RECORD = (
    "n_iter",
    "loss_curve",
    "history",
    "best_loss",
    "validation_scores",
    "best_validation_score",
)
# Fields that pickles keep under the estimator's private names.
_PICKLED = {
    "spec": "_network_spec",
    "generator_state": "_generator_state",
    "optimizer_states": "_optimizer_states",
}


def new_model(plan, params, X, weights, rng, device):
    """A fresh model for the training data X as the fit ``plan`` says: seeded networks
    on ``device`` (skacai's, and the user's where ``params`` give them), the input
    scaling fitted to X (rows weighted by ``weights``), a new generator.

    Raises ValueError for an impossible geometry and MemoryError for networks that
    do not fit, before anything is allocated; ValueError where the user's networks
    give outputs of the wrong shape on X's first rows.
    """
    spec, own = plan.spec, tuple(params[part] for part in _custom.PARTS)
    one_d = params["image_shape"] is None  # rows read as 1-D signals: messages say so
    networks = _seeded_networks(spec, own, X.shape[0], rng, device, one_d)
    fitted = Scaling(*_scaling.statistics(X, plan.scaling, weights))
    if not all(spec.builtin):
        rows = X[:2].toarray() if sparse.issparse(X) else X[:2]
        first = fitted.forward(rows, params["scaling"])
        _custom.check_outputs(networks, torch.from_numpy(first).to(device), spec)
    return FittedModel(
        spec,
        *networks,
        scaling=fitted,
        device=str(device),
        generator_state=_device.new_generator_state(rng, device),
        history={name: [] for name in _objective.HISTORY_KEYS},
    )


def _seeded_networks(spec, own, n_samples, rng, device, one_d):
    """The seeded networks on ``device``: skacai's own and the user's (``_custom``)."""
    init_generator = torch.Generator().manual_seed(_device.draw_seed(rng))
    users = [None, None, None]
    if not all(spec.builtin):
        seed = int(torch.randint(2**62, (), generator=init_generator))
        shapes = {
            "n_features": spec.n_features,
            "n_components": spec.n_components,
            "image_shape": spec.image_shape,
        }
        for i, (part, value) in enumerate(zip(_custom.PARTS, own, strict=True)):
            if value is not None:
                users[i] = _custom.build(part, value, shapes, seed + i)
    try:
        _device.check_network_memory(spec, n_samples, device, users)
        built = build_networks(spec, init_generator, device)
    except ValueError as error:
        if one_d and spec.image_shape is not None:
            raise ValueError(
                f"{error} image_shape=None reads each row as a 1-D signal; for "
                "images pass image_shape=(channels, height, width)."
            ) from None
        raise
    networks = Networks(
        *(b if o is None else o.to(device) for b, o in zip(built, users, strict=True))
    )
    if not networks.autoencoder_parameters():
        raise ValueError(
            "The encoder and decoder have no parameters to train: give at least one "
            "of them weights."
        )
    return networks
