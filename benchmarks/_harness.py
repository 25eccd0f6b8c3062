"""Shared reporting for the benchmark scripts (``make bench``).

Every script measures its cases *in one process*, interleaved, and reports each case's median,
min and max wall time and its ratio to a baseline measured in the same run. :func:`report`
prints a readable table and writes ``benchmarks/results/<name>.json`` with the machine, the
library versions and the device, which ``benchmarks/summarize.py`` gathers into one file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the numbers were measured on."""
    import sgdnoise

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = sgdnoise.default_device()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sgdnoise": sgdnoise.__version__,
        "device": str(device),
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else cpu,
    }


def sync(device: torch.device | None = None) -> None:
    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        torch.cuda.synchronize()


def timeit(fn: Callable[[], object], repeats: int = 7, warmup: int = 1, device=None) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn`` (after ``warmup`` calls), synchronizing CUDA."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return out


def interleaved(cases: dict[str, Callable[[], object]], repeats: int = 5, device=None) -> dict[str, list[float]]:
    """Time several cases round-robin (one warm-up each), so that drifts of a busy machine hit all alike."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].extend(timeit(fn, repeats=1, warmup=0, device=device))
    return times


def report(name: str, title: str, times: dict[str, list[float]], baseline: str,
           extra: dict[str, dict] | None = None, notes: list[str] | None = None,
           ratio_label: str | None = None) -> dict:
    """Print a table of median [min–max] seconds and median/baseline ratios; save it as JSON.

    Parameters
    ----------
    name : str
        File stem of ``benchmarks/results/<name>.json``.
    title : str
        One line saying what was measured.
    times : dict
        Case -> list of seconds.
    baseline : str
        The case the ratios are taken against (ratio = median / baseline median).
    extra : dict, optional
        Case -> additional figures to record (e.g. throughput, peak memory, error).
    notes : list of str, optional
        Lines printed under the table and saved (targets, verdicts).
    """
    extra = extra or {}
    base = statistics.median(times[baseline])
    rows = []
    for case, ts in times.items():
        med = statistics.median(ts)
        rows.append({"case": case, "median_s": med, "min_s": min(ts), "max_s": max(ts), "repeats": len(ts),
                     "ratio_to_baseline": med / base, **extra.get(case, {})})
    info = machine()
    print(f"\n== {title}")
    print(f"   {info['device_name']} ({info['device']}), torch {info['torch']}, {info['torch_threads']} threads")
    width = max(12, *(len(r["case"]) for r in rows))
    label = ratio_label or f"x {baseline}"
    extra_keys = sorted({k for r in rows for k in extra.get(r["case"], {})})
    head = f"   {'case':<{width}} {'median s':>10} {'min–max s':>19} {label:>12}" + "".join(f" {k:>14}" for k in extra_keys)
    print(head)
    for r in rows:
        line = (f"   {r['case']:<{width}} {r['median_s']:>10.4g} {r['min_s']:>9.3g}–{r['max_s']:<9.3g} "
                f"{r['ratio_to_baseline']:>12.2f}")
        for k in extra_keys:
            v = r.get(k, "")
            line += f" {v:>14.4g}" if isinstance(v, (int, float)) else f" {str(v):>14}"
        print(line)
    for note in notes or []:
        print(f"   {note}")
    result = {"name": name, "title": title, "baseline": baseline, "machine": info, "rows": rows, "notes": notes or []}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    return result
