"""The pieces of the PDF build that need no TeX: macros, the claims tables in print, the TeX list.

The PDF itself is checked by tests/site/test_pdf.py (after ``make pdf``).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from tooling import load_tool

ROOT = Path(__file__).resolve().parent.parent
book_pdf = load_tool("book_pdf")
claims_ledger = load_tool("claims_ledger")


def test_tex_packages_are_the_same_in_the_makefile_and_ci():
    make = re.search(r"^TEX_PACKAGES\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    ci = re.search(r"^TEX_PACKAGES=\((.+)\)$", (ROOT / ".ci" / "run").read_text(), re.M).group(1).split()
    assert make == ci
    assert {"texlive-xetex", "latexmk", "poppler-utils", "fonts-freefont-otf"} <= set(make)


def test_every_site_macro_is_defined_for_latex_with_its_arguments():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    macros = cfg["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    preamble = book_pdf.latex_macros(macros)
    lines = preamble.splitlines()
    assert len(lines) == len(macros)
    for name, value in macros.items():
        body, nargs = (value[0], value[1]) if isinstance(value, list) else (value, 0)
        expected = (f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}"
                    + (f"[{nargs}]" if nargs else "") + f"{{{body}}}")
        assert expected in lines, f"{name}: {expected!r} not in the preamble"
    # Braces balance in every definition (a body cut short would break the whole PDF).
    for line in lines:
        assert line.count("{") == line.count("}"), line


def test_latex_config_uses_xelatex_and_ships_the_bbm_stand_in():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["latex"]["latex_engine"] == "xelatex"
    assert cfg["latex"]["latex_documents"]["targetname"] == "noisy-descent.tex"
    assert "book_pdf" in cfg["sphinx"]["local_extensions"]
    stub = (ROOT / "tools" / "latex" / "bbm.sty").read_text()
    assert "\\ProvidesPackage{bbm}" in stub and "\\mathbbm" in stub


def _bundle_with_claims(html: str):
    """A myst-nb mime bundle as the LaTeX builder sees it: text/html and text/plain children."""
    from docutils import nodes

    bundle = nodes.container(nb_element="mime_bundle")
    html_child = nodes.container(mime_type="text/html")
    html_child += nodes.raw("", html, format="html")
    text_child = nodes.container(mime_type="text/plain")
    text_child += nodes.literal_block("", "claim | kind | ...")
    bundle += [html_child, text_child]
    return bundle


def _transform(cls, doc, builder_format="latex"):
    """A post-transform on ``doc`` as a builder of the given format would run it."""
    from types import SimpleNamespace

    doc.settings.env = SimpleNamespace(app=SimpleNamespace(builder=SimpleNamespace(format=builder_format)))
    return cls(doc)


def test_claims_table_in_print_is_a_real_table_made_from_the_json():

    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    from sgdnoise.claims import ClaimLog

    log = ClaimLog("03_x", profile="small", device="cpu")
    log.agree("variance follows 1/B", 1.02, 1.0, 0.01, source="sgd_stationary_covariance_linear_regression")
    log.agree("spread matches eta/B", 2.0, 2.01, 0.02, source="closed form")
    doc = new_document("page", get_default_settings(Parser))
    doc += _bundle_with_claims(log.table()._repr_html_())
    transform = _transform(claims_ledger.ClaimsTableForPrint, doc)
    assert transform.is_supported()
    transform.run()
    assert not [n for n in doc.findall(nodes.container) if n.get("nb_element") == "mime_bundle"]
    tables = list(doc.findall(nodes.table))
    assert len(tables) == 1
    rows = list(tables[0].findall(nodes.row))
    assert len(rows) == 1 + 2                                   # header + one row per claim
    first = [e.astext() for e in rows[1].findall(nodes.entry)]
    assert first[0] == "variance follows 1/B" and first[-1] == "✓"
    assert "2 of 2 claims hold" in doc.astext() and "small" in doc.astext()
    # In print, every claims table is a longtable with given widths, and underscores may break.
    _transform(claims_ledger.LedgerTablesForPrint, doc).run()
    assert {"longtable", "colwidths-given"} <= set(tables[0]["classes"])
    assert "colwidths-auto" not in tables[0]["classes"]
    assert [c["colwidth"] for c in tables[0].findall(nodes.colspec)] == claims_ledger.PRINT_WIDTHS
    assert any(r.astext() == r"\allowbreak{}" for r in tables[0].findall(nodes.raw))
    printed = "".join(t.astext() for t in tables[0].findall(nodes.Text) if not isinstance(t.parent, nodes.raw))
    assert "sgd_stationary_covariance_linear_regression" in printed   # the text itself is unchanged


def test_claims_table_in_html_is_left_alone():
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("page", get_default_settings(Parser))
    assert not _transform(claims_ledger.ClaimsTableForPrint, doc, "html").is_supported()
    assert not _transform(claims_ledger.LedgerTablesForPrint, doc, "html").is_supported()


def test_a_bundle_without_claims_is_untouched():
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("page", get_default_settings(Parser))
    doc += _bundle_with_claims("<div>an animation</div>")
    _transform(claims_ledger.ClaimsTableForPrint, doc).run()
    assert [n for n in doc.findall(nodes.container) if n.get("nb_element") == "mime_bundle"]
    assert not list(doc.findall(nodes.table))
