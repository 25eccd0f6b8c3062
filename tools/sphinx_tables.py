"""A docutils table from a header and rows: shared by the book's Sphinx extensions
(``claims_ledger``, ``exercise_index``), which Jupyter Book loads from this folder."""

from __future__ import annotations

from collections.abc import Sequence

from docutils import nodes


def docutils_table(header: Sequence[str], rows: Sequence[Sequence], *, classes: Sequence[str],
                   widths: Sequence[int] | None = None) -> nodes.table:
    """A table node: ``header`` as its head row, ``rows`` as its body.

    A cell is a docutils node (kept as it is) or anything else (written as a paragraph of its
    ``str``). ``widths`` are relative column widths (default: all equal).
    """
    widths = [1] * len(header) if widths is None else list(widths)
    if len(widths) != len(header):
        raise ValueError(f"widths has {len(widths)} entries for {len(header)} columns")
    table = nodes.table(classes=list(classes))
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    row = nodes.row()
    for title in header:
        row += nodes.entry("", nodes.paragraph(text=title))
    head += row
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=str(cell))
            row += entry
        body += row
    return table
