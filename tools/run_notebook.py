"""Execute one notebook in a fresh kernel and report its wall time and the kernel's peak memory.

    .venv/bin/python tools/run_notebook.py book/03_langevin.ipynb [--out executed.ipynb] [--size large]

Prints ``<notebook> ok|FAILED <seconds> s, peak RSS <GiB> GiB`` (the kernel's peak resident memory,
from ``getrusage(RUSAGE_CHILDREN)`` after the kernel exits; the kernel is this process's only
large child) and, on success, the page's "Checked on this page" table in text form. Exits 1 when
a cell fails. Used by ``benchmarks/bench_notebooks.py`` and by hand while writing a chapter.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path, out: Path | None = None, timeout: int = 1800) -> tuple[bool, float, float, str]:
    """Execute ``path``; return (succeeded, seconds, peak kernel RSS in GiB, error text)."""
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    error = ""
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        ok = True
    except Exception as exc:  # a failing cell: report it, keep the partial notebook
        ok, error = False, re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    seconds = time.perf_counter() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    if out is not None:
        nbformat.write(nb, out)
    table = ""
    for cell in nb.cells:
        if cell.cell_type == "code" and "claims.table()" in cell.source:
            table = "\n".join(o["data"].get("text/plain", "") for o in cell.get("outputs", []) if "data" in o)
    return ok, seconds, peak_gib, error or table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="write the executed notebook here")
    parser.add_argument("--size", choices=("small", "large"), default=None, help="sets SGDNOISE_SIZE")
    args = parser.parse_args()
    if args.size:
        os.environ["SGDNOISE_SIZE"] = args.size
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ok, seconds, peak, text = run(args.notebook.resolve(), args.out)
    print(f"{args.notebook} {'ok' if ok else 'FAILED'} {seconds:.0f} s, peak RSS {peak:.2f} GiB "
          f"(size {os.environ.get('SGDNOISE_SIZE', 'default')})")
    print(text[-6000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
