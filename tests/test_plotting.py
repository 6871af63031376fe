"""skacai.plotting: pictures rendered with Agg, read back and checked for content."""

import copy
import inspect
import subprocess
import sys
import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402

from skacai import ACAITransformer  # noqa: E402
from skacai.plotting import (  # noqa: E402
    ALPHA,
    END_COLOR,
    MATPLOTLIB_MISSING,
    START_COLOR,
    plot_history,
    plot_interpolations,
    plot_latent,
    plot_reconstructions,
)

SMALL = {"hidden_layer_sizes": (16,), "max_iter": 2, "random_state": 0}


def _fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200], y[:200]


@pytest.fixture(scope="module")
def model(digits):
    return _fit(ACAITransformer(8, **SMALL), digits[0])


@pytest.fixture(scope="module")
def conv_model(digits):
    # A 4x16 image_shape_ (not the 8x8 square a 64-feature row would be guessed as).
    params = {"image_shape": (4, 16), "n_scales": 1, "conv_width": 2, "batch_size": 64}
    conv = ACAITransformer(32, architecture="conv", **params, max_iter=2, random_state=0)
    return _fit(conv, digits[0])


@pytest.fixture(autouse=True)
def no_pyplot_figures_leak():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _png(fig, tmp_path, name="plot.png"):
    """Render ``fig`` to a PNG, read it back and check it is not a blank canvas."""
    path = tmp_path / name
    fig.savefig(path, dpi=40)
    pixels = matplotlib.image.imread(path)
    blank_path = tmp_path / f"blank-{name}"
    Figure(figsize=fig.get_size_inches()).savefig(blank_path, dpi=40)
    blank = matplotlib.image.imread(blank_path)
    assert pixels.shape == blank.shape
    assert np.ptp(pixels[..., :3]) > 0.5
    assert np.mean(np.abs(pixels - blank)) > 0.01
    return pixels


def _images(ax):
    return [artist for artist in ax.get_children() if isinstance(artist, AxesImage)]


def _edge(ax):
    return to_rgba(ax.spines["left"].get_edgecolor())


# ---------------------------------------------------------------------- interpolations


@pytest.mark.parametrize("show_inputs", [False, True])
def test_interpolation_grid_has_one_panel_per_pair_and_alpha(model, digits, tmp_path, show_inputs):
    X = digits[0]
    n_pairs, n_steps = 3, 5
    fig = plot_interpolations(model, X[:n_pairs], X[10:13], n_steps, show_inputs=show_inputs)
    assert isinstance(fig, Figure)
    n_cols = n_steps + 2 * show_inputs
    assert len(fig.axes) == n_pairs * n_cols
    grid = np.array(fig.axes).reshape(n_pairs, n_cols)
    for ax in grid.ravel():
        (image,) = _images(ax)
        assert image.get_array().shape == (8, 8)
    titles = [ax.get_title() for ax in grid[0]]
    first = 1 if show_inputs else 0
    assert titles[first] == f"{ALPHA}=0 (start)"
    assert titles[first + n_steps - 1] == f"{ALPHA}=1 (end)"
    assert sum("start" in t for t in titles) == 1 + show_inputs
    assert sum("end" in t for t in titles) == 1 + show_inputs
    assert all(_edge(ax) == to_rgba(START_COLOR) for ax in grid[:, first])
    assert all(_edge(ax) == to_rgba(END_COLOR) for ax in grid[:, first + n_steps - 1])
    assert _edge(grid[0, first + 1]) not in (to_rgba(START_COLOR), to_rgba(END_COLOR))
    # The panels show what interpolate decodes (and the inputs themselves).
    frames = model.interpolate(X[:n_pairs], X[10:13], n_steps=n_steps)
    np.testing.assert_allclose(
        _images(grid[1, first + 2])[0].get_array(), frames[1, 2].reshape(8, 8)
    )
    if show_inputs:
        np.testing.assert_allclose(_images(grid[2, 0])[0].get_array(), X[2].reshape(8, 8))
        np.testing.assert_allclose(_images(grid[2, -1])[0].get_array(), X[12].reshape(8, 8))
        assert titles[0] == "input (start)" and titles[-1] == "input (end)"
    _png(fig, tmp_path)


def test_interpolations_use_the_models_image_shape(conv_model, digits, tmp_path):
    X = digits[0]
    assert conv_model.image_shape_ == (1, 4, 16)
    fig = plot_interpolations(conv_model, X[:2], X[2:4], n_steps=4)
    assert len(fig.axes) == 8
    assert all(_images(ax)[0].get_array().shape == (4, 16) for ax in fig.axes)
    _png(fig, tmp_path)
    # An explicit image_shape wins over the model's.
    fig = plot_interpolations(conv_model, X[:2], X[2:4], n_steps=4, image_shape=(8, 8))
    assert all(_images(ax)[0].get_array().shape == (8, 8) for ax in fig.axes)


def test_interpolations_explicit_alphas_one_pair_and_row_labels(model, digits):
    X = digits[0]
    fig = plot_interpolations(model, X[0], X[1], alphas=[0.0, 0.5, 1.0], row_labels=["0 to 1"])
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [f"{ALPHA}=0 (start)", f"{ALPHA}=0.5", f"{ALPHA}=1 (end)"]
    assert fig.axes[0].get_ylabel() == "0 to 1"


def test_rgb_images_are_drawn_in_colour(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(40, 3 * 4 * 5))
    rgb = _fit(ACAITransformer(4, architecture="mlp", image_shape=(3, 4, 5), **SMALL), X)
    fig = plot_interpolations(rgb, X[:2], X[2:4], n_steps=3, show_inputs=True)
    for ax in fig.axes:
        array = _images(ax)[0].get_array()
        assert array.shape == (4, 5, 3)
        assert array.min() >= 0 and array.max() <= 1
    np.testing.assert_allclose(
        _images(fig.axes[0])[0].get_array(),
        (X[0].reshape(3, 4, 5).transpose(1, 2, 0) - X[:4].min()) / np.ptp(X[:4]),
        atol=0.1,  # the shared range also covers the decoded frames
    )
    _png(fig, tmp_path)


def test_non_square_features_without_a_shape_are_line_plots(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 10))
    lines = _fit(ACAITransformer(3, **SMALL), X)
    fig = plot_interpolations(lines, X[:2], X[2:4], n_steps=4)
    assert len(fig.axes) == 8
    for ax in fig.axes:
        assert not _images(ax)
        (line,) = ax.get_lines()
        assert len(line.get_ydata()) == 10
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # one shared scale
    _png(fig, tmp_path)


@pytest.mark.parametrize(
    ("image_shape", "match"),
    [((7, 7), "49 values per sample"), ((2, 8, 8), "128 values"), ((0, 8), "positive ints")],
)
def test_bad_image_shape_is_refused(model, digits, image_shape, match):
    X = digits[0]
    with pytest.raises(ValueError, match=match):
        plot_interpolations(model, X[:2], X[2:4], image_shape=image_shape)
    with pytest.raises(ValueError, match=match):
        plot_reconstructions(model, X, image_shape=image_shape)


def test_bad_row_labels_and_steps_are_refused(model, digits):
    X = digits[0]
    with pytest.raises(ValueError, match="one label per pair"):
        plot_interpolations(model, X[:2], X[2:4], row_labels=["a"])
    with pytest.raises(ValueError, match="The 'n_steps' parameter of plot_interpolations"):
        plot_interpolations(model, X[:2], X[2:4], n_steps=1)


def test_drawing_into_a_subfigure(model, digits, tmp_path):
    X = digits[0]
    fig = Figure(figsize=(6, 4))
    top, bottom = fig.subfigures(2, 1)
    assert plot_interpolations(model, X[:2], X[2:4], n_steps=6, fig=top) is top
    assert plot_reconstructions(model, X, n=6, fig=bottom) is bottom
    assert len(fig.axes) == 12 + 12
    _png(fig, tmp_path)


# ---------------------------------------------------------------------- reconstructions


def test_reconstructions_show_originals_above_reconstructions(model, digits, tmp_path):
    X = digits[0]
    fig = plot_reconstructions(model, X, n=5)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10
    grid = np.array(fig.axes).reshape(2, 5)
    assert grid[0, 0].get_ylabel() == "original"
    assert grid[1, 0].get_ylabel() == "reconstruction"
    reconstructions = model.inverse_transform(model.transform(X[:5]))
    for k in range(5):
        np.testing.assert_allclose(_images(grid[0, k])[0].get_array(), X[k].reshape(8, 8))
        np.testing.assert_allclose(
            _images(grid[1, k])[0].get_array(), reconstructions[k].reshape(8, 8), rtol=1e-6
        )
    _png(fig, tmp_path)
    # n larger than the data: one column per sample.
    assert len(plot_reconstructions(model, X[:3], n=8).axes) == 6
    with pytest.raises(
        ValueError,
        match=r"The 'n' parameter of plot_reconstructions must be an int \(not a bool\) "
        r"in the range \[1, inf\)\. Got 0 instead",
    ):
        plot_reconstructions(model, X, n=0)


# ---------------------------------------------------------------------- latent space


def test_latent_scatter_has_every_sample_and_one_colour_per_label(model, digits, tmp_path):
    X, y = digits
    ax = plot_latent(model, X, y)
    labels = np.unique(y)
    assert len(ax.collections) == len(labels)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(X)
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == len(labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [str(label) for label in labels]
    assert ax.get_xlabel() == "PC 1"
    _png(ax.figure, tmp_path)


def test_latent_continuous_labels_get_a_colorbar_and_ax_is_used(model, digits, tmp_path):
    X, y = digits
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_latent(model, X, y + 0.5, ax=ax) is ax
    assert len(fig.axes) == 2  # the scatter and its colorbar
    (scatter,) = ax.collections
    assert len(scatter.get_offsets()) == len(X)
    _png(fig, tmp_path)
    (scatter,) = plot_latent(model, X).collections  # no labels
    assert len(scatter.get_offsets()) == len(X)


def test_latent_2d_codes_are_drawn_directly(digits):
    X, y = digits
    flat = _fit(ACAITransformer(2, **SMALL), X)
    ax = plot_latent(flat, X, y, method="tsne")  # no projection for 2-D codes
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    codes = np.concatenate([flat.transform(X)[y == label] for label in np.unique(y)])
    np.testing.assert_allclose(offsets, codes, rtol=1e-6)
    assert ax.get_xlabel() == "code 1"


def test_latent_tsne(model, digits):
    X, y = digits
    ax = plot_latent(model, X[:60], y[:60], method="tsne")
    assert sum(len(c.get_offsets()) for c in ax.collections) == 60
    assert ax.get_xlabel() == "t-SNE 1"


def test_latent_errors(model, digits, monkeypatch):
    X, y = digits
    with pytest.raises(
        ValueError,
        match=r"The 'method' parameter of plot_latent must be a str among \{.*'tsne'.*\}\. "
        "Got 'mds' instead",
    ):
        plot_latent(model, X, y, method="mds")
    with pytest.raises(ValueError, match="one label per sample"):
        plot_latent(model, X, y[:-1])
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ImportError, match="pip install umap-learn"):
        plot_latent(model, X, y, method="umap")


# ---------------------------------------------------------------------- history


def test_history_has_one_curve_per_term(model, tmp_path):
    ax = plot_history(model)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(model.history_)
    for line, name in zip(ax.get_lines(), model.history_, strict=True):
        assert line.get_label() == name
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, model.n_iter_ + 1))
        np.testing.assert_allclose(line.get_ydata(), model.history_[name])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"
    _png(ax.figure, tmp_path)
    assert plot_history(model, log=False).get_yscale() == "linear"


def test_history_with_non_positive_values_stays_linear(model):
    zero = copy.copy(model)
    zero.history_ = {**model.history_, "adversarial": [0.0] * model.n_iter_}
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_history(zero, ax=ax) is ax
    assert ax.get_yscale() == "linear"


# ---------------------------------------------------------------------- shared checks


def _bad_calls(model, X, y):
    """(call, parameter) pairs: each call passes one bad value, named in the error."""
    pair = (X[:2], X[2:4])
    return [
        (lambda: plot_interpolations(model, *pair, True), "n_steps"),
        (lambda: plot_interpolations(model, *pair, 2.5), "n_steps"),
        (lambda: plot_interpolations(model, *pair, "8"), "n_steps"),
        (lambda: plot_interpolations(model, *pair, alphas=0.5), "alphas"),
        (lambda: plot_interpolations(model, *pair, show_inputs="yes"), "show_inputs"),
        (lambda: plot_interpolations(model, *pair, row_labels="ab"), "row_labels"),
        (lambda: plot_interpolations(model, *pair, image_shape=64), "image_shape"),
        (lambda: plot_interpolations(model, *pair, cmap=3), "cmap"),
        (lambda: plot_interpolations(model, *pair, vmin=np.nan), "vmin"),
        (lambda: plot_interpolations(model, *pair, vmax="1"), "vmax"),
        (lambda: plot_interpolations(model, *pair, fig=Figure().add_subplot()), "fig"),
        (lambda: plot_interpolations(model, *pair, figsize=5), "figsize"),
        (lambda: plot_interpolations(model, *pair, panel_size=0), "panel_size"),
        (lambda: plot_interpolations(model, None, X[2:4]), "X_start"),
        (lambda: plot_interpolations(X, *pair), "model"),
        (lambda: plot_reconstructions(model, X, n=True), "n"),
        (lambda: plot_reconstructions(model, X, n="8"), "n"),
        (lambda: plot_reconstructions(model, X, n=-1), "n"),
        (lambda: plot_reconstructions(model, "X"), "X"),
        (lambda: plot_reconstructions(model, X, panel_size=-1.0), "panel_size"),
        (lambda: plot_latent(model, X, y, method="PCA"), "method"),
        (lambda: plot_latent(model, X, "y"), "y"),
        (lambda: plot_latent(model, X, y, ax=Figure()), "ax"),
        (lambda: plot_latent(model, X, y, random_state=True), "random_state"),
        (lambda: plot_latent(model, X, y, s=-1), "s"),
        (lambda: plot_latent(None, X, y), "model"),
        (lambda: plot_history(model, log="yes"), "log"),
        (lambda: plot_history(model, ax=Figure()), "ax"),
        (lambda: plot_history("model"), "model"),
    ]


def test_bad_arguments_name_the_parameter(model, digits):
    X, y = digits
    for call, name in _bad_calls(model, X, y):
        with pytest.raises(ValueError, match=f"The '{name}' parameter of plot_[a-z]+ must be"):
            call()


def test_the_checked_functions_keep_their_signatures():
    assert list(inspect.signature(plot_interpolations).parameters)[:4] == [
        "model",
        "X_start",
        "X_end",
        "n_steps",
    ]
    assert str(inspect.signature(plot_history)) == "(model, *, ax=None, log=True)"
    assert plot_latent.__doc__.startswith("Scatter the codes")


def _all_plots(model, X, y):
    return [
        lambda: plot_interpolations(model, X[:2], X[2:4]),
        lambda: plot_reconstructions(model, X),
        lambda: plot_latent(model, X, y),
        lambda: plot_history(model),
    ]


def test_unfitted_models_are_refused(digits):
    X, y = digits
    for plot in _all_plots(ACAITransformer(), X, y):
        with pytest.raises(NotFittedError):
            plot()


def test_missing_matplotlib_is_explained(model, digits, monkeypatch):
    X, y = digits
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    for plot in _all_plots(model, X, y):
        with pytest.raises(ImportError) as info:
            plot()
        assert str(info.value) == MATPLOTLIB_MISSING
        assert "pip install 'skacai[plots]'" in str(info.value)


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, skacai.plotting; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
