r"""Mini-batch samplers: which examples make up a batch.

* :func:`sample_batches` — many independent batches at once (with or without replacement);
* :func:`epoch_batches` — the batches of one epoch (random reshuffling, a fixed order, or i.i.d.
  indices), the pluggable :data:`Sampler` of :func:`sgdnoise.training.train_sgd`.

What the sampling does to the gradient — the variance of the mini-batch mean, in theory and
measured — is in :mod:`sgdnoise.covariance`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._validate import check_bool, check_positive_int, torch_generator
from .device import default_device

#: Names of the built-in epoch samplers.
SCHEMES = ("shuffle", "fixed", "replacement")


def _resolve(generator: torch.Generator | None) -> torch.Generator:
    """The generator to draw with: ``generator``, or a fresh OS-seeded one on :func:`default_device`."""
    return torch_generator(generator, generator.device if isinstance(generator, torch.Generator)
                           else default_device())


def sample_batches(n: int, batch_size: int, n_batches: int, replace: bool, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n_batches`` independent mini-batches of indices from ``range(n)``, vectorized.

    With ``replace=True`` each index is uniform on ``{0, …, n−1}`` independently; with
    ``replace=False`` each batch is a uniformly random subset of size ``batch_size`` (batches are
    independent of each other).

    Parameters
    ----------
    n : int
        Population size N.
    batch_size : int
        B, ``1 <= B``, and ``B <= N`` without replacement.
    n_batches : int
        Number of batches K.
    replace : bool
    generator : torch.Generator, optional
        Source of randomness; the indices live on its device. ``None``: a fresh generator seeded
        from the operating system, on :func:`sgdnoise.device.default_device`.

    Returns
    -------
    torch.Tensor, shape (K, B), int64

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> sample_batches(10, 10, 3, replace=False, generator=g).sort(dim=1).values[0].tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    n = check_positive_int("n", n)
    replace = check_bool("replace", replace)
    batch_size = check_positive_int("batch_size", batch_size, maximum=None if replace else n)
    n_batches = check_positive_int("n_batches", n_batches)
    generator = _resolve(generator)
    dev = generator.device
    if replace:
        return torch.randint(0, n, (n_batches, batch_size), generator=generator, device=dev)
    keys = torch.rand(n_batches, n, generator=generator, device=dev)
    return keys.topk(batch_size, dim=1, sorted=False).indices


def epoch_batches(n: int, batch_size: int, scheme: str = "shuffle", generator: torch.Generator | None = None,
                  drop_last: bool = False) -> list[torch.Tensor]:
    """The mini-batches of one epoch, as a list of index tensors.

    Parameters
    ----------
    n : int
        Number of training examples N.
    batch_size : int
        B in ``[1, N]``.
    scheme : {"shuffle", "fixed", "replacement"}
        ``"shuffle"``: a fresh random permutation each epoch, cut into consecutive batches
        (random reshuffling; every example is used exactly once per epoch).
        ``"fixed"``: the same order ``0, 1, …, N−1`` every epoch (incremental / cyclic gradient).
        ``"replacement"``: ``ceil(N/B)`` batches of i.i.d. uniform indices (some examples are
        seen twice in an epoch, about 1/e of them not at all).
    generator : torch.Generator, optional
        Randomness for ``"shuffle"`` and ``"replacement"``; indices live on its device. ``None``:
        a fresh generator seeded from the operating system, on
        :func:`sgdnoise.device.default_device`.
    drop_last : bool
        Drop a final batch smaller than B (``"shuffle"``/``"fixed"``).

    Returns
    -------
    list of torch.Tensor
    """
    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size, maximum=n)
    drop_last = check_bool("drop_last", drop_last)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    generator = _resolve(generator)
    dev = generator.device
    n_steps = n // batch_size if drop_last else -(-n // batch_size)
    if scheme == "replacement":
        return list(torch.randint(0, n, (n_steps, batch_size), generator=generator, device=dev).unbind(0))
    order = (torch.randperm(n, generator=generator, device=dev) if scheme == "shuffle"
             else torch.arange(n, device=dev))
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n_steps)]


#: A pluggable epoch sampler: ``sampler(n, batch_size, generator) -> list of index tensors``.
Sampler = Callable[[int, int, "torch.Generator | None"], list[torch.Tensor]]
