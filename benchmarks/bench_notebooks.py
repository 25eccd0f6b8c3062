"""Benchmark: execution time of every notebook of the book, against its budget.

Executes each notebook listed in ``_toc.yml`` once with nbclient (a fresh kernel each, the
notebook's folder as working directory), on whatever device ``sgdnoise`` picks, and reports its
wall time and the ratio to its budget: 60 s per notebook on a 2-core CPU, 90 s for chapter 6
(issue "Performance you can see"). Run: ``.venv/bin/python benchmarks/bench_notebooks.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
from _harness import report
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = {"06_batch_and_learning_rate": 90.0}
DEFAULT_BUDGET_S = 60.0

names = subprocess.run([sys.executable, str(ROOT / "tools" / "book.py"), "toc-notebooks", str(ROOT / "_toc.yml")],
                       check=True, capture_output=True, text=True).stdout.split()
times, extra, over = {}, {}, []
for rel in names:
    path = ROOT / rel
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    budget = BUDGET_S.get(path.stem, DEFAULT_BUDGET_S)
    times[path.stem] = [seconds]
    extra[path.stem] = {"budget s": budget, "x budget": seconds / budget}
    if seconds > budget:
        over.append(path.stem)
    print(f"   {path.stem}: {seconds:.1f} s (budget {budget:.0f} s)", flush=True)
times["total"] = [sum(t[0] for t in times.values())]
report("notebooks", "execution time of every notebook in _toc.yml (one run each, fresh kernel)", times,
       baseline="total", ratio_label="share", extra=extra,
       notes=["over budget: " + (", ".join(over) if over else "none")])
