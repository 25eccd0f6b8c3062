"""Allocation of the large ``(N, d)`` arrays that the per-example gradient paths fill (internal).

Two measured effects on the benchmark machine (``benchmarks/bench_per_example_grads.py``,
2-core x86-64 virtual machine) decide how these arrays are allocated:

* **Page faults.** A fresh CPU allocation above 32 MiB always comes from ``mmap`` (glibc's
  largest dynamic threshold), and the kernel then maps and zeroes it one 4 KiB page at a time on
  first write: about a microsecond per page there, more than the arithmetic that fills the
  array (87 MB at N = 256, d = 85,002: 21,000 faults). Such arrays are mapped here directly
  and advised ``MADV_HUGEPAGE``: 2 MiB transparent huge pages, 512 times fewer faults (filling
  a fresh 87 MB array: 10 ms instead of 23 ms). Smaller arrays come from ``torch.empty``, where
  the allocator can reuse memory freed by the previous call without any fault. PyTorch offers
  huge pages for every allocation through ``THP_MEM_ALLOC_ENABLE=1``; this module applies them
  only to the arrays the library allocates and leaves the process's allocator alone. Where the
  kernel has transparent huge pages disabled, the advice is ignored and nothing else changes.
  On the benchmark machine, huge-page faults occasionally ran about ten times slower for
  stretches of calls (147 ms instead of 14 ms per call at N = 256), with no compaction or
  fallback recorded in ``/proc/vmstat``; 4 KiB pages were slower but steady (24 ms). The median
  gain decided it. ``per_example_grads(..., out=...)`` avoids fresh memory altogether.
* **Alignment.** Writing the outer products :math:`e_i a_i^\top` into rows that start off a
  64-byte cache line costs more than into aligned rows, since every vector store straddles
  two lines: 1.7× at N = 64 and 1.2× at N = 256 for the benchmark MLP's 256 × 256 layer
  (``benchmarks/bench_row_alignment.py``; the gap narrows once memory bandwidth limits). :func:`empty_rows` pads each row to a multiple of 64 bytes and returns the
  ``(N, d)`` view, which is then not contiguous when ``d`` is not a multiple of 16 (float32).
"""

from __future__ import annotations

import math
import mmap
import sys

import torch

_MIN_BYTES = 32 << 20     # glibc's largest dynamic mmap threshold (64-bit): larger is always fresh
_LINE = 64                # bytes in a cache line on x86-64 and most arm64 cores


def empty_huge(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """An uninitialized contiguous tensor, on transparent huge pages where possible.

    Same contract as ``torch.empty(shape, dtype=dtype, device=device)``. On a Linux CPU and for
    at least 32 MiB, the memory is a private anonymous ``mmap`` advised ``MADV_HUGEPAGE`` before
    any page is touched, and unmapped when the tensor is freed.
    """
    device = torch.device(device)
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if (device.type != "cpu" or nbytes < _MIN_BYTES or not sys.platform.startswith("linux")
            or not hasattr(mmap, "MADV_HUGEPAGE")):
        return torch.empty(shape, dtype=dtype, device=device)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buf.madvise(mmap.MADV_HUGEPAGE)
    except OSError:       # transparent huge pages unavailable: an ordinary mapping
        pass
    return torch.frombuffer(buf, dtype=dtype, count=math.prod(shape)).view(shape)


def empty_rows(shape: tuple[int, int], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """An uninitialized ``(n, d)`` tensor whose rows start on 64-byte boundaries.

    A view of the first ``d`` columns of an ``(n, d')`` array from :func:`empty_huge`, with
    ``d'`` the smallest multiple of 64 bytes' worth of elements ``>= d``; contiguous when
    ``d' = d``. On other devices, ``torch.empty(shape)``.
    """
    n, d = shape
    if torch.device(device).type != "cpu":
        return torch.empty(shape, dtype=dtype, device=device)
    per_line = max(1, _LINE // torch.empty((), dtype=dtype).element_size())
    padded = -(-d // per_line) * per_line
    out = empty_huge((n, padded), dtype, device)
    return out if padded == d else out[:, :d]
