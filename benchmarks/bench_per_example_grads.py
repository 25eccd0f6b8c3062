"""Benchmark: per-example gradients and per-example gradient norms (chapter 2's engine).

In one process and on the same data (8×8 digits), for an MLP 64→256→256→10 and a small CNN,
at B = 64, 256, 1024, times the per-example gradients computed by

* ``loop``            a Python loop of B backward passes (the baseline);
* ``library``         ``sgdnoise.gradients.per_example_grads`` (``method="auto"``, which takes the
                      layer path for both models: outer products for the linear layers, patch
                      products for the convolutions);
* ``library vmap``    the same with ``method="vmap"``;
* ``library, out= reused``  the library writing into its previous result (``out=``), which
                      skips allocating and faulting in a fresh array;
* ``einsum (hand)``   hand-written hooks + ``torch.einsum`` for linear layers (MLP only);
* peers, each only if importable: BackPACK (``BatchGrad``), Opacus ``GradSampleModule`` in the
  modes ``hooks``, ``ew`` (expanded weights) and ``functorch``. Install them only into a
  development environment, never as a dependency of the book::

      pip install --no-deps backpack-for-pytorch einops unfoldNd opacus

Two floors, not methods: allocating and filling a fresh ``(B, d)`` array (``torch.empty``, and
the library's huge-page array), the memory cost that every method returning new memory pays.
Every method's result is checked against the loop (max relative difference printed). Peers
return one tensor per parameter; the library returns one flattened ``(B, d)`` array (the copy
into it is included in its time). Then the norms-only path: ``tr Σ`` from
``sgdnoise.covariance.gradient_moments_of_model`` (per-example squared norms without the gradients) against one
full-batch gradient and against materializing the gradients.

Printed: median and [min–max] milliseconds over repeats, peak extra memory (CUDA: peak allocated;
CPU: peak resident-set growth measured in a forked child, approximate) and ratios.
Then, on a CPU, the per-example comparison again in a child process with
``THP_MEM_ALLOC_ENABLE=1``, torch's switch that puts every large allocation on transparent huge
pages: the library does that for its own output (``sgdnoise._memory``), and this run shows how
much of its lead over the peers that is (env BENCH_THP=0 skips it).

Run: ``.venv-bench/bin/python benchmarks/bench_per_example_grads.py`` (env BENCH_QUICK=1 for a short run).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from _harness import report
from torch import nn

import sgdnoise as sn
from sgdnoise._memory import empty_rows
from sgdnoise.covariance import gradient_moments_of_model, trace_covariance
from sgdnoise.gradients import full_gradient, per_example_grads

warnings.filterwarnings("ignore")
device = sn.default_device()
QUICK = os.environ.get("BENCH_QUICK") == "1"
BATCHES = (64, 256) if QUICK else (64, 256, 1024)


# --- models ---------------------------------------------------------------------------------------
def make_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


class SmallCNN(nn.Module):
    """8×8 grey image → conv 16 → conv 32 → 2×2 average pool → linear 10 (about 10k parameters)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(32 * 16, 10)

    def forward(self, x):
        x = x.view(-1, 1, 8, 8)
        return self.fc(self.flat(self.pool(F.relu(self.conv2(F.relu(self.conv1(x)))))))


def make_cnn():
    torch.manual_seed(0)
    return SmallCNN()


# --- methods: each returns a function x, y -> list of per-parameter (B, ...) tensors or (B, d) --------
def flat(out, b):
    return out if isinstance(out, torch.Tensor) else torch.cat([t.reshape(b, -1) for t in out], 1)


def m_loop(model):
    params = [p for p in model.parameters()]

    def run(x, y):
        rows = []
        for i in range(x.shape[0]):
            gs = torch.autograd.grad(F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]), params)
            rows.append(torch.cat([g.reshape(-1) for g in gs]))
        return torch.stack(rows)
    return run


def m_library(model, method="auto"):
    return lambda x, y: per_example_grads(model, F.cross_entropy, x, y, method=method)


def m_library_out(model):
    """The library writing into the array it returned on the previous call (``out=``)."""
    buf = {}

    def run(x, y):
        buf["out"] = per_example_grads(model, F.cross_entropy, x, y, out=buf.get("out"))
        return buf["out"]
    return run


def m_einsum(model):
    """Hand-written: hooks record inputs and output gradients of each nn.Linear, then einsum."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    acts, errs = {}, {}

    def fwd(mod, inp, out):
        acts[mod] = inp[0].detach()
        out.register_hook(lambda g: errs.__setitem__(mod, g.detach()))

    for m in linears:
        m.register_forward_hook(fwd)
    params = list(model.parameters())

    def run(x, y):
        loss = F.cross_entropy(model(x), y, reduction="sum")
        torch.autograd.grad(loss, params)
        out = []
        for m in linears:
            out += [torch.einsum("ni,nj->nij", errs[m], acts[m]), errs[m]]
        return out
    return run


def m_backpack(model):
    import backpack
    from backpack.extensions import BatchGrad
    model = backpack.extend(model)
    lossf = backpack.extend(nn.CrossEntropyLoss(reduction="sum"))

    def run(x, y):
        model.zero_grad()
        loss = lossf(model(x), y)
        with backpack.backpack(BatchGrad()):
            loss.backward()
        return [p.grad_batch for p in model.parameters()]
    return run


def m_opacus(model, mode):
    from opacus.grad_sample import get_gsm_class
    extra = {"force_functorch": True} if mode == "functorch" else {}
    gsm = get_gsm_class(mode)(model, batch_first=True, loss_reduction="sum", **extra)

    def run(x, y):
        for p in gsm.parameters():
            p.grad_sample = None
            p.grad = None
        loss = F.cross_entropy(gsm(x), y, reduction="sum")
        loss.backward()
        return [p.grad_sample for p in gsm.parameters()]
    return run


def method_factories(make_model, is_mlp, verbose=False):
    out = {"loop": lambda: m_loop(make_model()), "library": lambda: m_library(make_model()),
           "library vmap": lambda: m_library(make_model(), "vmap"),
           "library, out= reused": lambda: m_library_out(make_model())}
    if is_mlp:
        out["einsum (hand)"] = lambda: m_einsum(make_model())
    for name, factory in (("BackPACK", lambda: m_backpack(make_model())),
                          ("Opacus hooks", lambda: m_opacus(make_model(), "hooks")),
                          ("Opacus ew", lambda: m_opacus(make_model(), "ew")),
                          ("Opacus functorch", lambda: m_opacus(make_model(), "functorch"))):
        try:
            __import__("backpack" if name == "BackPACK" else "opacus")
        except ImportError:
            if verbose:
                print(f"  {name}: skipped (not installed)")
            continue
        out[name] = factory
    return out


# --- measurement ------------------------------------------------------------------------------------
def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


CPU_TIMES: list[float] = []   # process CPU seconds of the last timeit's repeats (all threads)


def timeit(fn, repeats):
    """Wall-clock seconds of ``repeats`` calls after two warm-up calls; CPU seconds go to CPU_TIMES.

    On a shared machine the wall clock includes time stolen by other processes; the process CPU
    time (summed over torch's threads) does not, so ratios of CPU times are the steadier figure.
    """
    fn()
    fn()  # warm-up (caches, lazy initialization)
    out = []
    CPU_TIMES.clear()
    for _ in range(repeats):
        sync()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
        CPU_TIMES.append(time.process_time() - c0)
    return out


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn, spec):
    """Peak extra memory of one call, in bytes.

    CUDA: peak allocated minus allocated before. CPU: the resident-set high-water mark of a fresh
    subprocess (``spec`` = (model label, method, B)) minus its resident set just before the call;
    approximate (allocator caching), and not forked: torch's thread pools do not survive fork.
    """
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    if os.environ.get("BENCH_MEMORY", "1") == "0":
        return float("nan")
    out = subprocess.run([sys.executable, __file__, "--memory", *map(str, spec)], capture_output=True, text=True)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def memory_child(model_label, method, b):
    make = MODELS[model_label]
    X, y = data_batch(int(b))
    fn = method_factories(make, model_label == "mlp")[method]()
    base = rss_bytes()
    fn(X, y)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)


def fmt(ts):
    return f"{statistics.median(ts) * 1e3:9.2f} [{min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f}]"


def data_batch(b):
    d = sn.data.load_digits(device=device)
    X = d.X_train.repeat(-(-b // d.n_train), 1)[:b].contiguous()
    y = d.y_train.repeat(-(-b // d.n_train))[:b].contiguous()
    return X, y


def bench_model(label, key, is_mlp):
    make_model = MODELS[key]
    print(f"\n== {label}: d = {sum(p.numel() for p in make_model().parameters())} parameters")
    print(f"{'B':>5} {'method':18} {'wall median [min-max] ms':>28} {'CPU ms':>8} {'peak MiB':>9} {'vs loop':>8}"
          f" {'max rel diff':>13}")
    summary = {}
    peer_factories = method_factories(make_model, is_mlp, verbose=True)
    for b in BATCHES:
        X, y = data_batch(b)
        methods = {k: f() for k, f in peer_factories.items()}
        ref = methods["loop"](X, y)
        scale = ref.abs().max()
        times, cpu = {}, {}
        for name, fn in methods.items():
            try:
                out = flat(fn(X, y), b)
                err = float((out - ref).abs().max() / scale)
            except Exception as exc:  # a peer that does not support this model
                print(f"{b:>5} {name:18} failed: {type(exc).__name__}: {str(exc)[:60]}")
                continue
            reps = 3 if name == "loop" else (5 if QUICK else 15)
            times[name] = timeit(lambda: fn(X, y), reps)
            cpu[name] = statistics.median(CPU_TIMES)
            mem = peak_memory(lambda: fn(X, y), (key, name.replace(" ", "_"), b)) / 2 ** 20
            ratio = statistics.median(times["loop"]) / statistics.median(times[name])
            print(f"{b:>5} {name:18} {fmt(times[name]):>28} {cpu[name] * 1e3:8.2f} {mem:9.1f} {ratio:7.1f}x {err:13.1e}")
            assert err < 1e-4, (name, err)
        # The memory floor: allocating and writing a fresh (B, d) array, which every method that
        # returns new memory pays (page faults; on a CPU the library's array uses huge pages).
        d = ref.shape[1]
        for name, fn in ((FLOOR_TORCH, lambda: torch.empty(b, d, device=device).fill_(0.0)),
                         (FLOOR_LIBRARY, lambda: empty_rows((b, d), torch.float32, device).fill_(0.0))):
            times[name] = timeit(fn, 5 if QUICK else 15)
            cpu[name] = statistics.median(CPU_TIMES)
            print(f"{b:>5} {name:32} {fmt(times[name]):>28} {cpu[name] * 1e3:8.2f}")
        med = {k: statistics.median(v) for k, v in times.items()}
        peers = {k: v for k, v in med.items() if k not in NOT_PEERS}
        notes = [f"library: {med['loop'] / med['library']:.1f}x faster than the loop (target >= 10x at B = 256); "
                 f"writing into the previous result (out=): {med['loop'] / med['library, out= reused']:.1f}x",
                 f"memory floor: writing a fresh ({b}, {d}) array alone takes {med[FLOOR_TORCH] * 1e3:.1f} ms "
                 f"({med[FLOOR_LIBRARY] * 1e3:.1f} ms on the library's huge-page array)"]
        if peers:
            best = min(peers, key=peers.get)
            notes.append(f"library / best peer ({best}) = {med['library'] / peers[best]:.2f} (target <= 1.1)")
        report(f"per_example_grads_{key}_B{b}{SUFFIX}", f"per-example gradients, {label}, B = {b}{TITLE_SUFFIX}",
               times, baseline="loop", extra={k: {"CPU s": v} for k, v in cpu.items()}, notes=notes)
        summary[b] = {}
        for clock, table in (("wall", {k: statistics.median(v) for k, v in times.items()}), ("CPU", cpu)):
            lib = table["library"]
            peer_t = {k: v for k, v in table.items() if k not in NOT_PEERS}
            best = min(peer_t, key=peer_t.get) if peer_t else None
            summary[b][clock] = (table["loop"] / lib, best, lib / peer_t[best] if best else None)
    print(f"-- {label} summary (wall clock | CPU time)")
    for b, row in summary.items():
        parts = []
        for clock, (speedup, best, rel) in row.items():
            best_txt = f"library / best peer ({best}) = {rel:.2f}" if best else "no peer installed"
            parts.append(f"{clock}: {speedup:.0f}x faster than the loop, {best_txt}")
        print(f"   B = {b:5}: " + " | ".join(parts))


def bench_trace(label, make_model):
    print(f"\n== tr Sigma, {label}")
    print(f"{'B':>5} {'full gradient ms':>24} {'norms-only tr Sigma ms':>26} {'materialized tr Sigma ms':>28}"
          f" {'norms/grad':>10} {'mat./grad':>9} {'rel diff':>9}")
    model = make_model()
    for b in BATCHES:
        X, y = data_batch(b)
        t_full = timeit(lambda: full_gradient(model, F.cross_entropy, X, y), 15)
        c_full = statistics.median(CPU_TIMES)
        t_norm = timeit(lambda: gradient_moments_of_model(model, F.cross_entropy, X, y), 15)
        c_norm = statistics.median(CPU_TIMES)
        t_mat = timeit(lambda: trace_covariance(per_example_grads(model, F.cross_entropy, X, y)), 7)
        c_mat = statistics.median(CPU_TIMES)
        report(f"trace_sigma_{label.split()[0]}_B{b}", f"tr Sigma, {label}, B = {b}",
               {"full gradient": t_full, "norms-only tr Sigma": t_norm, "materialized tr Sigma": t_mat},
               baseline="full gradient", extra={"full gradient": {"CPU s": c_full},
                                                "norms-only tr Sigma": {"CPU s": c_norm},
                                                "materialized tr Sigma": {"CPU s": c_mat}})
        _, ts_a = gradient_moments_of_model(model, F.cross_entropy, X, y)
        ts_b = trace_covariance(per_example_grads(model, F.cross_entropy, X, y, method="vmap"))
        med = statistics.median
        print(f"{b:>5} {fmt(t_full):>24} {fmt(t_norm):>26} {fmt(t_mat):>28} {med(t_norm) / med(t_full):9.2f}x"
              f" {med(t_mat) / med(t_full):8.1f}x {abs(ts_a - ts_b) / ts_b:9.1e}"
              f"   CPU-time ratios: norms/grad {c_norm / c_full:.2f}x, materialized/grad {c_mat / c_full:.1f}x")


MODELS = {"mlp": make_mlp, "cnn": make_cnn}
FLOOR_TORCH = "floor: fill fresh torch.empty"
FLOOR_LIBRARY = "floor: fill fresh library array"
NOT_PEERS = ("loop", "library", "library vmap", "library, out= reused", FLOOR_TORCH, FLOOR_LIBRARY)
# The library puts arrays of 32 MiB or more on transparent huge pages (sgdnoise._memory); torch
# does the same for every allocation with THP_MEM_ALLOC_ENABLE=1. The --thp run repeats the
# comparison in a child process with that switch on, so that every method gets huge pages.
THP = "--thp" in sys.argv
SUFFIX = "_thp" if THP else ""
TITLE_SUFFIX = " (THP_MEM_ALLOC_ENABLE=1: huge pages for every method)" if THP else ""

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory":
        memory_child(sys.argv[2], sys.argv[3].replace("_", " "), sys.argv[4])
        sys.exit(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}{TITLE_SUFFIX}")
    bench_model("MLP 64-256-256-10", "mlp", is_mlp=True)
    bench_model("CNN conv16-conv32-pool-fc on 8x8", "cnn", is_mlp=False)
    if THP:
        sys.exit(0)
    bench_trace("MLP 64-256-256-10", make_mlp)
    bench_trace("CNN", make_cnn)
    if device.type == "cpu" and os.environ.get("BENCH_THP", "1") == "1":
        env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1", "BENCH_MEMORY": "0"}
        subprocess.run([sys.executable, __file__, "--thp"], env=env, check=True)
