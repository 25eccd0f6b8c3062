r"""Curvature of the training loss without forming the Hessian: products, top eigenpairs, trace.

The mean training loss :math:`L(w) = \frac1N\sum_i \ell(w; x_i, y_i)` has Hessian
:math:`H = \nabla^2 L(w)`, a :math:`d\times d` matrix nobody stores for a real network. Every tool
here touches :math:`H` only through Hessian-vector products :math:`v \mapsto Hv` (Pearlmutter
1994), each costing about two gradients:

* :func:`hvp_operator` — a reusable function :math:`v\mapsto Hv` (one vector ``(d,)`` or several
  ``(k, d)`` at once), over the data in chunks, with the first-order graph built once and reused;
* :func:`lanczos_top_eigenpairs` — the top-:math:`k` eigenvalues and eigenvectors by Lanczos with
  full reorthogonalization; :func:`power_iteration` — the baseline it beats;
* :func:`hutchinson_trace` — :math:`\operatorname{tr}H` from Rademacher probes, with its standard
  error; :func:`spectral_density_slq` — the eigenvalue density by stochastic Lanczos quadrature;
* :func:`full_hessian` — the whole matrix for tiny models, the ground truth of the tests.

The sharpness :math:`\lambda_{\max}(H)` and :math:`\operatorname{tr}H` are the two "flatness"
measures of chapter 5 (Keskar et al. 2017; Jastrzębski et al. 2017).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ._validate import check_finite, check_positive_float, check_positive_int, torch_generator
from .covariance import top_eigenpairs
from .device import default_device
from .gradients import LossFn, _check_data

HVP = Callable[[torch.Tensor], torch.Tensor]


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def hvp_operator(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                 chunk_size: int | None = None, cache_graph: bool = True) -> HVP:
    r"""A function :math:`v \mapsto Hv` for the Hessian of the mean loss at the model's current weights.

    .. math::  H v = \nabla_w\big(\nabla_w L(w)^\top v\big)
               = \sum_{c} \frac{N_c}{N}\,\nabla_w\big(\nabla_w L_c(w)^\top v\big),

    where :math:`L_c` is the mean loss over the :math:`c`-th chunk of :math:`N_c` examples
    (reverse-over-reverse double backward). With ``cache_graph=True`` each chunk's gradient is
    computed once with ``create_graph=True`` and every later product only back-propagates
    through that stored graph (about 1.6 gradients per product on a CPU; forward-over-reverse
    ``jvp(grad)`` is several times slower there). Several vectors at once — a ``(k, d)`` batch —
    go through one vectorized (``vmap``) backward pass. The weights are those of the model when
    this function is called; the operator does not see later changes to them.

    Parameters
    ----------
    model : nn.Module
        Its trainable parameters, in ``model.parameters()`` order, are the :math:`d` coordinates
        (the order of :func:`sgdnoise.models.get_flat_params`).
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over a batch.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per chunk (default: all at once). Bounds the memory of one graph.
    cache_graph : bool
        Keep every chunk's first-order graph between products (fast; memory grows with ``N``).
        ``False`` rebuilds them for each product (two gradients' worth of extra work).

    Returns
    -------
    callable
        ``hvp(v)`` for ``v`` of shape ``(d,)`` or ``(k, d)`` (same dtype and device as the
        parameters); returns a tensor of the same shape. Its attributes ``dim`` (:math:`d`) and
        ``device`` (the parameters' device) tell the eigensolvers where their probes live.

    References
    ----------
    Pearlmutter (1994), "Fast exact multiplication by the Hessian", Neural Computation 6.

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1, bias=False).double()
    >>> X, t = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).double(), torch.zeros(2, 1).double()
    >>> hvp = hvp_operator(lin, torch.nn.functional.mse_loss, X, t)   # H = X^T X = diag(1, 4)
    >>> hvp(torch.tensor([1.0, 1.0]).double()).tolist()
    [1.0, 4.0]
    """
    _check_data(X, y, model)
    n = X.shape[0]
    chunk_size = n if chunk_size is None else check_positive_int("chunk_size", chunk_size)
    params = _params(model)
    if not params:
        raise ValueError("model must have at least one trainable parameter")
    d = sum(p.numel() for p in params)
    starts = list(range(0, n, chunk_size))

    def chunk_grad(s: int) -> tuple[torch.Tensor, float]:
        xb, yb = X[s:s + chunk_size], y[s:s + chunk_size]
        g = torch.autograd.grad(loss_fn(model(xb), yb), params, create_graph=True)
        return torch.cat([gi.reshape(-1) for gi in g]), xb.shape[0] / n

    cached = [chunk_grad(s) for s in starts] if cache_graph else None

    def product(flat: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        batched = v.ndim == 2
        hv = torch.autograd.grad(flat, params, grad_outputs=v, retain_graph=True, allow_unused=True,
                                 is_grads_batched=batched)
        lead = (v.shape[0],) if batched else ()
        return torch.cat([(h if h is not None else torch.zeros(*lead, *p.shape, dtype=v.dtype, device=v.device))
                          .reshape(*lead, -1) for h, p in zip(hv, params)], dim=-1)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        if not isinstance(v, torch.Tensor) or v.ndim not in (1, 2) or v.shape[-1] != d:
            raise ValueError(f"v must have shape (d,) or (k, d) with d = {d}, got "
                             f"{tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}")
        out = None
        for i, s in enumerate(starts):
            flat, weight = cached[i] if cached is not None else chunk_grad(s)
            part = product(flat, v.to(flat.dtype)) * weight
            out = part if out is None else out + part
        return out.detach()

    hvp.dim = d  # type: ignore[attr-defined]
    hvp.device = params[0].device  # type: ignore[attr-defined]
    return hvp


def _dim(hvp: HVP, dim: int | None) -> int:
    if not callable(hvp):
        raise ValueError(f"hvp must be a callable v -> Hv, got {type(hvp).__name__}")
    known = getattr(hvp, "dim", None)
    d = dim if dim is not None else known
    if d is None:
        raise ValueError("dim must be given when hvp has no .dim attribute")
    d = check_positive_int("dim", d)
    if known is not None and d != known:
        raise ValueError(f"dim must equal the operator's size hvp.dim = {known}, got dim = {d}")
    return d


_SHAPE_ERRORS = ("shape", "size", "dimension", "mat1", "mat2")


def _checked(hvp: HVP, d: int) -> HVP:
    """``hvp`` whose first application checks that it takes and returns vectors of length ``dim = d``.

    A plain callable has no ``.dim`` to compare with: a wrong ``dim`` would surface as torch's
    ``RuntimeError`` ("mat1 and mat2 shapes cannot be multiplied"); this turns it into a ``ValueError``.
    """
    checked = False

    def call(v: torch.Tensor) -> torch.Tensor:
        nonlocal checked
        if checked:
            return hvp(v)
        try:
            out = hvp(v)
        except RuntimeError as err:
            if any(word in str(err) for word in _SHAPE_ERRORS):
                raise ValueError(f"hvp cannot take vectors of length dim = {d} (dim must be the operator's "
                                 f"size): {err}") from err
            raise
        if not isinstance(out, torch.Tensor) or out.shape != v.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"hvp must map vectors of length dim = {d} to the same shape {tuple(v.shape)}, "
                             f"got {got} (is dim the operator's size?)")
        checked = True
        return out

    call.device = getattr(hvp, "device", None)  # type: ignore[attr-defined]
    return call


def _probes(hvp: HVP, generator) -> tuple[torch.device, torch.Generator]:
    """Where probes live and the generator that draws them.

    The device of the operator's data (``hvp.device``, set by :func:`hvp_operator`), else the
    generator's device, else :func:`sgdnoise.default_device`; the generator, checked to be there,
    or for ``None`` a fresh one seeded from the OS's entropy (the global RNG is never used).
    """
    dev = getattr(hvp, "device", None)
    if dev is None:
        dev = generator.device if isinstance(generator, torch.Generator) else default_device()
    return torch.device(dev), torch_generator(generator, dev, data="the operator's data")


def full_hessian(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                 chunk_size: int = 64) -> torch.Tensor:
    r"""The dense Hessian :math:`H = \nabla^2_w L(w)` of the mean loss, row by row from products.

    Applies :func:`hvp_operator` to ``chunk_size`` basis vectors :math:`e_j` at a time:
    :math:`O(d)` products and :math:`O(d^2)` memory for the result, never the far larger
    intermediates of ``torch.func.hessian``. For tiny models (ground truth in tests).

    Parameters
    ----------
    model, loss_fn, X, y
        As in :func:`hvp_operator` (all examples in one graph).
    chunk_size : int
        Basis vectors (rows of :math:`H`) per batched product (>= 1).

    Returns
    -------
    torch.Tensor, shape (d, d), symmetrized :math:`(H + H^\top)/2`, in the parameters' dtype.

    References
    ----------
    Pearlmutter (1994).

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1, bias=False).double()
    >>> X, t = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).double(), torch.zeros(2, 1).double()
    >>> full_hessian(lin, torch.nn.functional.mse_loss, X, t).tolist()
    [[1.0, 0.0], [0.0, 4.0]]
    """
    chunk_size = check_positive_int("chunk_size", chunk_size)
    hvp = hvp_operator(model, loss_fn, X, y)
    d = hvp.dim
    p0 = _params(model)[0]
    rows = []
    for s in range(0, d, chunk_size):
        t = min(d, s + chunk_size)
        basis = torch.zeros(t - s, d, dtype=p0.dtype, device=p0.device)
        basis[torch.arange(t - s), torch.arange(s, t)] = 1.0
        rows.append(hvp(basis))
    H = torch.cat(rows)
    return (H + H.T) / 2


@dataclass
class EigenResult:
    """Top eigenpairs of a symmetric operator and what they cost.

    Attributes
    ----------
    eigenvalues : torch.Tensor, shape (k,), float64, decreasing
    eigenvectors : torch.Tensor, shape (d, k), float64, orthonormal columns
    n_products : int
        Operator applications (Hessian-vector products) used.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    n_products: int
    converged: bool


def _start_vector(d: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    v = torch.randn(d, generator=generator, dtype=torch.float64, device=device)
    return v / v.norm()


def lanczos_top_eigenpairs(hvp: HVP, k: int = 1, *, dim: int | None = None, tol: float = 1e-6,
                           max_iter: int = 200, generator: torch.Generator | None = None,
                           dtype: torch.dtype | None = None) -> EigenResult:
    r"""The ``k`` largest (algebraic) eigenvalues and eigenvectors of a symmetric operator, by Lanczos.

    Builds an orthonormal basis :math:`Q_m = [q_1,\dots,q_m]` of the Krylov space
    :math:`\mathrm{span}\{q_1, Hq_1, \dots, H^{m-1}q_1\}` with the three-term recurrence
    :math:`\beta_{j}q_{j+1} = Hq_j - \alpha_j q_j - \beta_{j-1}q_{j-1}`, re-orthogonalizing
    every new vector against all previous ones (twice, classical Gram–Schmidt) so no spurious
    copies of converged eigenvalues appear. The Ritz values :math:`\theta_i` of the tridiagonal
    :math:`T_m = Q_m^\top H Q_m` approximate the extreme eigenvalues; iteration stops when every
    one of the top ``k`` has residual :math:`\lVert H y_i - \theta_i y_i\rVert = \beta_m |s_{m,i}|
    \le` ``tol`` :math:`\cdot|\theta_i|` (then :math:`|\theta_i - \lambda| \le` that residual).
    One product per iteration; the basis is kept in float64.

    Parameters
    ----------
    hvp : callable
        ``v -> Hv`` on vectors of shape ``(d,)`` (e.g. from :func:`hvp_operator`).
    k : int
        Number of eigenpairs, ``1 <= k <= d``.
    dim : int, optional
        :math:`d`; default ``hvp.dim``.
    tol : float
        Relative residual at which a Ritz pair counts as converged (> 0).
    max_iter : int
        At most this many products (capped at ``d``).
    generator : torch.Generator, optional
        Draws the random start vector, on the device of the operator's data (``hvp.device``, as
        :func:`hvp_operator` sets it; for a plain function the generator's device, else
        :func:`sgdnoise.default_device`). ``None``: a fresh generator seeded from the OS's entropy.
    dtype : torch.dtype, optional
        The dtype ``hvp`` takes its vectors in (float64 basis, vectors cast to ``dtype`` — default
        float64 — for the product).

    Returns
    -------
    EigenResult

    References
    ----------
    Lanczos (1950); Golub & Van Loan (2013), *Matrix Computations*, §10.1; Ghorbani, Krishnan &
    Xiao (2019) and Yao et al. (2020, PyHessian) for neural-network Hessians.

    Examples
    --------
    >>> A = torch.diag(torch.arange(1.0, 101.0, dtype=torch.float64))
    >>> res = lanczos_top_eigenpairs(lambda v: A @ v, k=2, dim=100, generator=torch.Generator().manual_seed(0))
    >>> [round(x, 6) for x in res.eigenvalues.tolist()], res.converged
    ([100.0, 99.0], True)
    """
    d = _dim(hvp, dim)
    hvp = _checked(hvp, d)
    k = check_positive_int("k", k, maximum=d)
    tol = check_positive_float("tol", tol)
    max_iter = min(check_positive_int("max_iter", max_iter), d)
    dev, generator = _probes(hvp, generator)
    dtype = dtype or torch.float64
    Q = torch.zeros(max_iter + 1, d, dtype=torch.float64, device=dev)
    Q[0] = _start_vector(d, generator, dev)
    converged = False
    theta = S = None
    m = 0
    for alphas, betas, beta in _lanczos(hvp, Q, dtype):
        m, alpha = len(alphas), alphas[-1]
        if m >= k:
            theta, S = top_eigenpairs(_tridiagonal(alphas, betas), k)
            residual = beta * S[-1].abs()
            if bool((residual <= tol * theta.abs().clamp_min(1e-300)).all()):
                converged = True
                break
        if beta < 1e-12 * max(1.0, abs(alpha)):
            converged = m >= k  # invariant subspace found: the Ritz values are exact
            break
        if m == max_iter:
            break
    if theta is None:
        raise ValueError(f"k = {k} eigenpairs need max_iter >= k, got max_iter = {max_iter}")
    vecs = Q[:m].T @ S.to(dev)
    return EigenResult(theta.to(dev), vecs, m, converged)


def power_iteration(hvp: HVP, k: int = 1, *, dim: int | None = None, tol: float = 1e-3,
                    max_iter: int = 1000, generator: torch.Generator | None = None,
                    dtype: torch.dtype | None = None) -> EigenResult:
    r"""Top eigenpairs by power iteration with deflation — the baseline for :func:`lanczos_top_eigenpairs`.

    For each :math:`i = 1..k` in turn: :math:`v \leftarrow Hv/\lVert Hv\rVert` with :math:`v` kept
    orthogonal to the eigenvectors already found, until the Rayleigh quotient
    :math:`\lambda = v^\top H v` changes by less than ``tol`` :math:`\cdot|\lambda|` between
    iterations (the rule PyHessian uses). Converges at the rate :math:`|\lambda_{i+1}/\lambda_i|`
    per product and finds the eigenvalues of largest **magnitude**: for a Hessian with a large
    negative eigenvalue that need not be :math:`\lambda_{\max}`.

    Parameters
    ----------
    hvp, k, dim, generator, dtype
        As in :func:`lanczos_top_eigenpairs`.
    tol : float
        Relative change of the Rayleigh quotient that stops the iteration (> 0).
    max_iter : int
        Products per eigenpair at most.

    Returns
    -------
    EigenResult
        Eigenvalues in the order found (decreasing magnitude).

    References
    ----------
    Golub & Van Loan (2013), §7.3; Yao et al. (2020), PyHessian, Algorithm 1.

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 2.0, 10.0], dtype=torch.float64))
    >>> res = power_iteration(lambda v: A @ v, dim=3, tol=1e-10, generator=torch.Generator().manual_seed(0))
    >>> round(float(res.eigenvalues[0]), 6)
    10.0
    """
    d = _dim(hvp, dim)
    hvp = _checked(hvp, d)
    k = check_positive_int("k", k, maximum=d)
    tol = check_positive_float("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    dev, generator = _probes(hvp, generator)
    dtype = dtype or torch.float64
    vals, vecs, n_products, converged = [], [], 0, True
    for _ in range(k):
        V = torch.stack(vecs) if vecs else torch.zeros(0, d, dtype=torch.float64, device=dev)
        v = _start_vector(d, generator, dev)
        v = v - V.T @ (V @ v)
        v = v / v.norm()
        lam, ok = None, False
        for _ in range(max_iter):
            hv = hvp(v.to(dtype)).to(torch.float64)
            n_products += 1
            new = float(v @ hv)
            hv = hv - V.T @ (V @ hv)
            v = hv / hv.norm()
            if lam is not None and abs(new - lam) <= tol * abs(new):
                lam, ok = new, True
                break
            lam = new
        converged &= ok
        vals.append(lam)
        vecs.append(v)
    return EigenResult(torch.tensor(vals, dtype=torch.float64, device=dev), torch.stack(vecs, 1), n_products,
                       converged)


def rademacher(shape: tuple[int, ...], *, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Independent random signs :math:`\pm1` with probability 1/2 each, on the generator's device.

    ``generator=None`` draws on :func:`sgdnoise.default_device` from a fresh generator seeded from
    the OS's entropy.

    Examples
    --------
    >>> z = rademacher((1000,), generator=torch.Generator().manual_seed(0))
    >>> bool(set(z.tolist()) == {-1.0, 1.0})
    True
    """
    dev = generator.device if isinstance(generator, torch.Generator) else default_device()
    generator = torch_generator(generator, dev)
    if not isinstance(shape, (tuple, list)) or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                                                   for s in shape):
        raise ValueError(f"shape must be a tuple of non-negative ints, got {shape!r}")
    bits = torch.randint(0, 2, tuple(shape), generator=generator, device=dev)
    return (2 * bits - 1).to(dtype=dtype)


def hutchinson_trace(hvp: HVP, n_probes: int = 100, *, dim: int | None = None, chunk_size: int = 16,
                     generator: torch.Generator | None = None,
                     dtype: torch.dtype | None = None) -> tuple[float, float]:
    r"""Hutchinson's estimate of :math:`\operatorname{tr} H` from Rademacher probes, with its standard error.

    .. math::  \widehat{\operatorname{tr}H} = \frac1M\sum_{m=1}^M z_m^\top H z_m,
               \qquad z_m \in \{\pm1\}^d \text{ i.i.d.},

    unbiased, with variance :math:`2\sum_{i\ne j}H_{ij}^2/M` per probe average (smaller than
    Gaussian probes'); the standard error reported is the sample standard deviation of the
    :math:`z_m^\top H z_m` over :math:`\sqrt M`. Probes go through ``hvp`` ``chunk_size`` at a time.

    Parameters
    ----------
    hvp : callable
        ``v -> Hv``, accepting ``(batch, d)`` stacks of vectors (as :func:`hvp_operator` does).
    n_probes : int
        :math:`M \ge 2`.
    dim : int, optional
        Default ``hvp.dim``.
    chunk_size : int
        Probes per call of ``hvp`` (>= 1).
    generator, dtype
        As in :func:`lanczos_top_eigenpairs` (the probes' randomness and dtype, default float64).

    Returns
    -------
    (estimate, standard_error) : tuple of float

    References
    ----------
    Hutchinson (1990), Commun. Stat. Simul. Comput. 19; Avron & Toledo (2011), J. ACM 58.

    Examples
    --------
    >>> A = torch.diag(torch.arange(1.0, 11.0, dtype=torch.float64))
    >>> est, se = hutchinson_trace(lambda V: V @ A, 20, dim=10, generator=torch.Generator().manual_seed(0))
    >>> est, se    # diagonal matrix: every probe gives the trace exactly
    (55.0, 0.0)
    """
    d = _dim(hvp, dim)
    hvp = _checked(hvp, d)
    n_probes = check_positive_int("n_probes", n_probes, minimum=2)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    dev, generator = _probes(hvp, generator)
    dtype = dtype or torch.float64
    values = []
    for s in range(0, n_probes, chunk_size):
        Z = rademacher((min(chunk_size, n_probes - s), d), generator=generator, dtype=dtype)
        values.append((Z * hvp(Z)).sum(1).double())
    q = torch.cat(values)
    return float(q.mean()), float(q.std() / math.sqrt(n_probes))


def spectral_density_slq(hvp: HVP, n_probes: int = 4, n_iter: int = 60, *, dim: int | None = None,
                         generator: torch.Generator | None = None,
                         dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Nodes and weights of the Hessian's eigenvalue density by stochastic Lanczos quadrature.

    For a random unit vector :math:`v`, ``n_iter`` Lanczos steps give a tridiagonal
    :math:`T = S\,\mathrm{diag}(\theta)\,S^\top`; the Gauss quadrature nodes :math:`\theta_j` with
    weights :math:`S_{1j}^2` reproduce :math:`v^\top f(H) v` for polynomials :math:`f` of degree
    :math:`< 2\,` ``n_iter``, and averaging over probes estimates
    :math:`\frac1d\operatorname{tr} f(H) = \int f(\lambda)\,\phi(\lambda)\,d\lambda`. Smooth with
    :func:`gaussian_density` to plot :math:`\phi`.

    Parameters
    ----------
    hvp : callable
    n_probes : int
        Independent start vectors (>= 1).
    n_iter : int
        Lanczos steps per probe (>= 1, capped at ``d``).
    dim, generator, dtype
        As in :func:`lanczos_top_eigenpairs`.

    Returns
    -------
    nodes, weights : torch.Tensor, shape (n_probes * n_iter,), float64
        Weights sum to 1.

    References
    ----------
    Golub & Meurant (2010), *Matrices, Moments and Quadrature*; Ghorbani, Krishnan & Xiao (2019),
    ICML.

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    >>> nodes, w = spectral_density_slq(lambda v: A @ v, 3, 4, dim=4, generator=torch.Generator().manual_seed(0))
    >>> sorted({round(x, 6) for x in nodes.tolist()}), round(float(w.sum()), 6)   # 4 steps: exact nodes
    ([1.0, 2.0, 3.0, 4.0], 1.0)
    """
    d = _dim(hvp, dim)
    hvp = _checked(hvp, d)
    n_probes = check_positive_int("n_probes", n_probes)
    n_iter = min(check_positive_int("n_iter", n_iter), d)
    dev, generator = _probes(hvp, generator)
    nodes, weights = [], []
    for _ in range(n_probes):
        res = _lanczos_tridiagonal(hvp, d, n_iter, generator, dev, dtype or torch.float64)
        theta, S = top_eigenpairs(res, res.shape[0])
        nodes.append(theta)
        weights.append(S[0] ** 2 / n_probes)
    return torch.cat(nodes), torch.cat(weights)


def _lanczos(hvp: HVP, Q: torch.Tensor, dtype: torch.dtype):
    """Lanczos with full reorthogonalization on the rows of ``Q`` (``Q[0]``: the unit start vector).

    After step ``j`` yields ``(alphas, betas, beta)``: the tridiagonal's diagonal (``j + 1``
    entries) and off-diagonal (``j``) so far, and the norm ``beta`` of the new residual, which
    the next step normalizes into ``Q[j + 1]``. The caller stops by leaving the loop.
    """
    alphas: list[float] = []
    betas: list[float] = []
    for j in range(Q.shape[0]):
        w = hvp(Q[j].to(dtype)).to(torch.float64)
        check_finite("hvp(v)", w)
        alphas.append(float(Q[j] @ w))
        for _ in range(2):  # full reorthogonalization, twice is enough (Parlett)
            w = w - Q[:j + 1].T @ (Q[:j + 1] @ w)
        beta = float(w.norm())
        yield alphas, betas, beta
        if j + 1 < Q.shape[0]:
            betas.append(beta)
            Q[j + 1] = w / beta


def _tridiagonal(alphas: list[float], betas: list[float]) -> torch.Tensor:
    """The symmetric tridiagonal matrix with diagonal ``alphas`` and off-diagonal ``betas``."""
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if betas:
        off = torch.tensor(betas, dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    return T


def _lanczos_tridiagonal(hvp: HVP, d: int, m: int, generator, dev, dtype) -> torch.Tensor:
    Q = torch.zeros(m, d, dtype=torch.float64, device=dev)
    Q[0] = _start_vector(d, generator, dev)
    for alphas, betas, beta in _lanczos(hvp, Q, dtype):
        if len(alphas) == m or beta < 1e-12:
            break
    return _tridiagonal(alphas, betas)


def gaussian_density(nodes: torch.Tensor, weights: torch.Tensor, grid: torch.Tensor, width: float) -> torch.Tensor:
    r"""Smooth quadrature nodes into a density: :math:`\phi(t) = \sum_j w_j\,\mathcal N(t;\theta_j, \sigma^2)`.

    Parameters
    ----------
    nodes, weights : torch.Tensor, shape (n,)
    grid : torch.Tensor, shape (g,)
        Where to evaluate the density.
    width : float
        Kernel standard deviation :math:`\sigma > 0`.

    Returns
    -------
    torch.Tensor, shape (g,), float64

    Examples
    --------
    >>> g = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    >>> phi = gaussian_density(torch.tensor([0.0]), torch.tensor([1.0]), g, 1.0)
    >>> round(float(phi.sum() * 0.01), 4)
    1.0
    """
    width = check_positive_float("width", width)
    for name, t in (("nodes", nodes), ("weights", weights), ("grid", grid)):
        if not isinstance(t, torch.Tensor) or t.ndim != 1:
            raise ValueError(f"{name} must be a 1-D torch.Tensor, got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        check_finite(name, t)
    if weights.shape != nodes.shape:
        raise ValueError(f"weights must have the shape of nodes {tuple(nodes.shape)}, got {tuple(weights.shape)}")
    z = (grid.double()[:, None] - nodes.double()[None, :].to(grid.device)) / width
    return (torch.exp(-0.5 * z ** 2) * weights.double().to(grid.device)).sum(1) / (width * math.sqrt(2 * math.pi))


def sharpness(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, *, tol: float = 1e-4,
              max_iter: int = 100, chunk_size: int | None = None,
              generator: torch.Generator | None = None) -> float:
    r"""The sharpness :math:`\lambda_{\max}(\nabla^2 L)` of the mean loss at the model's weights.

    :func:`lanczos_top_eigenpairs` with ``k = 1`` on :func:`hvp_operator`; the start vector is
    drawn by ``generator`` (on the model's device), to within ``tol`` the result does not depend
    on it.

    Parameters
    ----------
    model, loss_fn, X, y, chunk_size
        As in :func:`hvp_operator`.
    tol, max_iter, generator
        As in :func:`lanczos_top_eigenpairs`.

    Returns
    -------
    float

    References
    ----------
    Keskar et al. (2017); Cohen et al. (2021).

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1, bias=False).double()
    >>> X, t = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).double(), torch.zeros(2, 1).double()
    >>> round(sharpness(lin, torch.nn.functional.mse_loss, X, t), 6)
    4.0
    """
    hvp = hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
    p0 = _params(model)[0]
    res = lanczos_top_eigenpairs(hvp, 1, tol=tol, max_iter=max_iter, generator=generator, dtype=p0.dtype)
    return float(res.eigenvalues[0])
