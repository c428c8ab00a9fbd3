"""Sphinx configuration of the skae documentation.

Build with ``bash docs/build.sh`` (warnings are errors).
"""

import os
import re
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import skae

project = "skae"
author = "the skae developers"
copyright = "the skae developers"
release = skae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "auto_examples/*.ipynb", "auto_examples/*.py"]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# Members are listed by the class template; numpydoc's own table would
# reference methods (from sklearn's mixins) that have no page here.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# MathJax is loaded by the reader's browser, not at build time.
mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

# The gallery: every docs/examples/plot_*.py is run and its figures kept.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skae",),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
}

# Examples run with small max_iter on purpose; their convergence warnings
# would otherwise be printed into every page.
warnings.filterwarnings("ignore", message=".*maximum iterations.*")
os.environ.setdefault("MPLBACKEND", "Agg")


# Docstrings write shapes such as ``(n_samples, n_features_in_)`` in type
# lines, where reStructuredText would read the trailing underscore as a link
# target.  Quote such names in "of shape (...)" lines as literals.
_SHAPE_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=\s*[,)])")


def _quote_shape_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _SHAPE_NAME.sub(r"``\1``", line)


def setup(app):
    app.connect("autodoc-process-docstring", _quote_shape_names)
