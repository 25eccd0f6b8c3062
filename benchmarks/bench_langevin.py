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

import numpy as np
import torch
from _harness import interleaved, report

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
times = interleaved(cases, repeats=args.repeats, device=device)
base = statistics.median(times["noise"])
ratio = statistics.median(times["library"]) / base
report("langevin", f"Euler-Maruyama, double well: {n:,} particles x {steps} steps, float32 (numpy: float64), "
       f"interleaved medians of {args.repeats}", times, baseline="noise", ratio_label="x noise",
       extra={k: {"particle-steps/s": n * steps / statistics.median(ts)} for k, ts in times.items()},
       notes=[f"library / noise-drawing limit = {ratio:.2f} (target <= 1.3 on a CPU)"])
