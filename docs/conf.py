"""Sphinx configuration for the skacai documentation.

Build with ``make docs`` (warnings are errors, and every example of the gallery runs).
The build needs no network: there is no intersphinx, so no inventory is fetched.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery's examples draw without a display
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # skacai itself, from this checkout
sys.path.insert(0, str(HERE / "sphinxext"))  # the gallery's image scraper

import skacai  # noqa: E402

# -- Project ------------------------------------------------------------------

project = "skacai"
author = "The skacai developers"
copyright = "The skacai developers"
release = skacai.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# auto_examples/ (written by sphinx-gallery) and generated/ (by autosummary) are read.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
highlight_language = "python3"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc -----------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections are the reference
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # api.rst lists the methods explicitly
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# Nitpicky mode (-n) checks every cross-reference. References into other projects'
# documentation (``sklearn.pipeline.Pipeline``, ``matplotlib.figure.Figure``...) cannot
# resolve: the build is offline, so no intersphinx inventories are fetched. Ignore those
# only; references to skacai's own objects must resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|scipy|sklearn|matplotlib|torch|joblib|safetensors|dask)(\..*)?"),
]

# -- MyST (the Markdown pages) ------------------------------------------------

# Links such as ``user_guide.md#dtypes`` point at headings: give headings anchors.
myst_heading_anchors = 3

# -- sphinx-gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py",  # run every example (each takes under a minute)
    # matplotlib's scraper, plus the figures skacai.plotting draws without pyplot.
    "image_scrapers": ("skacai_gallery.scraper",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

# -- HTML ---------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skacai {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "use_edit_page_button": False,
}
html_static_path = []
html_show_sourcelink = False
