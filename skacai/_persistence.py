"""A model file format that loads without running code: safetensors plus JSON.

``ACAITransformer.save`` writes one `safetensors <https://huggingface.co/docs/safetensors>`_
file. Its tensors are the three networks' weights, the two Adam optimisers'
state, the input scaling and the training generator's state; its header's
metadata holds a JSON description of everything else (parameters, fitted
attributes, the networks' layout, the versions that wrote it) and a SHA-256
digest over that description and the tensor bytes.

Reading it parses a length-prefixed JSON header and raw little-endian arrays,
nothing else: no pickle, so a file cannot run code, whoever wrote it. The
digest turns a truncated or corrupted file into a clear error instead of a
model with wrong weights. (It is a checksum, not a signature: it does not
prove who wrote the file.) Writes go to a temporary file in the target's
folder that replaces the target only once complete, so a crash mid-save never
leaves a half-written model behind.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import safetensors
import torch
from safetensors.torch import load as _load_tensors

from skacai import _custom, _model_file, _objective, _plan, _scaling
from skacai._model import FittedModel
from skacai._model_file import FORMAT, FORMAT_VERSION
from skacai._networks import (
    ARCHITECTURES,
    NETWORK_ATTRIBUTES,
    Networks,
    NetworkSpec,
    meta_networks,
)
from skacai._validation import is_int, user_stacklevel
from skacai._versions import versions, warn_version_mismatch
from skacai.exceptions import ModelFileError

# Fitted attributes stored in the JSON description (the rest are tensors or rebuilt),
# by their names in files (the estimator's) and in a FittedModel's state dict.
_JSON_ATTRIBUTES = {
    "n_features_in_": None,
    "n_iter_": "n_iter",
    "loss_curve_": "loss_curve",
    "history_": "history",
    "best_loss_": "best_loss",
    "validation_scores_": "validation_scores",
    "best_validation_score_": "best_validation_score",
}


@dataclass(frozen=True)
class SavedModel:
    """What a model file holds: the estimator's class name, parameters and output
    configuration, and, fitted, its :class:`~skacai._model.FittedModel` and the
    names of the features it was fitted on (None where X had none)."""

    class_name: str
    params: dict
    output_config: dict | None = None
    model: FittedModel | None = None
    feature_names: np.ndarray | None = None
    where: str = ""


# ------------------------------------------------------------------ saving


def save(path, saved):
    """Write ``saved`` (a :class:`SavedModel`) to ``path`` atomically; see
    ``ACAITransformer.save``."""
    description, tensors = _describe(saved)
    metadata = _model_file.metadata(description, tensors)
    _model_file.atomic_write(
        Path(path),
        lambda temporary: _model_file.write_file(temporary, tensors, metadata),
        "model file",
    )


def _describe(saved):
    """The description and tensors of a :class:`SavedModel` (or of an object that
    gives one, through ``__skacai_saved__``: the estimator)."""
    if not isinstance(saved, SavedModel):
        saved = saved.__skacai_saved__()
    model = saved.model
    if model is not None:  # a file describes one consistent model
        _plan.check_same_networks(saved.params, model.spec, "save")
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": saved.class_name,
        "versions": versions(),
        "params": {name: _encode_param(name, value) for name, value in saved.params.items()},
        "fitted": model is not None,
    }
    if saved.output_config is not None:
        description["output_config"] = dict(saved.output_config)
    tensors = {}
    if model is None:
        return description, tensors
    fitted = model.state_dict()
    state = {
        name: _plain(model.spec.n_features if key is None else fitted[key])
        for name, key in _JSON_ATTRIBUTES.items()
    }
    state["history_keys"] = list(fitted["history"])
    if saved.feature_names is not None:
        state["feature_names_in_"] = [str(name) for name in saved.feature_names]
    state["network_spec"] = _plain(asdict(model.spec))
    stored = set()  # storages already in the file: tied weights are stored once each
    for name, part in zip(NETWORK_ATTRIBUTES, _custom.PARTS, strict=True):
        for key, tensor in fitted["networks"][part].items():
            if tensor.dtype not in SAFETENSORS_DTYPES:
                raise TypeError(
                    f"save() cannot store {name}'s tensor {key!r} of dtype {tensor.dtype}: "
                    f"model files hold {', '.join(map(str, SAFETENSORS_DTYPES))}. Keep such "
                    "state out of the module's state_dict, or persist the model with joblib."
                )
            tensors[f"{name}.{key}"] = _unshared(tensor, stored)
    tensors["mean_"] = torch.from_numpy(np.asarray(fitted["mean"], dtype=np.float64))
    tensors["scale_"] = torch.from_numpy(np.asarray(fitted["scale"], dtype=np.float64))
    state |= {m.flag: m.name in fitted["code_maps"] for m in _scaling.CODE_MAPS}
    for arrays in fitted["code_maps"].values():
        tensors |= {key: torch.from_numpy(array) for key, array in arrays.items()}
    state["optimizers"] = None
    if fitted["optimizer_states"] is not None:
        state["optimizers"] = [
            _describe_optimizer(f"optimizer{i}", optimizer_state, tensors)
            for i, optimizer_state in enumerate(fitted["optimizer_states"])
        ]
    generator_device, generator_state = fitted["generator_state"]
    state["generator_device"] = generator_device
    tensors["generator_state"] = generator_state
    description["state"] = state
    tensors = {key: tensor.detach().to("cpu").contiguous() for key, tensor in tensors.items()}
    return description, tensors


def _unshared(tensor, stored):
    """``tensor``, or a contiguous copy where it shares its storage with a tensor already
    ``stored`` (tied weights: safetensors refuses shared memory) or is not contiguous.
    ``load_state_dict`` copies each back into the one tied parameter."""
    pointer = tensor.untyped_storage().data_ptr()
    if pointer in stored or not tensor.is_contiguous():
        return tensor.clone(memory_format=torch.contiguous_format)
    if tensor.numel():
        stored.add(pointer)
    return tensor


def _describe_optimizer(prefix, optimizer_state, tensors):
    """JSON for an optimiser's state dict, moving its tensors into ``tensors``."""
    per_parameter = {}
    for parameter_id, values in optimizer_state["state"].items():
        entry = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{parameter_id}.{key}"] = value
                entry[key] = {"tensor": f"{prefix}.{parameter_id}.{key}"}
            else:
                entry[key] = {"value": _plain(value)}
        per_parameter[str(parameter_id)] = entry
    return {"state": per_parameter, "param_groups": _plain(optimizer_state["param_groups"])}


def _encode_param(name, value):
    """JSON for a constructor parameter, keeping tuples and RandomState instances
    (and describing the user's networks, which ``load`` is given again)."""
    if name in _custom.PARTS and value is not None:
        return {"__network__": _custom.describe(value)}
    if isinstance(value, np.random.RandomState):
        kind, keys, position, has_gauss, cached = value.get_state()
        return {"__random_state__": [kind, keys.tolist(), int(position), int(has_gauss), cached]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_param(name, v) for v in value]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, list):
        return [_encode_param(name, v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"save() cannot record parameter {name}={value!r} (a {type(value).__name__}): the "
        "safe format stores numbers, strings, None, tuples, lists, numeric arrays and "
        "RandomState instances. Set a plain value, or persist this model with joblib instead."
    )


def _plain(value):
    """Python containers and scalars for JSON (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


# ----------------------------------------------------------------- loading
#
# Reading checks before it spends: the header (at most _MAX_HEADER_BYTES, never more
# than the file holds) is read and parsed first; the description is then checked
# against the header's table of tensors (every name, shape and dtype the networks,
# scaling, optimisers and generator need, and nothing else) before the tensor data
# are read and before any network is allocated. A forged or foreign file therefore
# costs at most its own size to refuse, whatever it claims.


def load(path, class_name, own=(None, None, None), validate=None):
    """Read a model written by ``save`` as a :class:`SavedModel`; see
    ``ACAITransformer.load``. ``own``: the encoder, decoder and critic parameters
    given to ``load`` (the user's networks); ``validate(params)``: raises where the
    parameters are not valid ones (``ModelFileError`` then)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No skacai model file at {str(path)!r}.")
    where = f"{str(path)!r}"
    description, tensors, spec, modules = read(class_name, path, own)
    return _rebuild(description, tensors, spec, where, own, modules, validate)


def read(class_name, path, own=(None, None, None)):
    """A checked model file's description, tensors, ``NetworkSpec`` (None unfitted) and
    the user's networks ``own`` built for it (None for skacai's own, or unfitted)."""
    where = f"{str(path)!r}"
    class_name = getattr(class_name, "__name__", class_name)  # a class, or its name
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        header = _model_file.read_header(file, size, where)
        description_json, digest, table = _model_file.parse_header(header, where)
        description = _model_file.parse_description(description_json, where)
        spec, modules = _check_layout(class_name, description, table, where, own, size)
        file.seek(0)
        data = file.read(size)
    try:
        tensors = _load_tensors(data)
    except (ValueError, safetensors.SafetensorError) as error:
        raise ModelFileError(f"{where} is damaged: {error}") from None
    del data
    if _model_file.digest(description_json, tensors) != digest:
        raise ModelFileError(
            f"{where} is corrupted or was modified after it was saved (checksum mismatch); "
            "save the model again from its source."
        )
    return description, tensors, spec, modules


def _invalid(where, what):
    return ModelFileError(f"{where} has an invalid model description: {what}.")


def _check_layout(class_name, description, table, where, own, size):
    """Check the description against the tensor table before reading or allocating.

    Every tensor the model needs must be in the table with the right shape and
    dtype, and no other tensor may be there. Counts that set how much would be
    built (layers, scales) are bounded by the number of tensors first, so that
    even building the networks' shapes costs no more than the file's size.
    The user's networks ``own`` must be those the file was saved with; they
    are built (for the file's shapes, bounded by its size) to know their
    tensors. Returns the checked ``NetworkSpec`` (None for an unfitted model)
    and the user's networks (None for skacai's own parts).
    """
    if description.get("class") != class_name:
        raise ModelFileError(f"{where} holds a {description.get('class')!r}, not a {class_name}.")
    fitted = description.get("fitted")
    if not isinstance(fitted, bool):
        raise _invalid(where, f"'fitted' is {fitted!r}, not true or false")
    saved = _saved_networks(description, where)
    _custom.check_given(saved, own, where)
    expected, spec, modules = {}, None, (None, None, None)
    if fitted:
        state = description.get("state")
        if not isinstance(state, dict):
            raise _invalid(where, "a fitted model without its fitted state")
        spec = _network_spec(state.get("network_spec"), table, where)
        if spec.custom != saved:
            raise _invalid(where, "its networks are not those its parameters describe")
        for name in ("mean_", "scale_"):  # the width, before the user's networks are built
            if name in table and tuple(table[name][1]) != (spec.n_features,):
                raise _invalid(
                    where,
                    f"it names {spec.n_features} features, but its tensor {name!r} holds "
                    f"{list(table[name][1])} values",
                )
        modules = _custom.build_for_file(spec, own, size, where)
        _check_own_tensors(modules, table, where)
        expected = _expected_tensors(spec, state, where, modules)
    missing = sorted(set(expected) - set(table))
    extra = sorted(set(table) - set(expected))
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"lacks {len(missing)} tensor(s) it needs ({_some(missing)})")
        if extra:
            problems.append(f"holds {len(extra)} tensor(s) no part of it uses ({_some(extra)})")
        raise _invalid(where, "the file " + " and ".join(problems))
    for name, (dtypes, shape) in expected.items():
        dtype, found = table[name]
        if dtype not in dtypes or (found != shape if shape is not None else len(found) != 1):
            needed = "a 1-D tensor" if shape is None else f"shape {list(shape)}"
            raise _invalid(
                where,
                f"tensor {name!r} is {dtype} of shape {list(found)}, but the description "
                f"needs {' or '.join(sorted(dtypes))} of {needed}",
            )
    return spec, modules


def _check_own_tensors(modules, table, where):
    """ValueError where the user's networks given to ``load`` hold other tensors than
    the file has for them (e.g. their class changed since the model was saved)."""
    for part, name, module in zip(_custom.PARTS, NETWORK_ATTRIBUTES, modules, strict=True):
        if module is None:
            continue
        built = {key: tuple(t.shape) for key, t in module.state_dict().items()}
        stored = {k[len(name) + 1 :]: v[1] for k, v in table.items() if k.startswith(f"{name}.")}
        differ = sorted(
            key for key in built.keys() | stored.keys() if built.get(key) != stored.get(key)
        )
        if differ:
            shown = "; ".join(
                f"{key}: {_shape_text(built.get(key))} built, {_shape_text(stored.get(key))} "
                "in the file"
                for key in differ[:3]
            )
            raise ValueError(
                f"The {part} given to load() builds other tensors than the model in {where} "
                f"holds for it ({shown}{'; ...' if len(differ) > 3 else ''}); pass the "
                f"{part} the model was saved with, unchanged."
            )


def _shape_text(shape):
    return "none" if shape is None else str(list(shape))


def _saved_networks(description, where):
    """The descriptions of the user's networks in the file's parameters (None: skacai's)."""
    params = description.get("params")
    params = params if isinstance(params, dict) else {}
    saved = []
    for part in _custom.PARTS:
        value = params.get(part)
        value = value.get("__network__", value) if isinstance(value, dict) else value
        if value is not None and not _custom.is_description(value):
            raise _invalid(where, f"its {part} parameter is not a network description")
        saved.append(value)
    return tuple(saved)


def _some(names, limit=3):
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


_SPEC_INTS = ("n_features", "n_components", "conv_width", "n_scales")


def _network_spec(saved, table, where):
    """A ``NetworkSpec`` from the description, every field checked and every count bounded."""
    fields = {field.name for field in NetworkSpec.__dataclass_fields__.values()}
    if not isinstance(saved, dict) or not set(saved) <= fields:
        raise _invalid(where, "the network description is not a skacai network spec")
    spec = dict(saved)
    if not isinstance(spec.get("architecture"), str) or spec["architecture"] not in ARCHITECTURES:
        raise _invalid(where, f"unknown architecture {spec.get('architecture')!r}")
    spec["custom"] = _custom_field(spec.get("custom", [None, None, None]), where)
    own_parts = tuple(
        f"{name}." for name, d in zip(NETWORK_ATTRIBUTES, spec["custom"], strict=True) if not d
    )
    n_tensors = sum(name.startswith(own_parts) for name in table) if own_parts else 2**63
    for name in _SPEC_INTS:
        value = spec.get(name, NetworkSpec.__dataclass_fields__[name].default)
        low = 0 if name == "n_scales" else 1
        if not is_int(value) or not low <= value <= 2**31:
            raise _invalid(where, f"network {name} {value!r} is not an int from {low} to 2**31")
    hidden = spec.get("hidden_layer_sizes", ())
    if not isinstance(hidden, list | tuple) or not all(
        is_int(n) and 1 <= n <= 2**31 for n in hidden
    ):
        raise _invalid(where, "the network's hidden layer sizes are not positive ints")
    spec["hidden_layer_sizes"] = tuple(hidden)
    # Each layer (and each scale) has weights in the file: a description that claims
    # more than the file holds is refused before anything is built.
    architecture = ARCHITECTURES[spec["architecture"]]
    depth = architecture.depth(spec)
    if depth >= n_tensors:
        raise _invalid(
            where,
            f"its network has {depth} {architecture.depth_name} but the file holds only "
            f"{n_tensors} "
            "tensors of its networks",
        )
    spec["image_shape"] = _image_shape_field(spec, where)
    for name in ("pad_center", "loss_on_padding"):
        if not isinstance(spec.get(name, False), bool):
            raise _invalid(where, f"network {name} is not true or false")
    pad_value = spec.get("pad_value", 0.0)
    if (
        not isinstance(pad_value, int | float)
        or isinstance(pad_value, bool)
        or not math.isfinite(pad_value)
    ):
        raise _invalid(where, f"network pad_value {pad_value!r} is not a finite number")
    try:
        return NetworkSpec(**spec)
    except (TypeError, ValueError) as error:
        raise _invalid(where, str(error)) from None


def _image_shape_field(spec, where):
    """The spec's image shape, checked against its features and architecture."""
    shape = spec.get("image_shape")
    if shape is None:
        if ARCHITECTURES[spec["architecture"]].images:
            raise _invalid(where, "a conv network without its image shape")
        return None
    if (
        not isinstance(shape, list | tuple)
        or len(shape) != 3
        or not all(is_int(n) and 1 <= n <= 2**31 for n in shape)
        or math.prod(shape) != spec["n_features"]
    ):
        raise _invalid(
            where,
            f"image shape {shape!r} is not 3 positive ints whose product is the "
            f"{spec['n_features']} features",
        )
    return tuple(shape)


def _custom_field(custom, where):
    """The spec's descriptions of the user's networks, checked."""
    if not (
        isinstance(custom, list)
        and len(custom) == 3
        and all(d is None or _custom.is_description(d) for d in custom)
    ):
        raise _invalid(where, "the description of the user's networks is malformed")
    return tuple(custom)


# The tensor dtypes a model file holds, by their safetensors names.
SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.bfloat16: "BF16",
    torch.float16: "F16",
    torch.uint8: "U8",
    torch.int64: "I64",
}


def _expected_tensors(spec, state, where, modules):
    """name -> (allowed dtypes or None, shape) of every tensor a fitted model needs
    (``modules``: the user's networks, None for skacai's own)."""
    try:
        networks = meta_networks(spec)
    except (ValueError, RuntimeError) as error:
        raise _invalid(where, f"its networks cannot be built ({error})") from None
    networks = tuple(m if n is None else n for n, m in zip(networks, modules, strict=True))
    expected = {}
    for name, module in zip(NETWORK_ATTRIBUTES, networks, strict=True):
        for key, tensor in module.state_dict().items():
            dtype = SAFETENSORS_DTYPES.get(tensor.dtype, str(tensor.dtype))
            expected[f"{name}.{key}"] = ({dtype}, tuple(tensor.shape))
    for name in ("mean_", "scale_"):
        expected[name] = ({"F64"}, (spec.n_features,))
    for code_map in _scaling.CODE_MAPS:  # files from before a code map have no flag: without it
        if not isinstance(state.get(code_map.flag, False), bool):
            raise _invalid(where, f"its {code_map.flag!r} field is not true or false")
        for name, shape in code_map.shapes(spec.n_components) if state.get(code_map.flag) else ():
            expected[name] = ({"F64"}, shape)
    generator_device = state.get("generator_device")
    if not isinstance(generator_device, str):
        raise _invalid(where, "the generator's device is not a string")
    generator_size = torch.Generator().get_state().numel()
    # A CUDA generator's state is shorter; it is turned into a CPU seed on load.
    expected["generator_state"] = (
        {"U8"},
        (generator_size,)
        if torch.device(_device(generator_device, where)).type == "cpu"
        else None,
    )
    optimizers = state.get("optimizers")
    if optimizers is not None:
        networks = Networks(*networks)
        groups = [networks.autoencoder_parameters(), networks.critic_parameters()]
        if not isinstance(optimizers, list) or len(optimizers) != len(groups):
            raise _invalid(where, "the optimiser states are not a list of two")
        for index, (saved, parameters) in enumerate(zip(optimizers, groups, strict=True)):
            expected.update(_optimizer_tensors(index, saved, parameters, where))
    return expected


def _device(text, where):
    try:
        return torch.device(text)
    except (RuntimeError, ValueError):
        raise _invalid(where, f"{text!r} is not a torch device") from None


_ADAM_TENSORS = {"step": (), "exp_avg": None, "exp_avg_sq": None, "max_exp_avg_sq": None}


def _optimizer_tensors(index, saved, parameters, where):
    """The tensors an Adam state names, with the shapes of the parameters they belong to."""
    per_parameter = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(per_parameter, dict) or not isinstance(saved.get("param_groups"), list):
        raise _invalid(where, f"optimiser {index}'s state is not an Adam state dict")
    expected = {}
    for parameter_id, entry in per_parameter.items():
        if not (parameter_id.isdigit() and int(parameter_id) < len(parameters)):
            raise _invalid(
                where,
                f"optimiser {index} has state for parameter {parameter_id!r}, but its "
                f"networks have {len(parameters)} parameters",
            )
        if not isinstance(entry, dict) or not set(entry) <= set(_ADAM_TENSORS):
            raise _invalid(
                where, f"optimiser {index}'s state for parameter {parameter_id} is not Adam's"
            )
        for key, stored in entry.items():
            if not isinstance(stored, dict) or len(stored) != 1:
                raise _invalid(where, f"optimiser {index} entry {parameter_id}.{key} is malformed")
            if "value" in stored:
                if key != "step" or not isinstance(stored["value"], int | float):
                    raise _invalid(
                        where, f"optimiser {index} entry {parameter_id}.{key} is malformed"
                    )
                continue
            name = f"optimizer{index}.{parameter_id}.{key}"
            if stored.get("tensor") != name:
                raise _invalid(where, f"optimiser {index} entry {parameter_id}.{key} is malformed")
            shape, dtype = _ADAM_TENSORS[key], "F32"
            if shape is None:  # a moment: the shape and dtype of its parameter
                parameter = parameters[int(parameter_id)]
                shape = tuple(parameter.shape)
                dtype = SAFETENSORS_DTYPES.get(parameter.dtype, str(parameter.dtype))
            expected[name] = ({dtype}, shape)
    return expected


def _rebuild(description, tensors, spec, where, own, modules, validate):
    recorded = _versions(description.get("versions"))
    warn_version_mismatch(f"The model in {where}", recorded, stacklevel=user_stacklevel())
    with invalid_description(where):
        params = description["params"]
        if not isinstance(params, dict):
            raise TypeError("the parameters are not a JSON object")
        params = {name: _decode_param(value) for name, value in params.items()}
        params.update({part: value for part, value in zip(_custom.PARTS, own, strict=True)})
        # A file from before a code map was fitted without it.
        params |= {m.parameter: params.get(m.parameter, False) for m in _scaling.CODE_MAPS}
        if validate is not None:
            validate(params)
        saved = SavedModel(description["class"], params, description.get("output_config"))
        if description["fitted"]:
            state = description["state"]
            model = _restore_fitted_state(params, state, tensors, spec, where, modules)
            names = state.get("feature_names_in_")
            names = None if names is None else np.asarray(names, dtype=object)
            saved = replace(saved, model=model, feature_names=names)
    return replace(saved, where=where)


# What a description's malformed values raise while a model is built from them.
_DESCRIPTION_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, AttributeError)
_DESCRIPTION_ERRORS += (IndexError, OverflowError, ZeroDivisionError, RecursionError)


@contextmanager
def invalid_description(where):
    """Turn what a description's values raise in the block into ``ModelFileError``."""
    try:
        yield
    except ModelFileError:
        raise
    except _DESCRIPTION_ERRORS as error:
        raise ModelFileError(
            f"{where} has an invalid model description "
            f"({type(error).__name__}: {printable(str(error))})."
        ) from None


def printable(text):
    """``text`` with unprintable characters escaped (``\\x1b``): it may quote a file's
    content, which must not reach a terminal as control sequences."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _versions(recorded):
    """The recorded versions, as printable strings (they reach warnings on a terminal)."""
    if not isinstance(recorded, dict):
        return {}
    return {printable(str(name)): printable(str(value)) for name, value in recorded.items()}


def _decode_param(value):
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        return tuple(_decode_param(v) for v in value["__tuple__"])
    if isinstance(value, dict) and set(value) == {"__array__", "dtype"}:
        return np.asarray(value["__array__"], dtype=_model_file.array_dtype(value["dtype"]))
    if isinstance(value, dict) and set(value) == {"__random_state__"}:
        kind, keys, position, has_gauss, cached = value["__random_state__"]
        random_state = np.random.RandomState()
        random_state.set_state(
            (kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached)
        )
        return random_state
    if isinstance(value, list):
        return [_decode_param(v) for v in value]
    return value


def _numbers(value, what, *, optional=False):
    """``value`` if it is a list of real numbers (JSON ints or floats), else TypeError."""
    if optional and value is None:
        return value
    if not isinstance(value, list) or not all(_is_real(v) for v in value):
        raise TypeError(f"{what} is not a list of numbers")
    return value


def _is_real(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_fitted_state(state, spec, where):
    """The JSON fitted attributes, each of the type and length the model implies;
    returns the history with every key the objective has (``recorded_history``)."""
    if not set(_JSON_ATTRIBUTES) <= set(state):
        missing = sorted(set(_JSON_ATTRIBUTES) - set(state))
        raise _invalid(where, f"the fitted state lacks {', '.join(missing)}")
    n_features = state["n_features_in_"]
    if n_features != spec.n_features or not is_int(n_features):
        raise _invalid(
            where,
            f"n_features_in_ is {n_features!r} but the networks read {spec.n_features} features",
        )
    n_iter = state["n_iter_"]
    if not is_int(n_iter) or n_iter < 0:
        raise _invalid(where, f"n_iter_ is {n_iter!r}, not a count of epochs")
    try:  # the file's history, with the terms added since it was written
        history = _objective.recorded_history(state["history_"], state.get("history_keys"), n_iter)
        curves = {"loss_curve_": _numbers(state["loss_curve_"], "loss_curve_")}
        curves |= {f"history_[{k!r}]": _numbers(v, f"history_[{k!r}]") for k, v in history.items()}
        _numbers(state["validation_scores_"], "validation_scores_", optional=True)
    except (TypeError, ValueError) as error:
        raise _invalid(where, str(error)) from None
    lengths = {name: len(curve) for name, curve in curves.items()}
    if set(lengths.values()) != {n_iter}:
        raise _invalid(where, f"n_iter_ is {n_iter} but the curves hold {lengths} epochs")
    for name in ("best_loss_", "best_validation_score_"):
        if state[name] is not None and not _is_real(state[name]):
            raise _invalid(where, f"{name} is {state[name]!r}, not a number")
    names = state.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != spec.n_features
        or not all(isinstance(n, str) for n in names)
    ):
        raise _invalid(where, f"feature_names_in_ is not {spec.n_features} strings")
    return history


def _code_maps(state, tensors, where):
    """The saved code maps (those whose flag is true) as ``_scaling.code_maps_state``,
    checked by building them (``code_maps_from_state``)."""
    on = [code_map for code_map in _scaling.CODE_MAPS if state.get(code_map.flag)]
    saved = {m.name: {n: tensors[n].numpy() for n, _ in m.shapes(0)} for m in on}
    try:
        _scaling.code_maps_from_state(saved)
    except ValueError as error:
        raise _invalid(where, str(error)) from None
    return saved


def _restore_fitted_state(params, state, tensors, spec, where, modules):
    """The checked :class:`~skacai._model.FittedModel` a file's fitted state describes."""
    history = _check_fitted_state(state, spec, where)
    mean, scale = tensors["mean_"].numpy(), tensors["scale_"].numpy()
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale >= 0).all()):
        raise _invalid(where, "the saved scaling holds non-finite or negative values")
    device, generator_state = state["generator_device"], tensors["generator_state"]
    if torch.device(device).type == "cpu":
        try:
            torch.Generator().set_state(generator_state)
        except RuntimeError:
            raise _invalid(where, "the generator's state is not a torch CPU generator's") from None
    fitted = {
        "spec": spec,
        # The names and shapes were checked against the description before reading.
        "networks": {
            part: {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
            for name, part in zip(NETWORK_ATTRIBUTES, _custom.PARTS, strict=True)
        },
        "mean": mean,
        "scale": scale,
        "code_maps": _code_maps(state, tensors, where),
        "optimizer_states": None,
        "generator_state": (device, generator_state),
        **{key: state[name] for name, key in _JSON_ATTRIBUTES.items() if key is not None},
        "history": history,
    }
    model = FittedModel.from_state_dict(fitted, modules)
    for check in (
        lambda: _plan.check_same_networks(params, spec, "loading"),
        lambda: _plan.check_padding(params, state["network_spec"]),
    ):
        try:
            check()
        except ValueError as error:
            raise _invalid(where, str(error)) from None
    if state["optimizers"] is not None:
        parameters = [model.networks.autoencoder_parameters(), model.networks.critic_parameters()]
        model.optimizer_states = tuple(
            _rebuild_optimizer(saved, tensors, group, where)
            for saved, group in zip(state["optimizers"], parameters, strict=True)
        )
    return model


_ADAM_GROUP = {
    "lr": (int, float),
    "betas": list,
    "eps": (int, float),
    "weight_decay": (int, float),
    "params": list,
}


def _rebuild_optimizer(saved, tensors, parameters, where):
    param_groups = []
    for group in saved["param_groups"]:
        if not isinstance(group, dict) or any(
            not isinstance(group.get(key), kind) for key, kind in _ADAM_GROUP.items()
        ):
            raise _invalid(where, "an optimiser's parameter group is not Adam's")
        if sorted(group["params"]) != list(range(len(parameters))):
            raise _invalid(
                where,
                f"an optimiser's parameter group does not list its {len(parameters)} parameters",
            )
        group = dict(group)
        group["betas"] = tuple(group["betas"])
        param_groups.append(group)
    if len(param_groups) != 1:
        raise _invalid(where, "an optimiser has other than one parameter group")
    state = {}
    for parameter_id, entry in saved["state"].items():
        values = {}
        for key, stored in entry.items():
            values[key] = tensors[stored["tensor"]] if "tensor" in stored else stored["value"]
        state[int(parameter_id)] = values
    return {"state": state, "param_groups": param_groups}
