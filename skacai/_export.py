"""Export: a fitted encoder or decoder, with the input scaling built in, as a file that
runs without skacai (TorchScript, a ``torch.export`` program or ONNX).

The exported graph is a float32, CPU, evaluation-mode copy of the network between the
scaling constants (registered buffers), so it takes raw features and gives the codes
of ``transform`` (the encoder), or takes codes and gives the data in the input's units
of ``inverse_transform`` (the decoder). Its batch dimension is dynamic. Every function
takes the networks and the scaling arrays, never the estimator.
"""

from __future__ import annotations

import copy
import inspect
import io
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from skacai._model_file import atomic_write
from skacai._scaling import divisor, scale_in, scale_out

PARTS = ("encoder", "decoder")
# format -> how messages name it
FORMATS = {"torchscript": "TorchScript", "pt2": "a torch.export program", "onnx": "ONNX"}
# format="auto": the file's suffix (any case) picks the format.
SUFFIX_FORMATS = {
    ".pt": "torchscript",
    ".pth": "torchscript",
    ".torchscript": "torchscript",
    ".pt2": "pt2",
    ".onnx": "onnx",
}
# The graph's input and output names, by part (also the ONNX graph's).
IO_NAMES = {"encoder": ("X", "codes"), "decoder": ("codes", "X_reconstructed")}
# ONNX opset of the exported graphs: run by onnxruntime >= 1.14 and most other runtimes.
ONNX_OPSET = 18
ONNX_HINT = "pip install 'skacai[onnx]'"
# The name of the dynamic batch dimension (a torch.export Dim, the ONNX axis name).
BATCH_AXIS = "n_samples"
EXAMPLE_ROWS = 2


def resolve_format(path, format, *, option="format="):
    """The export format: ``format`` checked, or with ``"auto"`` the one that the
    suffix of ``path`` names (``.pt``, ``.pth``, ``.torchscript``, ``.pt2``, ``.onnx``).

    ``option`` is how the error message names the argument (``"--format "`` for the
    command line, which quotes no values)."""
    if format != "auto":
        if not isinstance(format, str) or format not in FORMATS:
            raise ValueError(f"format must be 'auto', {_options(FORMATS)}; got {format!r}.")
        return format
    suffix = Path(path).suffix
    if suffix.lower() in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix.lower()]
    found = f"the suffix {suffix!r}" if suffix else "a file name without suffix"
    values = _options(FORMATS) if option.endswith("=") else _options(FORMATS, quote=str)
    raise ValueError(
        f"cannot tell the export format from {found} of {str(path)!r}: name the file "
        f".pt (TorchScript), .pt2 (torch.export) or .onnx, or pass {option}{values}."
    )


def check_part(part):
    if not isinstance(part, str) or part not in PARTS:
        raise ValueError(f"part must be {_options(PARTS)}; got {part!r}.")
    return part


def _options(names, quote=repr):
    quoted = [quote(name) for name in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


class ScaledEncoder(nn.Module):
    """``encoder((x - mean) / divisor)``: raw features -> codes."""

    def __init__(self, encoder, mean, divisor):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("divisor", torch.from_numpy(divisor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(scale_in(x, self.mean, self.divisor))


class ScaledDecoder(nn.Module):
    """``decoder(z) * scale + mean``: codes -> data in the input's units."""

    def __init__(self, decoder, mean, scale):
        super().__init__()
        self.decoder = decoder
        self.register_buffer("scale", torch.from_numpy(scale))
        self.register_buffer("mean", torch.from_numpy(mean))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return scale_out(self.decoder(z), self.mean, self.scale)


def scaled_module(network, mean, scale, part, code_maps=()):
    """A float32 CPU copy of ``network`` in evaluation mode, between the scaling
    constants (and the ``code_maps``, :class:`skacai._scaling.CodeMap` instances, on
    the codes' side); ``network`` itself is left as it is (device, mode and weights)."""
    constants = {}
    for name, values in (("mean_", mean), ("scale_", scale)):
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore"):
            constants[name] = values.astype(np.float32)
        # Nonzero values below float32's smallest normal number lose their precision
        # (about 1e-44 keeps three bits): the graph's codes would be off by 2e-2.
        imprecise = (values != 0) & (np.abs(constants[name]) < np.finfo(np.float32).tiny)
        if not np.isfinite(constants[name]).all() or imprecise.any():
            raise ValueError(
                f"cannot export this model: its {name} holds values that float32 cannot "
                "hold precisely (beyond about 3.4e38, or nonzero below about 1.2e-38), and "
                "the exported graph runs in float32. Fit it on X multiplied or divided by "
                "a constant."
            )
    # Contiguous weights (the conv networks train channels-last): what every format
    # and runtime expects.
    copied = copy.deepcopy(network).to("cpu", torch.float32, memory_format=torch.contiguous_format)
    if part == "encoder":
        module = ScaledEncoder(copied, constants["mean_"], divisor(constants["scale_"]))
    else:
        module = ScaledDecoder(copied, constants["mean_"], constants["scale_"])
    if code_maps and part == "encoder":
        module = nn.Sequential(module, *(m.module("forward") for m in code_maps))
    elif code_maps:
        module = nn.Sequential(*(m.module("backward") for m in reversed(code_maps)), module)
    return module.eval().requires_grad_(False)


@contextmanager
def _quiet_torch():
    """Hide what torch says while exporting that the caller can do nothing about:
    its deprecation of TorchScript (``torch.jit.trace`` / ``save``), the tracer's note
    on the conv networks' fixed feature count, a pytree deprecation inside
    ``torch.export`` and the ONNX exporter's log lines (e.g. "torchvision is not
    installed")."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message=r"`isinstance\(treespec, LeafSpec\)`", category=FutureWarning
        )
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def _batch_dim():
    return ({0: torch.export.Dim(BATCH_AXIS)},)


# Rows of the sample on which an exported graph is checked against the model.
CHECK_ROWS = 64


def _torchscript(module, example, part):
    traced = torch.jit.trace(module, example, check_trace=False)
    return (lambda temporary: torch.jit.save(traced, temporary)), traced


def _pt2(module, example, part):
    program = torch.export.export(module, (example,), dynamic_shapes=_batch_dim())

    def write(temporary):  # via a buffer: torch.export.save wants files named .pt2
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        Path(temporary).write_bytes(buffer.getbuffer())

    return write, program.module()


def check_graph(module, graph, n_inputs, part, format, notes):
    """ValueError unless ``graph`` (the exported program, callable) computes what
    ``module`` (the model's network between its scaling, run eagerly, as ``transform``
    runs it) computes on a fixed sample: rows around the input's scale, their
    negatives, and single rows. Tracing records only the path that the example took
    through the network, so a forward that branches on the data exports wrong."""
    z = np.random.default_rng(0).normal(size=(CHECK_ROWS, n_inputs))
    samples = [z, -z]  # and the mirror image, so that a sign test takes both ways
    if part == "encoder":  # raw features, scaled to z and -z by the graph
        scaler = module[0] if isinstance(module, nn.Sequential) else module
        samples = [s * scaler.divisor.numpy() + scaler.mean.numpy() for s in samples]
    samples = [torch.from_numpy(s.astype(np.float32)) for s in samples]
    with torch.no_grad():
        for batch in (*samples, *samples[0][:4, None]):
            expected, got = module(batch).numpy(), graph(batch).numpy()
            scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
            if expected.shape != got.shape or not np.allclose(
                got, expected, rtol=1e-3, atol=1e-4 * scale, equal_nan=True
            ):
                raise ValueError(
                    f"cannot export the {part}: the exported {FORMATS[format]} graph gives "
                    f"{np.array2string(got.ravel()[:4], precision=4)} where the model gives "
                    f"{np.array2string(expected.ravel()[:4], precision=4)} on the same "
                    f"{len(batch)} rows. Its forward must take the same operations for any "
                    "input (no Python branch or loop on the data's values: use torch.where); "
                    f"format='pt2' refuses such a forward when it is exported.{notes}"
                )


def _onnx(module, example, part):
    input_name, output_name = IO_NAMES[part]
    program = torch.onnx.export(
        module,
        (example,),
        input_names=[input_name],
        output_names=[output_name],
        opset_version=ONNX_OPSET,
        dynamo=True,
        dynamic_shapes=_batch_dim(),
        verbose=False,
    )
    return (lambda temporary: program.save(temporary, external_data=False)), None


_WRITERS = {"torchscript": _torchscript, "pt2": _pt2, "onnx": _onnx}


def require_onnx():
    """ImportError with an installation hint unless ONNX export can run here."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"exporting to ONNX needs the onnx and onnxscript packages: {ONNX_HINT}"
        ) from exc
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ImportError(
            "exporting to ONNX needs torch's dynamo-based exporter (torch 2.6 or later); "
            f"this is torch {torch.__version__}."
        )


def export(path, model, *, part, format):
    """Write the ``part`` of ``model`` (a :class:`~skacai._model.FittedModel`) with its
    scaling (and its code maps, such as the whitening, if any) to ``path`` in ``format``.

    The file is written atomically: a failed export leaves ``path`` as it was. See
    ``ACAITransformer.export``.
    """
    part = check_part(part)
    network = model.encoder if part == "encoder" else model.decoder
    # The width of the graph's input: features for the encoder, codes for the decoder.
    n_inputs = model.spec.n_features if part == "encoder" else model.spec.n_components
    format = resolve_format(path, format)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot export to {str(path)!r}: it is a folder")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot export to {str(path)!r}: the folder {str(path.parent)!r} does not exist"
        )
    if format == "onnx":
        require_onnx()
    module = scaled_module(network, model.mean, model.scale, part, model.code_maps)
    example = torch.zeros(EXAMPLE_ROWS, n_inputs)
    with _quiet_torch():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", torch.jit.TracerWarning)
            write, graph = _WRITERS[format](module, example, part)
        notes = []
        for w in caught:  # the tracer's notes explain a refusal; the rest pass on
            if issubclass(w.category, torch.jit.TracerWarning):
                notes.append(f" torch noted while tracing: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if graph is not None:  # ONNX graphs run in their own runtimes: not checked here
            check_graph(module, graph, n_inputs, part, format, "".join(notes[:1]))
        atomic_write(path, write, "exported file")
