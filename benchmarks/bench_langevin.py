"""Benchmark: an Euler–Maruyama ensemble in the double well against the cost of its noise alone.

The integrator (:func:`sgdnoise.langevin.euler_maruyama`) is bound by drawing Gaussian noise. In
one process, on the same device and in the same dtype (float32), this script times

* ``noise``: drawing the normals alone, ``torch.randn(out=preallocated, generator=g)``;
* ``library``: the library's step loop on ``U = (w^2 - 1)^2`` (``temperature=0.5``);
* ``naive``: a textbook out-of-place torch step, ``w = w - dt * 4 * w * (w * w - 1) + s * torch.randn(...)``;
* ``numpy``: the same step in numpy float64 with ``Generator.standard_normal`` (CPU only),

and prints particle-steps per second and each time relative to ``noise``. Measurements are
interleaved and repeated; medians are reported. Defaults: 10^6 particles, 1000 steps on a GPU and
100 on a CPU (``--steps`` to change). Run: ``.venv/bin/python benchmarks/bench_langevin.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import sgdnoise as sn
from sgdnoise.langevin import euler_maruyama
from sgdnoise.potentials import DoubleWell

parser = argparse.ArgumentParser()
parser.add_argument("--particles", type=int, default=1_000_000)
parser.add_argument("--steps", type=int, default=None)
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()

device = sn.default_device()
n = args.particles
steps = args.steps or (1000 if device.type == "cuda" else 100)
dt, T = 0.01, 0.5
sigma = (2 * T * dt) ** 0.5
potential = DoubleWell()
gen = torch.Generator(device=device).manual_seed(0)


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


noise_buf = torch.empty(n, 1, device=device)


def draw_noise():
    for _ in range(steps):
        torch.randn((n, 1), generator=gen, out=noise_buf)


def library():
    euler_maruyama(potential, torch.full((n, 1), -1.0, device=device), dt, steps, temperature=T, generator=gen)


def naive():
    w = torch.full((n, 1), -1.0, device=device)
    for _ in range(steps):
        w = w - dt * 4 * w * (w * w - 1) + sigma * torch.randn(n, 1, generator=gen, device=device)


rng = np.random.default_rng(0)


def numpy_step():
    w = np.full((n, 1), -1.0)
    for _ in range(steps):
        w = w - dt * 4 * w * (w * w - 1) + sigma * rng.standard_normal((n, 1))


cases = {"noise": draw_noise, "library": library, "naive": naive}
if device.type == "cpu":
    cases["numpy"] = numpy_step
for fn in cases.values():   # warm-up (allocations, CUDA context)
    fn()
times: dict[str, list[float]] = {k: [] for k in cases}
for _ in range(args.repeats):
    for name, fn in cases.items():
        times[name].append(timed(fn))

dev_name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
print(f"torch {torch.__version__} on {dev_name}; {n:,} particles x {steps} steps of the double well, float32 "
      f"(numpy: float64); medians of {args.repeats} interleaved runs")
base = statistics.median(times["noise"])
print(f"{'case':>8} {'median s':>10} {'min-max s':>16} {'particle-steps/s':>18} {'x noise':>8}")
for name, ts in times.items():
    med = statistics.median(ts)
    print(f"{name:>8} {med:>10.3f} {min(ts):>7.3f}-{max(ts):<8.3f} {n * steps / med:>18.3e} {med / base:>8.2f}")
ratio = statistics.median(times["library"]) / base
print(f"library / noise-drawing limit = {ratio:.2f} (target <= 1.3 on a CPU)")
