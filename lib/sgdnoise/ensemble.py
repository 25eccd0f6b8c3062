r"""Many independent SGD runs on one least-squares problem: suboptimality trajectories and steps to target.

The runs are :class:`sgdnoise.leastsquares.SGDRuns` (the library's one SGD engine for least
squares) on a :class:`sgdnoise.leastsquares.LeastSquares` problem, whose suboptimality
:math:`L(w) - L^\star = \frac12 (w - w^\star)^\top A (w - w^\star)` costs :math:`O(d^2)` per run, cheap
enough to check at every step. ``R`` runs (seeds, learning rates) advance together as an
``(R, d)`` tensor; each step draws every run's batch of ``B`` indices i.i.d. uniformly.

* :func:`excess_trajectories` — the suboptimality of the last and the averaged iterate, under any
  learning-rate and batch-size schedule (:mod:`sgdnoise.schedules`);
* :func:`steps_to_target` — steps until each run first reaches a target suboptimality.

Their exact expectations are :func:`sgdnoise.leastsquares.expected_excess` and
:func:`sgdnoise.leastsquares.stationary_excess`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._progress import progress
from ._validate import check_positive_float, check_positive_int
from .leastsquares import LeastSquares, SGDRuns, _as_rates, _record_steps
from .schedules import as_schedule


@dataclass
class EnsembleTrace:
    """What :func:`excess_trajectories` recorded.

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


def excess_trajectories(problem: LeastSquares, *, lr, batch_size, n_steps: int, n_runs: int, record_at=None,
                        w0=None, generator: torch.Generator | None = None) -> EnsembleTrace:
    r"""Run ``n_runs`` independent mini-batch SGD runs on a least-squares problem at once; record :math:`L - L^\star`.

    .. math::  w_{t+1} = w_t - \frac{\eta_t}{B_t}\sum_{i\in\mathcal B_t} x_i (x_i^\top w_t - y_i),
               \qquad \mathcal B_t \text{ i.i.d. uniform indices.}

    Parameters
    ----------
    problem : sgdnoise.leastsquares.LeastSquares
    lr : float, array of shape (n_runs,), or callable
        :math:`\eta_t > 0`: one rate, one per run, or a schedule ``step -> rate(s)``.
    batch_size : int or callable
        :math:`B_t \ge 1`, or a schedule ``step -> int``.
    n_steps : int
        Number of updates T.
    n_runs : int
        R independent runs.
    record_at : array of int, optional
        Steps in ``[0, T]`` at which to record (default: every step).
    w0 : array of shape (d,), optional
        Common starting point (default 0).
    generator : torch.Generator, optional
        On the data's device; the batches' randomness.

    Returns
    -------
    EnsembleTrace

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> from sgdnoise.leastsquares import LeastSquares
    >>> p = make_linear_regression(200, 4, generator=np.random.default_rng(0), device="cpu")
    >>> tr = excess_trajectories(LeastSquares(p.X, p.y), lr=0.1, batch_size=8, n_steps=100, n_runs=3,
    ...                          record_at=[0, 100], generator=torch.Generator().manual_seed(0))
    >>> tr.excess.shape, bool((tr.excess[:, 1] < tr.excess[:, 0]).all())
    ((3, 2), True)
    """
    n_steps = check_positive_int("n_steps", n_steps)
    n_runs = check_positive_int("n_runs", n_runs)
    lr_of = as_schedule(lr, "lr")
    b_of = as_schedule(batch_size, "batch_size")
    record = _record_steps(record_at, n_steps)
    runs = SGDRuns(problem, n_runs, w0, generator=generator)
    X = problem.X
    w_sum = torch.zeros_like(runs.w)
    out, out_avg, examples = [], [], []
    seen = 0
    want = set(record.tolist())
    if 0 in want:
        e0 = runs.excess()
        out.append(e0)
        out_avg.append(e0)
        examples.append(0)
    for t in progress(range(n_steps), "SGD ensemble steps", leave=False):
        b = check_positive_int("batch_size", b_of(t))
        runs.step(_as_rates(lr_of(t), n_runs, t, X.dtype, X.device), b)
        w_sum.add_(runs.w)
        seen += b
        if t + 1 in want:
            out.append(runs.excess())
            out_avg.append(problem.excess(w_sum / (t + 1)))
            examples.append(seen)
    return EnsembleTrace(steps=record, examples=np.asarray(examples),
                         excess=torch.stack(out, 1).cpu().numpy(), excess_avg=torch.stack(out_avg, 1).cpu().numpy())


def steps_to_target(problem: LeastSquares, *, lrs, batch_size: int, target: float, n_seeds: int,
                    max_steps: int, give_up_factor: float | None = None, w0=None,
                    generator: torch.Generator | None = None) -> np.ndarray:
    r"""Steps until SGD first reaches :math:`F(w_t) - F^\star \le` ``target``, for a grid of rates × seeds at once.

    Runs ``len(lrs) * n_seeds`` independent runs as :func:`excess_trajectories` with a constant
    batch size, and stops when every run has reached the target, after ``max_steps``, or — with
    ``give_up_factor`` :math:`= c` — once the step count exceeds :math:`c` times the first step
    at which all seeds of some rate had arrived: the runs still going are then more than
    :math:`c` times slower than that rate, and are recorded as ``inf`` (they cannot be the best
    rate, which is what :func:`sgdnoise.scaling.best_steps` looks for). A run whose
    suboptimality exceeds :math:`10^6` times the initial one has diverged (``inf``). The examples
    needed are ``batch_size`` times the steps.

    Parameters
    ----------
    problem : sgdnoise.leastsquares.LeastSquares
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
    >>> from sgdnoise.leastsquares import LeastSquares
    >>> p = make_linear_regression(200, 4, generator=np.random.default_rng(0), device="cpu")
    >>> s = steps_to_target(LeastSquares(p.X, p.y), lrs=[0.05, 0.2], batch_size=8, target=0.05, n_seeds=3,
    ...                     max_steps=1000, generator=torch.Generator().manual_seed(0))
    >>> s.shape, bool(s[1].mean() < s[0].mean())
    ((2, 3), True)
    """
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
    runs = SGDRuns(problem, n_runs, w0, generator=generator)
    eta = _as_rates(np.repeat(rates, n_seeds), n_runs, 0, problem.X.dtype, problem.X.device)
    hit = torch.full((n_runs,), float("inf"), dtype=torch.float64, device=problem.X.device)
    start = runs.excess()
    active = start > target
    hit[~active] = 0
    blow_up = 1e6 * float(start.max())
    deadline = max_steps
    for t in progress(range(max_steps), "SGD steps to target", leave=False):
        if t >= deadline or not bool(active.any()):
            break
        runs.step(eta, batch_size)
        ex = runs.excess()
        done = active & (ex <= target)
        hit[done] = t + 1
        active &= ~done & torch.isfinite(ex) & (ex < blow_up)
        if give_up_factor is not None and deadline == max_steps:
            if bool(torch.isfinite(hit).reshape(n_lr, n_seeds).all(1).any()):
                deadline = min(max_steps, int(np.ceil(give_up_factor * (t + 1))))
    return hit.reshape(n_lr, n_seeds).cpu().numpy()
