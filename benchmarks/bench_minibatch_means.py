"""Benchmark: many mini-batch mean gradients at once (chapter 1's variance measurement).

Compares, in one process and on the same data, the library's ``minibatch_means`` (a count
matrix times the per-example gradients: one (K × N) @ (N × d) product) with the obvious
``grads[idx].mean(1)`` gather, which materializes a (K × B × d) array. Prints medians, min–max
and the ratio baseline / library for several batch sizes. Run: ``.venv/bin/python benchmarks/bench_minibatch_means.py``.
"""

from __future__ import annotations

import statistics
import time

import torch

import sgdnoise as sn
from sgdnoise.sampling import minibatch_means, sample_batches


def timeit(fn, repeats: int = 7) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return out


device = sn.default_device()
N, d, K = 1437, 2410, 500  # the digits MLP of chapter 1, 500 batches per measurement
gen = torch.Generator(device=device).manual_seed(0)
grads = torch.randn(N, d, generator=gen, device=device, dtype=torch.float64)
print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}; N={N}, d={d}, K={K} batches")
print(f"{'B':>6} {'gather median [min-max] ms':>32} {'library median [min-max] ms':>32} {'speed-up':>9}")
for B in (8, 64, 512, 1437):
    idx = sample_batches(N, B, K, replace=False, generator=gen)
    ref = grads[idx].mean(1)
    assert torch.allclose(minibatch_means(grads, idx), ref, atol=1e-12)
    t_base = timeit(lambda: grads[idx].mean(1))
    t_lib = timeit(lambda: minibatch_means(grads, idx))
    mb, ml = statistics.median(t_base), statistics.median(t_lib)
    print(f"{B:>6} {mb*1e3:>12.1f} [{min(t_base)*1e3:.1f}-{max(t_base)*1e3:.1f}]{'':>8} "
          f"{ml*1e3:>12.1f} [{min(t_lib)*1e3:.1f}-{max(t_lib)*1e3:.1f}]{'':>8} {mb/ml:>8.1f}x")
