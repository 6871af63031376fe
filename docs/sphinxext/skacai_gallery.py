"""A sphinx-gallery image scraper that also captures figures pyplot does not manage.

``skacai.plotting`` draws on :class:`matplotlib.figure.Figure` objects created without
pyplot, so sphinx-gallery's own matplotlib scraper (which asks pyplot for its open
figures) would not see them. This scraper runs that one, then saves every figure
held by the example's variables (a Figure, an Axes, or an array or list of Axes) that
pyplot does not manage and that no earlier code block has shown.
"""

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, FigureBase
from sphinx_gallery.scrapers import figure_rst, matplotlib_scraper

_SHOWN = "_skacai_gallery_shown"


def _root_figure(value):
    if isinstance(value, Axes):
        value = value.figure
    while isinstance(value, FigureBase) and not isinstance(value, Figure):
        value = value.figure  # a SubFigure's parent
    return value if isinstance(value, Figure) else None


def _new_figures(namespace):
    figures = {}
    for value in list(namespace.values()):
        if isinstance(value, (list, tuple)):
            candidates = value
        elif isinstance(value, np.ndarray) and value.dtype == object:  # plt.subplots' Axes
            candidates = value.flat
        else:
            candidates = [value]
        for candidate in candidates:
            fig = _root_figure(candidate)
            if fig is not None:
                figures.setdefault(id(fig), fig)
    return [fig for fig in figures.values() if not getattr(fig, _SHOWN, False)]


def scraper(block, block_vars, gallery_conf):
    """pyplot's figures (sphinx-gallery's scraper), then the example's other figures."""
    new = _new_figures(block_vars["example_globals"])
    unmanaged = [fig for fig in new if fig.canvas.manager is None]
    # pyplot's figures are shown (and closed) by matplotlib's scraper now: a closed
    # figure loses its manager, so mark them too, or a later block would show them again.
    for fig in new:
        setattr(fig, _SHOWN, True)
    rst = matplotlib_scraper(block, block_vars, gallery_conf)
    paths = []
    for fig in unmanaged:
        path = block_vars["image_path_iterator"].next()
        fig.savefig(path)
        paths.append(path)
    if paths:
        rst += figure_rst(paths, gallery_conf["src_dir"])
    return rst
