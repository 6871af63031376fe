"""Pictures of a fitted :class:`~skacai.ACAITransformer`: interpolations, reconstructions,
the latent space and the training curves.

matplotlib is optional (``pip install 'skacai[plots]'``) and imported only when a
function here is called. The functions draw on :class:`matplotlib.figure.Figure`
objects, never on pyplot's global state, and never call ``plt.show()``: save the
result with ``fig.savefig(...)`` or let a notebook display it.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skacai._optional import MATPLOTLIB_MISSING as MATPLOTLIB_MISSING  # re-exported
from skacai._optional import matplotlib as _matplotlib
from skacai._optional import new_figure as _new_figure
from skacai._sklearn_compat import (
    RANDOM_STATE,
    HasMethods,
    Integers,
    Interval,
    StrOptions,
    validate_params,
)
from skacai._validation import check_image_shape

__all__ = ["plot_history", "plot_interpolations", "plot_latent", "plot_reconstructions"]

START_COLOR = "tab:orange"
END_COLOR = "tab:blue"
ALPHA = "\N{GREEK SMALL LETTER ALPHA}"
_MAX_LEGEND_LABELS = 20
# The parameters plot_interpolations and plot_reconstructions share.
_GRID_PARAMETERS = {
    "image_shape": ["array-like", None],
    "cmap": [str, callable],  # a matplotlib Colormap is callable
    "vmin": [Interval(Real, None, None, closed="neither"), None],
    "vmax": [Interval(Real, None, None, closed="neither"), None],
    "fig": [HasMethods(["subplots", "subplots_adjust"]), None],
    "figsize": ["array-like", None],
    "panel_size": [Interval(Real, 0, None, closed="neither")],
}


# ---------------------------------------------------------------------- frame shapes


def _frame_shape(model, image_shape, n_features):
    """``(channels, height, width)`` to draw one sample as an image, or None for lines."""
    if image_shape is not None:
        return check_image_shape(image_shape, n_features, "the model")
    shape = getattr(model, "image_shape_", None)
    if shape is not None and len(shape) == 3 and shape[1] > 1 and shape[2] > 1:
        return tuple(int(s) for s in shape)
    side = math.isqrt(n_features)
    if side > 1 and side * side == n_features:
        return (1, side, side)
    return None


def _as_image(frame, shape, vmin, vmax):
    """One flattened sample as an array for ``imshow``."""
    channels = shape[0]
    image = np.asarray(frame, dtype=np.float64).reshape(shape)
    if channels == 1:
        return image[0]
    if channels == 3:
        span = vmax - vmin if vmax > vmin else 1.0
        return np.clip((image.transpose(1, 2, 0) - vmin) / span, 0.0, 1.0)
    return np.concatenate(list(image), axis=1)  # other channel counts: side by side


def _value_range(arrays, vmin, vmax):
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    low = float(values.min()) if vmin is None and values.size else vmin
    high = float(values.max()) if vmax is None and values.size else vmax
    low = 0.0 if low is None else float(low)
    high = 1.0 if high is None else float(high)
    return low, (high if high > low else low + 1.0)


def _draw_panel(ax, frame, shape, cmap, vmin, vmax):
    """Draw one sample: an image without ticks, or a line plot with shared limits."""
    if shape is None:
        ax.plot(np.arange(frame.size), frame, linewidth=1)
        ax.set_xlim(0, max(frame.size - 1, 1))
        ax.set_ylim(vmin, vmax)
    else:
        image = _as_image(frame, shape, vmin, vmax)
        if image.ndim == 3:
            ax.imshow(image, interpolation="nearest")
        else:
            ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _frame_axes(ax, color, linestyle="-"):
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(2.5)
        spine.set_linestyle(linestyle)


def _grid(fig, n_rows, n_cols, figsize, panel_size, title_inches):
    """An ``n_rows x n_cols`` grid of axes, with ``title_inches`` free above it."""
    if fig is None:
        if figsize is None:
            figsize = (max(n_cols * panel_size, 2.0), n_rows * panel_size + title_inches + 0.1)
        fig = _new_figure(figsize=figsize)
    else:
        _matplotlib()
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    height = fig.bbox.height / fig.dpi  # inches, also for a SubFigure
    top = max(1 - title_inches / height, 0.5) if height > 0 else 0.9
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.02, top=top, wspace=0.08, hspace=0.1)
    return fig, axes


def _rows_2d(X):
    """Accept one sample given as a 1-D array by making it a one-row matrix."""
    return np.reshape(X, (1, -1)) if np.ndim(X) == 1 else X


def _interpolation_frames(model, X_start, X_end, n_steps, alphas):
    """``model.interpolate``'s frames, ``(n_pairs, n_alphas, n_features)``, and the alphas."""
    if alphas is None:
        frames = model.interpolate(X_start, X_end, n_steps=n_steps)
        return frames, np.linspace(0.0, 1.0, frames.shape[1])
    frames = model.interpolate(X_start, X_end, alphas=alphas)
    return frames, np.asarray(alphas, dtype=np.float64).ravel()


def _title_columns(axes, alphas, offset):
    """Title the top row: one alpha per column (after ``offset`` input columns)."""
    for k, alpha in enumerate(alphas):
        suffix = " (start)" if alpha == 0 else " (end)" if alpha == 1 else ""
        axes[0, k + offset].set_title(f"{ALPHA}={alpha:.2g}{suffix}", fontsize=7)
    if offset:
        axes[0, 0].set_title("input (start)", fontsize=7)
        axes[0, -1].set_title("input (end)", fontsize=7)


# ------------------------------------------------------------------- public functions


@validate_params(
    {
        **_GRID_PARAMETERS,
        "model": [HasMethods(["fit", "interpolate"])],
        "X_start": ["array-like"],
        "X_end": ["array-like"],
        "n_steps": [Integers(2, None, closed="left")],
        "alphas": ["array-like", None],
        "show_inputs": ["boolean"],
        "row_labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def plot_interpolations(
    model,
    X_start,
    X_end,
    n_steps=8,
    *,
    alphas=None,
    image_shape=None,
    show_inputs=False,
    row_labels=None,
    cmap="gray",
    vmin=None,
    vmax=None,
    fig=None,
    figsize=None,
    panel_size=1.0,
):
    """Draw decoded latent interpolations as a grid: one row per pair, one column per alpha.

    Row ``i`` shows ``model.interpolate(X_start, X_end, ...)[i]``, i.e. the decoded
    ``(1 - alpha) * f(X_start[i]) + alpha * f(X_end[i])`` for each alpha. The columns
    for ``alpha = 0`` and ``alpha = 1`` are the endpoints (reconstructions of the two
    inputs): they are titled "alpha=0 (start)" and "alpha=1 (end)" (with a Greek
    alpha) and framed in orange and blue.

    Parameters
    ----------
    model : ACAITransformer
        A fitted model (anything with ``interpolate`` and ``n_features_in_``).

    X_start, X_end : array-like of shape (n_pairs, n_features) or (n_features,)
        The pairs' two ends; a 1-D array is one pair.

    n_steps : int, default=8
        Number of evenly spaced alphas from 0 to 1, endpoints included (at least 2).
        Ignored when ``alphas`` is given.

    alphas : array-like of shape (n_steps,), default=None
        Explicit mixing coefficients in ``[0, 1]``.

    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` (channel first, C-order)
        of one sample. None uses ``model.image_shape_`` when it is a 2-D image, else a
        square when ``n_features`` is a perfect square, else draws each frame as a
        1-D line plot. One channel is drawn with ``cmap``, three as RGB, other channel
        counts side by side.

    show_inputs : bool, default=False
        Add a first and a last column with the real inputs ``X_start`` and ``X_end``
        (dashed frames), to compare with the endpoint reconstructions.

    row_labels : sequence of str, default=None
        One label per pair, written to the left of its row.

    cmap : str or Colormap, default="gray"
        Colormap of one-channel images.

    vmin, vmax : float, default=None
        Value range of the colour scale (images) or of the y-axis (line plots),
        shared by all panels; None takes the minimum / maximum of what is drawn.

    fig : matplotlib Figure or SubFigure, default=None
        An empty figure to draw into; None creates a new
        :class:`matplotlib.figure.Figure` (not registered with pyplot).

    figsize : tuple of float, default=None
        Size in inches of a new figure; None gives ``panel_size`` inches per panel.

    panel_size : float, default=1.0
        Inches per panel when ``figsize`` is None.

    Returns
    -------
    fig : matplotlib Figure or SubFigure
        The figure, with ``n_pairs * (n_steps + 2 * show_inputs)`` axes.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        If ``image_shape`` is invalid or does not match the number of features, if
        ``row_labels`` does not have one label per pair, or if ``model.interpolate``
        refuses the inputs.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> from skacai.plotting import plot_interpolations
    >>> X = load_digits().data[:100]
    >>> model = ACAITransformer(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    >>> model = model.fit(X)
    >>> fig = plot_interpolations(model, X[:3], X[3:6], n_steps=5, show_inputs=True)
    >>> len(fig.axes)  # 3 pairs x (5 alphas + 2 inputs)
    21
    >>> fig.axes[1].get_title().endswith("=0 (start)")
    True
    >>> fig.savefig("interpolations.png")  # doctest: +SKIP
    """
    check_is_fitted(model)
    _matplotlib()
    X_start, X_end = _rows_2d(X_start), _rows_2d(X_end)
    frames, alphas = _interpolation_frames(model, X_start, X_end, n_steps, alphas)
    n_pairs, n_alphas, n_features = frames.shape
    shape = _frame_shape(model, image_shape, n_features)
    if row_labels is not None and len(row_labels) != n_pairs:
        raise ValueError(
            f"row_labels must have one label per pair ({n_pairs}), got {len(row_labels)}."
        )
    shown = [frames]
    if show_inputs:
        starts = np.asarray(X_start, dtype=np.float64)
        ends = np.asarray(X_end, dtype=np.float64)
        shown += [starts, ends]
    vmin, vmax = _value_range(shown, vmin, vmax)

    offset = 1 if show_inputs else 0
    fig, axes = _grid(fig, n_pairs, n_alphas + 2 * offset, figsize, panel_size, 0.3)
    for i in range(n_pairs):
        for k in range(n_alphas):
            ax = axes[i, k + offset]
            _draw_panel(ax, frames[i, k], shape, cmap, vmin, vmax)
            if alphas[k] == 0:
                _frame_axes(ax, START_COLOR)
            elif alphas[k] == 1:
                _frame_axes(ax, END_COLOR)
        if show_inputs:
            _draw_panel(axes[i, 0], starts[i], shape, cmap, vmin, vmax)
            _frame_axes(axes[i, 0], START_COLOR, "--")
            _draw_panel(axes[i, -1], ends[i], shape, cmap, vmin, vmax)
            _frame_axes(axes[i, -1], END_COLOR, "--")
        if row_labels is not None:
            axes[i, 0].set_ylabel(str(row_labels[i]), fontsize=8)
    _title_columns(axes, alphas, offset)
    return fig


@validate_params(
    {
        **_GRID_PARAMETERS,
        "model": [HasMethods(["fit", "transform", "inverse_transform"])],
        "X": ["array-like"],
        "n": [Integers(1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def plot_reconstructions(
    model,
    X,
    *,
    n=8,
    image_shape=None,
    cmap="gray",
    vmin=None,
    vmax=None,
    fig=None,
    figsize=None,
    panel_size=1.0,
):
    """Draw the first ``n`` samples above their reconstructions.

    The top row (labelled ``"original"``) shows ``X[:n]``, the bottom row (labelled
    ``"reconstruction"``) ``model.inverse_transform(model.transform(X[:n]))``, on
    one shared colour scale.

    Parameters
    ----------
    model : ACAITransformer
        A fitted model.

    X : array-like of shape (n_samples, n_features)
        Samples; only the first ``n`` rows are used.

    n : int, default=8
        Number of samples (columns) to draw, at most ``n_samples``.

    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of one sample; None
        works it out as in :func:`plot_interpolations`.

    cmap : str or Colormap, default="gray"
        Colormap of one-channel images.

    vmin, vmax : float, default=None
        Shared value range; None takes the minimum / maximum of what is drawn.

    fig : matplotlib Figure or SubFigure, default=None
        An empty figure to draw into; None creates a new
        :class:`matplotlib.figure.Figure`.

    figsize : tuple of float, default=None
        Size in inches of a new figure; None gives ``panel_size`` inches per panel.

    panel_size : float, default=1.0
        Inches per panel when ``figsize`` is None.

    Returns
    -------
    fig : matplotlib Figure or SubFigure
        The figure, with ``2 * min(n, n_samples)`` axes.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        If ``n`` is not a positive int, if ``image_shape`` is invalid or does not
        match the number of features, or if ``model.transform`` refuses ``X``.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> from skacai.plotting import plot_reconstructions
    >>> X = load_digits().data[:100]
    >>> model = ACAITransformer(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    >>> fig = plot_reconstructions(model.fit(X), X, n=6)
    >>> len(fig.axes), fig.axes[0].get_ylabel(), fig.axes[6].get_ylabel()
    (12, 'original', 'reconstruction')
    """
    check_is_fitted(model)
    _matplotlib()
    X = _rows_2d(X)
    head = X[: int(n)]
    reconstructions = model.inverse_transform(model.transform(head))
    originals = np.asarray(head, dtype=np.float64)
    shape = _frame_shape(model, image_shape, reconstructions.shape[1])
    vmin, vmax = _value_range([originals, reconstructions], vmin, vmax)

    n_cols = len(reconstructions)
    fig, axes = _grid(fig, 2, n_cols, figsize, panel_size, title_inches=0.05)
    for k in range(n_cols):
        _draw_panel(axes[0, k], originals[k], shape, cmap, vmin, vmax)
        _draw_panel(axes[1, k], reconstructions[k], shape, cmap, vmin, vmax)
    axes[0, 0].set_ylabel("original", fontsize=8)
    axes[1, 0].set_ylabel("reconstruction", fontsize=8)
    return fig


def _embed_2d(codes, method, random_state):
    if codes.shape[1] <= 2:
        return codes, ("code 1", "code 2")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=random_state).fit_transform(codes), ("PC 1", "PC 2")
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, max(1.0, (len(codes) - 1) / 3))
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state)
        return tsne.fit_transform(codes), ("t-SNE 1", "t-SNE 2")
    try:
        import umap
    except ImportError as exc:
        raise ImportError("plot_latent(method='umap') needs umap: pip install umap-learn") from exc
    reducer = umap.UMAP(n_components=2, random_state=random_state)
    return reducer.fit_transform(codes), ("UMAP 1", "UMAP 2")


@validate_params(
    {
        "model": [HasMethods(["fit", "transform"])],
        "X": ["array-like"],
        "y": ["array-like", None],
        "method": [StrOptions({"pca", "tsne", "umap"})],
        "ax": [HasMethods(["scatter"]), None],
        "random_state": RANDOM_STATE,
        "s": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def plot_latent(model, X, y=None, *, method="pca", ax=None, random_state=0, s=10):
    """Scatter the codes ``model.transform(X)`` in 2-D, coloured by label.

    Codes with more than two dimensions are projected with PCA, t-SNE or UMAP;
    2-D codes are drawn as they are (1-D codes along the x-axis).

    Parameters
    ----------
    model : ACAITransformer
        A fitted model.

    X : array-like of shape (n_samples, n_features)
        Samples to encode.

    y : array-like of shape (n_samples,), default=None
        Labels. Up to 20 distinct non-float labels get one colour each and a legend
        entry; float labels or more distinct labels are drawn with a colorbar.

    method : {"pca", "tsne", "umap"}, default="pca"
        The 2-D projection: :class:`sklearn.decomposition.PCA`,
        :class:`sklearn.manifold.TSNE` or ``umap.UMAP`` (needs ``umap-learn``).

    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new :class:`matplotlib.figure.Figure` with one.

    random_state : int, RandomState instance or None, default=0
        Seed of the projection.

    s : float, default=10
        Marker size.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on (its figure is ``ax.figure``).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ValueError
        If ``method`` is unknown or ``y`` does not have one label per sample.
    ImportError
        If matplotlib is not installed, or ``method="umap"`` and ``umap-learn``
        is not.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> from skacai.plotting import plot_latent
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:100], y[:100]
    >>> model = ACAITransformer(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    >>> ax = plot_latent(model.fit(X), X, y)
    >>> len(ax.collections), len(ax.get_legend().get_texts())  # one per digit
    (10, 10)
    """
    check_is_fitted(model)
    matplotlib = _matplotlib()
    codes = np.asarray(model.transform(X), dtype=np.float64)
    if y is not None:
        y = column_or_1d(y)
        if len(y) != len(codes):
            raise ValueError(
                f"y must have one label per sample: got {len(y)} labels for {len(codes)} samples."
            )
    if codes.shape[1] == 1:
        codes = np.column_stack([codes[:, 0], np.zeros(len(codes))])
    points, (xlabel, ylabel) = _embed_2d(codes, method, random_state)
    if ax is None:
        ax = _new_figure(figsize=(5.5, 4.5)).add_subplot()

    labels = None if y is None else np.unique(y)
    discrete = labels is not None and y.dtype.kind not in "fc"
    if y is None:
        ax.scatter(points[:, 0], points[:, 1], s=s)
    elif discrete and len(labels) <= _MAX_LEGEND_LABELS:
        palette = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
        for i, label in enumerate(labels):
            mask = y == label
            ax.scatter(points[mask, 0], points[mask, 1], s=s, color=palette(i), label=str(label))
        ax.legend(title="label", fontsize=7, markerscale=1.5, loc="best")
    else:
        values = np.unique(y, return_inverse=True)[1] if y.dtype.kind not in "biufc" else y
        scatter = ax.scatter(points[:, 0], points[:, 1], s=s, c=values, cmap="viridis")
        ax.figure.colorbar(scatter, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"latent codes ({method})" if codes.shape[1] > 2 else "latent codes")
    return ax


@validate_params(
    {
        "model": [HasMethods(["fit"])],
        "ax": [HasMethods(["plot"]), None],
        "log": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def plot_history(model, *, ax=None, log=True):
    """Plot the per-epoch training losses recorded in ``model.history_``.

    One line per term (``"loss"``, ``"reconstruction"``, ``"adversarial"``,
    ``"critic"``, ``"critic_regularization"``) against the epoch, with a legend.

    Parameters
    ----------
    model : ACAITransformer
        A fitted model.

    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new :class:`matplotlib.figure.Figure` with one.

    log : bool, default=True
        Use a logarithmic y-axis when every plotted value is positive (a linear one
        otherwise).

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on (its figure is ``ax.figure``).

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> from skacai.plotting import plot_history
    >>> X = load_digits().data[:100]
    >>> model = ACAITransformer(4, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    >>> ax = plot_history(model.fit(X))
    >>> [text.get_text() for text in ax.get_legend().get_texts()][:2]
    ['loss', 'reconstruction']
    """
    check_is_fitted(model)
    _matplotlib()
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        ax = _new_figure(figsize=(6, 4)).add_subplot()
    all_values = []
    for name, values in model.history_.items():
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            continue
        all_values.append(values)
        epochs = np.arange(1, values.size + 1)
        ax.plot(epochs, values, label=name, marker="o" if values.size < 20 else None)
    if all_values:
        finite = np.concatenate(all_values)
        finite = finite[np.isfinite(finite)]
        if log and finite.size and np.all(finite > 0):
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("training history")
    return ax
