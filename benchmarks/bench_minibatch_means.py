"""Benchmark: many mini-batch mean gradients at once (chapter 1's variance measurement).

Compares, in one process and on the same data, the library's ``minibatch_means`` (a count
matrix times the per-example gradients: one (K × N) @ (N × d) product) with the obvious
``grads[idx].mean(1)`` gather, which materializes a (K × B × d) array; the gather is the
baseline. Run: ``.venv/bin/python benchmarks/bench_minibatch_means.py`` (or ``make bench``).
"""

from __future__ import annotations

import torch
from _harness import interleaved, report

import sgdnoise as sn
from sgdnoise.covariance import minibatch_means
from sgdnoise.sampling import sample_batches

device = sn.default_device()
N, d, K = 1437, 2410, 200  # the digits MLP of chapter 1, 200 batches per measurement
gen = torch.Generator(device=device).manual_seed(0)
grads = torch.randn(N, d, generator=gen, device=device, dtype=torch.float64)
times, extra = {}, {}
for B in (8, 64, 512, 1437):
    idx = sample_batches(N, B, K, replace=False, generator=gen)
    assert torch.allclose(minibatch_means(grads, idx), grads[idx].mean(1), atol=1e-12)
    t = interleaved({f"gather B={B}": lambda: grads[idx].mean(1),
                     f"library B={B}": lambda: minibatch_means(grads, idx)}, repeats=3, device=device)
    times.update(t)
    speedup = sorted(t[f"gather B={B}"])[1] / sorted(t[f"library B={B}"])[1]
    extra[f"library B={B}"] = {"speed-up": speedup}
report("minibatch_means", f"{K} mini-batch mean gradients of N={N} float64 gradients of d={d}", times,
       baseline="gather B=8", extra=extra,
       notes=["speed-up = gather median / library median at the same B"])
