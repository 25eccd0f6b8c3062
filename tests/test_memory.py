"""The allocation helpers behind the per-example gradient arrays (sgdnoise._memory)."""

import sys

import pytest
import torch

from sgdnoise._memory import empty_huge, empty_rows


@pytest.mark.parametrize("shape", [(3, 5), (100, 90_000)])   # 1.8 kB (torch.empty) and 36 MB (mapped)
def test_empty_huge_behaves_like_torch_empty(shape):
    x = empty_huge(shape, torch.float32, "cpu")
    assert x.shape == shape and x.dtype == torch.float32 and x.is_contiguous() and x.device.type == "cpu"
    x.copy_(torch.arange(x.numel(), dtype=torch.float32).view(shape))   # integers below 2^24: exact
    assert torch.equal(x.view(-1), torch.arange(x.numel(), dtype=torch.float32))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_large_arrays_are_own_mappings_released_with_the_tensor():
    def mapped(ptr):
        for line in open("/proc/self/maps"):
            lo, hi = (int(v, 16) for v in line.split()[0].split("-"))
            if lo <= ptr < hi:
                return hi - lo
        return 0

    x = empty_huge((64, 1 << 17), torch.float32, "cpu")       # 32 MiB exactly
    ptr = x.data_ptr()
    assert mapped(ptr) == 32 << 20                               # a mapping of its own, nothing else in it
    del x
    assert mapped(ptr) == 0                                      # unmapped when the tensor is freed


@pytest.mark.parametrize("dtype, per_line", [(torch.float32, 16), (torch.float64, 8), (torch.float16, 32)])
@pytest.mark.parametrize("d", [1, 16, 85_002])
def test_empty_rows_aligns_every_row(dtype, per_line, d):
    x = empty_rows((7, d), dtype, "cpu")
    assert x.shape == (7, d) and x.dtype == dtype
    assert x.data_ptr() % 64 == 0 and x.stride(0) % per_line == 0 and x.stride(1) == 1
    assert x.stride(0) - d < per_line                            # padded by less than one cache line
    assert x.is_contiguous() == (d % per_line == 0)
    x.fill_(1)
    assert float(x.double().sum()) == 7 * d
