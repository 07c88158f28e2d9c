"""Sphinx configuration of the sklearn-hier documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``tox -e docs``); add
``-D plot_gallery=0`` to build the examples' pages without running them.
"""

from sklearn_hier import __version__

project = "sklearn-hier"
author = "The sklearn-hier developers"
copyright = "2026, The sklearn-hier developers"  # noqa: A001 (Sphinx reads this name)
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "results/soundfont-cpu/*",
    "results/ablation/*",
    "results/mixtures-cpu/*",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]

# API reference: one page per public name, members listed by the templates in _templates/.
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" on each API page
    "doc_module": ("sklearn_hier",),
    "backreferences_dir": "generated/backreferences",
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-hier {__version__}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
