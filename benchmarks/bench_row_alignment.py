"""Benchmark: writing per-example outer products into cache-line-aligned and misaligned rows.

The library's per-example gradients (``sgdnoise.gradients.per_example_grads``) write each example's
outer products :math:`e_i a_i^\\top` into row :math:`i` of an ``(N, d)`` array. With
d = 85,002 (the benchmark MLP), row :math:`i` of a packed float32 array starts ``8 i`` bytes past
a 64-byte cache line, so vector stores straddle two lines; the library pads rows to 64 bytes
(``sgdnoise._memory.empty_rows``). This times the 256 × 256 layer's products, B = 64 and 256,
into a packed array (the baseline) and into the library's padded one, both written once before
timing so that no page faults are counted. Run: ``.venv/bin/python benchmarks/bench_row_alignment.py``.
"""

from __future__ import annotations

import torch
from _harness import interleaved, report

import sgdnoise as sn
from sgdnoise._memory import empty_rows

device = sn.default_device()
D, COL = 85_002, 64 * 256 + 256        # the MLP's d, and where its 256 × 256 weight starts in a row
gen = torch.Generator(device=device).manual_seed(0)
for B in (64, 256):
    e = torch.randn(B, 256, generator=gen, device=device)
    a = torch.randn(B, 256, generator=gen, device=device)
    packed = torch.zeros(B, D, device=device)
    padded = empty_rows((B, D), torch.float32, device).fill_(0.0)
    views = {name: arr[:, COL:COL + 256 * 256].view(B, 256, 256) for name, arr in (("packed", packed), ("padded", padded))}

    def write(name):
        return torch.mul(e.unsqueeze(2), a.unsqueeze(1), out=views[name])

    write("packed"), write("padded")
    assert torch.equal(views["packed"], views["padded"])
    t = interleaved({f"packed rows (d = {D}), B = {B}": lambda: write("packed"),
                     f"rows padded to 64 bytes, B = {B}": lambda: write("padded")}, repeats=40, device=device)
    med = {k: sorted(v)[len(v) // 2] for k, v in t.items()}
    base, lib = med[f"packed rows (d = {D}), B = {B}"], med[f"rows padded to 64 bytes, B = {B}"]
    report(f"row_alignment_B{B}", f"outer products of the 256 x 256 layer into (B, d) rows, B = {B}", t,
           baseline=f"packed rows (d = {D}), B = {B}",
           notes=[f"packed / padded = {base / lib:.2f} (the cost of misaligned rows)"])
