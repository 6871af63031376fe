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

import hashlib
import json
import os
import platform
import struct
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import safetensors
import sklearn
import torch
from safetensors.torch import load as _load_tensors
from safetensors.torch import save as _save_tensors
from safetensors.torch import save_file as _save_file

from skacai._networks import NetworkSpec, build_networks
from skacai._training import Networks
from skacai._version import __version__
from skacai.exceptions import ModelFileError, VersionMismatchWarning

FORMAT = "skacai-model"
FORMAT_VERSION = 1
_NETWORKS = ("encoder_", "decoder_", "critic_")
# Fitted attributes stored in the JSON description (the rest are tensors or rebuilt).
_JSON_ATTRIBUTES = (
    "n_features_in_",
    "n_iter_",
    "loss_curve_",
    "history_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)
# The safetensors header length is a little-endian u64; refuse absurd headers
# before reading them.
_MAX_HEADER_BYTES = 100 * 2**20


def versions():
    """The library versions a model file records."""
    return {
        "skacai": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


# Versions whose difference is worth a warning: the ones that compute the model.
_CHECKED_VERSIONS = ("skacai", "torch", "scikit-learn")


def version_mismatches(recorded):
    """``"name recorded -> current"`` for each checked library whose version differs."""
    current = versions()
    return [
        f"{name} {recorded[name]} -> {current[name]}"
        for name in _CHECKED_VERSIONS
        if name in recorded and recorded[name] != current[name]
    ]


def warn_version_mismatch(what, recorded, *, stacklevel):
    mismatches = version_mismatches(recorded)
    if mismatches:
        warnings.warn(
            f"{what} was saved with different library versions ({', '.join(mismatches)}). "
            "It loaded, but its outputs may differ slightly; refit or save it again with "
            "these versions to silence this warning.",
            VersionMismatchWarning,
            stacklevel=stacklevel + 1,
        )


# ------------------------------------------------------------------ saving


def save(estimator, path):
    """Write ``estimator`` to ``path`` atomically; see ``ACAITransformer.save``."""
    description, tensors = _describe(estimator)
    metadata = _metadata(description, tensors)
    _atomic_write(Path(path), lambda temporary: _write_file(temporary, tensors, metadata))


def _describe(estimator):
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "versions": versions(),
        "params": {
            name: _encode_param(name, value)
            for name, value in estimator.get_params(deep=False).items()
        },
        "fitted": hasattr(estimator, "encoder_"),
    }
    if hasattr(estimator, "_sklearn_output_config"):
        description["output_config"] = dict(estimator._sklearn_output_config)
    tensors = {}
    if not description["fitted"]:
        return description, tensors
    state = {name: _plain(getattr(estimator, name)) for name in _JSON_ATTRIBUTES}
    if hasattr(estimator, "feature_names_in_"):
        state["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    state["network_spec"] = _plain(asdict(estimator._network_spec))
    for name in _NETWORKS:
        for key, tensor in getattr(estimator, name).state_dict().items():
            tensors[f"{name}.{key}"] = tensor
    tensors["mean_"] = torch.from_numpy(np.asarray(estimator.mean_, dtype=np.float64))
    tensors["scale_"] = torch.from_numpy(np.asarray(estimator.scale_, dtype=np.float64))
    state["optimizers"] = None
    if estimator._optimizer_states is not None:
        state["optimizers"] = [
            _describe_optimizer(f"optimizer{i}", optimizer_state, tensors)
            for i, optimizer_state in enumerate(estimator._optimizer_states)
        ]
    generator_device, generator_state = estimator._generator_state
    state["generator_device"] = generator_device
    tensors["generator_state"] = generator_state
    description["state"] = state
    tensors = {key: tensor.detach().to("cpu").contiguous() for key, tensor in tensors.items()}
    return description, tensors


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
    """JSON for a constructor parameter, keeping tuples and RandomState instances."""
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


def _digest(description_json, tensors):
    """SHA-256 over the description and every tensor's name, dtype, shape and bytes.

    Computed from the tensors rather than from the file's layout, so it is
    known before serialising (and stored in the header) and can be checked
    on the tensors that were read.
    """
    digest = hashlib.sha256(description_json.encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _metadata(description, tensors):
    """The safetensors header's metadata: marker, description and checksum."""
    description_json = json.dumps(description, sort_keys=True)
    return {
        "format": FORMAT,
        "skacai": description_json,
        "sha256": _digest(description_json, tensors),
    }


def _serialize(description, tensors):
    """The bytes of a model file (``save`` streams them to disk instead)."""
    return _save_tensors(tensors, metadata=_metadata(description, tensors))


def _write_file(path, tensors, metadata):
    _save_file(tensors, path, metadata=metadata)


def _atomic_write(path, write):
    """Call ``write(temporary)`` on a temporary file next to ``path``, then rename it.

    The temporary file is flushed to disk before it atomically replaces
    ``path``, so ``path`` holds either its previous content or the complete new
    file, whenever the process stops.
    """
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(folder)!r} does not exist."
        )
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        write(temporary)
        _sync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def _sync_file(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder):
    """Make the rename durable (POSIX); a no-op where folders cannot be synced."""
    try:
        _sync_file(folder)
    except OSError:
        pass


# ----------------------------------------------------------------- loading


def load(cls, path):
    """Read a model written by ``save``; see ``ACAITransformer.load``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No skacai model file at {str(path)!r}.")
    data = path.read_bytes()
    description, tensors = _parse(data, path)
    return _rebuild(cls, description, tensors, path)


def _looks_like_pickle(data, header_length):
    """Whether ``data`` starts like a pickle (protocol 2 or later) or a zip (joblib, torch).

    A safetensors file starts with its header's length (``header_length``, None
    for a file shorter than 8 bytes), whose first bytes can be these too (one
    file in 256 starts with 0x80), so a file whose header length fits and whose
    header starts as JSON is never taken for a pickle.
    """
    if header_length is not None and header_length <= len(data) - 8 and data[8:9] == b"{":
        return False
    return (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or (
        data[:4] == b"PK\x03\x04"
    )


def _parse(data, path):
    where = f"{str(path)!r}"
    header_length = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else None
    if _looks_like_pickle(data, header_length):
        raise ModelFileError(
            f"{where} is a pickle or joblib file, not a skacai model file. "
            "ACAITransformer.load never unpickles; load it with joblib.load only if you "
            "trust whoever wrote it."
        )
    if header_length is None:
        raise ModelFileError(f"{where} is not a skacai model file: only {len(data)} bytes.")
    if header_length > min(_MAX_HEADER_BYTES, len(data) - 8):
        raise ModelFileError(
            f"{where} is truncated or not a skacai model file: its header claims "
            f"{header_length} bytes but the file holds {len(data)}."
        )
    try:
        header = json.loads(data[8 : 8 + header_length])
        metadata = header.get("__metadata__") or {}
    except (ValueError, AttributeError):
        raise ModelFileError(
            f"{where} is not a skacai model file (its header is not safetensors JSON)."
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"{where} is not a skacai model file (no {FORMAT!r} marker in its header); "
            "write model files with ACAITransformer.save."
        )
    description_json, digest = metadata.get("skacai"), metadata.get("sha256")
    if not isinstance(description_json, str) or not isinstance(digest, str):
        raise ModelFileError(f"{where} is damaged: its description or checksum is missing.")
    try:
        tensors = _load_tensors(data)
    except (ValueError, safetensors.SafetensorError) as error:
        raise ModelFileError(f"{where} is damaged: {error}") from None
    if _digest(description_json, tensors) != digest:
        raise ModelFileError(
            f"{where} is corrupted or was modified after it was saved (checksum mismatch); "
            "save the model again from its source."
        )
    try:
        description = json.loads(description_json)
    except ValueError as error:
        raise ModelFileError(f"{where} is damaged: {error}") from None
    return description, tensors


def _rebuild(cls, description, tensors, path):
    where = f"{str(path)!r}"
    version = description.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} uses model file format {version!r}, newer than the format "
            f"{FORMAT_VERSION} this skacai {__version__} reads; upgrade skacai to load it."
        )
    if description.get("class") != cls.__name__:
        raise ModelFileError(
            f"{where} holds a {description.get('class')!r}, not a {cls.__name__}."
        )
    warn_version_mismatch(f"The model in {where}", description.get("versions", {}), stacklevel=3)
    try:
        params = {name: _decode_param(value) for name, value in description["params"].items()}
        estimator = cls(**params)
        estimator._validate_params()
        if "output_config" in description:
            estimator.set_output(**description["output_config"])
        if description["fitted"]:
            _restore_fitted_state(estimator, description["state"], tensors)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise ModelFileError(
            f"{where} has an invalid model description ({type(error).__name__}: {error})."
        ) from None
    return estimator


def _decode_param(value):
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        return tuple(_decode_param(v) for v in value["__tuple__"])
    if isinstance(value, dict) and set(value) == {"__array__", "dtype"}:
        return np.asarray(value["__array__"], dtype=np.dtype(value["dtype"]))
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


def _restore_fitted_state(estimator, state, tensors):
    spec = state["network_spec"]
    for key in ("hidden_layer_sizes", "image_shape"):
        if spec.get(key) is not None:
            spec[key] = tuple(spec[key])
    spec = NetworkSpec(**spec)
    # Uninitialised: the saved weights overwrite every parameter and buffer.
    networks = build_networks(spec, None, "cpu")
    for name, module in zip(_NETWORKS, networks, strict=True):
        prefix = f"{name}."
        weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(weights, strict=True)
        module.eval()
        setattr(estimator, name, module)
    mean, scale = tensors["mean_"].numpy(), tensors["scale_"].numpy()
    if mean.shape != (spec.n_features,) or scale.shape != (spec.n_features,):
        raise ModelFileError(
            f"The saved scaling has shapes {mean.shape} and {scale.shape}, but the "
            f"networks read {spec.n_features} features."
        )
    estimator.mean_, estimator.scale_ = mean, scale
    for name in _JSON_ATTRIBUTES:
        setattr(estimator, name, state[name])
    if "feature_names_in_" in state:
        estimator.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    estimator.image_shape_ = spec.image_shape  # the networks' shape is the fitted one
    estimator._network_spec = spec
    estimator.device_ = "cpu"
    estimator._optimizer_states = None
    if state["optimizers"] is not None:
        networks = Networks(*networks)
        parameters = [networks.autoencoder_parameters(), networks.critic_parameters()]
        estimator._optimizer_states = tuple(
            _rebuild_optimizer(saved, tensors, params)
            for saved, params in zip(state["optimizers"], parameters, strict=True)
        )
    estimator._generator_state = (state["generator_device"], tensors["generator_state"])


def _rebuild_optimizer(saved, tensors, parameters):
    param_groups = []
    for group in saved["param_groups"]:
        group = dict(group)
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        param_groups.append(group)
    state = {}
    for parameter_id, entry in saved["state"].items():
        values = {}
        for key, stored in entry.items():
            values[key] = tensors[stored["tensor"]] if "tensor" in stored else stored["value"]
        parameter = parameters[int(parameter_id)]
        for key in ("exp_avg", "exp_avg_sq"):
            if key in values and values[key].shape != parameter.shape:
                raise ModelFileError(
                    f"The saved optimiser state {key} of parameter {parameter_id} has shape "
                    f"{tuple(values[key].shape)}, not {tuple(parameter.shape)}."
                )
        state[int(parameter_id)] = values
    return {"state": state, "param_groups": param_groups}
