"""The safe model file format: ACAITransformer.save / ACAITransformer.load."""

import os
import pickle
import struct
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.base import clone

from skacai import ACAITransformer, _model_file, _objective, _persistence
from skacai.exceptions import ModelFileError, VersionMismatchWarning

FAST = {"hidden_layer_sizes": (16, 8), "batch_size": 32, "max_iter": 3, "random_state": 0}
CONV = {
    "architecture": "conv",
    "image_shape": (6, 6),
    "conv_width": 2,
    "n_scales": 1,
    "n_components": 18,
    "batch_size": 32,
    "max_iter": 2,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(120, 36))


@pytest.fixture(scope="module")
def fitted(X):
    return ACAITransformer(n_components=4, **FAST).fit(X)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    return path


def assert_same_model(a, b):
    """Every attribute equal: parameters, arrays, weights, optimiser and generator state."""
    assert vars(a).keys() == vars(b).keys()
    attributes = [dict(vars(m)) for m in (a, b)]
    for mine in attributes:  # the fitted model, as the attributes pickles hold
        mine.update(mine.pop("_model").to_attributes() if "_model" in mine else {})
    for name, value in attributes[0].items():
        other = attributes[1][name]
        if isinstance(value, torch.nn.Module):
            assert type(value) is type(other)
            state, other_state = value.state_dict(), other.state_dict()
            assert state.keys() == other_state.keys()
            for key in state:
                assert torch.equal(state[key].cpu(), other_state[key]), (name, key)
        elif name == "_optimizer_states":
            assert (value is None) == (other is None)
            for mine, theirs in zip(value or (), other or (), strict=True):
                assert mine["param_groups"] == theirs["param_groups"]
                assert mine["state"].keys() == theirs["state"].keys()
                for key, entries in mine["state"].items():
                    for entry, tensor in entries.items():
                        assert torch.equal(tensor.cpu(), theirs["state"][key][entry])
        elif name == "_generator_state":
            assert value[0] == other[0] and torch.equal(value[1], other[1])
        elif name == "random_state" and isinstance(value, np.random.RandomState):
            np.testing.assert_array_equal(value.get_state()[1], other.get_state()[1])
        elif isinstance(value, np.ndarray):
            assert value.dtype == other.dtype
            np.testing.assert_array_equal(value, other)
        elif isinstance(value, np.generic):  # NumPy scalars come back as Python scalars
            assert value == other and type(other) is type(value.item()), name
        else:
            assert value == other and type(value) is type(other), name


@pytest.mark.parametrize("params", [FAST, CONV], ids=["mlp", "conv"])
def test_round_trip_keeps_every_attribute_and_the_outputs(X, tmp_path, params):
    model = ACAITransformer(**{"n_components": 4, **params}).fit(X)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(path)
    assert_same_model(model, loaded)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    codes = model.transform(X[:5])
    np.testing.assert_array_equal(loaded.inverse_transform(codes), model.inverse_transform(codes))


def test_loaded_model_keeps_training_exactly_where_the_saved_one_stopped(fitted, saved, X):
    loaded = ACAITransformer.load(saved)
    original = pickle.loads(pickle.dumps(fitted))
    loaded.partial_fit(X)
    original.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), original.transform(X))
    loaded.set_params(warm_start=True, max_iter=2).fit(X)
    original.set_params(warm_start=True, max_iter=2).fit(X)
    np.testing.assert_array_equal(loaded.transform(X), original.transform(X))
    assert loaded.n_iter_ == original.n_iter_ == 6


def test_unfitted_model_and_unusual_parameters_round_trip(tmp_path, X):
    pd = pytest.importorskip("pandas")
    model = ACAITransformer(
        n_components=np.int64(3),
        hidden_layer_sizes=np.array([8, 4]),
        image_shape=[6, 6],
        architecture="mlp",
        random_state=np.random.RandomState(7),
        max_iter=2,
    ).set_output(transform="pandas")
    path = tmp_path / "unfitted.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(path)
    assert not hasattr(loaded, "encoder_")
    assert_same_model(model, loaded)
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(36)])
    model.fit(frame)
    model.save(path)
    loaded = ACAITransformer.load(path)
    assert_same_model(model, loaded)
    assert list(loaded.feature_names_in_) == list(frame.columns)
    pd.testing.assert_frame_equal(loaded.transform(frame), model.transform(frame))
    # and clone (what GridSearchCV does) accepts the loaded parameters
    assert clone(loaded).get_params()["image_shape"] == [6, 6]


def test_a_fresh_process_loads_the_file(saved, X, fitted, transform_in_fresh_process):
    codes = transform_in_fresh_process(saved, X, loader="skacai.ACAITransformer.load")
    np.testing.assert_array_equal(codes, fitted.transform(X))


class _Malicious:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "joblib"])
def test_a_malicious_pickle_is_refused_without_running_it(tmp_path, writer):
    marker, path = tmp_path / "pwned", tmp_path / "model.safetensors"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(_Malicious(marker)))
    else:
        joblib.dump(_Malicious(marker), path)
    with pytest.raises(ModelFileError, match=r"is a pickle or joblib file.*never unpickles"):
        ACAITransformer.load(path)
    assert not marker.exists()
    # the check above is not vacuous: unpickling the same file does run its code
    joblib.load(path)
    assert marker.exists()


@pytest.mark.parametrize("keep", [0, 4, 8, 60, 0.5, 0.99, -1])
def test_a_truncated_file_is_refused(saved, keep):
    data = saved.read_bytes()
    cut = int(keep * len(data)) if isinstance(keep, float) else keep % len(data)
    saved.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match=r"not a skacai model file|truncated|damaged"):
        ACAITransformer.load(saved)


def header_and_data(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return data, length


def test_a_flipped_weight_byte_is_refused(saved):
    data, length = header_and_data(saved)
    position = 8 + length + (len(data) - 8 - length) // 2
    damaged = bytearray(data)
    damaged[position] ^= 0x01
    saved.write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match=r"corrupted or was modified .*checksum mismatch"):
        ACAITransformer.load(saved)


def test_an_edited_description_is_refused(saved):
    data, length = header_and_data(saved)
    header = data[8 : 8 + length]
    edited = header.replace(b'\\"n_iter_\\": 3', b'\\"n_iter_\\": 9')
    assert edited != header and len(edited) == len(header)
    saved.write_bytes(data[:8] + edited + data[8 + length :])
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        ACAITransformer.load(saved)


def test_a_consistent_but_forged_description_is_refused(fitted, tmp_path):
    """Even with a recomputed checksum, weights that do not fit the layout are refused."""
    description, tensors = _persistence._describe(fitted)
    description["state"]["network_spec"]["n_components"] = 5
    path = tmp_path / "forged.safetensors"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match="invalid model description"):
        ACAITransformer.load(path)


def test_invalid_parameters_in_a_file_are_refused(fitted, tmp_path):
    description, tensors = _persistence._describe(fitted)
    description["params"]["batch_size"] = -5
    path = tmp_path / "forged.safetensors"
    path.write_bytes(_model_file.serialize(description, tensors))
    with pytest.raises(ModelFileError, match=r"invalid model description.*batch_size"):
        ACAITransformer.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "only 0 bytes"),
        (b"\x00" * 3, "only 3 bytes"),
        (os.urandom(64), "truncated or not a skacai model file"),
        (struct.pack("<Q", 2) + b"[]", "not safetensors JSON"),
    ],
    ids=["empty", "tiny", "random", "json-array"],
)
def test_foreign_bytes_are_refused(tmp_path, content, message):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        ACAITransformer.load(path)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelFileError, match="no 'skacai-model' marker"):
        ACAITransformer.load(path)


def test_missing_files_and_folders_are_clear(fitted, tmp_path):
    with pytest.raises(FileNotFoundError, match="No skacai model file"):
        ACAITransformer.load(tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError, match="No skacai model file"):
        ACAITransformer.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fitted.save(tmp_path / "no" / "such" / "folder" / "model.safetensors")


def test_a_parameter_the_format_cannot_record_is_refused_before_writing(fitted, tmp_path):
    model = clone(fitted).set_params(device=lambda: "cpu")
    path = tmp_path / "model.safetensors"
    with pytest.raises(TypeError, match=r"cannot record parameter device=.*joblib"):
        model.save(path)
    assert list(tmp_path.iterdir()) == []


def test_a_file_from_a_newer_format_asks_for_an_upgrade(fitted, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:  # undo() would undo the conftest's CPU pin too
        patch.setattr(_persistence, "FORMAT_VERSION", 2)
        path = tmp_path / "future.safetensors"
        fitted.save(path)
    with pytest.raises(ModelFileError, match=r"format 2, newer than the format 1.*upgrade"):
        ACAITransformer.load(path)


def written(path, description, tensors):
    """A model file of ``description`` and ``tensors`` with a valid checksum."""
    path.write_bytes(_model_file.serialize(description, tensors))
    return path


def test_new_files_record_their_history_keys(fitted, saved):
    state = _persistence.read(ACAITransformer, saved)[0]["state"]
    assert state["history_keys"] == list(_objective.HISTORY_KEYS) == list(fitted.history_)


def test_a_file_from_before_history_keys_were_recorded_loads(fitted, X, tmp_path):
    """Files without ``history_keys`` recorded the first five keys, which still load."""
    description, tensors = _persistence._describe(fitted)
    del description["state"]["history_keys"]
    loaded = ACAITransformer.load(written(tmp_path / "old.skacai", description, tensors))
    assert loaded.history_ == fitted.history_
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))


def assert_sharpness_unrecorded(loaded, fitted):
    """``loaded``'s history: ``fitted``'s, and NaN for each epoch of "sharpness", a
    term the objective gained after ``fitted`` was written."""
    assert set(loaded.history_) == {*fitted.history_, "sharpness"}
    assert np.isnan(loaded.history_["sharpness"]).all()
    assert len(loaded.history_["sharpness"]) == fitted.n_iter_
    assert {k: v for k, v in loaded.history_.items() if k != "sharpness"} == fitted.history_


@pytest.mark.parametrize("recorded", [True, False], ids=["history-keys", "no-history-keys"])
def test_a_file_from_before_a_new_loss_term_loads_with_the_term_unrecorded(
    fitted, tmp_path, monkeypatch, recorded
):
    """A term the objective gained after the file was written: its history holds NaN
    for each of the file's epochs; the recorded terms are as saved."""
    description, tensors = _persistence._describe(fitted)
    if not recorded:
        del description["state"]["history_keys"]
    path = written(tmp_path / "before.skacai", description, tensors)
    monkeypatch.setattr(_objective, "HISTORY_KEYS", (*_objective.HISTORY_KEYS, "sharpness"))
    loaded = ACAITransformer.load(path)
    assert_sharpness_unrecorded(loaded, fitted)


def test_a_pickle_from_before_a_new_loss_term_loads_with_the_term_unrecorded(fitted, monkeypatch):
    """As model files do: NaN for each epoch of a term added after pickling."""
    pickled = pickle.dumps(fitted)
    monkeypatch.setattr(_objective, "HISTORY_KEYS", (*_objective.HISTORY_KEYS, "sharpness"))
    loaded = pickle.loads(pickled)
    assert_sharpness_unrecorded(loaded, fitted)


def newer_term(description):
    """A file from a skacai whose objective has a term this one does not know."""
    state = description["state"]
    state["history_"]["sharpness"] = [0.5] * state["n_iter_"]
    state["history_keys"].append("sharpness")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (newer_term, r"loss terms this skacai does not know \('sharpness'; .*upgrade skacai"),
        (  # a recorded key without its curve
            lambda d: d["state"]["history_"].pop("critic"),
            "history_ is not a dict of the loss and its terms",
        ),
        (  # a curve without its recorded key
            lambda d: d["state"]["history_keys"].remove("critic"),
            "history_ is not a dict of the loss and its terms",
        ),
        (  # an old file (no history_keys) lacking a key it recorded
            lambda d: [d["state"].pop("history_keys"), d["state"]["history_"].pop("critic")],
            "history_ is not a dict of the loss and its terms",
        ),
        (
            lambda d: d["state"].update(history_keys="loss"),
            "history_keys is not a list of distinct names",
        ),
        (
            lambda d: d["state"]["history_keys"].append("loss"),
            "history_keys is not a list of distinct names",
        ),
        (
            lambda d: d["state"]["history_keys"].remove("loss"),
            "history_keys is not a list of distinct names with 'loss'",
        ),
        (
            lambda d: d["state"]["history_"].update(critic=[0.0]),
            "n_iter_ is 3 but the curves hold",
        ),
    ],
    ids=["unknown-term", "missing-curve", "unrecorded-curve", "old-missing-curve",
         "keys-type", "keys-repeated", "keys-without-loss", "curve-length"],
)  # fmt: skip
def test_a_forged_history_is_refused(fitted, tmp_path, edit, message):
    description, tensors = _persistence._describe(fitted)
    edit(description)
    path = written(tmp_path / "forged.skacai", description, tensors)
    with pytest.raises(ModelFileError, match=message):
        ACAITransformer.load(path)


CURRENT_VERSIONS = _persistence.versions()


def other_versions():
    return {**CURRENT_VERSIONS, "skacai": "0.0.1", "torch": "1.0.0"}


def test_other_versions_load_with_a_warning_that_names_them(fitted, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:  # undo() would undo the conftest's CPU pin too
        patch.setattr(_persistence, "versions", other_versions)
        path = tmp_path / "old.safetensors"
        fitted.save(path)
        description = _persistence.read(ACAITransformer, path)[0]
    assert description["versions"]["skacai"] == "0.0.1"
    current = _persistence.versions()
    expected = f"skacai 0.0.1 -> {current['skacai']}, torch 1.0.0 -> {current['torch']}"
    with pytest.warns(VersionMismatchWarning, match=expected.replace("+", r"\+")) as record:
        loaded = ACAITransformer.load(path)
    assert_same_model(fitted, loaded)
    assert record[0].filename == __file__  # points at the caller, not at skacai


def test_pickles_record_versions_and_warn_on_a_mismatch(fitted, monkeypatch, recwarn):
    before = dict(vars(fitted))
    same = pickle.loads(pickle.dumps(fitted))
    assert not [w for w in recwarn if issubclass(w.category, VersionMismatchWarning)]
    assert "_skacai_versions" not in vars(same)
    # pickling leaves the live model alone (it used to write into its __dict__)
    assert vars(fitted).keys() == before.keys()
    assert all(vars(fitted)[k] is v for k, v in before.items())
    with monkeypatch.context() as patch:  # undo() would undo the conftest's CPU pin too
        patch.setattr(_persistence, "versions", other_versions)
        data = pickle.dumps(fitted)
    with pytest.warns(VersionMismatchWarning, match="unpickled ACAITransformer .*skacai 0.0.1"):
        pickle.loads(data)


def test_same_versions_load_silently(saved, recwarn):
    ACAITransformer.load(saved)
    assert not [w for w in recwarn if issubclass(w.category, VersionMismatchWarning)]


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_a_failed_save_keeps_the_previous_file_and_leaves_no_debris(
    fitted, saved, X, monkeypatch, error
):
    def half_then_fail(path, tensors, metadata):
        data = _model_file._save_tensors(tensors, metadata=metadata)
        with open(path, "wb") as file:
            file.write(data[: len(data) // 2])
        raise error

    before = saved.read_bytes()
    other = clone(fitted).set_params(random_state=1).fit(X)
    monkeypatch.setattr(_model_file, "write_file", half_then_fail)
    with pytest.raises(type(error)):
        other.save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    np.testing.assert_array_equal(ACAITransformer.load(saved).transform(X), fitted.transform(X))
    # a first save that fails leaves nothing at all
    fresh = saved.parent / "fresh.safetensors"
    with pytest.raises(type(error)):
        other.save(fresh)
    assert not fresh.exists()


def test_a_process_killed_mid_save_leaves_the_previous_file_intact(fitted, saved, X):
    before = saved.read_bytes()
    code = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from skacai import ACAITransformer, _model_file

        def half_then_die(path, tensors, metadata):
            data = _model_file._save_tensors(tensors, metadata=metadata)
            with open(path, "wb") as file:
                file.write(data[: len(data) // 2])
                file.flush()
                os._exit(9)  # no cleanup, no exception handlers: like a kill -9

        _model_file.write_file = half_then_die
        X = np.random.default_rng(1).normal(size=(60, 36))
        model = ACAITransformer(n_components=4, max_iter=1, random_state=1).fit(X)
        model.save({str(saved)!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", code], timeout=120)
    assert result.returncode == 9
    assert saved.read_bytes() == before
    np.testing.assert_array_equal(ACAITransformer.load(saved).transform(X), fitted.transform(X))


def test_a_loaded_conv_model_keeps_training_like_the_saved_one(X, tmp_path):
    """Conv weights are channels-last but the file stores contiguous tensors: the
    loaded Adam states must be given their weights' layout again, or the fused
    step silently updates each weight with another weight's moments."""
    model = ACAITransformer(**CONV).fit(X)
    assert model.encoder_.layers[1].weight.is_contiguous(memory_format=torch.channels_last)
    path = tmp_path / "conv.safetensors"
    model.save(path)
    loaded = ACAITransformer.load(path)
    model.partial_fit(X)
    loaded.partial_fit(X)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_trained_on_the_gpu_saves_and_loads_on_the_cpu(X, tmp_path):
    model = ACAITransformer(n_components=4, device="cuda", **FAST).fit(X)
    path = tmp_path / "gpu.safetensors"
    model.save(path)
    assert model.device_.startswith("cuda")
    loaded = ACAITransformer.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_allclose(loaded.transform(X), model.transform(X), rtol=1e-5, atol=1e-6)
    loaded.partial_fit(X)


def test_a_model_file_whose_header_length_starts_like_a_pickle_loads(tmp_path):
    """A safetensors file starts with its header's length: one file in 256 starts with
    0x80, the first byte of a pickle, and load used to refuse it as one."""
    for n_layers in range(1, 400):
        model = ACAITransformer(hidden_layer_sizes=(8,) * n_layers, max_iter=2)
        data = _model_file.serialize(*_persistence._describe(model))
        if data[:1] == b"\x80":
            break
    assert data[:1] == b"\x80"
    path = tmp_path / "model.safetensors"
    model.save(path)
    assert path.read_bytes()[:1] == b"\x80"
    assert ACAITransformer.load(path).get_params() == model.get_params()
