"""Sparse X (scipy CSR / CSC): accepted by fit, partial_fit and the inference methods,
densified one batch at a time, and trained on exactly as the same data dense."""

import numpy as np
import pytest
import scipy.sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import skacai._estimator
import skacai._inference
from skacai import ACAITransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BATCH = 16
MLP = {
    "n_components": 3,
    "hidden_layer_sizes": (16,),
    "max_iter": 3,
    "batch_size": BATCH,
    "random_state": 0,
    "scaling": None,
}
CONV = {
    "n_components": 16,
    "image_shape": (8, 8),
    "conv_width": 2,
    "n_scales": 1,
    "max_iter": 2,
    "batch_size": BATCH,
    "random_state": 0,
    "scaling": None,
}
FORMATS = {
    "csr_matrix": scipy.sparse.csr_matrix,
    "csc_matrix": scipy.sparse.csc_matrix,
    "csr_array": scipy.sparse.csr_array,
    "csc_array": scipy.sparse.csc_array,
    "coo_matrix": scipy.sparse.coo_matrix,  # converted to CSR, as scikit-learn does
}
CENTRES = r"centres X .* sparse X into a dense array\. Train on sparse X with scaling=None"


@pytest.fixture(scope="module")
def X():
    """120 rows of 64 features, about 70 % zeros, on different scales."""
    rng = np.random.default_rng(0)
    X = rng.random((120, 64)) * rng.uniform(0.5, 4.0, 64)
    X[rng.random(X.shape) < 0.7] = 0.0
    return X


def outputs(model, X):
    """What a fitted model computes on X, and how its training went."""
    return [
        model.transform(X),
        model.score_samples(X),
        np.array(model.score(X)),
        np.array(model.loss_curve_),
        np.array(model.validation_scores_ or []),
    ]


def assert_same(a, b):
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)


def with_int64_indices(X):
    """X with 64-bit indices: how scipy stores a matrix of 2**31 or more non-zeros."""
    X = scipy.sparse.csr_matrix(X, copy=True)
    X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    assert X.indices.dtype == X.indptr.dtype == np.int64
    return X


@pytest.fixture
def densified(monkeypatch):
    """The row counts of every dense array made from a sparse matrix, in order."""
    rows = []
    for cls in (
        scipy.sparse.csr_matrix,
        scipy.sparse.csr_array,
        scipy.sparse.csc_matrix,
        scipy.sparse.csc_array,
    ):
        original = cls.toarray

        def toarray(self, *args, _original=original, **kwargs):
            rows.append(self.shape[0])
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "toarray", toarray)
    return rows


# ------------------------------------------------------- the same model as dense X


@pytest.mark.parametrize(
    ("params", "fmt"),
    [*((MLP, fmt) for fmt in FORMATS), (CONV, "csr_matrix"), (CONV, "csc_array")],
    ids=[*(f"mlp-{fmt}" for fmt in FORMATS), "conv-csr_matrix", "conv-csc_array"],
)
def test_sparse_trains_and_infers_exactly_as_dense(X, params, fmt):
    dense = ACAITransformer(**params).fit(X)
    sparse = ACAITransformer(**params).fit(FORMATS[fmt](X))
    assert_same(outputs(sparse, FORMATS[fmt](X)), outputs(dense, X))
    dense.partial_fit(X)
    sparse.partial_fit(FORMATS[fmt](X))
    assert_same(outputs(sparse, X), outputs(dense, X))
    np.testing.assert_array_equal(
        sparse.interpolate(FORMATS[fmt](X[:3]), FORMATS[fmt](X[3:6]), n_steps=4),
        dense.interpolate(X[:3], X[3:6], n_steps=4),
    )


@pytest.mark.parametrize(
    "params",
    [{"shuffle": False}, {"dropout": 0.2}, {"precision": "bfloat16"}],
    ids=["no-shuffle", "dropout", "bfloat16"],
)
def test_sparse_trains_as_dense_with_every_step(X, params):
    dense = ACAITransformer(**MLP, **params).fit(X)
    sparse = ACAITransformer(**MLP, **params).fit(scipy.sparse.csr_matrix(X))
    assert_same(outputs(sparse, X), outputs(dense, X))


def test_partial_fit_from_the_first_call_on_sparse_chunks(X):
    dense, sparse = ACAITransformer(**MLP), ACAITransformer(**MLP)
    for chunk in np.array_split(X, 3):
        dense.partial_fit(chunk)
        sparse.partial_fit(scipy.sparse.csc_matrix(chunk))
    assert_same(outputs(sparse, X), outputs(dense, X))


def test_int64_indices_as_for_two_to_the_31_non_zeros(X):
    plain = ACAITransformer(**MLP).fit(scipy.sparse.csr_matrix(X))
    wide = ACAITransformer(**MLP).fit(with_int64_indices(X))
    assert_same(outputs(wide, with_int64_indices(X)), outputs(plain, X))
    wide.partial_fit(with_int64_indices(X).tocsc())
    plain.partial_fit(X)
    assert_same(outputs(wide, X), outputs(plain, X))


def test_sample_weight_with_sparse_x(X):
    weights = np.random.default_rng(1).uniform(0, 3, X.shape[0])
    weights[::7] = 0.0
    dense = ACAITransformer(**MLP).fit(X, sample_weight=weights)
    sparse = ACAITransformer(**MLP).fit(scipy.sparse.csr_matrix(X), sample_weight=weights)
    assert_same(outputs(sparse, X), outputs(dense, X))


@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_holds_out_sparse_rows(X, weighted, densified, monkeypatch):
    weights = np.linspace(0.5, 2.0, X.shape[0]) if weighted else None
    params = {**MLP, "early_stopping": True, "validation_fraction": 0.2}
    dense = ACAITransformer(**params).fit(X, sample_weight=weights)
    sparse = ACAITransformer(**params).fit(scipy.sparse.csr_matrix(X), sample_weight=weights)
    assert len(sparse.validation_scores_) == 3
    assert_same(outputs(sparse, X), outputs(dense, X))
    # The held-out rows are scored batch by batch, as inference densifies sparse X.
    monkeypatch.setattr(skacai._inference, "SPARSE_BATCH_VALUES", 5 * X.shape[1])
    del densified[:]
    batched = ACAITransformer(**params).fit(scipy.sparse.csr_matrix(X), sample_weight=weights)
    assert 5 in densified and max(densified) <= BATCH < X.shape[0] * 0.2
    np.testing.assert_allclose(batched.validation_scores_, dense.validation_scores_, rtol=1e-6)


def test_sparse_x_val(X):
    params = {**MLP, "early_stopping": True}
    dense = ACAITransformer(**params).fit(X[:90], X_val=X[90:])
    sparse = ACAITransformer(**params).fit(
        scipy.sparse.csr_matrix(X[:90]), X_val=scipy.sparse.csc_matrix(X[90:])
    )
    assert_same(outputs(sparse, X), outputs(dense, X))
    # A model fitted on dense X, whatever its scaling, scores sparse X_val batch by batch.
    scaled = {**params, "scaling": "feature"}
    dense = ACAITransformer(**scaled).fit(X[:90], X_val=X[90:])
    sparse_val = ACAITransformer(**scaled).fit(X[:90], X_val=scipy.sparse.csr_matrix(X[90:]))
    assert_same(outputs(sparse_val, X), outputs(dense, X))


def test_scoring_gets_the_sparse_x_val(X):
    seen = []

    def scoring(model, X_val):
        seen.append(X_val)
        return model.score(X_val)

    params = {**MLP, "early_stopping": True, "scoring": scoring}
    model = ACAITransformer(**params).fit(X[:90], X_val=scipy.sparse.csr_matrix(X[90:]))
    assert len(seen) == 3 and all(scipy.sparse.issparse(X_val) for X_val in seen)
    assert model.validation_scores_[-1] == model.score(X[90:])


# ------------------------------------------------------------ never densified whole


def test_sparse_x_is_never_densified_whole(X, densified, monkeypatch):
    rows_used = []

    def batch_rows(architecture, device):
        rows_used.append(architecture)
        return 32

    monkeypatch.setattr(skacai._inference, "batch_rows", batch_rows)
    X_sparse = scipy.sparse.csr_matrix(X)
    model = ACAITransformer(**MLP).fit(X_sparse)  # training batches, then whitening's
    assert densified and max(densified) <= 32 < X.shape[0]
    model.partial_fit(X_sparse.tocsc())
    assert max(densified) <= 32
    for method in (model.transform, model.score_samples, model.score):
        method(X_sparse)
    model.interpolate(X_sparse, X_sparse, n_steps=3)
    assert rows_used and max(densified) <= 32 < X.shape[0]
    # Wide data: batches of at most SPARSE_BATCH_VALUES values.
    monkeypatch.setattr(skacai._inference, "SPARSE_BATCH_VALUES", 10 * X.shape[1])
    del densified[:]
    model.score_samples(X_sparse)
    assert max(densified) == 10
    X_sparse.toarray()  # the spy sees a whole densification
    assert max(densified) == X.shape[0]


def test_duplicate_unsorted_indices_are_summed_in_a_copy(X):
    """The same model as the canonical matrix; the user's matrix is left as it was."""
    canonical = scipy.sparse.csr_matrix(X)
    bounds = zip(canonical.indptr[:-1], canonical.indptr[1:], strict=True)
    rows = [(canonical.indices[a:b], canonical.data[a:b] / 2) for a, b in bounds]
    raw = scipy.sparse.csr_matrix(
        (
            np.concatenate([np.r_[data, data][::-1] for _, data in rows]),
            np.concatenate([np.r_[cols, cols][::-1] for cols, _ in rows]),
            canonical.indptr * 2,
        ),
        shape=X.shape,
    )
    assert not raw.has_canonical_format
    data, indices = raw.data.copy(), raw.indices.copy()
    model = ACAITransformer(**MLP).fit(raw)
    np.testing.assert_array_equal(raw.data, data)
    np.testing.assert_array_equal(raw.indices, indices)
    assert_same(outputs(model, raw), outputs(ACAITransformer(**MLP).fit(canonical), X))


# ---------------------------------------------------------------------- scaling


def test_auto_scaling_is_none_for_sparse_x(X):
    for params in (MLP, CONV):
        model = ACAITransformer(**{**params, "scaling": "auto"}).fit(scipy.sparse.csr_matrix(X))
        np.testing.assert_array_equal(model.mean_, np.zeros(X.shape[1]))
        np.testing.assert_array_equal(model.scale_, np.ones(X.shape[1]))
        np.testing.assert_array_equal(
            model.transform(X), ACAITransformer(**params).fit(X).transform(X)
        )


def snapshot(model, X):
    return [
        model.transform(X),
        list(model.loss_curve_),
        model.mean_.copy(),
        [p.detach().clone() for p in model.encoder_.parameters()],
    ]


def assert_snapshot(model, X, before):
    after = snapshot(model, X)
    np.testing.assert_array_equal(after[0], before[0])
    assert after[1] == before[1]
    np.testing.assert_array_equal(after[2], before[2])
    assert all(a.equal(b) for a, b in zip(after[3], before[3], strict=True))


@pytest.mark.parametrize("scaling", ["feature", "global", "minmax"])
def test_centring_scalings_are_refused_for_sparse_training(X, scaling):
    X_sparse = scipy.sparse.csr_matrix(X)
    for method in ("fit", "partial_fit"):
        model = ACAITransformer(**{**MLP, "scaling": scaling})
        with pytest.raises(ValueError, match=f"scaling='{scaling}' {CENTRES}.*MaxAbsScaler"):
            getattr(model, method)(X_sparse)
        assert not hasattr(model, "encoder_")
    # Continuing a model fitted on dense X: its mean_ would centre the sparse X.
    model = ACAITransformer(**{**MLP, "scaling": scaling}).fit(X)
    before = snapshot(model, X)
    for call in (model.partial_fit, model.set_params(warm_start=True).fit):
        with pytest.raises(ValueError, match="this model's first fit .*" + CENTRES):
            call(X_sparse)
        assert_snapshot(model, X, before)
    # ... whereas transforming sparse X densifies each batch, then scales it.
    np.testing.assert_array_equal(model.transform(X_sparse), model.transform(X))
    np.testing.assert_array_equal(model.score_samples(X_sparse), model.score_samples(X))


def test_continuing_a_sparse_fit_with_another_scaling_parameter(X):
    """As for dense X, partial_fit and warm_start keep the fitted scaling (None here)."""
    X_sparse = scipy.sparse.csr_matrix(X)
    model = ACAITransformer(**MLP).fit(X_sparse).set_params(scaling="feature")
    model.partial_fit(X_sparse)
    model.set_params(warm_start=True).fit(X_sparse)
    assert model.n_iter_ == 7
    np.testing.assert_array_equal(model.mean_, np.zeros(X.shape[1]))


def test_tags_say_sparse_only_where_the_scaling_keeps_it():
    assert ACAITransformer().__sklearn_tags__().input_tags.sparse
    assert ACAITransformer(scaling=None).__sklearn_tags__().input_tags.sparse
    assert not ACAITransformer(scaling="feature").__sklearn_tags__().input_tags.sparse


# ------------------------------------------------------------------- bad input


def with_stored(X, value, dtype=None):
    X = scipy.sparse.csr_matrix(X, dtype=dtype, copy=True)
    X.data[3] = value
    return X


BAD = [
    ("nan", lambda X: with_stored(X, np.nan), "Input X contains NaN"),
    ("inf", lambda X: with_stored(X, np.inf), "Input X contains infinity"),
    ("inf-float32", lambda X: with_stored(X, -np.inf, np.float32), "contains infinity"),
    ("no-rows", lambda X: scipy.sparse.csr_matrix((0, X.shape[1])), r"0 sample\(s\)"),
    ("complex", lambda X: scipy.sparse.csr_matrix(X, dtype=np.complex128), "Complex data"),
    ("features", lambda X: scipy.sparse.csr_matrix(X[:, :9]), "X has 9 features"),
    ("overflow", lambda X: with_stored(X, 1e39), "beyond float32's range.*MaxAbsScaler"),
]


@pytest.mark.parametrize(("data", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_sparse_input_is_refused_and_changes_nothing(X, data, message):
    model = ACAITransformer(**MLP).fit(scipy.sparse.csr_matrix(X))
    before = snapshot(model, X)
    calls = [model.partial_fit, model.set_params(warm_start=True).fit]
    if "float32" not in message:  # inference in float64 does not overflow
        calls += [model.transform, model.score_samples]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call(data(X))
        assert_snapshot(model, X, before)
    if message.startswith("X has 9"):
        return
    fresh = ACAITransformer(**MLP)
    with pytest.raises(ValueError, match=message):
        fresh.fit(data(X))
    assert not hasattr(fresh, "encoder_")


def test_sparse_dtypes_as_dense(X):
    model = ACAITransformer(**MLP).fit(scipy.sparse.csr_matrix(X, dtype=np.float32))
    assert model.transform(scipy.sparse.csr_matrix(X, dtype=np.float32)).dtype == np.float32
    assert model.transform(scipy.sparse.csr_matrix(X)).dtype == np.float64
    counts = scipy.sparse.csr_matrix((X > 1).astype(np.int64))
    np.testing.assert_array_equal(
        ACAITransformer(**MLP).fit(counts).transform(counts),
        ACAITransformer(**MLP).fit(counts.toarray()).transform(counts.toarray()),
    )


# ------------------------------------------------------------------ pipelines


def test_pipeline_one_hot_encoder_to_a_classifier():
    rng = np.random.default_rng(0)
    colours = rng.choice(["red", "green", "blue", "grey"], 200)
    sizes = rng.choice(["S", "M", "L"], 200)
    y = (colours == "red") | (sizes == "L")
    categories = np.column_stack([colours, sizes])
    pipeline = make_pipeline(
        OneHotEncoder(sparse_output=True),
        ACAITransformer(**{**MLP, "scaling": "auto", "max_iter": 30}),
        LogisticRegression(),
    ).fit(categories, y)
    acai = pipeline[1]
    assert not acai.mean_.any()  # scaling="auto" saw sparse data
    # ACAI trained on the one-hot rows: their reconstruction error is under half
    # the first epoch's mean loss (0.08 against 0.30 here; untrained, equal)
    assert -acai.score(pipeline[0].transform(categories)) < 0.5 * acai.loss_curve_[0]
    assert pipeline.score(categories, y) > 0.8


def sentences(n, rng):
    topics = {
        "sport": "team match goal player coach league season win score stadium",
        "food": "bread cheese soup recipe oven garden salad dinner kitchen spice",
        "space": "planet rocket orbit star moon telescope galaxy launch comet crew",
    }
    labels = rng.integers(0, 3, n)
    words = [topics[name].split() for name in topics]
    texts = [" ".join(rng.choice(words[label], 6)) for label in labels]
    return texts, labels


def test_pipeline_tfidf_to_kmeans():
    texts, labels = sentences(60, np.random.default_rng(0))
    pipeline = make_pipeline(
        TfidfVectorizer(),
        ACAITransformer(**{**MLP, "scaling": "auto", "max_iter": 40, "batch_size": 8}),
        KMeans(n_clusters=3, n_init=10, random_state=0),
    )
    clusters = pipeline.fit_predict(texts)
    assert pipeline[0].transform(texts).format == "csr"
    # Each topic falls mostly into a cluster of its own.
    purity = sum(np.bincount(labels[clusters == c]).max() for c in np.unique(clusters))
    assert purity / len(texts) > 0.8


@pytest.mark.slow  # four fresh processes: CI runs it with the other smoke runs (make check-smoke)
def test_the_sparse_benchmark_runs_and_records_both_modes(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "scale" / "sparse_input.py"
    output = tmp_path / "sparse.jsonl"
    arguments = ["--rows", "2000", "--features", "500", "--threads", "1", "--output", output]
    result = subprocess.run(
        [sys.executable, str(script), *map(str, arguments)],
        capture_output=True,
        text=True,
        check=True,
    )
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["method"], r["mode"]) for r in records] == [
        ("fit", "dense"),
        ("fit", "sparse"),
        ("transform", "dense"),
        ("transform", "sparse"),
    ]
    assert all(r["seconds"] > 0 and r["stored_mib"] < r["dense_mib"] for r in records)
    assert "fit: sparse / dense time" in result.stdout
