"""Sphinx configuration of the skae documentation.

Build with ``bash docs/build.sh`` (warnings are errors).
"""

import os
import re
import sys
import warnings
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

sys.path.insert(0, os.path.abspath(".."))

import skae
import skae.exceptions

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
# Pages without sub-pages need no section navigation; the Performance page's
# wide tables get its width.
html_sidebars = {page: [] for page in ("index", "install", "performance", "developer_guide")}

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


# The benchmarks write their reports as markdown in benchmarks/results/; the
# Performance page includes them through this directive, converted to
# reStructuredText when the docs are built, so that no figure is ever retyped.
# It reads the subset the reports use: headings, paragraphs, "- " lists, pipe
# tables, `code`, **bold** and [links](target).
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
_INLINE = re.compile(r"(`[^`]+`)|(\*\*.+?\*\*)|(\[[^\]]+\]\([^)\s]+\))")
_PLAIN_SPECIALS = re.compile(r"([\\*_|`])")


def _markup(kind_start, body, kind_end, before, after):
    """Inline markup that stays markup whatever characters stand around it.

    reST reads ``**`` or two backquotes as markup only next to white space or
    some punctuation; an escaped space (removed from the output) separates
    them from any other neighbour.
    """
    left = "\\ " if before and not (before.isspace() or before in "-:/'\"<([{") else ""
    right = "\\ " if after and not (after.isspace() or after in "-.,:;!?\\/'\")]}>") else ""
    return f"{left}{kind_start}{body}{kind_end}{right}"


def _inline(text, report):
    """One markdown line (or table cell) as reStructuredText inline markup."""
    out, end = [], 0
    for match in _INLINE.finditer(text):
        out.append(_PLAIN_SPECIALS.sub(r"\\\1", text[end : match.start()]))
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        code, bold, link = match.groups()
        if code:
            out.append(_markup("``", code[1:-1], "``", before, after))
        elif bold:
            body = _PLAIN_SPECIALS.sub(r"\\\1", bold[2:-2])
            out.append(_markup("**", body, "**", before, after))
        else:
            label, target = link[1:].split("](", 1)
            target = target[:-1]
            if re.match(r"https?://", target):
                out.append(_markup("`", f"{label} <{target}>", "`__", before, after))
            else:
                # A file beside the report: name it where it lies in the repository.
                path = (report.parent / target).resolve().relative_to(RESULTS.parent.parent)
                if label == target:
                    out.append(_markup("``", path.as_posix(), "``", before, after))
                else:
                    out.append(_PLAIN_SPECIALS.sub(r"\\\1", label) + f" (``{path.as_posix()}``)")
        end = match.end()
    out.append(_PLAIN_SPECIALS.sub(r"\\\1", text[end:]))
    return "".join(out)


def _cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_to_rst(text, report, heading_chars):
    """A benchmark report's markdown as reStructuredText lines.

    The report's own title (``# ...``) is dropped: the page gives it a heading
    of its own.  ``## ...`` becomes a heading underlined with
    ``heading_chars[0]``, ``### ...`` with ``heading_chars[1]``.
    """
    lines, rst, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"(#+)\s+(.*)", line)
        if not line.strip():
            i += 1
        elif heading:
            level = len(heading.group(1))
            if level > 1:
                title = _inline(heading.group(2).strip(), report)
                rst += [title, heading_chars[level - 2] * len(title), ""]
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            header, rule, body = rows[0], rows[1], rows[2:]
            right = "".join("r" if cell.endswith(":") else "l" for cell in rule)
            rst += [
                ".. list-table::",
                "   :header-rows: 1",
                f"   :class: md-table md-align-{right}",
                "",
            ]
            for row in [header, *body]:
                for j, cell in enumerate(row):
                    rst.append(("   * - " if j == 0 else "     - ") + _inline(cell, report))
            rst.append("")
        elif line.startswith("- "):
            while i < len(lines) and lines[i].startswith("- "):
                item = [lines[i][2:].strip()]
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    item.append(lines[i].strip())
                    i += 1
                rst.append("- " + _inline(" ".join(item), report))
            rst.append("")
        else:
            paragraph = []
            while i < len(lines) and lines[i].strip() and not re.match(r"#|\||- ", lines[i]):
                paragraph.append(lines[i].strip())
                i += 1
            rst += [_inline(" ".join(paragraph), report), ""]
    return rst


class BenchmarkReport(Directive):
    """``.. benchmark-report:: speed.md``: a report of ``benchmarks/results/``, in place.

    Option ``:heading-chars:`` gives the underlines of the report's ``##`` and
    ``###`` headings, to fit the page's own levels (default ``~^``).
    """

    required_arguments = 1
    option_spec = {"heading-chars": directives.unchanged}

    def run(self):
        report = RESULTS / self.arguments[0]
        self.state.document.settings.env.note_dependency(str(report))
        rst = markdown_to_rst(
            report.read_text(encoding="utf-8"), report, self.options.get("heading-chars", "~^")
        )
        self.state_machine.insert_input(StringList(rst, str(report)), str(report))
        return []


def _align_report_tables(app, doctree):
    """Right-align the columns that the report's markdown right-aligns (``---:``)."""
    for table in doctree.findall(nodes.table):
        align = next((c[9:] for c in table["classes"] if c.startswith("md-align-")), None)
        if align is None:
            continue
        for row in table.findall(nodes.row):
            for entry, side in zip(row.findall(nodes.entry), align):
                if side == "r":
                    entry["classes"].append("text-end")


def _exception_aliases(app, env, node, contnode):
    """Resolve ``skae.ModelFileError`` (the package re-exports it) to its page in
    :mod:`skae.exceptions`."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("skae."):
        return None
    name = target.rsplit(".", 1)[1]
    if target != f"skae.{name}" or not hasattr(skae.exceptions, name):
        return None
    return env.get_domain("py").resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        f"skae.exceptions.{name}",
        node,
        contnode,
    )


def setup(app):
    app.connect("missing-reference", _exception_aliases)
    app.connect("autodoc-process-docstring", _quote_shape_names)
    app.add_directive("benchmark-report", BenchmarkReport)
    app.connect("doctree-read", _align_report_tables)
