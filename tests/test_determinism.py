"""Same seed, same numbers: a chapter executed twice (CPU, one thread) glues identical values.

Every random experiment of the book draws from an explicit, seeded generator, so two executions
on the same machine must agree to the last digit on every number quoted in the prose. Chapter 8
is used because it is the quickest to execute; the property is the library's, not the chapter's.
"""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "book" / "08_morphogens.ipynb"


def _glued(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = out.get("data", {}).get("text/plain")
    return values


def test_a_chapter_glues_the_same_numbers_twice(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SGDNOISE_DEVICE", "cpu")
    monkeypatch.setenv("SGDNOISE_SIZE", "small")
    monkeypatch.setenv("JUPYTER_PATH", str(ROOT / ".venv" / "share" / "jupyter") + os.pathsep
                       + os.environ.get("JUPYTER_PATH", ""))
    first, second = _glued(NOTEBOOK), _glued(NOTEBOOK)
    assert len(first) >= 5, f"expected the chapter to glue several numbers, found {sorted(first)}"
    differ = {k: (first[k], second.get(k)) for k in first if first[k] != second.get(k)}
    assert not differ and set(first) == set(second), f"glued values differ between two runs: {differ}"
