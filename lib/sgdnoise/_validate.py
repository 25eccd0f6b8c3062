"""Input checks shared by the public functions (internal).

Part of the base layer, and NumPy-only at import: torch is imported inside the helpers that are
given a torch object, so that the analogies (morphogen, vqe, games, graphs) use these checks
without loading torch (``tests/test_layers.py``).
"""

from __future__ import annotations

import math
import sys

import numpy as np


def check_positive_int(name: str, value, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return value


def check_positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float after checking it is finite and > 0 (or >= 0)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def check_finite(name: str, x) -> None:
    """Raise if the array/tensor ``x`` has a NaN or an infinity."""
    torch = sys.modules.get("torch")  # a torch tensor exists only once torch is imported
    if torch is not None and isinstance(x, torch.Tensor):
        ok = bool(torch.isfinite(x).all())
    else:
        ok = bool(np.isfinite(x).all())
    if not ok:
        raise ValueError(f"{name} contains NaN or infinite values")


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool after checking it is one (``True``/``False``, or a NumPy bool).

    A truthy string such as ``"no"`` is refused rather than read as ``True``.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def check_numpy_rng(name: str, rng) -> np.random.Generator:
    """Return ``rng`` after checking it is a ``numpy.random.Generator`` (e.g. ``np.random.default_rng(0)``)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


def numpy_generator(generator, name: str = "generator") -> np.random.Generator:
    """The library's randomness rule for NumPy code: ``generator`` itself, or a fresh one for ``None``.

    ``None`` gives ``np.random.default_rng()``, seeded from the operating system's entropy: the
    numbers are not reproducible, and NumPy's global generator is never touched.
    """
    if generator is None:
        return np.random.default_rng()
    return check_numpy_rng(name, generator)


def torch_generator(generator, device, *, data: str = "the data", name: str = "generator"):
    """The library's randomness rule for torch code: ``generator`` (checked to be on ``device``), or
    for ``None`` a fresh ``torch.Generator`` on ``device`` seeded from the operating system's entropy.

    torch's global generator is never touched, so a call with ``generator=None`` changes nothing
    that a later seeded call sees.
    """
    import torch

    generator = check_generator(generator, device, data=data, name=name)
    if generator is None:
        dev = device.device if isinstance(device, torch.Tensor) else torch.device(device)
        generator = torch.Generator(device=dev)
        generator.seed()
    return generator


def _same_device(a, b) -> bool:
    """Whether two torch devices are the same; an index of None ("cuda") matches the current device."""
    import torch

    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.index is None or b.index is None:
        current = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
        return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)
    return a.index == b.index


def check_generator(generator, device=None, *, data: str = "the data", name: str = "generator"):
    """Check that ``generator`` is ``None`` or a ``torch.Generator`` on ``device`` (where the numbers are drawn).

    ``device`` may be a device, a string, or a tensor (its device is used). A CPU generator cannot
    draw on a CUDA device (torch raises a ``RuntimeError`` deep inside); this says so up front.
    """
    if generator is None:
        return None
    import torch

    if not isinstance(generator, torch.Generator):
        raise ValueError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    if device is None:
        return generator
    dev = device.device if isinstance(device, torch.Tensor) else device
    if not _same_device(generator.device, dev):
        raise ValueError(f"{name} is on {generator.device} but {data} is on {torch.device(dev)}: create it "
                         f"there, torch.Generator(device={str(torch.device(dev))!r}).manual_seed(seed)")
    return generator


def check_index_tensor(name: str, indices, n: int, *, ndim: int | None = None):
    """Check that ``indices`` is an integer tensor with every entry in ``[0, n)`` (and ``ndim`` dimensions)."""
    import torch

    if not isinstance(indices, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of integer indices, got {type(indices).__name__}")
    if ndim is not None and indices.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(indices.shape)}")
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
        raise ValueError(f"{name} must have an integer dtype, got {indices.dtype}")
    if indices.numel() and (bool((indices < 0).any()) or bool((indices >= n).any())):
        lo, hi = int(indices.min()), int(indices.max())
        raise ValueError(f"{name} must lie in [0, {n - 1}] (there are {n} rows), got values in [{lo}, {hi}]")
    return indices
