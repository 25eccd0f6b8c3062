"""Benchmark: Hessian-vector products and the top eigenvalues of an MLP's loss (chapter 5's curvature tools).

Part 1 — the cost of one Hessian-vector product, in units of one gradient, for every way this
torch offers: the library's :func:`sgdnoise.hessian.hvp_operator` (a cached first-order graph,
double backward), a hand-written cached ``create_graph`` double backward, a cached
``torch.func.vjp`` of the gradient, forward-over-reverse ``jvp(grad)``, and 8 vectors at once
(the library's batched call and ``vmap`` of the cached vjp).

Part 2 — the top-1 and top-5 eigenvalues of the same loss: Hessian-vector products, wall time and
the error against the ground truth (the dense Hessian, 2410 × 2410, from
:func:`sgdnoise.hessian.full_hessian`) for the library's Lanczos (full reorthogonalization),
plain power iteration with deflation, and PyHessian's power iteration if it is installed
(benchmark-only peer: ``pip install --no-deps pyhessian``). Every method stops at relative
accuracy 1e-3 by its own rule: Lanczos's Ritz residual, the power iterations' relative change
of the Rayleigh quotient (PyHessian's rule).

Run: ``.venv/bin/python benchmarks/bench_hessian.py``.
"""

from __future__ import annotations

import statistics
import time

import torch
from _harness import report
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp, vjp, vmap

import sgdnoise as sn
from sgdnoise.data import load_digits
from sgdnoise.hessian import full_hessian, hvp_operator, lanczos_top_eigenpairs, power_iteration
from sgdnoise.models import count_parameters, make_model
from sgdnoise.training import train_sgd

device = sn.default_device()
N, TOL = 1024, 1e-3


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, repeats: int = 30) -> float:
    fn()
    fn()
    out = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


data = load_digits(device=device)
X, y = data.X_train[:N], data.y_train[:N]
model = make_model("mlp", 64, 10, hidden=(32,), generator=torch.Generator(device=device).manual_seed(0))
train_sgd(model, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=32, epochs=5,
          generator=torch.Generator(device=device).manual_seed(0))
params = [p for p in model.parameters()]
d = count_parameters(model)
print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}; "
      f"MLP 64-32-10 (d = {d}) on N = {N} digits, float32")

# ---------------------------------------------------------------- part 1: one product
names = [n for n, _ in model.named_parameters()]
pdict = {n: p.detach() for n, p in model.named_parameters()}


def loss_of(pd):
    return F.cross_entropy(functional_call(model, pd, (X,)), y)


v = torch.randn(d, generator=torch.Generator(device=device).manual_seed(1), device=device)
V8 = torch.randn(8, d, generator=torch.Generator(device=device).manual_seed(2), device=device)


def unflat(flat):
    out, i = {}, 0
    for n in names:
        out[n] = flat[i:i + pdict[n].numel()].view_as(pdict[n])
        i += pdict[n].numel()
    return out


t_grad = median_seconds(lambda: torch.autograd.grad(F.cross_entropy(model(X), y), params))
lib = hvp_operator(model, F.cross_entropy, X, y)
t_lib = median_seconds(lambda: lib(v))
t_lib8 = median_seconds(lambda: lib(V8)) / 8

g_graph = torch.autograd.grad(F.cross_entropy(model(X), y), params, create_graph=True)
vs = list(unflat(v).values())
t_dbl = median_seconds(lambda: torch.autograd.grad(g_graph, params, grad_outputs=vs, retain_graph=True))

_, vjp_fn = vjp(grad(loss_of), pdict)
t_vjp = median_seconds(lambda: vjp_fn(unflat(v)))
t_vjp8 = median_seconds(lambda: vmap(lambda u: vjp_fn(unflat(u)))(V8)) / 8
t_jvp = median_seconds(lambda: jvp(grad(loss_of), (pdict,), (unflat(v),)), repeats=10)

fastest = min(t_dbl, t_vjp, t_jvp, t_lib8, t_vjp8)
print("\nOne Hessian-vector product (median of 30; ratio to one gradient, and library / fastest way)")
rows = [("gradient (reference)", t_grad), ("library hvp_operator, 1 vector", t_lib),
        ("cached create_graph double backward", t_dbl), ("cached torch.func vjp(grad)", t_vjp),
        ("forward-over-reverse jvp(grad)", t_jvp), ("library, 8 vectors batched (per vector)", t_lib8),
        ("vmap of cached vjp, 8 vectors (per vector)", t_vjp8)]
for name, t in rows:
    print(f"  {name:45s} {1e3 * t:8.3f} ms   {t / t_grad:5.2f} gradients")
print(f"  library single product / fastest single-vector way: {t_lib / min(t_dbl, t_vjp, t_jvp):.2f}x; "
      f"library batched / fastest way overall: {t_lib8 / fastest:.2f}x")
report("hessian_hvp", "one Hessian-vector product, MLP on 1024 digits (each time a median of 30 calls)",
       {name: [t] for name, t in rows}, baseline="gradient (reference)", ratio_label="x gradient",
       notes=[f"library single product / fastest single-vector way: {t_lib / min(t_dbl, t_vjp, t_jvp):.2f} "
              f"(target <= 1.5)"])

# ---------------------------------------------------------------- part 2: top eigenvalues
truth = torch.linalg.eigvalsh(full_hessian(model, F.cross_entropy, X, y, chunk_size=128).double()).flip(0)
print(f"\nGround truth (dense Hessian): top-5 = {[round(float(x), 5) for x in truth[:5]]}, "
      f"lambda_min = {float(truth[-1]):.4f}")


def counted(fn):
    count = [0]

    def wrapped(u):
        count[0] += 1 if u.ndim == 1 else u.shape[0]
        return fn(u)
    wrapped.dim = fn.dim
    return wrapped, count


def run_library(method, k, seed, tol):
    hvp = hvp_operator(model, F.cross_entropy, X, y)
    hv, count = counted(hvp)
    gen = torch.Generator(device=device).manual_seed(seed)
    sync()
    t0 = time.perf_counter()
    if method == "lanczos":
        res = lanczos_top_eigenpairs(hv, k, tol=tol, max_iter=500, generator=gen, dtype=torch.float32)
    else:
        res = power_iteration(hv, k, tol=tol, max_iter=1000, generator=gen, dtype=torch.float32)
    sync()
    vals = res.eigenvalues.sort(descending=True).values.cpu()
    return count[0], time.perf_counter() - t0, vals


def run_pyhessian(k, seed, tol):
    import sys
    import pyhessian  # noqa: F401
    ph = sys.modules["pyhessian.hessian"]  # the module (the package exports the class of the same name)
    count = [0]
    original = ph.hessian_vector_product

    def counting(gradsH, params_, v_):
        count[0] += 1
        return original(gradsH, params_, v_)
    ph.hessian_vector_product = counting
    torch.manual_seed(seed)
    try:
        sync()
        t0 = time.perf_counter()
        H = ph.hessian(model, F.cross_entropy, data=(X, y), cuda=device.type == "cuda")
        vals, _ = H.eigenvalues(maxIter=1000, tol=tol, top_n=k)
        sync()
        dt = time.perf_counter() - t0
    finally:
        ph.hessian_vector_product = original
        model.zero_grad(set_to_none=True)
    return count[0], dt, torch.tensor(sorted(vals, reverse=True), dtype=torch.float64)


methods = [("library Lanczos", lambda k, s, t: run_library("lanczos", k, s, t)),
           ("power iteration (library)", lambda k, s, t: run_library("power", k, s, t))]
try:
    import pyhessian  # noqa: F401
    methods.append(("PyHessian eigenvalues()", run_pyhessian))
    note = ""
except ImportError:
    note = "PyHessian: skipped (not installed)"

LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
SEEDS = range(5)


def error(vals, k):
    return float(((vals[:k] - truth[:k]).abs() / truth[:k]).max())


def to_accuracy(fn, k, seed):
    """The loosest tolerance of the ladder whose result is within TOL of the truth: (HVPs, s, tol)."""
    for tol in LADDER:
        n, t, vals = fn(k, seed, tol)
        if error(vals, k) <= TOL:
            return n, t, tol
    return n, t, float("nan")


print(f"\n(a) Each method's own stopping rule at tol = {TOL:g} (Lanczos: Ritz residual; power iterations: "
      f"relative change of the Rayleigh quotient). Median over {len(SEEDS)} random starts.")
print(f"{'k':>2}  {'method':28s} {'HVPs':>6} {'time ms':>9} {'max rel. error (median, worst)':>32}")
for k in (1, 5):
    for name, fn in methods:
        runs = [fn(k, s, TOL) for s in SEEDS]
        errs = [error(r[2], k) for r in runs]
        print(f"{k:>2}  {name:28s} {statistics.median(r[0] for r in runs):6.0f} "
              f"{1e3 * statistics.median(r[1] for r in runs):9.1f} {statistics.median(errs):15.2e} {max(errs):15.2e}")
print(f"\n(b) Products to reach relative accuracy {TOL:g} against the dense-Hessian truth: for each start, the "
      f"loosest tolerance in {LADDER[0]:g}..{LADDER[-1]:g} that gets there. Median over {len(SEEDS)} starts.")
print(f"{'k':>2}  {'method':28s} {'HVPs':>6} {'time ms':>9} {'tolerances used':>24}")
summary, seconds = {}, {}
for k in (1, 5):
    for name, fn in methods:
        runs = [to_accuracy(fn, k, s) for s in SEEDS]
        summary[(k, name)] = statistics.median(r[0] for r in runs)
        seconds[(k, name)] = [r[1] for r in runs]
        print(f"{k:>2}  {name:28s} {summary[(k, name)]:6.0f} {1e3 * statistics.median(r[1] for r in runs):9.1f} "
              f"{' '.join(f'{r[2]:.0e}' for r in runs):>24}")
for k in (1, 5):
    ratio = summary[(k, "library Lanczos")] / summary[(k, "power iteration (library)")]
    print(f"top-{k}: Lanczos uses {ratio:.2f} of power iteration's products")
    names = [name for name, _ in methods]
    report(f"hessian_top{k}", f"top-{k} Hessian eigenvalues to relative accuracy {TOL:g}, MLP on 1024 digits",
           {name: seconds[(k, name)] for name in names}, baseline="power iteration (library)",
           extra={name: {"HVPs": summary[(k, name)]} for name in names},
           notes=[f"Lanczos / power iteration, Hessian-vector products: {ratio:.2f} "
                  f"(target: < 1 for top-1, <= 1/3 for top-5)"])
if note:
    print(note)
