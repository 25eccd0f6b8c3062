r"""Mini-batch sampling and the variance of the mini-batch gradient.

For per-example gradients :math:`g_1, \dots, g_N` with mean :math:`G` and covariance
:math:`\Sigma = \frac1N\sum_i (g_i - G)(g_i - G)^\top`, the mini-batch mean
:math:`\hat g_B = \frac1B \sum_{i \in \mathcal B} g_i` is unbiased, :math:`\mathbb E[\hat g_B] = G`, and

.. math::

    \operatorname{tr}\operatorname{Cov}(\hat g_B) =
    \begin{cases}
      \dfrac{\operatorname{tr}\Sigma}{B} & \text{indices drawn with replacement,}\\[1ex]
      \dfrac{\operatorname{tr}\Sigma}{B}\,\dfrac{N - B}{N - 1} & \text{without replacement}
    \end{cases}

(the second factor is the finite-population correction; it is 0 at :math:`B = N`).
See Cochran, *Sampling Techniques* (1977), Thm 2.2, and Bottou, Curtis & Nocedal (2018), §4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_bool, check_finite, check_generator, check_index_tensor, check_positive_int

#: Names of the built-in epoch samplers.
SCHEMES = ("shuffle", "fixed", "replacement")


def _gen_device(generator: torch.Generator | None) -> torch.device:
    check_generator(generator)
    return generator.device if generator is not None else torch.device("cpu")


def sample_batches(n: int, batch_size: int, n_batches: int, replace: bool,
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
        Source of randomness; the indices live on its device.

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
    dev = _gen_device(generator)
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
        Randomness for ``"shuffle"`` and ``"replacement"``; indices live on its device.
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
    dev = _gen_device(generator)
    n_steps = n // batch_size if drop_last else -(-n // batch_size)
    if scheme == "replacement":
        return list(torch.randint(0, n, (n_steps, batch_size), generator=generator, device=dev).unbind(0))
    order = (torch.randperm(n, generator=generator, device=dev) if scheme == "shuffle"
             else torch.arange(n, device=dev))
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n_steps)]


#: A pluggable epoch sampler: ``sampler(n, batch_size, generator) -> list of index tensors``.
Sampler = Callable[[int, int, "torch.Generator | None"], list[torch.Tensor]]


def trace_covariance(grads: torch.Tensor) -> float:
    r"""The trace of the per-example gradient covariance, :math:`\operatorname{tr}\Sigma = \frac1N\sum_i\lVert g_i - G\rVert^2`.

    Population normalization (``1/N``), as in the notation of the book. Computed in float64.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients (e.g. from :func:`sgdnoise.gradients.per_example_grads`).

    Returns
    -------
    float
    """
    if grads.ndim != 2 or grads.shape[0] < 1:
        raise ValueError(f"grads must have shape (N, d) with N >= 1, got {tuple(grads.shape)}")
    check_finite("grads", grads)
    g = grads.double()
    return float(((g - g.mean(0)) ** 2).sum(1).mean())


def minibatch_variance_theory(trace_sigma: float, n: int, batch_size, replace: bool):
    r"""Theoretical :math:`\operatorname{tr}\operatorname{Cov}(\hat g_B)`.

    :math:`\operatorname{tr}\Sigma / B` with replacement, times :math:`(N-B)/(N-1)` without.

    Parameters
    ----------
    trace_sigma : float
        :math:`\operatorname{tr}\Sigma` (population normalization), >= 0.
    n : int
        N (>= 2 without replacement).
    batch_size : int or array of int
        B, in ``[1, N]`` without replacement.
    replace : bool

    Returns
    -------
    float or numpy.ndarray
        Same shape as ``batch_size``.

    Examples
    --------
    >>> minibatch_variance_theory(2.0, 100, 100, replace=False)
    0.0
    >>> minibatch_variance_theory(2.0, 100, 4, replace=True)
    0.5
    """
    if not np.isfinite(trace_sigma) or trace_sigma < 0:
        raise ValueError(f"trace_sigma must be finite and >= 0, got {trace_sigma}")
    replace = check_bool("replace", replace)
    n = check_positive_int("n", n, minimum=1 if replace else 2)
    b = np.asarray(batch_size)
    if not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"batch_size must be integer, got dtype {b.dtype}")
    if (b < 1).any() or (not replace and (b > n).any()):
        upper = "" if replace else f" and <= n = {n}"
        raise ValueError(f"batch_size must be >= 1{upper}, got {batch_size}")
    b = b.astype(float)
    out = trace_sigma / b
    if not replace:
        out = out * (n - b) / (n - 1)
    return float(out) if out.ndim == 0 else out


def minibatch_means(grads: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    r"""Mini-batch mean gradients :math:`\hat g_k = \frac1B\sum_{i\in\mathcal B_k} g_i` for many batches at once.

    Built as ``C @ grads / B`` with ``C[k, i]`` the number of times example ``i`` is in batch ``k``
    (duplicates counted), which never materializes a ``(K, B, d)`` array.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Real (floating-point) per-example gradients.
    indices : torch.Tensor, shape (K, B), integer
        Row indices into ``grads``, each in ``[0, N)``; B >= 1.

    Returns
    -------
    torch.Tensor, shape (K, d)

    Examples
    --------
    >>> g = torch.tensor([[0.0], [2.0], [4.0]])
    >>> minibatch_means(g, torch.tensor([[0, 1], [2, 2]])).ravel().tolist()
    [1.0, 4.0]
    """
    if not isinstance(grads, torch.Tensor) or grads.ndim != 2 or not grads.dtype.is_floating_point:
        raise ValueError("grads must be a floating-point torch.Tensor of shape (N, d), got "
                         + (f"shape {tuple(grads.shape)}, dtype {grads.dtype}" if isinstance(grads, torch.Tensor)
                            else type(grads).__name__))
    check_index_tensor("indices", indices, grads.shape[0], ndim=2)
    if indices.shape[1] < 1:
        raise ValueError(f"indices must have at least one column (B >= 1), got shape {tuple(indices.shape)}")
    k, b = indices.shape
    counts = torch.zeros(k, grads.shape[0], dtype=grads.dtype, device=grads.device)
    counts.scatter_add_(1, indices.to(grads.device), torch.ones(k, b, dtype=grads.dtype, device=grads.device))
    return counts @ grads / b


@dataclass(frozen=True)
class VarianceEstimate:
    """A Monte-Carlo estimate of :math:`\\mathbb E\\lVert \\hat g_B - G\\rVert^2` with its standard error."""

    value: float
    stderr: float
    n_batches: int
    batch_size: int
    replace: bool


def measure_minibatch_variance(grads: torch.Tensor, batch_size: int, n_batches: int, replace: bool,
                               generator: torch.Generator | None = None, chunk: int = 512) -> VarianceEstimate:
    r"""Measure :math:`\operatorname{tr}\operatorname{Cov}(\hat g_B) = \mathbb E\lVert\hat g_B - G\rVert^2` by sampling.

    Draws ``n_batches`` independent batches (:func:`sample_batches`), forms their mean gradients
    (:func:`minibatch_means`, float64), and averages :math:`\lVert \hat g_k - G\rVert^2` with the exact
    full gradient :math:`G` = mean of ``grads``. The standard error is the sample standard
    deviation of those squared norms over :math:`\sqrt K`.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients.
    batch_size : int
        B.
    n_batches : int
        K, the number of batches sampled (>= 2).
    replace : bool
    generator : torch.Generator, optional
    chunk : int
        Batches processed at a time (memory ~ chunk × N).

    Returns
    -------
    VarianceEstimate
    """
    if grads.ndim != 2:
        raise ValueError(f"grads must have shape (N, d), got {tuple(grads.shape)}")
    check_finite("grads", grads)
    replace = check_bool("replace", replace)
    check_generator(generator)
    n = grads.shape[0]
    n_batches = check_positive_int("n_batches", n_batches, minimum=2)
    chunk = check_positive_int("chunk", chunk)
    g = grads.double()
    G = g.mean(0)
    sq = []
    for start in range(0, n_batches, chunk):
        k = min(chunk, n_batches - start)
        idx = sample_batches(n, batch_size, k, replace, generator)
        sq.append(((minibatch_means(g, idx) - G) ** 2).sum(1))
    sq = torch.cat(sq)
    return VarianceEstimate(float(sq.mean()), float(sq.std() / n_batches ** 0.5), n_batches, batch_size, replace)
