r"""Many independent SGD runs on one least-squares problem, as one batched tensor computation.

The objective is :math:`F(w) = \frac{1}{2N}\lVert Xw - y\rVert^2` with its exact minimizer
:math:`w^\star` (:func:`sgdnoise.data.make_linear_regression`). Its suboptimality is exactly
quadratic, :math:`F(w) - F^\star = \frac12 (w - w^\star)^\top H (w - w^\star)` with
:math:`H = X^\top X/N`, so it costs :math:`O(d^2)` per run to evaluate — cheap enough to check
at every step. ``R`` runs (seeds, learning rates) advance together as an ``(R, d)`` tensor; each
step draws every run's batch of ``B`` indices i.i.d. uniformly (with replacement).

* :func:`least_squares_sgd` — trajectories of the suboptimality of the last and the averaged
  iterate, under any learning-rate and batch-size schedule;
* :func:`steps_to_target` — steps until each run first reaches a target suboptimality;
* :func:`least_squares_stationary_excess` — the exact stationary suboptimality of constant-rate
  SGD (the "confusion ball"), from the linear recursion of the iterate's second moment;
* :func:`least_squares_expected_excess` — the exact *expected* suboptimality
  :math:`\mathbb{E}[F(w_t)] - F^\star` at every step, transient included, under any schedule: the
  reference for the mean of the simulated runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._progress import progress
from ._validate import check_finite, check_generator, check_positive_float, check_positive_int
from .device import default_device


def _record_steps(record_at, steps: int) -> np.ndarray:
    """The sorted steps to record (all of 0..steps by default), each in [0, steps]."""
    record = np.arange(steps + 1) if record_at is None else np.unique(np.asarray(record_at, dtype=int))
    if record.size == 0 or record.min() < 0 or record.max() > steps:
        raise ValueError(f"record_at must lie in [0, steps] = [0, {steps}]")
    return record


def _check_problem(X: torch.Tensor, y: torch.Tensor, w_opt: torch.Tensor) -> None:
    if X.ndim != 2 or y.shape != (X.shape[0],) or w_opt.shape != (X.shape[1],):
        raise ValueError(f"X, y, w_opt must have shapes (N, d), (N,), (d,), got {tuple(X.shape)}, "
                         f"{tuple(y.shape)}, {tuple(w_opt.shape)}")
    check_finite("X", X)
    check_finite("y", y)
    check_finite("w_opt", w_opt)


def _as_schedule(name: str, value, cast) -> Callable[[int], object]:
    if callable(value):
        return value
    if isinstance(value, (np.ndarray, torch.Tensor, list, tuple)):
        arr = value
        return lambda t: arr
    cast(name, value)
    return lambda t: value


def _lr_tensor(eta, n_runs: int, t: int, dtype, device) -> torch.Tensor:
    lr = torch.as_tensor(np.asarray(eta, dtype=float), dtype=dtype, device=device).reshape(-1)
    if lr.numel() not in (1, n_runs) or not bool(torch.isfinite(lr).all()) or bool((lr <= 0).any()):
        raise ValueError(f"learning rate lr must be > 0 and finite, a scalar or one per run ({n_runs}); "
                         f"got {eta} at step {t}")
    return lr.reshape(-1, 1)


class _Runs:
    """The shared state of R least-squares SGD runs (internal)."""

    def __init__(self, X, y, w_opt, n_runs, w0, generator, device):
        self.device = torch.device(device) if device is not None else default_device()
        self.X = X.to(self.device)
        self.y = y.to(self.device)
        self.w_opt = w_opt.to(self.device, X.dtype)
        self.n, self.d = X.shape
        self.H = self.X.T @ self.X / self.n
        self.R = n_runs
        w0 = torch.zeros(self.d, dtype=X.dtype) if w0 is None else torch.as_tensor(w0, dtype=X.dtype)
        if w0.shape != (self.d,):
            raise ValueError(f"w0 must have shape ({self.d},), got {tuple(w0.shape)}")
        check_finite("w0", w0)
        check_generator(generator, self.device, data=f"the runs (device={self.device})")
        self.w = w0.to(self.device).expand(n_runs, self.d).clone()
        self.gen = generator

    def excess(self, w: torch.Tensor) -> torch.Tensor:
        e = w - self.w_opt
        return 0.5 * ((e @ self.H) * e).sum(1)

    def step(self, lr: torch.Tensor, b: int) -> None:
        idx = torch.randint(0, self.n, (self.R, b), generator=self.gen, device=self.device)
        if 8 * b < self.n:                                          # gather the batch: O(R B d)
            xb = self.X[idx]                                        # (R, B, d)
            resid = torch.einsum("rbd,rd->rb", xb, self.w) - self.y[idx]
            grad = torch.einsum("rbd,rb->rd", xb, resid) / b
        else:                                                       # count the draws: O(R N d)
            counts = torch.zeros(self.R, self.n, dtype=self.X.dtype, device=self.device)
            counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=self.X.dtype))
            grad = (counts * (self.w @ self.X.T - self.y)) @ self.X / b
        self.w.sub_(lr * grad)


@dataclass
class EnsembleTrace:
    """What :func:`least_squares_sgd` recorded.

    Attributes
    ----------
    steps : numpy.ndarray, shape (K,)
        Steps after which the suboptimality was recorded (0 = the start).
    examples : numpy.ndarray, shape (K,)
        Examples processed by then (the sum of the batch sizes).
    excess : numpy.ndarray, shape (R, K)
        :math:`F(w_t) - F^\\star` of the last iterate of each run.
    excess_avg : numpy.ndarray, shape (R, K)
        The same for the running average :math:`\\bar w_t = \\frac1t\\sum_{s=1}^t w_s`.
    """

    steps: np.ndarray
    examples: np.ndarray
    excess: np.ndarray
    excess_avg: np.ndarray


def least_squares_sgd(X: torch.Tensor, y: torch.Tensor, w_opt: torch.Tensor, *, lr, batch_size,
                      steps: int, n_runs: int, record_at=None, w0=None,
                      generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> EnsembleTrace:
    r"""Run ``n_runs`` independent mini-batch SGD runs on :math:`\frac{1}{2N}\lVert Xw-y\rVert^2` at once.

    .. math::  w_{t+1} = w_t - \frac{\eta_t}{B_t}\sum_{i\in\mathcal B_t} x_i (x_i^\top w_t - y_i),
               \qquad \mathcal B_t \text{ i.i.d. uniform indices.}

    Parameters
    ----------
    X, y, w_opt : torch.Tensor
        Shapes (N, d), (N,), (d,): data and the exact minimizer.
    lr : float, array of shape (n_runs,), or callable
        :math:`\eta_t > 0`: one rate, one per run, or a schedule ``step -> rate(s)``.
    batch_size : int or callable
        :math:`B_t \ge 1`, or a schedule ``step -> int``.
    steps : int
        Number of updates T.
    n_runs : int
        R independent runs.
    record_at : array of int, optional
        Steps in ``[0, T]`` at which to record (default: every step).
    w0 : array of shape (d,), optional
        Common starting point (default 0).
    generator : torch.Generator, optional
        On ``device``; the batches' randomness.
    device : torch.device or str, optional
        Default :func:`sgdnoise.default_device`.

    Returns
    -------
    EnsembleTrace

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(200, 4, device="cpu")
    >>> tr = least_squares_sgd(p.X, p.y, p.w_opt, lr=0.1, batch_size=8, steps=100, n_runs=3,
    ...                        record_at=[0, 100], generator=torch.Generator().manual_seed(0), device="cpu")
    >>> tr.excess.shape, bool((tr.excess[:, 1] < tr.excess[:, 0]).all())
    ((3, 2), True)
    """
    _check_problem(X, y, w_opt)
    steps = check_positive_int("steps", steps)
    n_runs = check_positive_int("n_runs", n_runs)
    lr_of = _as_schedule("lr", lr, check_positive_float)
    b_of = _as_schedule("batch_size", batch_size, check_positive_int)
    record = _record_steps(record_at, steps)
    runs = _Runs(X, y, w_opt, n_runs, w0, generator, device)
    w_sum = torch.zeros_like(runs.w)
    out, out_avg, examples = [], [], []
    seen = 0
    want = set(record.tolist())
    if 0 in want:
        e0 = runs.excess(runs.w)
        out.append(e0)
        out_avg.append(e0)
        examples.append(0)
    for t in progress(range(steps), "SGD ensemble steps", leave=False):
        b = check_positive_int("batch_size", b_of(t))
        runs.step(_lr_tensor(lr_of(t), n_runs, t, X.dtype, runs.device), b)
        w_sum.add_(runs.w)
        seen += b
        if t + 1 in want:
            out.append(runs.excess(runs.w))
            out_avg.append(runs.excess(w_sum / (t + 1)))
            examples.append(seen)
    return EnsembleTrace(steps=record, examples=np.asarray(examples),
                         excess=torch.stack(out, 1).cpu().numpy(), excess_avg=torch.stack(out_avg, 1).cpu().numpy())


def steps_to_target(X: torch.Tensor, y: torch.Tensor, w_opt: torch.Tensor, *, lrs, batch_size: int,
                    target: float, n_seeds: int, max_steps: int, give_up_factor: float | None = None, w0=None,
                    generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> np.ndarray:
    r"""Steps until SGD first reaches :math:`F(w_t) - F^\star \le` ``target``, for a grid of rates × seeds at once.

    Runs ``len(lrs) * n_seeds`` independent runs as :func:`least_squares_sgd` with a constant
    batch size, and stops when every run has reached the target, after ``max_steps``, or — with
    ``give_up_factor`` :math:`= c` — once the step count exceeds :math:`c` times the first step
    at which all seeds of some rate had arrived: the runs still going are then more than
    :math:`c` times slower than that rate, and are recorded as ``inf`` (they cannot be the best
    rate, which is what :func:`sgdnoise.scaling.best_steps` looks for). A run whose
    suboptimality exceeds :math:`10^6` times the initial one has diverged (``inf``). The examples
    needed are ``batch_size`` times the steps.

    Parameters
    ----------
    lrs : float or array of shape (L,)
        Constant learning rates > 0.
    batch_size : int
        B >= 1.
    target : float
        Target suboptimality > 0.
    n_seeds : int
        Independent runs per rate.
    max_steps : int
        Give up after this many steps.
    give_up_factor : float, optional
        :math:`c > 1` (see above).

    Returns
    -------
    numpy.ndarray, shape (L, n_seeds)
        Steps S (``inf`` where the target was not reached).

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(200, 4, device="cpu")
    >>> s = steps_to_target(p.X, p.y, p.w_opt, lrs=[0.05, 0.2], batch_size=8, target=0.05, n_seeds=3,
    ...                     max_steps=1000, generator=torch.Generator().manual_seed(0), device="cpu")
    >>> s.shape, bool(s[1].mean() < s[0].mean())
    ((2, 3), True)
    """
    _check_problem(X, y, w_opt)
    batch_size = check_positive_int("batch_size", batch_size)
    target = check_positive_float("target", target)
    n_seeds = check_positive_int("n_seeds", n_seeds)
    max_steps = check_positive_int("max_steps", max_steps)
    if give_up_factor is not None:
        give_up_factor = check_positive_float("give_up_factor", give_up_factor)
        if give_up_factor <= 1:
            raise ValueError(f"give_up_factor must be > 1, got {give_up_factor}")
    rates = np.atleast_1d(np.asarray(lrs, dtype=float))
    if rates.ndim != 1 or not np.isfinite(rates).all() or (rates <= 0).any():
        raise ValueError(f"lrs must be finite rates > 0, got {lrs}")
    n_lr = rates.size
    n_runs = n_lr * n_seeds
    runs = _Runs(X, y, w_opt, n_runs, w0, generator, device)
    eta = _lr_tensor(np.repeat(rates, n_seeds), n_runs, 0, X.dtype, runs.device)
    hit = torch.full((n_runs,), float("inf"), dtype=torch.float64, device=runs.device)
    start = runs.excess(runs.w)
    active = start > target
    hit[~active] = 0
    blow_up = 1e6 * float(start.max())
    deadline = max_steps
    for t in progress(range(max_steps), "SGD steps to target", leave=False):
        if t >= deadline or not bool(active.any()):
            break
        runs.step(eta, batch_size)
        ex = runs.excess(runs.w)
        done = active & (ex <= target)
        hit[done] = t + 1
        active &= ~done & torch.isfinite(ex) & (ex < blow_up)
        if give_up_factor is not None and deadline == max_steps:
            if bool(torch.isfinite(hit).reshape(n_lr, n_seeds).all(1).any()):
                deadline = min(max_steps, int(np.ceil(give_up_factor * (t + 1))))
    return hit.reshape(n_lr, n_seeds).cpu().numpy()


def least_squares_stationary_excess(X: torch.Tensor, y: torch.Tensor, w_opt: torch.Tensor, lr: float,
                                    batch_size: int) -> float:
    r"""Exact stationary :math:`\mathbb{E}[F(w) - F^\star]` of constant-rate SGD on least squares (``inf`` if unstable).

    With :math:`e = w - w^\star`, the per-example gradient is :math:`g_i = A_i e + b_i` with
    :math:`A_i = x_i x_i^\top` and :math:`b_i = x_i(x_i^\top w^\star - y_i)` (:math:`\sum_i b_i = 0`).
    For a batch of :math:`B` i.i.d. indices the second moment :math:`C = \mathbb{E}[ee^\top]` obeys the
    linear recursion (the mean decays to 0)

    .. math::
        C' = C - \eta(HC + CH) + \eta^2\Big[(1 - \tfrac1B) HCH + \tfrac1B\big(M(C) + \Sigma^\star\big)\Big],

    :math:`M(C) = \frac1N\sum_i (x_i^\top C x_i)\, x_i x_i^\top`, :math:`\Sigma^\star = \frac1N\sum_i b_i b_i^\top`
    (the gradient covariance at the optimum). Its fixed point, solved as a :math:`d^2\times d^2`
    linear system, gives :math:`\mathbb{E}[F - F^\star] = \frac12\operatorname{tr}(HC)`. For small
    :math:`\eta` this is :math:`\frac{\eta}{4B}\operatorname{tr}\Sigma^\star`. If the recursion's
    spectral radius is >= 1 the second moment grows without bound (``inf``).

    Parameters
    ----------
    X, y, w_opt : torch.Tensor
        Shapes (N, d), (N,), (d,); ``d`` up to a few tens (the system has :math:`d^2` unknowns).
    lr : float
        Constant rate η > 0.
    batch_size : int
        B >= 1.

    Returns
    -------
    float

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(500, 3, device="cpu")
    >>> Sigma_star_trace = float(((p.X @ p.w_opt - p.y)[:, None] * p.X).square().sum(1).mean())
    >>> small = least_squares_stationary_excess(p.X, p.y, p.w_opt, 1e-4, 2)
    >>> bool(abs(small / (1e-4 / 8 * Sigma_star_trace) - 1) < 1e-3)
    True
    """
    _check_problem(X, y, w_opt)
    eta = check_positive_float("lr", lr)
    b = check_positive_int("batch_size", batch_size)
    Xd, yd, wd = X.double().cpu(), y.double().cpu(), w_opt.double().cpu()
    n, d = Xd.shape
    H = Xd.T @ Xd / n
    r = Xd @ wd - yd
    S = (Xd * r[:, None]).T @ (Xd * r[:, None]) / n
    I = torch.eye(d, dtype=torch.float64)
    outer = torch.einsum("ni,nj->nij", Xd, Xd).reshape(n, d * d)
    M = outer.T @ outer / n                                    # vec(M(C)) = M vec(C)
    HH = torch.kron(H, H)                                      # vec(HCH), C symmetric
    L = torch.kron(H, I) + torch.kron(I, H)                    # vec(HC + CH)
    T = torch.eye(d * d, dtype=torch.float64) - eta * L + eta ** 2 * ((1 - 1 / b) * HH + M / b)
    if float(torch.linalg.eigvals(T).abs().max()) >= 1:
        return float("inf")
    C = torch.linalg.solve(torch.eye(d * d, dtype=torch.float64) - T, (eta ** 2 / b) * S.reshape(-1))
    return float(0.5 * (H * C.reshape(d, d)).sum())


def least_squares_expected_excess(X: torch.Tensor, y: torch.Tensor, w_opt: torch.Tensor, *, lr, batch_size,
                                  steps: int, record_at=None, w0=None) -> np.ndarray:
    r"""Exact :math:`\mathbb{E}[F(w_t)] - F^\star` of mini-batch SGD on least squares at every step (no sampling).

    With :math:`e_t = w_t - w^\star`, :math:`g_i = A_i e + b_i`, :math:`A_i = x_ix_i^\top`,
    :math:`b_i = x_i r_i`, :math:`r_i = x_i^\top w^\star - y_i` (:math:`\sum_i b_i = 0`), a batch of
    :math:`B_t` i.i.d. uniform indices gives for the mean :math:`m = \mathbb{E}e` and the second
    moment :math:`C = \mathbb{E}[ee^\top]` the closed linear recursion

    .. math::
        m' &= (I - \eta_t H)\,m, \\
        C' &= C - \eta_t(HC + CH) + \eta_t^2\Big[(1 - \tfrac{1}{B_t})HCH
              + \tfrac{1}{B_t}\big(M(C) + 2K(m) + \Sigma^\star\big)\Big],

    with :math:`M(C) = \frac1N\sum_i (x_i^\top C x_i)\,A_i`, :math:`K(m) = \frac1N\sum_i
    (x_i^\top m)\,r_i\,A_i` (the cross term :math:`\mathbb{E}_i[A_i m b_i^\top]`, symmetric) and
    :math:`\Sigma^\star = \frac1N\sum_i b_ib_i^\top`; then :math:`\mathbb{E}[F(w_t)] - F^\star =
    \frac12\operatorname{tr}(HC_t)`. Its fixed point for a constant rate, where :math:`m \to 0`, is
    :func:`least_squares_stationary_excess`. Float64, :math:`O(R N d^2)` per step for R rates.

    Parameters
    ----------
    X, y, w_opt : torch.Tensor
        Shapes (N, d), (N,), (d,): data and the exact minimizer.
    lr : float, array of shape (R,), or callable
        :math:`\eta_t > 0`, as in :func:`least_squares_sgd` (one curve per rate).
    batch_size : int or callable
        :math:`B_t \ge 1`, or a schedule ``step -> int``.
    steps : int
        Number of updates T.
    record_at : array of int, optional
        Steps in ``[0, T]`` to record (default: every step).
    w0 : array of shape (d,), optional
        Starting point (default 0).

    Returns
    -------
    numpy.ndarray, shape (R, K)
        R = 1 for a scalar rate; K recorded steps. ``inf`` once a curve overflows.

    References
    ----------
    The second-moment recursion of SGD on least squares: Bach & Moulines (2013), section 3;
    Jain, Kakade, Kidambi, Netrapalli & Sidford (2018), "Parallelizing stochastic gradient
    descent for least squares regression".

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(300, 3, device="cpu")
    >>> curve = least_squares_expected_excess(p.X, p.y, p.w_opt, lr=0.1, batch_size=4, steps=3000,
    ...                                       record_at=[0, 3000])
    >>> stat = least_squares_stationary_excess(p.X, p.y, p.w_opt, 0.1, 4)
    >>> bool(abs(curve[0, 1] / stat - 1) < 1e-8)
    True
    """
    _check_problem(X, y, w_opt)
    steps = check_positive_int("steps", steps)
    lr_of = _as_schedule("lr", lr, check_positive_float)
    b_of = _as_schedule("batch_size", batch_size, check_positive_int)
    record = _record_steps(record_at, steps)
    Xd, yd, wd = X.detach().double().cpu(), y.detach().double().cpu(), w_opt.detach().double().cpu()
    n, d = Xd.shape
    H = Xd.T @ Xd / n
    r = Xd @ wd - yd
    S = (Xd * r[:, None]).T @ (Xd * r[:, None]) / n
    start = torch.zeros(d, dtype=torch.float64) if w0 is None else torch.as_tensor(w0).detach().double().cpu()
    if start.shape != (d,):
        raise ValueError(f"w0 must have shape ({d},), got {tuple(start.shape)}")
    n_rates = np.asarray(lr_of(0), dtype=float).size
    m = (start - wd).expand(n_rates, d).clone()                     # (R, d)
    C = torch.einsum("ri,rj->rij", m, m)                            # (R, d, d)
    want = set(record.tolist())
    out = []

    def excess() -> torch.Tensor:
        return 0.5 * (H * C).sum((1, 2))

    if 0 in want:
        out.append(excess())
    for t in progress(range(steps), "expected-excess recursion", leave=False):
        eta = _lr_tensor(lr_of(t), n_rates, t, torch.float64, "cpu").reshape(-1, 1, 1)
        b = check_positive_int("batch_size", b_of(t))
        HC = H @ C
        q = torch.einsum("ni,rij,nj->rn", Xd, C, Xd) + 2 * (m @ Xd.T) * r     # x_i'Cx_i + 2 (x_i'm) r_i
        MK = torch.einsum("rn,ni,nj->rij", q, Xd, Xd) / n
        C = (C - eta * (HC + HC.transpose(1, 2))
             + eta ** 2 * ((1 - 1 / b) * HC @ H + (MK + S) / b))
        C = 0.5 * (C + C.transpose(1, 2))      # rounding would seed an antisymmetric part, which this map can amplify
        m = m - eta[:, :, 0] * (m @ H)
        if t + 1 in want:
            out.append(excess())
    res = torch.stack(out, 1).numpy()
    return np.where(np.isfinite(res), res, np.inf)
