r"""The gradient-noise covariance Σ: everything about it, in one place.

Given the per-example gradients :math:`g_1, \dots, g_N \in \mathbb R^d` at a point :math:`w`
(rows of an ``(N, d)`` array, e.g. from :func:`sgdnoise.gradients.per_example_grads`):

* the mean gradient :math:`G = \frac1N\sum_i g_i` (:func:`mean_gradient`);
* the covariance :math:`\Sigma = \frac1N\sum_i (g_i - G)(g_i - G)^\top` in full
  (:func:`covariance_matrix`, small :math:`d`), its top eigenpairs without forming the
  :math:`d\times d` matrix (:func:`covariance_top_eigenpairs`, from the :math:`N\times N` Gram
  matrix), and the eigen-decomposition step that every symmetric matrix of the library goes
  through (:func:`top_eigenpairs`: Σ, the Fisher, the Hessian, Lanczos's tridiagonal);
* its trace :math:`\operatorname{tr}\Sigma = \frac1N\sum_i\lVert g_i - G\rVert^2` from the
  gradients (:func:`trace_covariance`) or from the per-example squared norms alone, never storing a
  gradient (:func:`gradient_moments_of_model`);
* the simple noise scale :math:`B_{\rm simple} = \operatorname{tr}\Sigma/\lVert G\rVert^2`
  (:func:`b_simple`), the gradient diversity (:func:`gradient_diversity`) and the participation
  ratio of the spectrum (:func:`participation_ratio`);
* the mini-batch gradient :math:`\hat g_B = \frac1B\sum_{i\in\mathcal B} g_i`: its variance in
  theory (:func:`minibatch_variance_theory`),

  .. math::

      \operatorname{tr}\operatorname{Cov}(\hat g_B) =
      \begin{cases}
        \dfrac{\operatorname{tr}\Sigma}{B} & \text{indices drawn with replacement,}\\[1ex]
        \dfrac{\operatorname{tr}\Sigma}{B}\,\dfrac{N - B}{N - 1} & \text{without replacement}
      \end{cases}

  (Cochran, *Sampling Techniques* (1977), Thm 2.2; Bottou, Curtis & Nocedal (2018), §4), and in
  measurement (:func:`minibatch_means`, :func:`minibatch_noise`,
  :func:`measure_minibatch_variance`; :func:`minibatch_noise_trace` for models whose examples
  interact, such as batch norm);
* a model's summary (:func:`gradient_noise_summary`), the split of augmented gradients' noise
  into the augmentation's own part and the rest (:func:`augmentation_noise_split`), and the
  closed form for least squares (:func:`least_squares_gradient_covariance`).

Population normalization (:math:`1/N`) throughout, the book's convention; statistics are computed
in float64 on the device of the gradients. The samplers that draw the batches are in
:mod:`sgdnoise.sampling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._validate import (
    check_bool,
    check_finite,
    check_index_tensor,
    check_positive_int,
    torch_generator,
)
from .gradients import LossFn, per_example_grads, per_example_sq_norms
from .sampling import sample_batches


def _check_grads(grads: torch.Tensor, min_rows: int = 1) -> torch.Tensor:
    """``grads`` as float64 after checking it is a finite ``(N, d)`` tensor with ``N >= min_rows``."""
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

    ``torch.cov`` with ``correction=0`` (population normalization, the book's convention). Forms a
    :math:`d\times d` matrix: for large :math:`d` use :func:`covariance_top_eigenpairs` or
    :func:`trace_covariance`.

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
    return torch.cov(g.T, correction=0).reshape(g.shape[1], g.shape[1])


def top_eigenpairs(matrix: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The ``k`` largest eigenvalues (decreasing) and unit eigenvectors of a symmetric matrix.

    ``torch.linalg.eigh`` in float64, reordered from largest to smallest: the one
    eigen-decomposition step of the library (Σ and its Gram matrix here, the Fisher, the Hessian,
    the tridiagonal matrices of :func:`sgdnoise.hessian.lanczos_top_eigenpairs`).

    Parameters
    ----------
    matrix : torch.Tensor, shape (d, d), symmetric
    k : int
        ``1 <= k <= d``.

    Returns
    -------
    eigenvalues : torch.Tensor, shape (k,), float64, decreasing
    eigenvectors : torch.Tensor, shape (d, k), float64, orthonormal columns (sign arbitrary)

    References
    ----------
    Golub & Van Loan (2013), *Matrix Computations*, §8.

    Examples
    --------
    >>> vals, vecs = top_eigenpairs(torch.diag(torch.tensor([1.0, 3.0, 2.0])), 2)
    >>> vals.tolist(), vecs.abs().T.tolist()
    ([3.0, 2.0], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    """
    if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        shape = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise ValueError(f"matrix must be a square 2-D tensor, got {shape}")
    check_finite("matrix", matrix)
    k = check_positive_int("k", k, maximum=matrix.shape[0])
    vals, vecs = torch.linalg.eigh(matrix.double())
    return vals.flip(0)[:k], vecs.flip(1)[:, :k]


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
    # The centred Gram matrix has rank <= N - 1: a k-th pair beyond it would be arbitrary.
    k = check_positive_int("k", k, maximum=min(n - 1, d))
    dev = g - g.mean(0)
    vals, vecs = top_eigenpairs(dev @ dev.T / n, k)
    vals = vals.clamp_min(0.0)
    v = dev.T @ vecs
    v = v / v.norm(dim=0).clamp_min(torch.finfo(torch.float64).tiny)
    return vals, v


def trace_covariance(grads: torch.Tensor) -> float:
    r"""The trace of the per-example gradient covariance, :math:`\operatorname{tr}\Sigma = \frac1N\sum_i\lVert g_i - G\rVert^2`.

    Population normalization (``1/N``), computed in float64 from the gradients themselves. Without
    storing the gradients: :func:`gradient_moments_of_model`.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients (e.g. from :func:`sgdnoise.gradients.per_example_grads`).

    Returns
    -------
    float

    Examples
    --------
    >>> trace_covariance(torch.tensor([[1.0, 0.0], [3.0, 0.0]]))
    1.0
    """
    g = _check_grads(grads)
    return float((g - g.mean(0)).square().sum(1).mean())


def gradient_moments_of_model(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                              chunk_size: int | None = None) -> tuple[float, float]:
    r""":math:`\lVert G\rVert^2` and :math:`\operatorname{tr}\Sigma` of a model on ``(X, y)``, from per-example squared norms only.

    .. math:: \operatorname{tr}\Sigma = \frac1N\sum_i \lVert g_i\rVert^2 - \lVert G\rVert^2 .

    Uses :func:`sgdnoise.gradients.per_example_sq_norms`, which never forms the per-example
    gradients of ``nn.Linear`` layers: for an MLP it costs about one full-batch gradient. The
    identity is exact; in float32 it loses relative precision when
    :math:`\operatorname{tr}\Sigma \ll \lVert G\rVert^2` (the two terms nearly cancel), so the
    norms are accumulated in float64, and a negative rounding residue is returned as 0. Their
    ratio is :func:`b_simple`.

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
    (grad_sq_norm, trace_sigma) : (float, float)

    References
    ----------
    Goodfellow (2015), arXiv:1510.01799 (per-example norms from one backward pass).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(6, 3, generator=g, dtype=torch.float64)
    >>> y = torch.tensor([0, 1, 0, 1, 1, 0])
    >>> g2, tr = gradient_moments_of_model(m, F.cross_entropy, X, y)
    >>> grads = per_example_grads(m, F.cross_entropy, X, y)
    >>> bool(abs(tr - trace_covariance(grads)) < 1e-12)
    True
    """
    sq, G = per_example_sq_norms(model, loss_fn, X, y, chunk_size)
    g2 = float(G.double().square().sum())
    return g2, max(float(sq.mean()) - g2, 0.0)


def b_simple(trace_sigma, grad_sq_norm):
    r"""The simple gradient noise scale :math:`B_{\rm simple} = \operatorname{tr}\Sigma/\lVert G\rVert^2`.

    With :math:`\mathbb E\lVert\hat g_B - G\rVert^2 = \operatorname{tr}\Sigma/B`, a batch of
    :math:`B_{\rm simple}` examples has a noise as large as the signal: the batch size around which
    larger batches stop paying off (McCandlish, Kaplan, Amodei et al. 2018). Feed it
    :func:`trace_covariance` and ``mean_gradient(grads).square().sum()``, or the two values of
    :func:`gradient_moments_of_model`.

    Parameters
    ----------
    trace_sigma : float or array
        :math:`\operatorname{tr}\Sigma`, finite and >= 0.
    grad_sq_norm : float or array
        :math:`\lVert G\rVert^2`, finite and >= 0, broadcastable with ``trace_sigma``.

    Returns
    -------
    float or numpy.ndarray
        ``inf`` where :math:`G = 0`.

    References
    ----------
    McCandlish, Kaplan, Amodei et al. (2018), "An empirical model of large-batch training",
    arXiv:1812.06162, eq. 2.8.

    Examples
    --------
    >>> b_simple(1.0, 4.0)
    0.25
    >>> b_simple([1.0, 2.0], [0.0, 1.0]).tolist()
    [inf, 2.0]
    """
    tr = np.asarray(trace_sigma, dtype=float)
    g2 = np.asarray(grad_sq_norm, dtype=float)
    for name, a in (("trace_sigma", tr), ("grad_sq_norm", g2)):
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError(f"{name} must be finite and >= 0, got {a.tolist()}")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(g2 > 0, tr / np.where(g2 > 0, g2, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


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


def participation_ratio(eigenvalues) -> float:
    r"""The participation ratio :math:`(\sum_k\lambda_k)^2/\sum_k\lambda_k^2` of a spectrum.

    The "effective number of directions" of a covariance: :math:`d` for isotropic noise in
    :math:`d` dimensions, 1 for noise along one line. With the eigenvalues of :math:`\Sigma` it is
    :math:`(\operatorname{tr}\Sigma)^2/\operatorname{tr}\Sigma^2`.

    Parameters
    ----------
    eigenvalues : array or torch.Tensor, shape (k,)
        Finite and >= 0, not all 0 (e.g. from :func:`covariance_top_eigenpairs`).

    Returns
    -------
    float

    References
    ----------
    Gao, Trautmann, Yu et al. (2017), "A theory of multineuronal dimensionality, dynamics and
    measurement", bioRxiv 214262 (the participation ratio as a dimension).

    Examples
    --------
    >>> participation_ratio([1.0, 1.0, 1.0, 1.0])
    4.0
    >>> participation_ratio(torch.tensor([3.0, 0.0]))
    1.0
    """
    lam = eigenvalues.detach().double().cpu().numpy() if isinstance(eigenvalues, torch.Tensor) \
        else np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or not np.isfinite(lam).all() or (lam < 0).any() or not (lam > 0).any():
        raise ValueError(f"eigenvalues must be a 1-d array of finite values >= 0, not all 0, got {lam.tolist()}")
    return float(lam.sum() ** 2 / np.square(lam).sum())


def minibatch_variance_theory(trace_sigma: float, n: int, batch_size, replace: bool):
    r"""Theoretical :math:`\operatorname{tr}\operatorname{Cov}(\hat g_B)`.

    :math:`\operatorname{tr}\Sigma / B` with replacement, times :math:`(N-B)/(N-1)` without (the
    finite-population correction; it is 0 at :math:`B = N`).

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

    References
    ----------
    Cochran (1977), *Sampling Techniques*, Thm 2.2.

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
        Row indices into ``grads``, each in ``[0, N)``; B >= 1 (e.g. from
        :func:`sgdnoise.sampling.sample_batches`).

    Returns
    -------
    torch.Tensor, shape (K, d), in the dtype of ``grads``

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


def minibatch_noise(grads: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    r"""The mini-batch noise :math:`\hat g_{B,k} - G` of many batches at once.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients.
    indices : torch.Tensor, shape (K, B), integer
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
    return minibatch_means(g, indices) - g.mean(0)


@dataclass(frozen=True)
class VarianceEstimate:
    """A Monte-Carlo estimate of :math:`\\mathbb E\\lVert \\hat g_B - G\\rVert^2` with its standard error."""

    value: float
    stderr: float
    n_batches: int
    batch_size: int
    replace: bool


def measure_minibatch_variance(grads: torch.Tensor, batch_size: int, n_batches: int, replace: bool, *,
                               generator: torch.Generator | None = None,
                               chunk_size: int = 512) -> VarianceEstimate:
    r"""Measure :math:`\operatorname{tr}\operatorname{Cov}(\hat g_B) = \mathbb E\lVert\hat g_B - G\rVert^2` by sampling.

    Draws ``n_batches`` independent batches (:func:`sgdnoise.sampling.sample_batches`), forms their
    mean gradients (:func:`minibatch_means`, float64), and averages
    :math:`\lVert \hat g_k - G\rVert^2` with the exact full gradient :math:`G` = mean of ``grads``.
    The standard error is the sample standard deviation of those squared norms over
    :math:`\sqrt K`. Compare with :func:`minibatch_variance_theory`.

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
        On the device of ``grads``; ``None``: a fresh one seeded from the operating system.
    chunk_size : int
        Batches processed at a time (memory ~ chunk_size × N).

    Returns
    -------
    VarianceEstimate

    Examples
    --------
    >>> g = torch.tensor([[1.0], [-1.0]])          # tr Σ = 1
    >>> est = measure_minibatch_variance(g, 1, 1000, True, generator=torch.Generator().manual_seed(0))
    >>> est.value, est.stderr                      # every batch of one is exactly 1 away from G = 0
    (1.0, 0.0)
    """
    g = _check_grads(grads)
    replace = check_bool("replace", replace)
    generator = torch_generator(generator, g, data="grads")
    n = g.shape[0]
    n_batches = check_positive_int("n_batches", n_batches, minimum=2)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    G = g.mean(0)
    sq = []
    for start in range(0, n_batches, chunk_size):
        k = min(chunk_size, n_batches - start)
        idx = sample_batches(n, batch_size, k, replace, generator=generator)
        sq.append(((minibatch_means(g, idx) - G) ** 2).sum(1))
    sq = torch.cat(sq)
    return VarianceEstimate(float(sq.mean()), float(sq.std() / n_batches ** 0.5), n_batches, batch_size, replace)


def minibatch_noise_trace(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                          batch_size: int, n_batches: int, *, generator: torch.Generator | None = None,
                          params: Sequence[torch.Tensor] | None = None) -> tuple[float, float]:
    r"""The gradient noise measured from whole mini-batches: :math:`B\,\operatorname{tr}\operatorname{Cov}(\hat g_B)` and :math:`\lVert\bar g\rVert^2`.

    Draws ``n_batches`` batches of size :math:`B` with replacement, computes each mini-batch
    gradient :math:`\hat g_k` with the model in its current mode, and returns
    :math:`B\cdot\frac{1}{K-1}\sum_k\lVert\hat g_k - \bar g\rVert^2` (an unbiased estimate of
    :math:`\operatorname{tr}\Sigma` for a model whose examples do not interact) together with
    :math:`\lVert\bar g\rVert^2`. With batch normalization in training mode an example's gradient
    depends on its batch-mates, per-example gradients do not exist, and this is the noise SGD
    actually feels.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        Mean loss over a batch.
    X, y : torch.Tensor
    batch_size : int
        :math:`B \ge 2` (batch norm needs two examples).
    n_batches : int
        :math:`K \ge 2`.
    generator : torch.Generator, optional
        On the device of ``X``; ``None``: a fresh one seeded from the operating system.
    params : sequence of torch.Tensor, optional
        Restrict the gradient to these parameters (a block of the covariance, e.g. one layer's
        weights); default: every parameter that requires a gradient. With the same generator
        seed the batches are the same, so the blocks of one measurement can be compared.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(50, 3, generator=g), torch.randint(0, 2, (50,), generator=g)
    >>> tr, g2 = minibatch_noise_trace(m, F.cross_entropy, X, y, 5, 20,
    ...                           generator=torch.Generator().manual_seed(0))
    >>> bool(tr > 0 and g2 > 0)
    True
    """
    n = X.shape[0]
    batch_size = check_positive_int("batch_size", batch_size, minimum=2)
    n_batches = check_positive_int("n_batches", n_batches, minimum=2)
    generator = torch_generator(generator, X, data="X")
    idx = sample_batches(n, batch_size, n_batches, replace=True, generator=generator)
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not params:
        raise ValueError("params must name at least one parameter")
    rows = []
    for k in range(n_batches):  # a loop over batches: batch norm couples the examples inside one
        g = torch.autograd.grad(loss_fn(model(X[idx[k]]), y[idx[k]]), params)
        rows.append(torch.cat([gi.reshape(-1) for gi in g]))
    grads = torch.stack(rows)
    # The K mini-batch gradients are a sample of ĝ_B: their unbiased (K - 1) trace times B.
    tr = trace_covariance(grads) * n_batches / (n_batches - 1)
    return batch_size * tr, float(mean_gradient(grads).square().sum())


def gradient_noise_summary(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                           chunk_size: int | None = None) -> dict[str, float]:
    r"""tr Σ, ‖G‖², the simple noise scale and the anisotropy of a model's per-example gradients.

    From the per-example gradients :math:`g_i` (:func:`sgdnoise.gradients.per_example_grads`):
    :func:`trace_covariance`, :math:`\lVert G\rVert^2` (:func:`mean_gradient`), :func:`b_simple`,
    and the share of the noise in its top direction :math:`\lambda_1(\Sigma)/\operatorname{tr}\Sigma`
    (:func:`covariance_top_eigenpairs`; 1 for noise along a line, :math:`1/d` for isotropic noise).

    Parameters
    ----------
    model : nn.Module
        In the mode it is in (call ``model.eval()`` first for batch norm).
    loss_fn : callable
        Mean loss over a batch.
    X, y : torch.Tensor
    chunk_size : int, optional
        Passed to :func:`sgdnoise.gradients.per_example_grads`.

    Returns
    -------
    dict
        ``trace_sigma``, ``grad_sq_norm``, ``b_simple``, ``top_share``.

    References
    ----------
    McCandlish, Kaplan, Amodei et al. (2018), "An empirical model of large-batch training",
    arXiv:1812.06162.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(20, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (20,), generator=g)
    >>> s = gradient_noise_summary(m, F.cross_entropy, X, y)
    >>> bool(abs(s["b_simple"] - s["trace_sigma"] / s["grad_sq_norm"]) < 1e-12), bool(0 < s["top_share"] <= 1)
    (True, True)
    """
    grads = per_example_grads(model, loss_fn, X, y, chunk_size)
    tr = trace_covariance(grads)
    g2 = float(mean_gradient(grads).square().sum())
    lam, _ = covariance_top_eigenpairs(grads, 1)
    return {"trace_sigma": tr, "grad_sq_norm": g2, "b_simple": b_simple(tr, g2),
            "top_share": float(lam[0]) / tr if tr > 0 else float("nan")}


def augmentation_noise_split(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                             augment, draws: int, chunk_size: int | None = None) -> dict[str, float]:
    r"""Split the noise of augmented per-example gradients into the augmentation's own part and the rest.

    With :math:`M` independent augmentations :math:`a` of every example :math:`i` and gradients
    :math:`g_{ia}`, the law of total variance splits the trace of the covariance over
    (example, augmentation) pairs, :math:`\operatorname{tr}\Sigma_{\rm aug}`, into

    .. math::  \operatorname{tr}\Sigma_{\rm aug} = \underbrace{\tfrac1N\textstyle\sum_i
               \mathbb{E}_a\lVert g_{ia} - m_i\rVert^2}_{\text{within}} +
               \underbrace{\operatorname{tr}\operatorname{Cov}_i(m_i)}_{\text{between}},
               \qquad m_i = \mathbb{E}_a g_{ia}.

    *within* is the noise that augmentation itself adds (estimated without bias with the
    :math:`M - 1` divisor); *between* is the sampling noise of the augmentation-averaged
    gradients, estimated as :math:`\operatorname{tr}\operatorname{Cov}_i(\bar g_i) -
    \text{within}/M` (:math:`\bar g_i` the mean of the :math:`M` draws). Their sum is exactly the
    trace of the pooled covariance of the :math:`NM` gradients (divisor :math:`NM`).

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        Mean loss over a batch.
    X, y : torch.Tensor
        The un-augmented inputs and their labels.
    augment : callable
        ``augment(X)`` returns a fresh random augmentation of every row of ``X`` (it carries its
        own generator).
    draws : int
        :math:`M \ge 2` augmentations per example.
    chunk_size : int, optional
        Passed to :func:`sgdnoise.gradients.per_example_grads`.

    Returns
    -------
    dict
        ``within``, ``between``, ``total`` (their sum) and ``grad_sq_norm`` (of the pooled mean).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (30,), generator=g)
    >>> s = augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 3)   # no augmentation
    >>> abs(s["within"]) < 1e-12, abs(s["between"] - trace_covariance(per_example_grads(m, F.cross_entropy, X, y))) < 1e-9
    (True, True)
    """
    draws = check_positive_int("draws", draws, minimum=2)
    if not callable(augment):
        raise ValueError("augment must be a callable X -> augmented X")
    s1, s2 = None, None
    for _ in range(draws):
        g = per_example_grads(model, loss_fn, augment(X), y, chunk_size).double()
        s1 = g.clone() if s1 is None else s1.add_(g)
        sq = g.square().sum(1)
        s2 = sq if s2 is None else s2 + sq
    gbar = s1 / draws
    within = float(((s2 - draws * gbar.square().sum(1)) / (draws - 1)).mean())
    G = gbar.mean(0)
    between = float((gbar - G).square().sum(1).mean()) - within / draws
    return {"within": within, "between": between, "total": within + between,
            "grad_sq_norm": float(G.square().sum())}


def least_squares_gradient_covariance(X, y, w):
    r"""The gradient-noise covariance :math:`\Sigma(w)` of least squares, from the residuals.

    For the loss :math:`\frac1{2N}\sum_i (x_i^\top w - y_i)^2` the per-example gradient is
    :math:`g_i = x_i r_i` with the residual :math:`r_i = x_i^\top w - y_i`, and
    :math:`\Sigma = \frac1N\sum_i (g_i - G)(g_i - G)^\top` (:func:`covariance_matrix`). At the
    optimum of a well-specified model with noise variance :math:`\sigma^2` it is close to
    :math:`\sigma^2 X^\top X/N`: the noise is shaped like the Hessian.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (N, d)
    y : numpy.ndarray or torch.Tensor, shape (N,)
    w : numpy.ndarray or torch.Tensor, shape (d,)

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (d, d), float64
        A NumPy array for NumPy ``X``; otherwise a tensor on ``X``'s device.

    References
    ----------
    Mandt, Hoffman & Blei (2017), "Stochastic gradient descent as approximate Bayesian
    inference", JMLR 18, §3.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0]]); y = np.array([1.0, 1.0])
    >>> least_squares_gradient_covariance(X, y, np.zeros(1)).tolist()     # g = (-1, 1)
    [[1.0]]
    """
    as_numpy = not isinstance(X, torch.Tensor)
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64, device=Xt.device)
    wt = torch.as_tensor(w, dtype=torch.float64, device=Xt.device)
    if Xt.ndim != 2 or yt.shape != (Xt.shape[0],):
        raise ValueError(f"X must be (N, d) and y (N,), got {tuple(Xt.shape)} and {tuple(yt.shape)}")
    if wt.shape != (Xt.shape[1],):
        raise ValueError(f"w must have shape (d,) = ({Xt.shape[1]},), got {tuple(wt.shape)}")
    for name, t in (("X", Xt), ("y", yt), ("w", wt)):
        check_finite(name, t)
    sigma = covariance_matrix(Xt * (Xt @ wt - yt)[:, None])
    return sigma.cpu().numpy() if as_numpy else sigma
