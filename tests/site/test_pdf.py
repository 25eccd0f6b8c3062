"""The printable PDFs of ``make pdf``, read back with poppler's ``pdftotext`` and ``pdfimages``.

Run by ``make site-test`` (part of ``make test``) after ``make pdf`` and then ``make book`` and
``make student`` have built ``_build/pdf/`` and both sites. Checks, for the whole book
(``noisy-descent.pdf``) and the student edition (``noisy-descent-student.pdf``):

- every page title of ``_toc.yml`` is in the PDF, and every numbered chapter carries the site's
  number (chapter 1 is "1 The stochastic gradient", not shifted by the unnumbered front pages);
- no unresolved reference: no "??" in the text, no "undefined references" in the LaTeX log;
- the figures: as many images as the site shows in its articles (``<img>``), counted three ways
  that share no code path: ``<img>`` elements in the site, ``\\sphinxincludegraphics`` in the
  ``.tex``, and image objects in the PDF (``pdfimages -list``, one per distinct image file);
- no notebook output fell back to a ``text/plain`` placeholder (``<Figure size ...>``,
  ``<IPython.core.display.HTML object>``, an animation's repr): every figure or animation must
  carry an ``image/png`` (an animation: its still frame), which the LaTeX builder prefers; and no
  progress bar (``sgdnoise.progress``) was printed;
- the exercises: as many as the site has; each with its solution in the book, none in the
  student edition;
- the front page of each site links its PDF (the student site only the student edition), and the
  linked file is the one ``make pdf`` made.

Without TeX or poppler (or without the PDFs) the module is skipped with the reason, except under
CI (``CI=true``), where ``.ci/run`` installs TeX and a skip would hide a broken build: there it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import importlib.util

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("booktools", ROOT / "tools" / "book.py")
booktools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(booktools)
BUILD = Path(os.environ.get("SITE_BUILD_DIR", ROOT / "_build"))
PDF_DIR = BUILD / "pdf"
EDITIONS = {  # edition -> (PDF, its LaTeX build folder, the site that links it)
    "book": (PDF_DIR / "noisy-descent.pdf", PDF_DIR / "book" / "_build" / "latex", BUILD / "html"),
    "student": (PDF_DIR / "noisy-descent-student.pdf", PDF_DIR / "student" / "_build" / "latex",
                BUILD / "student" / "_build" / "html"),
}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"under CI the PDF test must run: {reason}", pytrace=False)
    pytest.skip(f"PDF test skipped: {reason}", allow_module_level=True)


missing_tools = [t for t in ("pdftotext", "pdfimages") if shutil.which(t) is None]
if missing_tools:
    _skip_or_fail(f"{', '.join(missing_tools)} not found (Debian: poppler-utils; .ci/run installs it)")
missing_pdfs = [str(p.relative_to(ROOT)) for p, _, _ in EDITIONS.values() if not p.is_file()]
if missing_pdfs:
    _skip_or_fail(f"{', '.join(missing_pdfs)} not built (run make pdf; it needs xelatex and latexmk)")


def toc_pages() -> list[tuple[str, bool]]:
    """Every page of ``_toc.yml`` as (file, numbered?), in order (the root first, unnumbered)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [(toc["root"], False)]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            pages.append((chapter["file"], bool(part.get("numbered"))))
    return pages


def source_title(file: str) -> str:
    """The first level-1 heading of a page's source (markdown file or notebook)."""
    md, nb = ROOT / f"{file}.md", ROOT / f"{file}.ipynb"
    if md.exists():
        text = md.read_text()
    else:
        import nbformat

        text = "\n".join(c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "markdown")
    match = re.search(r"^# (.+)$", text, re.M)
    assert match, f"{file}: no level-1 heading"
    return match.group(1).strip()


def flat(text: str) -> str:
    """Whitespace collapsed, so that titles wrapped over two lines still match."""
    return re.sub(r"\s+", " ", text)


_text_cache: dict[Path, str] = {}


def pdf_text(pdf: Path) -> str:
    if pdf not in _text_cache:
        _text_cache[pdf] = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                                          capture_output=True, text=True).stdout
    return _text_cache[pdf]


def article_images(site: Path) -> int:
    """``<img>`` elements inside the article of every page of the table of contents."""
    count = 0
    for file, _ in toc_pages():
        page = (site / f"{file}.html").read_text(errors="replace")
        article = re.search(r'<article class="bd-article"[^>]*>(.*?)</article>', page, re.S)
        assert article, f"{file}.html: no article element"
        count += len(re.findall(r"<img\b", article.group(1)))
    return count


def site_exercises(site: Path) -> int:
    # An exercise box's class list may carry metadata tokens between "exercise" and "admonition"
    # (tools/exercise_index.py): count the boxes as tools/book.py does.
    return sum(booktools.count_exercises((site / f"{file}.html").read_text(errors="replace"))
               for file, _ in toc_pages())


@pytest.fixture(params=sorted(EDITIONS))
def edition(request):
    return request.param


def test_every_page_title_is_in_the_pdf_with_the_sites_chapter_number(edition):
    pdf, _, _ = EDITIONS[edition]
    text = flat(pdf_text(pdf))
    number = 0
    for file, numbered in toc_pages():
        title = source_title(file)
        assert flat(title) in text, f"{pdf.name}: the title {title!r} of {file} is not in the PDF"
        if numbered:
            number += 1
            # The table of contents and the chapter's own heading both carry its number.
            assert re.search(rf"(?<![\d.]){number} {re.escape(flat(title))}", text), (
                f"{pdf.name}: chapter {title!r} is not numbered {number} as on the site")
    assert number >= 10, "the table of contents should have ten numbered chapters"


def test_no_unresolved_reference(edition):
    pdf, latex_dir, _ = EDITIONS[edition]
    text = pdf_text(pdf)
    hits = [m.start() for m in re.finditer(r"\?\?", text)]
    assert not hits, f"{pdf.name}: unresolved reference(s) '??', e.g. ...{text[max(hits[0] - 80, 0):hits[0] + 20]!r}"
    log = (latex_dir / "noisy-descent.log").read_text(errors="replace")
    assert "There were undefined references" not in log, f"{latex_dir}/noisy-descent.log: undefined references"
    assert "Citation" not in re.findall(r"LaTeX Warning: (\w+)", log), f"{latex_dir}: undefined citations"


def test_every_figure_of_the_site_is_in_the_pdf(edition):
    pdf, latex_dir, site = EDITIONS[edition]
    in_site = article_images(site)
    tex = (latex_dir / "noisy-descent.tex").read_text()
    included = re.findall(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{?([^}]+?)\}?\}", tex)
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    in_pdf = sum(1 for line in listing.splitlines()[2:] if line.split()[2] == "image")
    assert in_site > 0
    assert len(included) == in_site, f"{pdf.name}: {len(included)} images in the .tex, {in_site} in the site"
    assert in_pdf == len(set(included)), f"{pdf.name}: {in_pdf} images in the PDF, {len(set(included))} image files"


def test_no_output_fell_back_to_a_placeholder(edition):
    """Figures and animations reach the PDF as images (image/png), never as their text repr."""
    pdf, _, _ = EDITIONS[edition]
    text = pdf_text(pdf)
    for placeholder in ("<Figure size", "IPython.core.display", "matplotlib.animation", "<HTML object"):
        assert placeholder not in text, (
            f"{pdf.name}: an output printed as {placeholder!r}...: give it an image/png representation "
            "(an animation: its still frame next to the text/html)")
    bar = re.search(r"\|[^|\n]*\d+/\d+ \[[\d:<]+, *[\d.]+ ?(?:it/s|s/it)\]", text)
    assert not bar, f"{pdf.name}: a progress bar was printed ({bar.group(0)!r}): make pdf sets SGDNOISE_PROGRESS=0"


def test_exercises_with_solutions_in_the_book_and_without_in_the_student_edition(edition):
    pdf, _, site = EDITIONS[edition]
    text = flat(pdf_text(pdf))
    exercises = re.findall(r"(?<!Solution to )Exercise (\d+\.\d+) \(", text)
    solutions = re.findall(r"Solution to Exercise (\d+\.\d+)", text)
    expected = site_exercises(EDITIONS["book"][2])
    assert len(set(exercises)) == expected, f"{pdf.name}: {len(set(exercises))} exercises, the site has {expected}"
    if edition == "book":
        assert sorted(set(solutions)) == sorted(set(exercises)), f"{pdf.name}: not every exercise has its solution"
    else:
        assert not solutions, f"{pdf.name}: the student edition prints solutions ({solutions[:3]} ...)"


def test_the_front_page_links_its_pdf(edition):
    pdf, _, site = EDITIONS[edition]
    intro = (site / "book" / "intro.html").read_text(errors="replace")
    hrefs = re.findall(r'href="([^"]*\.pdf)"', intro)
    names = sorted(Path(h).name for h in hrefs)
    expected = ["noisy-descent-student.pdf", "noisy-descent.pdf"] if edition == "book" else ["noisy-descent-student.pdf"]
    assert names == sorted(expected), (
        f"{site}/book/intro.html links {names}, expected {expected} (make book must run after make pdf)")
    for href in hrefs:
        target = (site / "book" / href).resolve()
        made = PDF_DIR / Path(href).name
        assert target.is_file(), f"{href}: the link from the front page does not resolve"
        assert target.read_bytes() == made.read_bytes(), (
            f"{target} is not the PDF that make pdf made last ({made}): run make book again")
