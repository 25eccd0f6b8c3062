"""Gather ``benchmarks/results/*.json`` into ``results.json`` and a readable ``results.md``."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
STANDARD = {"case", "median_s", "min_s", "max_s", "repeats", "ratio_to_baseline"}

runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")) if p.name != "results.json"]
if not runs:
    raise SystemExit("no benchmark results in benchmarks/results/: run `make bench` first")
(RESULTS / "results.json").write_text(json.dumps({"benchmarks": runs}, indent=2))
m = runs[0]["machine"]
lines = ["## Benchmark results", "",
         f"Measured {m['date']} on {m['device_name']} ({m['device']}, {m['cpu_count']} cores, "
         f"{m['torch_threads']} torch threads); Python {m['python']}, torch {m['torch']}, numpy {m['numpy']}, "
         f"sgdnoise {m['sgdnoise']}.", ""]
for run in runs:
    # Figures a script recorded beside the times (e.g. a notebook's peak memory) get columns of their own.
    extra = [k for k in dict.fromkeys(k for r in run["rows"] for k in r) if k not in STANDARD]
    lines += [f"### {run['title']}", "", f"Ratios against `{run['baseline']}`, measured in the same run.", "",
              "| case | median (s) | min–max (s) | ratio |" + "".join(f" {k} |" for k in extra),
              "|---|---:|---:|---:|" + "---:|" * len(extra)]
    for r in run["rows"]:
        cells = "".join(f" {r[k]:.3g} |" if isinstance(r.get(k), (int, float)) else f" {r.get(k, '')} |"
                        for k in extra)
        lines.append(f"| {r['case']} | {r['median_s']:.4g} | {r['min_s']:.3g}–{r['max_s']:.3g} | "
                     f"{r['ratio_to_baseline']:.2f} |" + cells)
    lines += [""] + [f"- {n}" for n in run["notes"]] + [""]
(RESULTS / "results.md").write_text("\n".join(lines))
print(f"wrote {RESULTS / 'results.json'} and {RESULTS / 'results.md'} ({len(runs)} benchmarks)")
