"""A local Sphinx extension for the printable PDF of the book (``make pdf``).

Three things:

* **The site's math macros in LaTeX.** The site defines ``\\E``, ``\\Var``, ``\\norm`` ... once, in
  ``mathjax3_config`` (``_config.yml``). The LaTeX build gets the same macros, generated from that
  setting, at the end of ``latex_elements["preamble"]``, so the two cannot drift apart.
* **A stand-in for ``bbm.sty``** (``tools/latex/bbm.sty``) copied next to the ``.tex`` file: the
  class of sphinx-jupyterbook-latex loads that package, which Debian ships only inside the 500 MB
  ``texlive-fonts-extra``; the book never uses what it defines.
* **The ``{book-pdf}`` directive** on the front page: in the HTML build it links the PDFs that
  ``make pdf`` left in ``book_pdf_dir`` (``_build/pdf``), as Sphinx downloads (copied into the
  site's ``_downloads/``); a PDF that does not exist is not linked, and the page says how to make
  it instead, so a plain ``make book`` has no broken link. The page is re-read on every build,
  so the next HTML build after ``make pdf`` adds the links. The student site
  (``hide_solutions``) links only the student PDF. Outside HTML (in the PDF itself) the directive
  produces nothing.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

HERE = Path(__file__).resolve().parent


def latex_macros(mathjax_macros: dict) -> str:
    """LaTeX definitions of MathJax 3 ``tex.macros`` (``name: body`` or ``name: [body, nargs]``).

    ``\\providecommand`` then ``\\renewcommand``: a name that LaTeX or a package already defines
    (``\\Var`` is one, in the jupyterBook class) takes the site's meaning, as on the website.

    >>> print(latex_macros({"E": "\\\\mathbb{E}", "norm": ["\\\\lVert #1 \\\\rVert", 1]}))
    \\providecommand{\\E}{}\\renewcommand{\\E}{\\mathbb{E}}
    \\providecommand{\\norm}{}\\renewcommand{\\norm}[1]{\\lVert #1 \\rVert}
    """
    lines = []
    for name, value in mathjax_macros.items():
        if isinstance(value, (list, tuple)):
            body, nargs = value[0], int(value[1])
            args = f"[{nargs}]"
        else:
            body, args = value, ""
        lines.append(f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{args}{{{body}}}")
    return "\n".join(lines)


def configure_latex(app, config) -> None:
    """Append the site's macros to the LaTeX preamble; ship the bbm stand-in with the .tex."""
    macros = ((config.mathjax3_config or {}).get("tex") or {}).get("macros") or {}
    elements = config.latex_elements
    elements["preamble"] = (elements.get("preamble", "") + "\n% The site's math macros "
                            "(mathjax3_config in _config.yml), added by tools/book_pdf.py\n"
                            + latex_macros(macros) + "\n")
    config.latex_additional_files = list(config.latex_additional_files) + [str(HERE / "latex" / "bbm.sty")]


def numbering_as_on_the_site(app) -> None:
    """Exercises numbered "Exercise 3.2" as on the site (sphinx-jupyterbook-latex sets depth 2)."""
    if app.builder.format == "latex":
        app.config.numfig_secnum_depth = 1


class ChapterNumbersAsOnTheSite(SphinxPostTransform):
    """In the PDF, number the chapters the site numbers, and only those, with the site's numbers
    (and put the bibliography where the site has it, :meth:`bibliography_in_its_place`).

    LaTeX numbers every chapter; the site numbers only the chapters of its numbered parts
    (Foundations ... Synthesis: 1 to 10), so "Getting started" and "Reference" would shift every
    chapter number (chapter 1 would print as 4, and its exercises, numbered by Sphinx as on the
    site, would not match). Before each page of the book, raw LaTeX switches section numbering
    off (an unnumbered page: ``secnumdepth`` -1, which also keeps the chapter counter still) or
    on (a numbered page).
    """

    default_priority = 900  # after sphinx-jupyterbook-latex has arranged the parts (700)
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        self.bibliography_in_its_place()
        numbered = {d for d, n in self.env.toc_secnumbers.items() if n}
        for start in self.document.findall(addnodes.start_of_file):
            depth = 2 if start["docname"] in numbered else -1
            start.insert(0, nodes.raw("", f"\\setcounter{{secnumdepth}}{{{depth}}}\n", format="latex"))


    def bibliography_in_its_place(self) -> None:
        """The list of references where the site has it, instead of an empty chapter plus a list.

        Sphinx gathers every citation of the book into one list at the very end of the PDF, under
        its own heading "Bibliography"; the site's page of that name (``book_pdf_bibliography_doc``)
        would stay behind as a chapter holding one sentence about the site's back-links. The list
        takes that chapter's place (its heading is LaTeX's "Bibliography").
        """
        from sphinx.builders.latex.nodes import thebibliography

        bibs = [n for n in self.document.children if isinstance(n, thebibliography)]
        pages = [n for n in self.document.findall(addnodes.start_of_file)
                 if n["docname"] == self.config.book_pdf_bibliography_doc]
        if len(bibs) != 1 or len(pages) != 1:
            return
        bib, page = bibs[0], pages[0]
        bib.parent.remove(bib)
        for child in list(page.children):
            page.remove(child)
        page += bib


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _pdf_pages(env) -> set:
    if not hasattr(env, "book_pdf_pages"):
        env.book_pdf_pages = set()
    return env.book_pdf_pages


def reread_pdf_pages(app, env, added, changed, removed) -> list[str]:
    """Re-read the pages with a ``{book-pdf}`` on every build: whether a PDF exists (and its size)
    is decided when the page is read, and a PDF made after the last read may be older than it, so
    Sphinx's own test of dependencies (modification times) would miss it. It is one short page."""
    return sorted(_pdf_pages(env) - set(added) - set(changed) - set(removed))


def _purge(app, env, docname) -> None:
    _pdf_pages(env).discard(docname)


def _merge(app, env, docnames, other) -> None:
    _pdf_pages(env).update(set(docnames) & getattr(other, "book_pdf_pages", set()))


class BookPdf(SphinxDirective):
    """``{book-pdf}`` with options ``:book:`` and ``:student:`` (file names in ``book_pdf_dir``)."""

    option_spec = {"book": directives.unchanged_required, "student": directives.unchanged_required}

    def _link(self, name: str) -> tuple[list[nodes.Node], bool]:
        rel = Path(self.config.book_pdf_dir) / name
        path = Path(self.env.srcdir) / rel
        if not path.is_file():
            return [nodes.literal(text=name)], False
        ref = addnodes.download_reference("", "", refdoc=self.env.docname, reftarget="/" + rel.as_posix(),
                                          refexplicit=True, refdomain="", reftype="download")
        ref += nodes.literal(text=name)
        return [ref, nodes.Text(f" ({_size(path)})")], True

    def run(self) -> list[nodes.Node]:
        _pdf_pages(self.env).add(self.env.docname)
        student_site = bool(self.config["hide_solutions"])
        para = nodes.paragraph()
        wanted = []
        if not student_site and "book" in self.options:
            wanted.append((self.options["book"], "the whole book with the solutions of the exercises"))
        if "student" in self.options:
            wanted.append((self.options["student"], "the student edition, without the solutions"))
        links = [(self._link(name), what) for name, what in wanted]
        present = [(parts, what) for (parts, ok), what in links if ok]
        if present:
            para += nodes.strong(text="Print it. ")
            para += nodes.Text("The book as a PDF, typeset from the same executed notebooks as this site: ")
            for i, (parts, what) in enumerate(present):
                if i:
                    para += nodes.Text("; ")
                para.extend(parts)
                para += nodes.Text(f", {what}")
            para += nodes.Text(".")
        else:
            para += nodes.Text("A printable PDF of the book is made with ")
            para += nodes.literal(text="make pdf")
            para += nodes.Text(" (it needs TeX Live; see the page for instructors); this build of the "
                               "site was made without it.")
        only = addnodes.only(expr="html")
        only += para
        return [only]


def setup(app):
    app.add_config_value("book_pdf_dir", "_build/pdf", "env")
    app.add_config_value("book_pdf_bibliography_doc", "book/references", "env")
    app.connect("config-inited", configure_latex, priority=900)
    app.add_directive("book-pdf", BookPdf)
    app.connect("env-get-outdated", reread_pdf_pages)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("builder-inited", numbering_as_on_the_site, priority=900)
    app.add_post_transform(ChapterNumbersAsOnTheSite)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
