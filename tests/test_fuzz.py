"""Fuzzing what an attacker controls (issue 35, item 17): model files given to
``ACAITransformer.load`` and sparse matrices given to the estimator's methods.

Hypothesis edits a saved file (header and data bytes; description values, re-signed
so that the checksum holds; tensor-table dtypes, shapes and offsets; the tensors) and
sparse matrices (indices, indptr, coordinates, shapes, dtypes, lengths). Each case
runs in a worker process (restarted when it dies), so a crash fails the example, not
the run; the worker has an address-space limit, and each case's CPU time and peak
memory are bounded by constants (every input is a few kilobytes). A case ends in
success or a documented exception: ``ModelFileError`` from ``load`` (then
``ValueError`` from ``transform``), ``ValueError`` or ``TypeError`` for sparse input.
The default suite runs a few derandomized examples; ``-m slow`` runs many more.
"""

import json
import math
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = {"hidden_layer_sizes": (8,), "max_iter": 1, "batch_size": 16, "random_state": 0}
SPARSE = {"n_components": 2, "scaling": None, **FAST}
CONV = {
    "architecture": "conv",
    "image_shape": (4, 4),
    "conv_width": 2,
    "n_scales": 1,
    "n_components": 8,
    **FAST,
}
N_FEATURES = 6
# Bounds for one case: every input is a few kilobytes, so any cost that scales with a
# forged claim (a width, a length, an offset) instead of the input exceeds them.
CPU_SECONDS = 10.0  # CPU time per case (a load takes ~0.05 s, a fit ~0.2 s)
WALL_SECONDS = 120.0  # wall clock per case, generous for a shared machine
PEAK_GROWTH = 768 * 2**20  # the worker's peak resident memory over its start
ADDRESS_SPACE = 3 * 2**30  # address space the worker may add to what it holds at start


def fuzz_settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _run_case(case):
    """Run one case in the worker; the outcome is raised or returned."""
    import skacai

    kind = case["kind"]
    if kind == "crash":  # the harness's own test
        os.abort()
    if kind == "load":
        path = case["path"]
        with open(path, "wb") as file:
            file.write(case["data"])
        model = skacai.ACAITransformer.load(path)
        if not hasattr(model, "encoder_"):
            return "loaded unfitted"
        try:  # a model that loads must work, or refuse its input with a ValueError
            codes = model.transform(np.zeros((3, model.n_features_in_)))
            model.inverse_transform(codes)
        except ValueError as error:
            return f"loaded; transform: ValueError: {error}"
        return "loaded"
    X = case["X"]
    if kind == "fit":
        skacai.ACAITransformer(**SPARSE).fit(X)
        return "fitted"
    model = skacai.ACAITransformer.load(case["model"])
    if kind == "interpolate":
        model.interpolate(X, X, n_steps=2)
    else:
        getattr(model, kind)(X)
    return kind


def worker_main():
    """Read pickled cases from stdin, answer one JSON line per case on stdout."""
    import warnings

    import torch

    import skacai  # noqa: F401  (imported before the limit and the baseline)

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    with open("/proc/self/statm") as statm:
        held = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (held + ADDRESS_SPACE, held + ADDRESS_SPACE))
    start_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    stdin = sys.stdin.buffer
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        case = pickle.loads(stdin.read(struct.unpack("<Q", header)[0]))
        began = time.process_time()
        try:
            outcome, message = "ok", _run_case(case)
        except BaseException as error:
            outcome = [f"{c.__module__}.{c.__qualname__}" for c in type(error).__mro__]
            message = str(error)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        reply = {
            "outcome": outcome,
            "message": message[:2000],
            "cpu": time.process_time() - began,
            "peak_growth": peak - start_peak,
        }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class Worker:
    """The worker process, restarted after a crash; ``run(case)`` gives its reply."""

    def __init__(self, folder):
        self.folder, self.process = folder, None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )

    def run(self, case):
        if self.process is None or self.process.poll() is not None:
            self.start()
        payload = pickle.dumps(case)
        try:
            self.process.stdin.write(struct.pack("<Q", len(payload)) + payload)
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.process.stdout], [], [], WALL_SECONDS)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.process.kill()
            code = self.process.wait()
            stderr = self.process.stderr.read().decode(errors="replace")[-3000:]
            self.process = None
            reason = "timed out" if not ready else f"died with exit code {code}"
            pytest.fail(f"the worker {reason} on {describe(case)}\n{stderr}")
        return json.loads(line)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # nothing to flush; its interpreter's exit takes seconds
            self.process.wait()


def describe(case):
    shown = {key: value for key, value in case.items() if key not in ("data", "X")}
    if "X" in case:
        X = case["X"]
        shown["X"] = {
            name: (getattr(X, name).dtype, getattr(X, name).tolist())
            for name in ("indices", "indptr", "row", "col", "offsets")
            if hasattr(X, name)
        } | {"format": X.format, "shape": X._shape}
    return repr(shown)[:3000]


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    process = Worker(str(tmp_path_factory.mktemp("fuzz")))
    yield process
    process.close()


def check(worker, case, allowed):
    """Run ``case``: success, or an exception named in ``allowed`` (qualified names, or
    a (name, pattern) pair for a type allowed only with that message), within bounds."""
    reply = worker.run(case)
    outcome = reply["outcome"]  # "ok", or the exception's classes, its own first
    accepted = outcome == "ok" or any(
        rule in outcome
        if isinstance(rule, str)
        else rule[0] in outcome and rule[1] in reply["message"]
        for rule in allowed
    )
    assert accepted, f"{outcome[0]}: {reply['message']}\non {describe(case)}"
    assert reply["cpu"] < CPU_SECONDS, f"{reply['cpu']:.1f} s of CPU on {describe(case)}"
    assert reply["peak_growth"] < PEAK_GROWTH, (
        f"peak memory grew by {reply['peak_growth'] / 2**20:.0f} MiB on {describe(case)}"
    )
    return reply


@pytest.fixture(scope="module")
def bases():
    """Files (bytes) and their (description, tensors) for three saved models: a fitted
    MLP trained on sparse X, a fitted conv model and an unfitted one."""
    from skacai import ACAITransformer, _model_file, _persistence

    rng = np.random.default_rng(0)
    X = scipy.sparse.random(40, N_FEATURES, density=0.5, format="csr", random_state=0)
    models = {
        "mlp": ACAITransformer(**SPARSE).fit(X),
        "conv": ACAITransformer(**CONV).fit(rng.normal(size=(32, 16))),
        "unfitted": ACAITransformer(n_components=3),
    }
    described = {name: _persistence._describe(model) for name, model in models.items()}
    files = {name: _model_file.serialize(*pair) for name, pair in described.items()}
    return Quiet(files), Quiet(described)


class Quiet(dict):
    """A dict that Hypothesis's reports name instead of printing (the files are large)."""

    def __repr__(self):
        return f"<{', '.join(self)}>"


INTERESTING = [0, 1, -1, 2, 3, 6, 7, 255, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1]
INTERESTING += [2**63, 2**64, -(2**63), 10**30]
integers = st.sampled_from(INTERESTING) | st.integers(-10, 100) | st.integers()
json_values = st.recursive(
    st.none() | st.booleans() | integers | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def paths(value, prefix=()):
    """Every path (keys and indices) into a JSON value, the value's own included."""
    yield prefix
    if isinstance(value, (dict, list)):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from paths(child, (*prefix, key))


def split(data):
    """A safetensors file's header (parsed) and the bytes after it."""
    length = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def join(header, body, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def load_case(worker, data, mutation):
    path = os.path.join(worker.folder, "model.safetensors")
    return {"kind": "load", "data": data, "path": path, "mutation": mutation}


LOAD_ALLOWED = ["skacai.exceptions.ModelFileError"]


@st.composite
def byte_edits(draw, files):
    name = draw(st.sampled_from(sorted(files)))
    data = bytearray(files[name])
    header_end = 8 + struct.unpack("<Q", data[:8])[0]
    edits = draw(
        st.lists(
            st.tuples(
                st.integers(0, header_end + 16) | st.integers(0, len(data) - 1),
                st.integers(0, 255),
            ),
            min_size=1,
            max_size=6,
        )
    )
    for position, byte in edits:
        data[min(position, len(data) - 1)] = byte
    cut = draw(st.none() | st.integers(0, len(data)))
    tail = draw(st.binary(max_size=16))
    data = bytes(data[:cut]) + tail
    return data, (name, edits, cut, tail)


@st.composite
def description_edits(draw, described):
    """A description with one value replaced, deleted or added, re-signed: the
    checksum is valid, so every check behind it is reached."""
    from skacai import _model_file

    name = draw(st.sampled_from(sorted(described)))
    description, tensors = described[name]
    description = json.loads(json.dumps(description))
    edits = []
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(list(paths(description))))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        value = draw(json_values)
        parent = description
        for key in path[:-1]:
            parent = parent[key]
        if not path:
            action = "add"
        if action == "replace":
            parent[path[-1]] = value
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "delete":
            parent.pop(path[-1])
        else:
            target = description if not path else parent[path[-1]]
            if isinstance(target, dict):
                target[draw(st.text(max_size=8))] = value
            elif isinstance(target, list):
                target.append(value)
        edits.append((action, path, value))
    return _model_file.serialize(description, tensors), (name, edits)


TABLE_DTYPES = ["F32", "F64", "F16", "BF16", "I64", "U8", "I32", "U64", "BOOL", "F8_E4M3", ""]


@st.composite
def table_edits(draw, files):
    """Entries of the tensor table (dtype, shape, data_offsets) edited, removed, added,
    or the metadata edited; the tensor bytes are left as they were."""
    name = draw(st.sampled_from(sorted(files)))
    header, body = split(files[name])
    tensors = sorted(key for key in header if key != "__metadata__")
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*tensors, "__metadata__"]))
        entry = header.get(key)
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets", "delete", "copy", "any"]))
        small = st.integers(0, len(body) + 8)
        if not isinstance(entry, dict):  # removed or replaced by an earlier edit
            field = "any"
        if key == "__metadata__" and isinstance(entry, dict):
            field = draw(st.sampled_from(["format", "sha256", "skacai", "extra"]))
            header[key][field] = draw(st.text(max_size=20) | st.just("skacai-model"))
            value = header[key][field]
        elif field == "dtype":
            value = entry["dtype"] = draw(st.sampled_from(TABLE_DTYPES))
        elif field == "shape":
            value = entry["shape"] = draw(st.lists(integers | st.integers(0, 64), max_size=4))
        elif field == "data_offsets":
            value = entry["data_offsets"] = draw(
                st.lists(small | integers, min_size=2, max_size=2) | st.lists(integers, max_size=3)
            )
        elif field == "delete":
            value = header.pop(key, None)
        elif field == "copy":
            value = draw(st.text(min_size=1, max_size=12))
            header[value] = dict(entry or {})
        else:
            value = header[key] = draw(json_values)
        edits.append((key, field, value))
    return join(header, body, pad=draw(st.booleans())), (name, edits)


@st.composite
def tensor_edits(draw, described):
    """A tensor replaced (values, shape, dtype), removed or added, re-signed."""
    import torch

    from skacai import _model_file

    name = draw(st.sampled_from(sorted(described)))
    description, tensors = described[name]
    tensors = dict(tensors)
    if not tensors:
        tensors = {"mean_": torch.zeros(N_FEATURES, dtype=torch.float64)}
    key = draw(st.sampled_from(sorted(tensors)))
    tensor = tensors[key].clone()
    action = draw(st.sampled_from(["value", "shape", "dtype", "delete", "add"]))
    if action == "value" and tensor.numel():
        flat = (
            tensor.double().reshape(-1) if tensor.dtype.is_floating_point else tensor.reshape(-1)
        )
        special = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e308, 1e-320, 2.0**70]
        index = draw(st.integers(0, flat.numel() - 1))
        value = draw(st.sampled_from(special) | st.floats(-1e6, 1e6))
        if not tensor.dtype.is_floating_point:  # an integer tensor holds no nan or inf
            value = int(min(abs(value), 255)) if math.isfinite(value) else 255
        flat[index] = value
        tensors[key] = flat.reshape(tensor.shape).to(tensor.dtype)  # 1e308 -> inf in float32
    elif action == "shape":
        shape = draw(st.lists(st.integers(0, 9), max_size=3))
        tensors[key] = torch.zeros(shape, dtype=tensor.dtype)
    elif action == "dtype":
        dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64]))
        tensors[key] = tensor.to(dtype)
    elif action == "delete":
        del tensors[key]
    else:
        tensors[draw(st.text(min_size=1, max_size=12))] = tensor
    return _model_file.serialize(description, tensors), (name, key, action)


def fuzz_load(worker, data, strategy):
    data_bytes, mutation = data.draw(strategy)
    check(worker, load_case(worker, data_bytes, mutation), LOAD_ALLOWED)


def load_tests(examples):
    """The four model-file tests, each running ``examples`` examples."""

    @fuzz_settings(examples)
    @given(data=st.data())
    def header_and_data_bytes(worker, bases, data):
        fuzz_load(worker, data, byte_edits(bases[0]))

    @fuzz_settings(examples)
    @given(data=st.data())
    def description_values(worker, bases, data):
        fuzz_load(worker, data, description_edits(bases[1]))

    @fuzz_settings(examples)
    @given(data=st.data())
    def tensor_table_entries(worker, bases, data):
        fuzz_load(worker, data, table_edits(bases[0]))

    @fuzz_settings(examples)
    @given(data=st.data())
    def tensors(worker, bases, data):
        fuzz_load(worker, data, tensor_edits(bases[1]))

    return header_and_data_bytes, description_values, tensor_table_entries, tensors


(
    test_load_survives_edited_bytes,
    test_load_survives_edited_description_values,
    test_load_survives_edited_tensor_table_entries,
    test_load_survives_edited_tensors,
) = load_tests(60)
(
    test_load_survives_edited_bytes_long,
    test_load_survives_edited_description_values_long,
    test_load_survives_edited_tensor_table_entries_long,
    test_load_survives_edited_tensors_long,
) = (pytest.mark.slow(test) for test in load_tests(2000))


FORMATS = ["csr", "csc", "coo", "bsr", "dia", "lil"]
INDEX_ARRAYS = {
    "csr": ["indices", "indptr"],
    "csc": ["indices", "indptr"],
    "bsr": ["indices", "indptr"],
    "coo": ["row", "col"],
    "dia": ["offsets"],
    "lil": [],
}
INDEX_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float64"]
INDEX_DTYPES += ["bool", "object"]
DATA_DTYPES = ["float16", "float32", "float64", "int64", "bool", "complex128", "object", "<U3"]
OPERATIONS = ["fit", "transform", "score_samples", "partial_fit", "interpolate"]
OPERATIONS += ["inverse_transform"]
# A claimed dimension above this is kept only where the format ties it to an array's
# length (a CSR's rows to its indptr): elsewhere a valid matrix of that shape is
# legitimately that costly to train on or transform.
SMALL = 64


def forged(X, name, array):
    """Set X's array ``name``; False where scipy's own setter refuses it (a COO's
    ``row`` converts to its index type), so that no such matrix can reach skacai."""
    try:
        setattr(X, name, array)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


@st.composite
def forged_matrices(draw):
    """A small valid matrix whose arrays (or shape) are then edited in place."""
    format = draw(st.sampled_from(FORMATS))
    operation = draw(st.sampled_from(OPERATIONS))
    rows = draw(st.integers(1, 6))
    width = draw(st.sampled_from([N_FEATURES, N_FEATURES, 1, 7]))
    density = draw(st.sampled_from([0.0, 0.3, 1.0]))
    X = scipy.sparse.random(rows, width, density=density, random_state=draw(st.integers(0, 9)))
    X = X.asformat(format) if format != "bsr" else X.tobsr(blocksize=(1, 1))
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        arrays = INDEX_ARRAYS[format] + ["data"]
        action = draw(st.sampled_from(["element", "dtype", "length", "shape", "values"]))
        name = draw(st.sampled_from(arrays))
        array = getattr(X, name)
        if format == "lil" and action != "shape":
            action = "values" if name == "data" else action
        if action == "element" and name != "data" and len(array):
            position = draw(st.integers(-len(array), len(array) - 1))
            value = draw(integers)
            array = np.array(array, copy=True)
            if array.dtype.kind in "iu" and not (
                np.iinfo(array.dtype).min <= value <= np.iinfo(array.dtype).max
            ):
                array = array.astype(np.int64 if -(2**63) <= value < 2**63 else object)
            array[position] = value
            if not forged(X, name, array):
                continue
        elif action == "dtype" and format != "lil":
            dtype = draw(st.sampled_from(DATA_DTYPES if name == "data" else INDEX_DTYPES))
            value = dtype
            try:
                changed = array.astype(dtype)
            except (TypeError, ValueError, OverflowError):  # "0.4" or 2**64 as an index
                changed = array.astype(object)
            if not forged(X, name, changed):
                continue
        elif action == "length" and format != "lil":
            value = draw(st.integers(-3, 3))
            changed = array[: len(array) + value] if value < 0 else array
            if value > 0:
                changed = np.concatenate(
                    [
                        array,
                        np.resize(array, (value, *array.shape[1:]))
                        if len(array)
                        else np.zeros((value, *array.shape[1:]), array.dtype),
                    ]
                )
            if not forged(X, name, changed):
                continue
        elif action == "shape":
            big = {"csr": 0, "bsr": 0, "lil": 0, "csc": 1}.get(format)
            dims = [
                draw(st.sampled_from(INTERESTING) if axis == big else st.integers(0, SMALL))
                for axis in (0, 1)
            ]
            if operation != "fit" and big != 1:
                dims[1] = draw(st.sampled_from([dims[1], *INTERESTING]))
            value = tuple(dims)
            X._shape = value
        elif action == "values" and format != "lil" and X.data.size:
            value = draw(st.sampled_from([float("nan"), float("inf"), 1e308, -1e308, 1e-320]))
            changed = np.array(X.data, dtype=np.float64, copy=True)
            changed.reshape(-1)[draw(st.integers(0, X.data.size - 1))] = value
            X.data = changed
        else:
            continue
        edits.append((action, name, value))
    return X, operation, edits


SPARSE_ALLOWED = ["builtins.ValueError", "builtins.TypeError"]
# A matrix too wide to train is refused by skacai's own memory check (docs/cli.md).
FIT_ALLOWED = [*SPARSE_ALLOWED, ("builtins.MemoryError", "to train, more than")]


@pytest.fixture(scope="module")
def sparse_model(bases, worker):
    path = os.path.join(worker.folder, "sparse-model.safetensors")
    with open(path, "wb") as file:
        file.write(bases[0]["mlp"])
    return path


def fuzz_sparse(worker, sparse_model, data):
    X, operation, edits = data.draw(forged_matrices())
    case = {"kind": operation, "X": X, "model": sparse_model, "mutation": edits}
    check(worker, case, FIT_ALLOWED if operation in ("fit", "partial_fit") else SPARSE_ALLOWED)


@fuzz_settings(120)
@given(data=st.data())
def test_every_method_survives_forged_sparse_matrices(worker, sparse_model, data):
    fuzz_sparse(worker, sparse_model, data)


@pytest.mark.slow
@fuzz_settings(4000)
@given(data=st.data())
def test_every_method_survives_forged_sparse_matrices_long(worker, sparse_model, data):
    fuzz_sparse(worker, sparse_model, data)


def test_the_worker_reports_a_crash_as_a_failure(worker):
    """The harness itself: a process that dies fails the example (last in the file: the
    next case would pay for a new worker's start)."""
    with pytest.raises(pytest.fail.Exception, match="died with exit code"):
        worker.run({"kind": "crash"})
    assert worker.process is None  # the next case starts a new one


@pytest.mark.parametrize("shape", [(0, 2**63), (2**64, 6), (-1, 6)])
def test_a_forged_shape_beyond_int64_is_a_value_error(shape):
    """Found by the fuzzer: a COO whose shape claims 2**63 columns gave scipy's
    OverflowError (converting it to CSR), not the damaged-matrix ValueError."""
    from skacai import ACAITransformer

    X = scipy.sparse.coo_matrix((0 if shape[0] == 0 else 1, 6))
    X._shape = shape
    with pytest.raises(ValueError, match="sparse matrix is damaged: its shape"):
        ACAITransformer(**SPARSE).fit(X)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker_main()
