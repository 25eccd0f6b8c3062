r"""Learning-rate and batch-size schedules as plain functions of the step, and the Robbins–Monro test.

Every schedule here is a function ``step -> value`` (steps counted from 0), usable as the ``lr``
argument of :func:`sgdnoise.training.train_sgd` or of :func:`sgdnoise.ensemble.least_squares_sgd`:

* :func:`constant_lr` — :math:`\eta_t = \eta_0`;
* :func:`inverse_sqrt_lr` — :math:`\eta_t = \eta_0/\sqrt{1 + t/t_0}` (convex rate :math:`O(1/\sqrt T)`);
* :func:`inverse_time_lr` — :math:`\eta_t = 1/(\mu (t + t_0))` (strongly convex rate :math:`O(1/T)`);
* :func:`step_decay_lr` — :math:`\eta_0\,\gamma^{k(t)}`, ``k(t)`` milestones passed;
* :func:`cosine_lr` — :math:`\eta_{\min} + \frac12(\eta_0-\eta_{\min})(1 + \cos(\pi t/T))`;
* :func:`warmup_lr` — a linear warm-up in front of any schedule;
* :func:`step_batch_size` — a batch size multiplied by a factor at milestones (Smith et al. 2018).

:func:`robbins_monro` tells whether a schedule satisfies :math:`\sum_t\eta_t = \infty` and
:math:`\sum_t\eta_t^2 < \infty` (Robbins & Monro 1951) from its decay exponent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._validate import check_positive_float, check_positive_int

Schedule = Callable[[int], float]


def _check_milestones(milestones: Sequence[int]) -> tuple[int, ...]:
    ms = tuple(check_positive_int("milestones", m) for m in milestones)
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {list(ms)}")
    return ms


def constant_lr(eta0: float) -> Schedule:
    r""":math:`\eta_t = \eta_0` (``eta0 > 0``).

    Examples
    --------
    >>> constant_lr(0.1)(1000)
    0.1
    """
    eta0 = check_positive_float("eta0", eta0)
    return lambda t: eta0


def inverse_sqrt_lr(eta0: float, t0: float = 1.0) -> Schedule:
    r""":math:`\eta_t = \eta_0 / \sqrt{1 + t/t_0}`.

    The classical choice for convex, non-smooth problems: with averaged iterates it gives
    :math:`\mathbb{E} f(\bar w_T) - f^\star = O(\log T/\sqrt T)` (Nemirovski et al. 2009). Decay exponent 1/2:
    :math:`\sum\eta_t = \infty` but also :math:`\sum\eta_t^2 = \infty`.

    Parameters
    ----------
    eta0 : float
        Initial learning rate (> 0).
    t0 : float
        Steps over which the rate stays near ``eta0`` (> 0).

    Examples
    --------
    >>> inverse_sqrt_lr(1.0, t0=1.0)(3)
    0.5
    """
    eta0 = check_positive_float("eta0", eta0)
    t0 = check_positive_float("t0", t0)
    return lambda t: eta0 / math.sqrt(1.0 + t / t0)


def inverse_time_lr(mu: float, t0: float) -> Schedule:
    r""":math:`\eta_t = 1/(\mu\,(t + t_0))` for a :math:`\mu`-strongly convex objective.

    With this schedule SGD's expected suboptimality decays as :math:`O(1/T)` (Bottou, Curtis &
    Nocedal 2018, Theorem 4.7; any :math:`\eta_t = c/(\mu(t+t_0))` with :math:`c > 1/2` for a
    quadratic). ``t0`` keeps the first steps stable: :math:`\eta_0 = 1/(\mu t_0)` should be below
    :math:`1/\lambda_{\max}`, i.e. ``t0 >= lambda_max / mu`` (the condition number).

    Parameters
    ----------
    mu : float
        Strong-convexity constant :math:`\mu > 0`.
    t0 : float
        Offset (> 0).

    Examples
    --------
    >>> inverse_time_lr(mu=0.5, t0=2.0)(0)
    1.0
    """
    mu = check_positive_float("mu", mu)
    t0 = check_positive_float("t0", t0)
    return lambda t: 1.0 / (mu * (t + t0))


def step_decay_lr(eta0: float, factor: float, milestones: Sequence[int]) -> Schedule:
    r""":math:`\eta_t = \eta_0\,\gamma^{k(t)}`, with :math:`k(t)` the number of milestones :math:`\le t`.

    Parameters
    ----------
    eta0 : float
        Initial rate (> 0).
    factor : float
        Multiplier :math:`\gamma` in (0, 1] applied at each milestone.
    milestones : sequence of int
        Strictly increasing steps (>= 1) at which the rate drops.

    Examples
    --------
    >>> f = step_decay_lr(1.0, 0.1, [10, 20])
    >>> f(9), f(10), round(f(25), 12)
    (1.0, 0.1, 0.01)
    """
    eta0 = check_positive_float("eta0", eta0)
    factor = check_positive_float("factor", factor)
    if factor > 1:
        raise ValueError(f"factor must be in (0, 1], got {factor}")
    ms = _check_milestones(milestones)
    return lambda t: eta0 * factor ** sum(t >= m for m in ms)


def cosine_lr(eta0: float, total_steps: int, eta_min: float = 0.0) -> Schedule:
    r""":math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\,(1 + \cos(\pi\,t/T))`, constant after ``T``.

    Cosine annealing (Loshchilov & Hutter 2017) over a known horizon :math:`T` = ``total_steps``.
    With ``eta_min = 0`` the last steps have a vanishing rate; ``eta_min > 0`` is needed if
    steps beyond ``T`` must still move (``train_sgd`` requires a rate > 0).

    Examples
    --------
    >>> f = cosine_lr(1.0, 100, eta_min=0.1)
    >>> f(0), round(f(50), 12), round(f(100), 12), round(f(500), 12)
    (1.0, 0.55, 0.1, 0.1)
    """
    eta0 = check_positive_float("eta0", eta0)
    total_steps = check_positive_int("total_steps", total_steps)
    eta_min = check_positive_float("eta_min", eta_min, allow_zero=True)
    if eta_min > eta0:
        raise ValueError(f"eta_min must be <= eta0 = {eta0}, got {eta_min}")
    return lambda t: eta_min + 0.5 * (eta0 - eta_min) * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))


def warmup_lr(schedule: Schedule, warmup_steps: int) -> Schedule:
    r"""A linear warm-up: :math:`\eta_t = \frac{t+1}{W}\,\text{schedule}(t)` for :math:`t < W`, then the schedule.

    Goyal et al. (2017) warm up from a small rate so that large-batch training with the linearly
    scaled rate does not blow up in the first steps. The mechanism is not that the curvature is
    largest early (at a fixed rate the sharpness often *rises*, to 2/η; Cohen et al. 2021): the
    warm-up gives the network time to move to flatter regions before the rate is large. The
    sharpness need not stay below :math:`2/\eta_t` meanwhile: :math:`\eta_t\lambda_{\max}` can
    overshoot 2 for tens of steps until a loss spike (a catapult) throws the weights to a flatter
    region, after which it hovers just above 2, so the target rate is stable when it arrives
    (Gilmer et al. 2021; Kalra & Barkeshli 2024; chapter 6 traces one such run).

    Examples
    --------
    >>> f = warmup_lr(constant_lr(1.0), 4)
    >>> [f(t) for t in range(6)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    """
    if not callable(schedule):
        raise ValueError(f"schedule must be a callable step -> rate, got {type(schedule).__name__}")
    warmup_steps = check_positive_int("warmup_steps", warmup_steps)
    return lambda t: schedule(t) * min(1.0, (t + 1) / warmup_steps)


def step_batch_size(b0: int, factor: int, milestones: Sequence[int], maximum: int | None = None) -> Callable[[int], int]:
    r"""A batch size :math:`B_t = \min(B_0\,\rho^{k(t)}, B_{\max})`, :math:`k(t)` milestones passed.

    "Don't decay the learning rate, increase the batch size" (Smith, Kindermans, Ying & Le 2018):
    multiplying :math:`B` by :math:`\rho` at a milestone divides the temperature :math:`\eta/B`
    like dividing :math:`\eta` by :math:`\rho` would, with :math:`\rho` times fewer steps.

    Parameters
    ----------
    b0 : int
        Initial batch size (>= 1).
    factor : int
        Integer multiplier :math:`\rho \ge 1`.
    milestones : sequence of int
        Strictly increasing steps at which the batch grows.
    maximum : int, optional
        Cap :math:`B_{\max}` (e.g. the dataset size).

    Examples
    --------
    >>> f = step_batch_size(8, 4, [100, 200], maximum=64)
    >>> f(0), f(100), f(250)
    (8, 32, 64)
    """
    b0 = check_positive_int("b0", b0)
    factor = check_positive_int("factor", factor)
    ms = _check_milestones(milestones)
    if maximum is not None:
        maximum = check_positive_int("maximum", maximum, minimum=b0)
    cap = maximum if maximum is not None else math.inf
    return lambda t: int(min(b0 * factor ** sum(t >= m for m in ms), cap))


@dataclass(frozen=True)
class RobbinsMonro:
    """The verdict of :func:`robbins_monro`.

    Attributes
    ----------
    exponent : float
        Measured decay exponent :math:`p` in :math:`\\eta_t \\sim t^{-p}` over the last decade
        (``inf`` for a geometric decay or a rate that reaches 0).
    sum_diverges : bool
        :math:`\\sum_t \\eta_t = \\infty` (:math:`p \\le 1`).
    sum_squares_converges : bool
        :math:`\\sum_t \\eta_t^2 < \\infty` (:math:`p > 1/2`).
    """

    exponent: float
    sum_diverges: bool
    sum_squares_converges: bool

    @property
    def satisfied(self) -> bool:
        """Both Robbins–Monro conditions hold."""
        return self.sum_diverges and self.sum_squares_converges


def robbins_monro(schedule: Schedule, horizon: int = 10**7, tol: float = 0.02) -> RobbinsMonro:
    r"""Test :math:`\sum\eta_t = \infty` and :math:`\sum\eta_t^2 < \infty` from the schedule's decay exponent.

    A series :math:`\sum t^{-p}` diverges iff :math:`p \le 1`; so for a schedule that decays like a
    power law the two conditions of Robbins & Monro (1951) hold iff :math:`1/2 < p \le 1`. The
    exponent is measured over the last decade before ``horizon``,

    .. math::  p = \log_{10}\frac{\eta_{T/10}}{\eta_T},\qquad T = \text{horizon},

    and compared with the thresholds with a tolerance ``tol`` (so :math:`1/t` with an offset
    counts as :math:`p = 1`, and :math:`1/\sqrt t` as :math:`p = 1/2`: :math:`\sum \eta_t^2` diverges
    like :math:`\log T`). A step decay repeated forever is geometric and a cosine with
    :math:`\eta_{\min} = 0` reaches 0: both give a large or infinite exponent (finite sum). A step
    decay with finitely many milestones is eventually constant (:math:`p = 0`).

    Parameters
    ----------
    schedule : callable
        ``step -> rate``, rates >= 0.
    horizon : int
        T (>= 100).
    tol : float
        Tolerance on the exponent (in (0, 0.25)).

    Returns
    -------
    RobbinsMonro

    Examples
    --------
    >>> robbins_monro(inverse_time_lr(mu=1.0, t0=10)).satisfied
    True
    >>> v = robbins_monro(inverse_sqrt_lr(0.1))
    >>> v.sum_diverges, v.sum_squares_converges
    (True, False)
    >>> robbins_monro(constant_lr(0.1)).satisfied
    False
    """
    if not callable(schedule):
        raise ValueError(f"schedule must be a callable step -> rate, got {type(schedule).__name__}")
    horizon = check_positive_int("horizon", horizon, minimum=100)
    tol = check_positive_float("tol", tol)
    if tol >= 0.25:
        raise ValueError(f"tol must be in (0, 0.25), got {tol}")
    early, late = float(schedule(horizon // 10)), float(schedule(horizon))
    if not (math.isfinite(early) and math.isfinite(late)) or early < 0 or late < 0:
        raise ValueError(f"schedule must return finite rates >= 0, got {early} and {late}")
    if early == 0:
        p = math.inf
    elif late == 0:
        p = math.inf
    else:
        p = math.log10(early / late) * math.log(10) / math.log(horizon / (horizon // 10))
    return RobbinsMonro(exponent=p, sum_diverges=p <= 1 + tol, sum_squares_converges=p > 0.5 + tol)


def three_phase(eta_explore: float, eta_refine: float, b_explore: int, b_refine: int, explore_steps: int,
                converge_steps: int) -> tuple[Schedule, Callable[[int], int]]:
    r"""An explore / converge / refine schedule on η and B, as a pair ``(lr(step), batch_size(step))``.

    * explore (``t < T_1``): a large constant rate :math:`\eta_e` with small batches
      :math:`B_e` — the highest temperature :math:`\eta/B`, fast progress and wide exploration;
    * converge (``T_1 <= t < T_1 + T_2``): the rate anneals along a cosine from :math:`\eta_e`
      to :math:`\eta_r`, batches still :math:`B_e`;
    * refine (afterwards): rate :math:`\eta_r` with large batches :math:`B_r` — the lowest
      temperature, shrinking the confusion ball.

    Parameters
    ----------
    eta_explore, eta_refine : float
        :math:`\eta_e \ge \eta_r > 0`.
    b_explore, b_refine : int
        :math:`1 \le B_e \le B_r`.
    explore_steps, converge_steps : int
        :math:`T_1, T_2 \ge 1`.

    Examples
    --------
    >>> lr, bs = three_phase(0.5, 0.05, 4, 64, explore_steps=10, converge_steps=10)
    >>> lr(0), round(lr(15), 4), lr(30), bs(0), bs(19), bs(20)
    (0.5, 0.275, 0.05, 4, 4, 64)
    """
    eta_explore = check_positive_float("eta_explore", eta_explore)
    eta_refine = check_positive_float("eta_refine", eta_refine)
    if eta_refine > eta_explore:
        raise ValueError(f"eta_refine must be <= eta_explore = {eta_explore}, got {eta_refine}")
    b_explore = check_positive_int("b_explore", b_explore)
    b_refine = check_positive_int("b_refine", b_refine, minimum=b_explore)
    t1 = check_positive_int("explore_steps", explore_steps)
    t2 = check_positive_int("converge_steps", converge_steps)
    anneal = cosine_lr(eta_explore, t2, eta_min=eta_refine)

    def lr(t: int) -> float:
        return eta_explore if t < t1 else anneal(t - t1)

    def batch_size(t: int) -> int:
        return b_explore if t < t1 + t2 else b_refine

    return lr, batch_size
