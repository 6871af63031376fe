"""Optional dependencies, imported only when a feature needs them."""

from __future__ import annotations

MATPLOTLIB_MISSING = (
    "skacai.plotting needs matplotlib: pip install 'skacai[plots]' (or pip install matplotlib)"
)


def matplotlib():
    """Import matplotlib lazily, with an installation hint when it is missing."""
    try:
        import matplotlib
        import matplotlib.figure
    except ImportError as exc:
        raise ImportError(MATPLOTLIB_MISSING) from exc
    return matplotlib


def new_figure(**kwargs):
    """A matplotlib Figure that is not registered with pyplot."""
    return matplotlib().figure.Figure(**kwargs)
