"""Benchmark: execution time and peak memory of every notebook of the book, against its budget.

Executes each notebook listed in ``_toc.yml`` in a fresh process (``tools/run_notebook.py``: a
fresh kernel, the notebook's folder as working directory, one torch thread) and reports its wall
time, the ratio to its time budget, and the kernel's peak resident memory against the memory
budget of its size profile (``sgdnoise.budget``: small fits in 4 GiB, large in 16 GiB).

Time budgets on a 2-core CPU: 60 s per notebook at the small size, 90 s for chapter 6.

Run: ``.venv/bin/python benchmarks/bench_notebooks.py`` (small sizes), or with
``BENCH_NOTEBOOK_SIZES=small,large`` for both profiles (the large ones take about a quarter of an
hour on a 2-core CPU).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _harness import report

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = {"06_batch_and_learning_rate": 90.0}
DEFAULT_BUDGET_S = 60.0
MEMORY_BUDGET_GIB = {"small": 4.0, "large": 16.0}

names = subprocess.run([sys.executable, str(ROOT / "tools" / "book.py"), "toc-notebooks", str(ROOT / "_toc.yml")],
                       check=True, capture_output=True, text=True).stdout.split()
sizes = [s.strip() for s in os.environ.get("BENCH_NOTEBOOK_SIZES", "small").split(",") if s.strip()]
for size in sizes:
    times, extra, over = {}, {}, []
    for rel in names:
        path = ROOT / rel
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebook.py"), str(path), "--size", size],
                              capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        first = proc.stdout.splitlines()[0] if proc.stdout else ""
        m = re.search(r" (ok|FAILED) (\d+) s, peak RSS ([\d.]+) GiB", first)
        if proc.returncode != 0 or not m:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit(f"{rel} failed at size {size}")
        seconds, peak = float(m.group(2)), float(m.group(3))
        budget = BUDGET_S.get(path.stem, DEFAULT_BUDGET_S) if size == "small" else None
        times[path.stem] = [seconds]
        extra[path.stem] = {"peak GiB": peak, "memory budget GiB": MEMORY_BUDGET_GIB[size]}
        if budget:
            extra[path.stem].update({"budget s": budget, "x budget": seconds / budget})
            if seconds > budget:
                over.append(f"{path.stem} (time)")
        if peak > MEMORY_BUDGET_GIB[size]:
            over.append(f"{path.stem} (memory)")
        print(f"   [{size}] {path.stem}: {seconds:.0f} s, peak {peak:.2f} GiB", flush=True)
    times["total"] = [sum(t[0] for t in times.values())]
    report(f"notebooks_{size}", f"execution time and peak memory of every notebook in _toc.yml, size {size} "
           "(one run each, fresh kernel)", times, baseline="total", ratio_label="share", extra=extra,
           notes=["over budget: " + (", ".join(over) if over else "none")])
