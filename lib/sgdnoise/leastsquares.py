r"""Least squares: one problem object, one vectorized SGD engine, and the engine's exact moments.

The problem is :math:`L(w) = \frac{1}{2N}\lVert Xw - y\rVert^2`, with Hessian :math:`A = X^\top X/N`,
residuals :math:`r(w) = Xw - y`, per-example gradients :math:`g_i(w) = x_i\,r_i(w)` and optimum
:math:`w^\star` (``torch.linalg.lstsq``). Its suboptimality is exactly quadratic,
:math:`L(w) - L^\star = \frac12 (w - w^\star)^\top A\,(w - w^\star)`.

* :class:`LeastSquares` — the problem: optimum, Hessian, loss, residuals, full and per-example
  gradients, suboptimality of many iterates at once;
* :class:`SGDRuns` — the one engine: ``R`` independent mini-batch SGD runs advanced together as
  an ``(R, d)`` tensor, batches drawn with or without replacement, optional Gaussian noise
  injected after each step (SGLD), chunked over runs where the gathered batches would not fit;
  :func:`sgd` runs it for a fixed number of steps;
* :func:`stationary_covariance`, :func:`stationary_excess`, :func:`expected_excess` — the exact
  second moments of the engine (batches with or without replacement): the stationary covariance of constant-rate
  SGD, its suboptimality (the "confusion ball"), and the expected suboptimality at every step
  under any schedule;
* :func:`condition_number` — :math:`\lambda_{\max}/\lambda_{\min}` of :math:`X^\top X/N`.

The engine stays on the data's device, with an explicit ``generator`` on it; the exact moments are
computed in float64 on the CPU and returned as NumPy arrays.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._progress import progress
from ._validate import check_bool, check_finite, check_positive_float, check_positive_int, torch_generator
from .covariance import minibatch_variance_theory
from .data import least_squares_optimum
from .sampling import sample_batches


class LeastSquares:
    r"""The least-squares problem :math:`L(w) = \frac{1}{2N}\lVert Xw - y\rVert^2` on ``(X, y)``.

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
        Features (floating point, finite).
    y : torch.Tensor, shape (N,)
        Targets, same dtype and device as ``X``.

    Attributes
    ----------
    X, y : torch.Tensor
    n, d : int
    w_opt : torch.Tensor, shape (d,)
        The minimizer, ``torch.linalg.lstsq`` solved in float64, in ``X``'s dtype.
    hessian : torch.Tensor, shape (d, d)
        :math:`A = X^\top X/N`, in ``X``'s dtype.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    >>> p = LeastSquares(X, torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64))
    >>> [round(v, 12) for v in p.w_opt.tolist()], round(p.loss(p.w_opt).item(), 12)
    ([1.0, 1.0], 0.0)
    >>> [round(v, 12) for v in p.excess(torch.zeros(2, 2, dtype=torch.float64)).tolist()]   # two iterates
    [1.5, 1.5]
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or not X.is_floating_point():
            raise ValueError(f"X must be a floating-point tensor of shape (N, d), got "
                             f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
        if not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],):
            raise ValueError(f"y must be a tensor of shape ({X.shape[0]},), got "
                             f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        if y.dtype != X.dtype or y.device != X.device:
            raise ValueError(f"y must have X's dtype and device ({X.dtype}, {X.device}), got {y.dtype}, {y.device}")
        check_finite("X", X)
        check_finite("y", y)
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.w_opt = least_squares_optimum(X, y)
        self.hessian = X.T @ X / self.n

    def __repr__(self) -> str:
        return f"LeastSquares(N={self.n}, d={self.d}, dtype={self.X.dtype}, device={self.X.device})"

    def _as_w(self, w) -> torch.Tensor:
        w = torch.as_tensor(w, dtype=self.X.dtype, device=self.X.device)
        if w.shape[-1:] != (self.d,) or w.ndim > 2:
            raise ValueError(f"w must have shape ({self.d},) or (R, {self.d}), got {tuple(w.shape)}")
        return w

    def residuals(self, w) -> torch.Tensor:
        r""":math:`r(w) = Xw - y`: shape (N,) for ``w`` of shape (d,), (R, N) for (R, d)."""
        w = self._as_w(w)
        return (self.X @ w if w.ndim == 1 else w @ self.X.T) - self.y

    def loss(self, w) -> torch.Tensor:
        r""":math:`L(w) = \frac{1}{2N}\lVert Xw - y\rVert^2` (a scalar, or one per row of ``w``)."""
        return 0.5 * self.residuals(w).square().mean(-1)

    def gradient(self, w) -> torch.Tensor:
        r""":math:`\nabla L(w) = X^\top(Xw - y)/N`, shaped like ``w``."""
        return self.residuals(w) @ self.X / self.n

    def per_example_grads(self, w) -> torch.Tensor:
        r"""The rows :math:`g_i(w) = x_i\,(x_i^\top w - y_i)`, shape (N, d), for one ``w`` of shape (d,)."""
        w = self._as_w(w)
        if w.ndim != 1:
            raise ValueError(f"w must have shape ({self.d},), got {tuple(w.shape)}")
        return self.residuals(w)[:, None] * self.X

    def excess(self, w) -> torch.Tensor:
        r""":math:`L(w) - L^\star = \frac12 (w - w^\star)^\top A (w - w^\star)`, one per row of ``w``."""
        e = self._as_w(w) - self.w_opt
        return 0.5 * ((e @ self.hessian) * e).sum(-1)

    def _float64(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(X, Hessian, residuals at the optimum) in float64 on the CPU, for the exact moment equations."""
        Xd = self.X.detach().double().cpu()
        r = Xd @ self.w_opt.double().cpu() - self.y.detach().double().cpu()
        return Xd, Xd.T @ Xd / self.n, r


def _check_problem(problem) -> LeastSquares:
    if not isinstance(problem, LeastSquares):
        raise ValueError(f"problem must be a sgdnoise.leastsquares.LeastSquares, got {type(problem).__name__}")
    return problem


def _as_rates(lr, n_runs: int, step: int, dtype: torch.dtype, device) -> torch.Tensor:
    """``lr`` (one rate or one per run) as an ``(n_runs or 1, 1)`` tensor, checked finite and > 0 (internal)."""
    rates = (lr.to(dtype=dtype, device=device) if isinstance(lr, torch.Tensor)
             else torch.as_tensor(np.asarray(lr, dtype=float), dtype=dtype, device=device)).reshape(-1)
    if rates.numel() not in (1, n_runs) or not bool(torch.isfinite(rates).all()) or bool((rates <= 0).any()):
        raise ValueError(f"learning rate lr must be > 0 and finite, a scalar or one per run ({n_runs}); "
                         f"got {lr} at step {step}")
    return rates.reshape(-1, 1)


class SGDRuns:
    r"""``n_runs`` independent mini-batch SGD runs on a :class:`LeastSquares` problem, advanced together.

    One call of :meth:`step` updates every run,

    .. math::  w \leftarrow w - \frac{\eta}{B}\sum_{i\in\mathcal B} x_i\,(x_i^\top w - y_i) + \sqrt{v}\,\zeta,
               \qquad \zeta \sim \mathcal N(0, I),

    with a fresh batch :math:`\mathcal B` of :math:`B` indices per run and step: i.i.d. uniform
    (``replace=True``) or a uniformly random subset (``replace=False``). :math:`v > 0` injects
    Gaussian noise (SGLD, Welling & Teh 2011); :math:`v = 0` is plain SGD. The gradient is
    computed from the gathered batch, :math:`O(RBd)`, or — when the batch is a large fraction of
    the data — from per-run counts of each example, :math:`O(RNd)`; either way in blocks of
    ``chunk_size`` runs, so that memory stays bounded while the random draws do not depend on
    the blocks.

    Parameters
    ----------
    problem : LeastSquares
    n_runs : int
        R >= 1.
    w0 : tensor of shape (d,) or (R, d), optional
        Starting point(s); default 0.
    replace : bool
        Draw the batch indices with replacement (default) or without.
    generator : torch.Generator, optional
        On the data's device; ``None``: a fresh one seeded from the operating system.
    chunk_size : int, optional
        Runs per block of the gradient computation (default: all at once).

    Attributes
    ----------
    w : torch.Tensor, shape (R, d)
        The current iterates (updated in place).

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> runs = SGDRuns(LeastSquares(X, y), 3, generator=torch.Generator().manual_seed(0))
    >>> runs.step(0.5, 4); runs.w.shape
    torch.Size([3, 1])
    """

    def __init__(self, problem: LeastSquares, n_runs: int, w0=None, *, replace: bool = True,
                 generator: torch.Generator | None = None, chunk_size: int | None = None):
        self.problem = _check_problem(problem)
        X = problem.X
        self.n_runs = check_positive_int("n_runs", n_runs)
        self.replace = check_bool("replace", replace)
        self.chunk_size = self.n_runs if chunk_size is None else check_positive_int("chunk_size", chunk_size)
        self.generator = torch_generator(generator, X, data="X")
        w0 = torch.zeros(problem.d, dtype=X.dtype) if w0 is None else torch.as_tensor(w0)
        if w0.shape not in ((problem.d,), (self.n_runs, problem.d)):
            raise ValueError(f"w0 must have shape ({problem.d},) or ({self.n_runs}, {problem.d}), got {tuple(w0.shape)}")
        check_finite("w0", w0)
        self.w = w0.to(dtype=X.dtype, device=X.device).expand(self.n_runs, problem.d).clone()
        self._noise = None

    def excess(self) -> torch.Tensor:
        r""":math:`L(w) - L^\star` of every run, shape (R,)."""
        return self.problem.excess(self.w)

    def step(self, lr, batch_size: int, inject_var: float = 0.0) -> None:
        r"""One update of every run with rate(s) ``lr`` (a number or one per run), batch size ``batch_size``.

        ``inject_var`` is :math:`v \ge 0`, the variance per coordinate of the injected noise.
        """
        p, R = self.problem, self.n_runs
        b = check_positive_int("batch_size", batch_size, maximum=None if self.replace else p.n)
        lr = _as_rates(lr, R, 0, p.X.dtype, p.X.device)            # (R or 1, 1), checked
        inject_var = check_positive_float("inject_var", inject_var, allow_zero=True)
        idx = sample_batches(p.n, b, R, replace=self.replace, generator=self.generator)
        for s in range(0, R, self.chunk_size):
            e = min(R, s + self.chunk_size)
            w, ix = self.w[s:e], idx[s:e]
            if 8 * b < p.n:                                          # gather the batch: O(R B d)
                xb = p.X[ix]                                         # (r, B, d)
                resid = torch.einsum("rbd,rd->rb", xb, w) - p.y[ix]
                grad = torch.einsum("rbd,rb->rd", xb, resid) / b
            else:                                                    # count the draws: O(R N d)
                counts = torch.zeros(e - s, p.n, dtype=p.X.dtype, device=p.X.device)
                counts.scatter_add_(1, ix, torch.ones_like(ix, dtype=p.X.dtype))
                grad = (counts * (w @ p.X.T - p.y)) @ p.X / b
            w.sub_((lr if lr.shape[0] == 1 else lr[s:e]) * grad)
        if inject_var > 0:
            if self._noise is None:
                self._noise = torch.empty_like(self.w)
            self.w.add_(self._noise.normal_(0.0, math.sqrt(inject_var), generator=self.generator))


def sgd(problem: LeastSquares, *, lr: float, batch_size: int, n_steps: int, n_runs: int, w0=None,
        replace: bool = True, inject_var: float = 0.0, generator: torch.Generator | None = None,
        chunk_size: int | None = None) -> torch.Tensor:
    r"""Run ``n_runs`` independent constant-rate SGD (or SGLD) runs for ``n_steps`` steps; return the iterates.

    The update of :class:`SGDRuns`, :math:`w \leftarrow w - \eta\,\hat g_B(w) + \sqrt v\,\zeta`, with
    :math:`\hat g_B` the mini-batch gradient of :math:`L` and :math:`v \ge 0` injected noise.

    Parameters
    ----------
    problem : LeastSquares
    lr : float
        :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1` (:math:`\le N` without replacement).
    n_steps, n_runs : int
    w0 : tensor of shape (d,) or (n_runs, d), optional
        Default 0.
    replace : bool
        Batches with (default) or without replacement.
    inject_var : float
        :math:`v \ge 0`.
    generator : torch.Generator, optional
        On the data's device.
    chunk_size : int, optional
        Runs per block (see :class:`SGDRuns`).

    Returns
    -------
    torch.Tensor, shape (n_runs, d)
        On the data's device.

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> w = sgd(LeastSquares(X, y), lr=0.5, batch_size=4, n_steps=100, n_runs=3, replace=False,
    ...         generator=torch.Generator().manual_seed(0))
    >>> w[:, 0].tolist()        # the full batch without replacement: gradient descent, to w* = 2.5
    [2.5, 2.5, 2.5]
    """
    runs = SGDRuns(problem, n_runs, w0, replace=replace, generator=generator, chunk_size=chunk_size)
    rate = _as_rates(check_positive_float("lr", lr), 1, 0, problem.X.dtype, problem.X.device)
    batch_size = check_positive_int("batch_size", batch_size, maximum=None if runs.replace else problem.n)
    inject_var = check_positive_float("inject_var", inject_var, allow_zero=True)
    for _ in progress(range(check_positive_int("n_steps", n_steps)), "SGD runs", leave=False):
        runs.step(rate, batch_size, inject_var)
    return runs.w


def _batch_factor(n: int, batch_size: int, replace: bool) -> float:
    r""":math:`c_B`, the variance factor of a mean of ``batch_size`` of ``n`` rows (internal).

    :math:`1/B` with replacement, :math:`\frac{N-B}{B(N-1)}` without (Cochran 1977, Thm 2.2).
    """
    return minibatch_variance_theory(1.0, n, batch_size, replace)   # tr Cov of the mean per unit tr Σ


def _moment_map(problem: LeastSquares, lr: float, c: float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The linear map :math:`T` of :math:`\operatorname{vec}C` and the source :math:`\operatorname{vec}\Sigma^\star`.

    :math:`T = I - \eta(A\oplus A) + \eta^2[(1-c_B) A\otimes A + c_B \mathcal M]`, with
    :math:`\operatorname{vec}\mathcal M(C) = \frac1N\sum_i (x_i^\top C x_i)\operatorname{vec}(x_ix_i^\top)`
    and :math:`c_B` from :func:`_batch_factor`.
    """
    Xd, H, r = problem._float64()
    n, d = Xd.shape
    u = Xd * r[:, None]
    outer = torch.einsum("ni,nj->nij", Xd, Xd).reshape(n, d * d)
    I = torch.eye(d, dtype=torch.float64)
    T = (torch.eye(d * d, dtype=torch.float64) - lr * (torch.kron(H, I) + torch.kron(I, H))
         + lr ** 2 * ((1 - c) * torch.kron(H, H) + c * outer.T @ outer / n))
    return T, (u.T @ u / n).reshape(-1)


def stationary_covariance(problem: LeastSquares, lr: float, batch_size: int,
                          inject_var: float = 0.0, replace: bool = True) -> np.ndarray:
    r"""Exact stationary covariance of constant-rate SGD on least squares.

    With :math:`\delta = w - w^\star`, :math:`M_i = x_ix_i^\top`, :math:`u_i = x_i r_i` (residuals at
    :math:`w^\star`, :math:`\sum_i u_i = 0`) and :math:`A = \frac1N\sum_i M_i`, the mini-batch
    gradient is :math:`\frac1B\sum_b (M_b\delta + u_b)`; its noise depends on :math:`\delta`, and the
    stationary covariance solves the closed linear equation

    .. math::

        S = (I-\eta A)S(I-\eta A) + \eta^2 c_B\Big[\frac1N\sum_i M_i S M_i - ASA + \Sigma^\star\Big] + vI,
        \qquad \Sigma^\star = \frac1N\sum_i u_i u_i^\top,

    with :math:`c_B = 1/B` for batches drawn with replacement and :math:`c_B = \frac{N-B}{B(N-1)}`
    without (the finite-population factor of a mean of :math:`B` distinct rows),

    solved as a :math:`d^2\times d^2` linear system. Dropping the bracket's first two terms
    (state-independent noise) gives the Lyapunov equation of
    :func:`sgdnoise.theory.lyapunov_covariance_discrete`. The law itself is not Gaussian; this is
    its exact covariance.

    Parameters
    ----------
    problem : LeastSquares
        ``d`` up to a few tens (the system has :math:`d^2` unknowns).
    lr : float
        :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1`.
    inject_var : float
        :math:`v \ge 0`, injected Gaussian noise per coordinate (SGLD).
    replace : bool
        Batches drawn with replacement (default) or without (as ``SGDRuns(replace=False)``).

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If the second-moment recursion is unstable at this ``lr`` (no stationary covariance).

    References
    ----------
    Bach & Moulines (2013), section 3; Jain, Kakade, Kidambi, Netrapalli & Sidford (2018).

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> round(float(stationary_covariance(LeastSquares(X, y), 0.5, 1)[0, 0]), 12)   # 0.5² · 1.25 / (1 − 0.25)
    0.416666666667
    """
    S = _stationary_second_moment(problem, lr, batch_size, inject_var, replace)
    if S is None:
        raise ValueError(f"lr = {lr} gives an unstable second-moment recursion: no stationary covariance")
    return S.numpy()


def _stationary_second_moment(problem, lr, batch_size, inject_var, replace):
    """The fixed point of the second-moment recursion (float64, CPU), or None where it is unstable."""
    _check_problem(problem)
    lr = check_positive_float("lr", lr)
    b = check_positive_int("batch_size", batch_size)
    v = check_positive_float("inject_var", inject_var, allow_zero=True)
    c = _batch_factor(problem.n, b, replace)
    T, sig = _moment_map(problem, lr, c)
    if float(torch.linalg.eigvals(T).abs().max()) >= 1:
        return None
    d = problem.d
    rhs = lr ** 2 * c * sig + v * torch.eye(d, dtype=torch.float64).reshape(-1)
    S = torch.linalg.solve(torch.eye(d * d, dtype=torch.float64) - T, rhs).reshape(d, d)
    return 0.5 * (S + S.T)


def stationary_excess(problem: LeastSquares, lr: float, batch_size: int, replace: bool = True) -> float:
    r"""Exact stationary :math:`\mathbb E[L(w)] - L^\star` of constant-rate SGD (``inf`` if unstable).

    :math:`\frac12\operatorname{tr}(AS)` with :math:`S` the :func:`stationary_covariance`; for small
    :math:`\eta` it is :math:`\frac{\eta}{4B}\operatorname{tr}\Sigma^\star`. If the second-moment
    recursion's spectral radius is >= 1 the second moment grows without bound (``inf``).

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(500, 3, generator=np.random.default_rng(0), device="cpu")
    >>> ls = LeastSquares(p.X, p.y)
    >>> tr_sigma = float(ls.per_example_grads(ls.w_opt).square().sum(1).mean())
    >>> bool(abs(stationary_excess(ls, 1e-4, 2) / (1e-4 / 8 * tr_sigma) - 1) < 1e-3)
    True
    """
    S = _stationary_second_moment(problem, lr, batch_size, 0.0, replace)
    if S is None:
        return float("inf")
    return float(0.5 * (problem._float64()[1] * S).sum())


def _record_steps(record_at, n_steps: int) -> np.ndarray:
    """The sorted steps to record (all of 0..n_steps by default), each in [0, n_steps] (internal)."""
    record = np.arange(n_steps + 1) if record_at is None else np.unique(np.asarray(record_at, dtype=int))
    if record.size == 0 or record.min() < 0 or record.max() > n_steps:
        raise ValueError(f"record_at must lie in [0, n_steps] = [0, {n_steps}]")
    return record


def expected_excess(problem: LeastSquares, *, lr, batch_size, n_steps: int, record_at=None,
                    w0=None, replace: bool = True) -> np.ndarray:
    r"""Exact :math:`\mathbb E[L(w_t)] - L^\star` of mini-batch SGD at every step (no sampling).

    With :math:`e_t = w_t - w^\star`, :math:`g_i = A_i e + b_i`, :math:`A_i = x_ix_i^\top`,
    :math:`b_i = x_i r_i`, :math:`r_i = x_i^\top w^\star - y_i` (:math:`\sum_i b_i = 0`), a batch of
    :math:`B_t` i.i.d. uniform indices gives for the mean :math:`m = \mathbb E e` and the second
    moment :math:`C = \mathbb E[ee^\top]` the closed linear recursion

    .. math::
        m' &= (I - \eta_t A)\,m, \\
        C' &= C - \eta_t(AC + CA) + \eta_t^2\Big[(1 - \tfrac{1}{B_t})ACA
              + \tfrac{1}{B_t}\big(M(C) + 2K(m) + \Sigma^\star\big)\Big],

    with :math:`M(C) = \frac1N\sum_i (x_i^\top C x_i)\,A_i`, :math:`K(m) = \frac1N\sum_i
    (x_i^\top m)\,r_i\,A_i` and :math:`\Sigma^\star = \frac1N\sum_i b_ib_i^\top`; then
    :math:`\mathbb E[L(w_t)] - L^\star = \frac12\operatorname{tr}(AC_t)`. Its fixed point for a
    constant rate is :func:`stationary_excess`. Float64, :math:`O(R N d^2)` per step for R rates.

    Parameters
    ----------
    problem : LeastSquares
    lr : float, array of shape (R,), or callable
        :math:`\eta_t > 0`: one rate, one per curve, or a schedule ``step -> rate(s)``
        (:mod:`sgdnoise.schedules`).
    batch_size : int or callable
        :math:`B_t \ge 1`, or a schedule ``step -> int``.
    n_steps : int
        Number of updates T.
    record_at : array of int, optional
        Steps in ``[0, T]`` to record (default: every step).
    w0 : array of shape (d,), optional
        Starting point (default 0).
    replace : bool
        Batches with replacement (default; :math:`1/B_t` below) or without (:math:`1/B_t` becomes
        :math:`c_B = \frac{N-B_t}{B_t(N-1)}`).

    Returns
    -------
    numpy.ndarray, shape (R, K)
        R = 1 for a scalar rate; K recorded steps. ``inf`` once a curve overflows.

    References
    ----------
    Bach & Moulines (2013), section 3; Jain, Kakade, Kidambi, Netrapalli & Sidford (2018),
    "Parallelizing stochastic gradient descent for least squares regression".

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(300, 3, generator=np.random.default_rng(0), device="cpu")
    >>> ls = LeastSquares(p.X, p.y)
    >>> curve = expected_excess(ls, lr=0.1, batch_size=4, n_steps=3000, record_at=[0, 3000])
    >>> bool(abs(curve[0, 1] / stationary_excess(ls, 0.1, 4) - 1) < 1e-8)
    True
    """
    from .schedules import as_schedule

    _check_problem(problem)
    n_steps = check_positive_int("n_steps", n_steps)
    lr_of = as_schedule(lr, "lr")
    b_of = as_schedule(batch_size, "batch_size")
    record = _record_steps(record_at, n_steps)
    Xd, H, r = problem._float64()
    n, d = Xd.shape
    S = (Xd * r[:, None]).T @ (Xd * r[:, None]) / n
    start = torch.zeros(d, dtype=torch.float64) if w0 is None else torch.as_tensor(w0).detach().double().cpu()
    if start.shape != (d,):
        raise ValueError(f"w0 must have shape ({d},), got {tuple(start.shape)}")
    n_rates = np.asarray(lr_of(0), dtype=float).size
    m = (start - problem.w_opt.double().cpu()).expand(n_rates, d).clone()     # (R, d)
    C = torch.einsum("ri,rj->rij", m, m)                                       # (R, d, d)
    want = set(record.tolist())
    out = [0.5 * (H * C).sum((1, 2))] if 0 in want else []
    for t in progress(range(n_steps), "expected-excess recursion", leave=False):
        eta = _as_rates(lr_of(t), n_rates, t, torch.float64, "cpu").reshape(-1, 1, 1)
        c = _batch_factor(n, check_positive_int("batch_size", b_of(t)), replace)
        HC = H @ C
        q = torch.einsum("ni,rij,nj->rn", Xd, C, Xd) + 2 * (m @ Xd.T) * r     # x_i'Cx_i + 2 (x_i'm) r_i
        MK = torch.einsum("rn,ni,nj->rij", q, Xd, Xd) / n
        C = (C - eta * (HC + HC.transpose(1, 2))
             + eta ** 2 * ((1 - c) * HC @ H + c * (MK + S)))
        C = 0.5 * (C + C.transpose(1, 2))      # rounding would seed an antisymmetric part, which this map can amplify
        m = m - eta[:, :, 0] * (m @ H)
        if t + 1 in want:
            out.append(0.5 * (H * C).sum((1, 2)))
    res = torch.stack(out, 1).numpy()
    return np.where(np.isfinite(res), res, np.inf)


def condition_number(X: torch.Tensor, rtol: float = 1e-9) -> float:
    r"""Condition number of the data's second-moment matrix :math:`A = \frac1N X^\top X`.

    :math:`A` is the Hessian of the least-squares loss (and, up to the softmax's curvature factors,
    the input block of a logistic model's Hessian), so :math:`\kappa = \lambda_{\max}/\lambda_{\min}`
    sets how anisotropic the valley — and the gradient noise, whose covariance inherits
    :math:`A`'s shape — is. Directions with :math:`\lambda < {\rm rtol}\cdot\lambda_{\max}` (e.g.
    always-blank pixels) are left out: no gradient ever moves along them.

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
    rtol : float
        Relative cut-off for zero eigenvalues, > 0.

    Returns
    -------
    float

    References
    ----------
    LeCun, Bottou, Orr & Müller (1998), "Efficient BackProp", §4.3.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, -3.0]])
    >>> condition_number(X)
    9.0
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise ValueError("X must be a tensor of shape (N, d)")
    check_finite("X", X)
    rtol = check_positive_float("rtol", rtol)
    Xd = X.double()
    lam = torch.linalg.eigvalsh(Xd.T @ Xd / X.shape[0])
    lam = lam[lam > rtol * lam.max()]
    return float(lam.max() / lam.min())


