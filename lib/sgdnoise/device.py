"""Where computations run and how large the experiments are.

Two decisions are made here and nowhere else:

* :func:`default_device` — ``cuda`` when a GPU is visible, else ``cpu``; the environment
  variable ``SGDNOISE_DEVICE`` (``cpu`` or ``cuda``) forces one.
* :func:`size_profile` — ``"small"`` on a CPU (every notebook runs in about a minute on a
  2-core laptop) and ``"large"`` on a GPU; the environment variable ``SGDNOISE_SIZE``
  (``small`` or ``large``) forces one. :func:`budget` picks a chapter's sizes from it.

How long loops report themselves is :func:`sgdnoise.progress`'s business (``_progress.py``, NumPy-free
and torch-free so that every module can use it).
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import torch

_DEVICE_ENV = "SGDNOISE_DEVICE"
_SIZE_ENV = "SGDNOISE_SIZE"
_PROFILES = ("small", "large")


def default_device() -> torch.device:
    """The device experiments run on.

    Returns ``cuda`` when ``torch.cuda.is_available()``, else ``cpu``. Setting the
    environment variable ``SGDNOISE_DEVICE`` to ``cpu`` or ``cuda`` overrides the choice.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``SGDNOISE_DEVICE`` holds anything but ``cpu`` or ``cuda``, or asks for ``cuda``
        on a machine without a GPU.

    Examples
    --------
    >>> default_device().type in ("cpu", "cuda")
    True
    """
    forced = os.environ.get(_DEVICE_ENV, "").strip().lower()
    if forced:
        if forced not in ("cpu", "cuda"):
            raise ValueError(f"environment variable {_DEVICE_ENV} must be 'cpu' or 'cuda', got {forced!r}")
        if forced == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{_DEVICE_ENV}=cuda but torch sees no CUDA device")
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_device(device) -> torch.device:
    """``torch.device(device)``, with a ValueError naming ``device`` for a string torch does not know."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch.device or a string such as 'cpu' or 'cuda', got {device!r} "
                         f"({err})") from None


def size_profile(device: torch.device | str | None = None) -> str:
    """``"large"`` when experiments run on a GPU, ``"small"`` otherwise.

    The environment variable ``SGDNOISE_SIZE`` (``small`` or ``large``) overrides it, e.g. to
    run the small sizes on a GPU for a quick check, or the large ones on a patient CPU.

    Parameters
    ----------
    device : torch.device or str, optional
        The device the experiment runs on; default :func:`default_device`.

    Returns
    -------
    str
        ``"small"`` or ``"large"``.
    """
    forced = os.environ.get(_SIZE_ENV, "").strip().lower()
    if forced:
        if forced not in _PROFILES:
            raise ValueError(f"environment variable {_SIZE_ENV} must be 'small' or 'large', got {forced!r}")
        return forced
    dev = _as_device(device) if device is not None else default_device()
    return "large" if dev.type == "cuda" else "small"


def budget(small: dict[str, Any], large: dict[str, Any], device: torch.device | str | None = None) -> SimpleNamespace:
    """Pick a chapter's experiment sizes for the current profile.

    The two profiles have a time and a memory budget, which every chapter's sizes must respect
    (``benchmarks/bench_notebooks.py`` measures both, per notebook):

    =========  ===========================================  ==================================
    profile    time                                         memory (peak, one notebook)
    =========  ===========================================  ==================================
    ``small``  about a minute per notebook on a 2-core CPU  4 GiB of RAM
    ``large``  minutes on a GPU; up to a few on a 2-core    16 GiB of RAM or of GPU memory (a
               CPU (``make test-large``)                    common learner's card)
    =========  ===========================================  ==================================

    What does not fit is streamed or chunked (per-example gradients in blocks of examples,
    ensembles in chunks of particles) rather than materialized at once. The large sizes must
    say more than the small ones (smaller error bars, a longer range), and every check of a
    chapter must hold at both.

    Parameters
    ----------
    small, large : dict
        Sizes for the CPU profile and the GPU profile, with the same keys.
    device : torch.device or str, optional
        Passed to :func:`size_profile`.

    Returns
    -------
    types.SimpleNamespace
        The chosen sizes as attributes, plus ``profile`` (``"small"``/``"large"``).

    Raises
    ------
    ValueError
        If ``small`` and ``large`` do not have the same keys.

    Examples
    --------
    >>> import os; os.environ["SGDNOISE_SIZE"] = "small"
    >>> budget(small={"n": 100}, large={"n": 10_000}).n
    100
    >>> del os.environ["SGDNOISE_SIZE"]
    """
    if not isinstance(small, dict) or not isinstance(large, dict):
        raise ValueError(f"small and large must be dicts of sizes, got {type(small).__name__} and "
                         f"{type(large).__name__}")
    if set(small) != set(large):
        raise ValueError(f"small and large must have the same keys, got {sorted(small)} and {sorted(large)}")
    if "profile" in small:
        raise ValueError("'profile' is reserved and cannot be a size name in small/large")
    profile = size_profile(device)
    chosen = small if profile == "small" else large
    return SimpleNamespace(profile=profile, **chosen)



def make_generator(seed: int | None = None, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device``, seeded with ``seed``: one per random experiment.

    This is the library's one rule for randomness, from the notebooks' side: every random
    function takes ``generator=``, and a chapter makes each experiment's generator here, on the
    device its data lives on (a generator draws only on its own device).

    Parameters
    ----------
    seed : int, optional
        A non-negative integer. ``None`` seeds from the operating system's entropy (torch's
        ``Generator.seed()``): the numbers are then not reproducible, and torch's global
        generator is left untouched either way.
    device : torch.device or str, optional
        Where the numbers are drawn; default :func:`default_device`.

    Returns
    -------
    torch.Generator

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer or ``device`` is not a device.

    Examples
    --------
    >>> a = make_generator(0, "cpu"); b = make_generator(0, "cpu")
    >>> bool((torch.rand(3, generator=a) == torch.rand(3, generator=b)).all())
    True
    >>> make_generator(0, "cpu").device
    device(type='cpu')
    """
    from ._validate import check_positive_int

    dev = _as_device(device) if device is not None else default_device()
    generator = torch.Generator(device=dev)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(check_positive_int("seed", seed, minimum=0))
    return generator
