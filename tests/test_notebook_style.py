"""The chapters' code cells read well on the page: they fit the code cell's width and stay short.

88 columns is what the site's code cell shows without scrolling at a 1280-px window (the browser
test checks the rendered page); 25 lines is the longest cell we ask a reader to take in at once —
longer logic belongs in the library, where it is documented and tested. ``ruff check book``
(configured in ``book/ruff.toml``) adds unused imports and variables.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
MAX_COLUMNS = 88
MAX_LINES = 25


def _code_cells(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for number, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            yield number, "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_cell(path):
    wide = [f"cell {n}: {len(line)} columns: {line.strip()[:60]}"
            for n, source in _code_cells(path) for line in source.splitlines() if len(line) > MAX_COLUMNS]
    assert not wide, f"{len(wide)} code lines wider than {MAX_COLUMNS} columns:\n" + "\n".join(wide[:20])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    long = [f"cell {n}: {count} lines"
            for n, source in _code_cells(path)
            if (count := sum(1 for line in source.splitlines() if line.strip())) > MAX_LINES]
    assert not long, f"code cells over {MAX_LINES} non-blank lines:\n" + "\n".join(long)


def test_ruff_finds_nothing_in_the_chapters():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in requirements.txt)")
    result = subprocess.run([ruff, "check", "--no-cache", str(BOOK)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
