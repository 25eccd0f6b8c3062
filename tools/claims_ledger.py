"""A local Sphinx extension: the book's ledger of claims, built from the executed chapters.

Every chapter ends with a "Checked on this page" table, the output of
``sgdnoise.claims.ClaimLog.table()``. That HTML output carries the chapter's claims as JSON (a
``<script type="application/json" data-sgdnoise-claims>`` element). While Sphinx reads a page,
this extension picks the JSON out of the page's outputs and keeps it in the build environment;
the ``{claims-ledger}`` directive puts a placeholder on the ledger page, and a post-transform
replaces it with the tables once every chapter has been read. The ledger is therefore made from
the very outputs the chapters show, cached or freshly executed, and cannot drift from them.

Outside HTML (the PDF of ``make pdf``), a chapter's table would fall back to its ``text/plain``
form, one line per claim far wider than a page: there a post-transform replaces the output with a
real table made from the same JSON, and every claims table (chapters and ledger) is typeset as a
``longtable`` with fixed column widths, so that it breaks across pages and wraps its cells.

A claim whose detectable error exceeds 25 % without a stated reason is reported as a warning,
which fails the strict builds of ``make test``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from sphinx_tables import docutils_table

# The same columns and formatting as the chapters' own tables.
from sgdnoise.claims import LOOSE_LIMIT, TABLE_HEADER, format_detectable, table_rows

LOGGER = logging.getLogger(__name__)
_PAYLOAD = re.compile(r'<script type="application/json" data-sgdnoise-claims>(.*?)</script>', re.S)


class LedgerNode(nodes.General, nodes.Element):
    """Placeholder for the ledger, replaced once every page has been read."""


class ClaimsLedger(SphinxDirective):
    """``{claims-ledger}``: every claim of the book, grouped by chapter, with totals."""

    def run(self):
        _ledger_docs(self.env).add(self.env.docname)
        return [LedgerNode()]


def _store(env) -> dict:
    if not hasattr(env, "sgdnoise_claims"):
        env.sgdnoise_claims = {}
    return env.sgdnoise_claims


def _ledger_docs(env) -> set:
    if not hasattr(env, "sgdnoise_ledger_docs"):
        env.sgdnoise_ledger_docs = set()
    return env.sgdnoise_ledger_docs


def collect_claims(app, doctree) -> None:
    """Read the claims JSON out of a page's HTML outputs."""
    docname = app.env.docname
    found = []
    for raw in doctree.findall(nodes.raw):
        if "html" not in raw.get("format", ""):
            continue
        for payload in _PAYLOAD.findall(raw.astext()):
            found.append(json.loads(payload.replace("<\\/", "</")))
    if not found:
        return
    claims = [c for data in found for c in data["claims"]]
    _store(app.env)[docname] = {"chapter": found[-1]["chapter"], "profile": found[-1]["profile"],
                                "device": found[-1]["device"], "claims": claims}
    for c in claims:
        if not c["passed"]:
            LOGGER.warning(f"claim {c['statement']!r} failed on this page", location=docname)
        loose = c["detectable"] > LOOSE_LIMIT or not c.get("error_known", True)
        if loose and not c.get("why_loose"):
            LOGGER.warning(f"claim {c['statement']!r} detects only a {c['detectable']:.0%} relative error "
                           f"(or has no standard error) and does not say why", location=docname)


def purge(app, env, docname) -> None:
    _store(env).pop(docname, None)
    _ledger_docs(env).discard(docname)


def merge(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in getattr(other, "sgdnoise_claims", {}):
            _store(env)[docname] = other.sgdnoise_claims[docname]
        if docname in getattr(other, "sgdnoise_ledger_docs", set()):
            _ledger_docs(env).add(docname)


def ledger_outdated(app, env, added, changed, removed):
    """Re-read the ledger pages whenever any page changed (its claims may have)."""
    if added or changed or removed:
        return sorted(_ledger_docs(env) - set(added) - set(changed))
    return []


def _table(header, rows, classes=("colwidths-auto", "sgdnoise-ledger")) -> nodes.table:
    return docutils_table(header, rows, classes=classes)


def _doclink(fromdoc: str, todoc: str, text: str) -> nodes.paragraph:
    ref = pending_xref(refdoc=fromdoc, reftarget="/" + todoc, reftype="doc", refdomain="std",
                       refexplicit=True, refwarn=True, classes=["xref", "doc"])
    ref += nodes.inline(text=text)
    para = nodes.paragraph()
    para += ref
    return para


class LedgerPostTransform(SphinxPostTransform):
    """Replace the placeholder with the totals table and one table per chapter."""

    default_priority = 8  # before the reference resolvers, so the chapter links resolve

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(LedgerNode)):
            node.replace_self(self.build())

    def build(self):
        env, here = self.env, self.env.docname
        store = _store(env)
        order = [d for d in env.found_docs if d in store]
        order.sort(key=lambda d: (store[d]["chapter"], d))
        title = lambda d: env.titles[d].astext() if d in env.titles else d  # noqa: E731
        out = []
        totals, total_rows = {"claims": 0, "passed": 0}, []
        loosest = (0.0, "", "")
        totals["not assessed"] = 0
        for d in order:
            data = store[d]
            cl = data["claims"]
            assessed = [c for c in cl if c.get("error_known", True)]
            worst = max(assessed, key=lambda c: c["detectable"], default=None)
            unassessed = len(cl) - len(assessed)
            totals["claims"] += len(cl)
            totals["passed"] += sum(c["passed"] for c in cl)
            totals["not assessed"] += unassessed
            if worst is not None and worst["detectable"] >= loosest[0]:
                loosest = (worst["detectable"], worst["statement"], title(d))
            total_rows.append([_doclink(here, d, title(d)), len(cl), sum(c["passed"] for c in cl), unassessed,
                               "" if worst is None else format_detectable(worst["detectable"]) + f" ({worst['statement']})",
                               data["profile"], data["device"]])
        total_rows.append(["all chapters", totals["claims"], totals["passed"], totals["not assessed"],
                           format_detectable(loosest[0]) + (f" ({loosest[1]}, {loosest[2]})" if loosest[1] else ""),
                           "", ""])
        out.append(_table(["chapter", "claims", "passing", "single runs (error not assessed)",
                           "loosest detectable error", "size profile", "device"], total_rows,
                          classes=("colwidths-auto", "sgdnoise-ledger", "sgdnoise-ledger-totals")))
        for d in order:
            data = store[d]
            head = nodes.rubric(text=f"{title(d)} — {len(data['claims'])} claims, "
                                     f"{data['profile']} size, {data['device']}")
            out.append(head)
            out.append(_doclink(here, d, "Open the chapter"))
            out.append(_table(TABLE_HEADER, table_rows(data["claims"])))
        if not order:
            LOGGER.warning("the claims ledger found no claims in any page", location=here)
        return out


_BREAK_AFTER = re.compile(r"(?<=_)(?=\w)|(?<=\.)(?=[A-Za-z_])")

# Column widths (relative) of the claims tables in print, in the order of TABLE_HEADER.
PRINT_WIDTHS = [28, 9, 15, 18, 13, 11, 6]


def _print_table(table: nodes.table, widths=None) -> None:
    """Make a claims table printable: a longtable with fixed, relative column widths."""
    tgroup = next(iter(table.findall(nodes.tgroup)))
    specs = list(tgroup.findall(nodes.colspec))
    widths = widths if widths and len(widths) == len(specs) else [1] * len(specs)
    for spec, w in zip(specs, widths):
        spec["colwidth"] = w
    table["classes"] = [c for c in table["classes"] if c != "colwidths-auto"] + ["colwidths-given", "longtable"]
    # Long identifiers (function names in the sources) may break after an underscore or a dot.
    for text in list(table.findall(nodes.Text)):
        if isinstance(text.parent, nodes.raw):
            continue
        pieces = _BREAK_AFTER.split(text.astext())
        if len(pieces) == 1:
            continue
        new = []
        for i, piece in enumerate(pieces):
            if i:
                new.append(nodes.raw("", r"\allowbreak{}", format="latex"))
            new.append(nodes.Text(piece))
        text.parent.replace(text, new)


class ClaimsTableForPrint(SphinxPostTransform):
    """Outside HTML, a chapter's "Checked on this page" output becomes a real table from its JSON.

    Runs before myst-nb's ``SelectMimeType`` (priority 4), which would otherwise pick the
    ``text/plain`` representation for the LaTeX builder.
    """

    default_priority = 3

    def is_supported(self) -> bool:
        return self.app.builder.format != "html"

    def run(self, **kwargs) -> None:
        for bundle in list(self.document.findall(nodes.container)):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            payloads = [p for raw in bundle.findall(nodes.raw) for p in _PAYLOAD.findall(raw.astext())]
            if not payloads:
                continue
            data = json.loads(payloads[-1].replace("<\\/", "</"))
            claims = data["claims"]
            caption = nodes.paragraph()
            caption += nodes.Text(f"{sum(c['passed'] for c in claims)} of {len(claims)} claims hold, "
                                  "computed at the ")
            caption += nodes.literal(text=str(data["profile"]))
            caption += nodes.Text(" size on ")
            caption += nodes.literal(text=str(data["device"]))
            caption += nodes.Text(".")
            table = _table(TABLE_HEADER, table_rows(claims))
            bundle.replace_self([caption, table])


class LedgerTablesForPrint(SphinxPostTransform):
    """Outside HTML, every claims table (chapters and ledger) as a longtable with fixed widths."""

    default_priority = 9  # after the ledger is built (8)

    def is_supported(self) -> bool:
        return self.app.builder.format != "html"

    def run(self, **kwargs) -> None:
        for table in list(self.document.findall(nodes.table)):
            if "sgdnoise-ledger" not in table["classes"]:
                continue
            totals = "sgdnoise-ledger-totals" in table["classes"]
            _print_table(table, [22, 8, 8, 12, 30, 10, 10] if totals else PRINT_WIDTHS)


def _add_static(app) -> None:
    """Publish tools/static (the claims tables' and the chapters' layout stylesheets) with the site."""
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app):
    app.connect("builder-inited", _add_static)
    app.add_css_file("sgdnoise-claims.css")
    app.add_css_file("sgdnoise-site.css")   # display math, code cells, frame players, provenance line
    app.add_node(LedgerNode)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.connect("doctree-read", collect_claims)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-outdated", ledger_outdated)
    app.add_post_transform(LedgerPostTransform)
    app.add_post_transform(ClaimsTableForPrint)
    app.add_post_transform(LedgerTablesForPrint)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
