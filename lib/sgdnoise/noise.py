r"""Statistics of gradient noise computed from per-example gradients.

Given the per-example gradients :math:`g_1, \dots, g_N \in \mathbb R^d` at a point :math:`w`
(rows of an ``(N, d)`` array, e.g. from :func:`sgdnoise.gradients.per_example_grads`):

* the mean gradient :math:`G = \frac1N\sum_i g_i` (:func:`mean_gradient`);
* the per-example covariance :math:`\Sigma = \frac1N\sum_i (g_i - G)(g_i - G)^\top` in full
  (:func:`covariance_matrix`, small :math:`d`) or through its top eigenpairs without forming the
  :math:`d\times d` matrix (:func:`covariance_top_eigenpairs`, from the :math:`N\times N` Gram
  matrix); its trace from the model directly, without per-example gradients (:func:`trace_sigma`);
* the gradient diversity of Yin et al. (2018) (:func:`gradient_diversity`);
* the mini-batch noise :math:`\hat g_B - G` of many batches at once (:func:`minibatch_noise`).

All statistics are computed in float64.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_finite, check_positive_int
from .gradients import LossFn, per_example_sq_norms
from .sampling import minibatch_means


def _check_grads(grads: torch.Tensor, min_rows: int = 1) -> torch.Tensor:
    if not isinstance(grads, torch.Tensor) or grads.ndim != 2 or grads.shape[0] < min_rows:
        shape = tuple(grads.shape) if isinstance(grads, torch.Tensor) else type(grads).__name__
        raise ValueError(f"grads must be a tensor of shape (N, d) with N >= {min_rows}, got {shape}")
    check_finite("grads", grads)
    return grads.double()


def mean_gradient(grads: torch.Tensor) -> torch.Tensor:
    r"""The full gradient :math:`G = \frac1N\sum_i g_i` from per-example gradients.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)

    Returns
    -------
    torch.Tensor, shape (d,), float64

    Examples
    --------
    >>> mean_gradient(torch.tensor([[1.0, 2.0], [3.0, 6.0]])).tolist()
    [2.0, 4.0]
    """
    return _check_grads(grads).mean(0)


def covariance_matrix(grads: torch.Tensor) -> torch.Tensor:
    r"""The per-example gradient covariance :math:`\Sigma = \frac1N\sum_i (g_i - G)(g_i - G)^\top`.

    Population normalization (:math:`1/N`, the book's convention). Forms a :math:`d\times d`
    matrix: for large :math:`d` use :func:`covariance_top_eigenpairs` or
    :func:`sgdnoise.sampling.trace_covariance`.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)

    Returns
    -------
    torch.Tensor, shape (d, d), float64

    Examples
    --------
    >>> covariance_matrix(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    g = _check_grads(grads)
    dev = g - g.mean(0)
    return dev.T @ dev / g.shape[0]


def covariance_top_eigenpairs(grads: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The ``k`` largest eigenvalues of :math:`\Sigma` and their eigenvectors, without forming :math:`\Sigma`.

    With the centred rows :math:`D = [g_i - G]_i` (:math:`N\times d`), :math:`\Sigma = D^\top D/N`
    and the Gram matrix :math:`K = D D^\top/N` (:math:`N\times N`) share their nonzero eigenvalues;
    if :math:`K u = \lambda u` with :math:`\lVert u\rVert = 1`, then :math:`v = D^\top u/\sqrt{N\lambda}`
    is a unit eigenvector of :math:`\Sigma`. Cost :math:`O(N^2 d + N^3)` and memory
    :math:`O(N^2 + Nd)` instead of :math:`O(d^2)`. The rank of :math:`\Sigma` is at most
    :math:`N - 1`.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
    k : int
        Number of eigenpairs, ``1 <= k <= min(N, d)``.

    Returns
    -------
    eigenvalues : torch.Tensor, shape (k,), float64, in decreasing order
    eigenvectors : torch.Tensor, shape (d, k), float64, unit columns (sign arbitrary)

    References
    ----------
    The "snapshot" method of Sirovich (1987); Halko, Martinsson & Tropp (2011), §5.

    Examples
    --------
    >>> g = torch.tensor([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    >>> vals, vecs = covariance_top_eigenpairs(g, 2)
    >>> vals.tolist(), vecs.abs().round().T.tolist()
    ([2.0, 0.5], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    """
    g = _check_grads(grads)
    n, d = g.shape
    k = check_positive_int("k", k, maximum=min(n, d))
    dev = g - g.mean(0)
    gram = dev @ dev.T / n
    vals, vecs = torch.linalg.eigh(gram)
    vals, vecs = vals.flip(0)[:k], vecs.flip(1)[:, :k]
    vals = vals.clamp_min(0.0)
    v = dev.T @ vecs
    v = v / v.norm(dim=0).clamp_min(torch.finfo(torch.float64).tiny)
    return vals, v


def gradient_diversity(grads: torch.Tensor) -> float:
    r"""Gradient diversity :math:`\Delta = \sum_i \lVert g_i\rVert^2 \,/\, \lVert \sum_i g_i\rVert^2`.

    Equals :math:`\frac1N\big(1 + \operatorname{tr}\Sigma/\lVert G\rVert^2\big)`: it is
    :math:`1/N` when all gradients are equal and grows as they disagree. Yin et al. (2018) show
    that mini-batch SGD with batch size up to about :math:`N\Delta` makes nearly the same
    progress per example as :math:`B = 1`; beyond it larger batches waste examples.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)

    Returns
    -------
    float
        ``inf`` if the gradients sum to exactly zero.

    References
    ----------
    Yin, Pananjady, Lam, Papailiopoulos, Ramchandran & Bartlett (2018), "Gradient diversity: a key
    ingredient for scalable distributed learning", AISTATS.

    Examples
    --------
    >>> gradient_diversity(torch.ones(4, 3))
    0.25
    >>> gradient_diversity(torch.eye(4))
    1.0
    """
    g = _check_grads(grads)
    total = float(g.sum(0).square().sum())
    return float(g.square().sum()) / total if total > 0 else float("inf")


def minibatch_noise(grads: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    r"""The mini-batch noise :math:`\hat g_{B,k} - G` of many batches at once.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients.
    indices : torch.Tensor, shape (K, B), int64
        The batches, e.g. from :func:`sgdnoise.sampling.sample_batches`.

    Returns
    -------
    torch.Tensor, shape (K, d), float64

    Examples
    --------
    >>> g = torch.tensor([[1.0], [3.0]])
    >>> minibatch_noise(g, torch.tensor([[0], [1], [0]])).flatten().tolist()
    [-1.0, 1.0, -1.0]
    """
    g = _check_grads(grads)
    if not isinstance(indices, torch.Tensor) or indices.ndim != 2 or indices.dtype != torch.int64:
        raise ValueError("indices must be an int64 tensor of shape (K, B)")
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= g.shape[0]):
        raise ValueError(f"indices must lie in [0, N) = [0, {g.shape[0]})")
    return minibatch_means(g, indices) - g.mean(0)


def trace_sigma(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                chunk_size: int | None = None) -> float:
    r""":math:`\operatorname{tr}\Sigma = \frac1N\sum_i \lVert g_i\rVert^2 - \lVert G\rVert^2` straight from the model.

    Uses :func:`sgdnoise.gradients.per_example_sq_norms`, which never forms the per-example
    gradients of ``nn.Linear`` layers: for an MLP it costs about one full-batch gradient. The
    identity is exact; in float32 it loses relative precision when
    :math:`\operatorname{tr}\Sigma \ll \lVert G\rVert^2` (the two terms nearly cancel), so the
    norms are accumulated in float64.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over the batch.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per pass.

    Returns
    -------
    float

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> from sgdnoise.gradients import per_example_grads
    >>> from sgdnoise.sampling import trace_covariance
    >>> m = make_model("mlp", 3, 2, hidden=(4,), device="cpu", dtype=torch.float64)
    >>> X, y = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0])
    >>> bool(abs(trace_sigma(m, F.cross_entropy, X, y)
    ...          - trace_covariance(per_example_grads(m, F.cross_entropy, X, y))) < 1e-12)
    True
    """
    sq, G = per_example_sq_norms(model, loss_fn, X, y, chunk_size)
    G = G.double()
    return max(float(sq.mean()) - float(torch.dot(G, G)), 0.0)
