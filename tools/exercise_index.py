"""The book's exercises and their metadata: a reader for tests and tools, and a local Sphinx extension.

Every ``{exercise}`` directive of the book carries its metadata as class tokens (sphinx-exercise
accepts ``:class:``, and unknown options would break the strict build)::

    ```{exercise} The noise along training
    :label: ex-noise-along-training
    :class: kind-coding difficulty-2 minutes-40 autograded-yes gpu-no
    ```

- ``kind-{derivation,coding,plot,open}``: a derivation, a coding task, reading a plot, open-ended;
- ``difficulty-{1,2,3}``; ``minutes-N``: the estimated time for a prepared student;
- ``autograded-{yes,no}``: ``yes`` exactly when ``assignments/`` has a question with this label;
- ``gpu-{yes,no}``: whether a GPU is needed (not merely faster).

The directives ``{exercise-index}`` (a table of every exercise, read from the chapters at build
time, so it cannot drift from them) and ``{exercise-set}`` (a problem set: one label per line,
rendered as a table with the total time) are registered by :func:`setup`. A missing or invalid
token, an unknown label in a set, or an ``autograded`` token that disagrees with ``assignments/``
is a warning, which fails the strict build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

KINDS = {"derivation": "derivation", "coding": "coding", "plot": "reading a plot", "open": "open-ended"}
EXERCISE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{exercise\}[ \t]*(?P<title>[^\n]*)\n(?P<options>(?::[\w-]+:[^\n]*\n)*)",
    flags=re.M,
)


def _toc_chapters() -> list[tuple[str, int | None]]:
    """``(file, chapter number or None)`` for every toc entry; numbers count the numbered parts' chapters."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    out, n = [], 0
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            if part.get("numbered"):
                n += 1
                out.append((ch["file"], n))
            else:
                out.append((ch["file"], None))
    return out


def _markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in nb["cells"] if c["cell_type"] == "markdown")
    return path.read_text()


def _resolve(file: str) -> Path | None:
    for cand in (ROOT / f"{file}.ipynb", ROOT / f"{file}.md", ROOT / file):
        if cand.is_file():
            return cand
    return None


def parse_metadata(classes: list[str]) -> dict:
    """The metadata of one exercise from its class tokens; ``ValueError`` names what is wrong."""
    found: dict[str, list[str]] = {}
    for tok in classes:
        m = re.fullmatch(r"(kind|difficulty|minutes|autograded|gpu)-(\w+)", tok)
        if m:
            found.setdefault(m.group(1), []).append(m.group(2))
    meta = {}
    for key in ("kind", "difficulty", "minutes", "autograded", "gpu"):
        values = found.get(key, [])
        if len(values) != 1:
            raise ValueError(f"needs exactly one '{key}-...' class token, found {values or 'none'}")
        meta[key] = values[0]
    if meta["kind"] not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {meta['kind']!r}")
    if meta["difficulty"] not in {"1", "2", "3"}:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {meta['difficulty']!r}")
    if not meta["minutes"].isdigit() or not 5 <= int(meta["minutes"]) <= 240:
        raise ValueError(f"minutes must be an integer in [5, 240], got {meta['minutes']!r}")
    for key in ("autograded", "gpu"):
        if meta[key] not in {"yes", "no"}:
            raise ValueError(f"{key} must be yes or no, got {meta[key]!r}")
    return {"kind": meta["kind"], "difficulty": int(meta["difficulty"]), "minutes": int(meta["minutes"]),
            "autograded": meta["autograded"] == "yes", "gpu": meta["gpu"] == "yes"}


def exercises_in(text: str) -> list[dict]:
    """Every exercise directive of a page's markdown: label, title and class tokens (unvalidated)."""
    out = []
    for m in EXERCISE.finditer(text):
        opts = dict(re.findall(r"^:([\w-]+):[ \t]*([^\n]*)$", m.group("options"), flags=re.M))
        out.append({"label": opts.get("label", ""), "title": m.group("title").strip(),
                    "classes": opts.get("class", "").split()})
    return out


def book_exercises() -> list[dict]:
    """Every exercise of the book in toc order, with chapter, number, source file and raw tokens."""
    rows = []
    for file, chapter in _toc_chapters():
        path = _resolve(file)
        if path is None or chapter is None:  # exercises live in the numbered chapters (other pages
            continue                          # may show a directive as an example, e.g. instructors.md)
        for i, ex in enumerate(exercises_in(_markdown_of(path)), start=1):
            rows.append({**ex, "chapter": chapter, "number": f"{chapter}.{i}",
                         "docname": file, "path": path})
    return rows


def autograded_labels() -> set[str]:
    """The exercise labels that ``assignments/`` grades (one otter question each)."""
    labels = set()
    for master in sorted((ROOT / "assignments").glob("ch[0-9][0-9]_*.ipynb")):
        nb = json.loads(master.read_text())
        for cell in nb["cells"]:
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "raw" and text.lstrip().startswith("# BEGIN QUESTION"):
                m = re.search(r"^name:\s*(\S+)", text, flags=re.M)
                if m:
                    labels.add(m.group(1))
    return labels


def problems(rows: list[dict] | None = None) -> list[str]:
    """Every metadata problem of the book's exercises, as messages (empty: all fine)."""
    rows = book_exercises() if rows is None else rows
    graded = autograded_labels()
    out = []
    for r in rows:
        where = f"{r['path'].name}, exercise {r['number']} ({r['label'] or 'no label'})"
        try:
            meta = parse_metadata(r["classes"])
        except ValueError as e:
            out.append(f"{where}: {e}")
            continue
        if meta["autograded"] != (r["label"] in graded):
            out.append(f"{where}: autograded-{'yes' if meta['autograded'] else 'no'} but assignments/ "
                       f"{'has' if r['label'] in graded else 'has no'} question {r['label']!r}")
    for label in sorted(graded - {r["label"] for r in rows}):
        out.append(f"assignments/ grades {label!r}, which is no exercise of the book")
    return out


# ---------------------------------------------------------------------------------------------
# Sphinx extension


def _table(headers, rows, widths):
    from sphinx_tables import docutils_table

    return docutils_table(headers, rows, classes=["exercise-index"], widths=widths)


def _link(label: str, text: str, linked: bool = True):
    from docutils import nodes
    from sphinx.addnodes import pending_xref

    inline = nodes.inline()
    for i, part in enumerate(text.split("$")):  # a title's $...$ is math, as in the chapter
        if part:
            inline += nodes.math(part, part) if i % 2 else nodes.Text(part)
    para = nodes.paragraph()
    if not linked:  # print: sphinx-exercise labels its boxes apart from the std domain's ids in LaTeX
        para += inline
        return para
    ref = pending_xref("", refdomain="std", reftype="ref", reftarget=label, refexplicit=True, refwarn=True)
    ref += inline
    para += ref
    return para


def _cells(r: dict, meta: dict, linked: bool = True) -> list:
    return [r["number"], _link(r["label"], r["title"], linked), KINDS[meta["kind"]],
            str(meta["difficulty"]), f"{meta['minutes']} min", "yes" if meta["autograded"] else "no",
            "yes" if meta["gpu"] else "no"]


HEADERS = ["No.", "Exercise", "Kind", "Difficulty", "Time", "Autograded", "GPU"]
WIDTHS = [6, 36, 13, 12, 10, 15, 8]


def setup(app):
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    logger = logging.getLogger(__name__)

    def _rows(directive):
        rows = book_exercises()
        for r in rows:
            directive.env.note_dependency(str(r["path"]))
        for master in (ROOT / "assignments").glob("ch[0-9][0-9]_*.ipynb"):
            directive.env.note_dependency(str(master))
        for msg in problems(rows):
            logger.warning(f"exercise metadata: {msg}", location=(directive.env.docname, directive.lineno))
        return rows

    def _linked(directive) -> bool:
        # The PDF lists the exercises by number and title without links (see _link).
        return directive.env.app.builder.format != "latex"

    class ExerciseIndex(SphinxDirective):
        """``{exercise-index}``: every exercise of the book with its metadata (``:autograded-only:``
        keeps the autograded ones)."""

        option_spec = {"autograded-only": directives.flag}

        def run(self):
            out = []
            for r in _rows(self):
                try:
                    meta = parse_metadata(r["classes"])
                except ValueError:
                    continue  # reported by _rows
                if "autograded-only" in self.options and not meta["autograded"]:
                    continue
                out.append(_cells(r, meta, _linked(self)))
            return [_table(HEADERS, out, WIDTHS)]

    class ExerciseSet(SphinxDirective):
        """``{exercise-set}``: the exercises named one label per line, with the total time."""

        has_content = True

        def run(self):
            by_label = {r["label"]: r for r in _rows(self)}
            out, total, graded = [], 0, 0
            for label in (ln.strip() for ln in self.content):
                if not label:
                    continue
                if label not in by_label:
                    logger.warning(f"exercise-set: unknown exercise label {label!r}",
                                   location=(self.env.docname, self.lineno))
                    continue
                r = by_label[label]
                try:
                    meta = parse_metadata(r["classes"])
                except ValueError:
                    continue
                total += meta["minutes"]
                graded += meta["autograded"]
                out.append(_cells(r, meta, _linked(self)))
            para = nodes.paragraph(text=f"{len(out)} exercises, about {total / 60:.1f} hours in all; "
                                        f"{graded} autograded.")
            return [_table(HEADERS, out, WIDTHS), para]

    def add_static(app_):
        static = str(Path(__file__).parent / "static")
        if static not in app_.config.html_static_path:
            app_.config.html_static_path.append(static)

    app.connect("builder-inited", add_static)
    app.add_css_file("sgdnoise-exercises.css")
    app.add_directive("exercise-index", ExerciseIndex)
    app.add_directive("exercise-set", ExerciseSet)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
