r"""Schedules in one place: learning rate and batch size, the scaling rules, and noise injection.

Every schedule here is a function ``step -> value`` (steps counted from 0), usable as the ``lr``
or ``batch_size`` argument of :func:`sgdnoise.training.train_sgd`, of
:func:`sgdnoise.ensemble.excess_trajectories` and of :func:`sgdnoise.leastsquares.expected_excess`;
:func:`as_schedule` turns a plain number into the constant schedule:

* :func:`constant_lr` — :math:`\eta_t = \eta_0`;
* :func:`inverse_sqrt_lr` — :math:`\eta_t = \eta_0/\sqrt{1 + t/t_0}` (convex rate :math:`O(1/\sqrt T)`);
* :func:`inverse_time_lr` — :math:`\eta_t = 1/(\mu (t + t_0))` (strongly convex rate :math:`O(1/T)`);
* :func:`step_decay_lr` — :math:`\eta_0\,\gamma^{k(t)}`, ``k(t)`` milestones passed;
* :func:`cosine_lr` — :math:`\eta_{\min} + \frac12(\eta_0-\eta_{\min})(1 + \cos(\pi t/T))`;
* :func:`warmup_lr` — a linear warm-up in front of any schedule;
* :func:`step_batch_size` — a batch size multiplied by a factor at milestones (Smith et al. 2018);
* :func:`three_phase` — an explore / converge / refine pair of rate and batch-size schedules;
* :func:`linear_scaling_lr`, :func:`sqrt_scaling_lr` — the two rules for moving η with B;
* :func:`injection_variance`, :func:`add_gradient_noise` — annealed gradient-noise injection
  (Neelakantan et al. 2015), as ``train_sgd(..., grad_noise=c)`` uses it.

:func:`robbins_monro` tells whether a schedule satisfies :math:`\sum_t\eta_t = \infty` and
:math:`\sum_t\eta_t^2 < \infty` (Robbins & Monro 1951) from its decay exponent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_positive_float, check_positive_int

#: A schedule: a function of the step (counted from 0) returning a rate or a batch size.
Schedule = Callable[[int], float]


def as_schedule(value, name: str = "lr") -> Schedule:
    """``value`` if it is a schedule (callable), else the constant schedule ``step -> value``.

    A number is checked (``> 0``; for ``name="batch_size"`` an integer ``>= 1``); an array
    (one value per run, for the ensembles) is returned as a constant schedule as is.

    Examples
    --------
    >>> as_schedule(0.1)(5), as_schedule(lambda t: 1 / (t + 1))(3), as_schedule(8, "batch_size")(0)
    (0.1, 0.25, 8)
    """
    if callable(value):
        return value
    if isinstance(value, (np.ndarray, torch.Tensor, list, tuple)):
        return lambda t: value
    value = check_positive_int(name, value) if name == "batch_size" else check_positive_float(name, value)
    return lambda t: value


def _check_milestones(milestones: Sequence[int]) -> tuple[int, ...]:
    ms = tuple(check_positive_int("milestones", m) for m in milestones)
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {list(ms)}")
    return ms


def constant_lr(lr: float) -> Schedule:
    r""":math:`\eta_t = \eta_0` (``lr`` :math:`= \eta_0 > 0`).

    Examples
    --------
    >>> constant_lr(0.1)(1000)
    0.1
    """
    lr = check_positive_float("lr", lr)
    return lambda t: lr


def inverse_sqrt_lr(lr: float, t0: float = 1.0) -> Schedule:
    r""":math:`\eta_t = \eta_0 / \sqrt{1 + t/t_0}`.

    The classical choice for convex, non-smooth problems: with averaged iterates it gives
    :math:`\mathbb{E} f(\bar w_T) - f^\star = O(\log T/\sqrt T)` (Nemirovski et al. 2009). Decay exponent 1/2:
    :math:`\sum\eta_t = \infty` but also :math:`\sum\eta_t^2 = \infty`.

    Parameters
    ----------
    lr : float
        Initial learning rate :math:`\eta_0 > 0`.
    t0 : float
        Steps over which the rate stays near ``lr`` (> 0).

    Examples
    --------
    >>> inverse_sqrt_lr(1.0, t0=1.0)(3)
    0.5
    """
    lr = check_positive_float("lr", lr)
    t0 = check_positive_float("t0", t0)
    return lambda t: lr / math.sqrt(1.0 + t / t0)


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


def step_decay_lr(lr: float, factor: float, milestones: Sequence[int]) -> Schedule:
    r""":math:`\eta_t = \eta_0\,\gamma^{k(t)}`, with :math:`k(t)` the number of milestones :math:`\le t`.

    Parameters
    ----------
    lr : float
        Initial rate :math:`\eta_0 > 0`.
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
    lr = check_positive_float("lr", lr)
    factor = check_positive_float("factor", factor)
    if factor > 1:
        raise ValueError(f"factor must be in (0, 1], got {factor}")
    ms = _check_milestones(milestones)
    return lambda t: lr * factor ** sum(t >= m for m in ms)


def cosine_lr(lr: float, total_steps: int, lr_min: float = 0.0) -> Schedule:
    r""":math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\,(1 + \cos(\pi\,t/T))`, constant after ``T``.

    Cosine annealing (Loshchilov & Hutter 2017) from ``lr`` :math:`=\eta_0` to ``lr_min``
    :math:`=\eta_{\min}` over a known horizon :math:`T` = ``total_steps``.
    With ``lr_min = 0`` the last steps have a vanishing rate; ``lr_min > 0`` is needed if
    steps beyond ``T`` must still move (``train_sgd`` requires a rate > 0).

    Examples
    --------
    >>> f = cosine_lr(1.0, 100, lr_min=0.1)
    >>> f(0), round(f(50), 12), round(f(100), 12), round(f(500), 12)
    (1.0, 0.55, 0.1, 0.1)
    """
    lr = check_positive_float("lr", lr)
    total_steps = check_positive_int("total_steps", total_steps)
    lr_min = check_positive_float("lr_min", lr_min, allow_zero=True)
    if lr_min > lr:
        raise ValueError(f"lr_min must be <= lr = {lr}, got {lr_min}")
    return lambda t: lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))


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


def step_batch_size(batch_size: int, factor: int, milestones: Sequence[int],
                    maximum: int | None = None) -> Callable[[int], int]:
    r"""A batch size :math:`B_t = \min(B_0\,\rho^{k(t)}, B_{\max})`, :math:`k(t)` milestones passed.

    "Don't decay the learning rate, increase the batch size" (Smith, Kindermans, Ying & Le 2018):
    multiplying :math:`B` by :math:`\rho` at a milestone divides the temperature :math:`\eta/B`
    like dividing :math:`\eta` by :math:`\rho` would, with :math:`\rho` times fewer steps.

    Parameters
    ----------
    batch_size : int
        Initial batch size :math:`B_0 \ge 1`.
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
    b0 = check_positive_int("batch_size", batch_size)
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


def three_phase(lr_explore: float, lr_refine: float, batch_size_explore: int, batch_size_refine: int,
                explore_steps: int, converge_steps: int) -> tuple[Schedule, Callable[[int], int]]:
    r"""An explore / converge / refine schedule on η and B, as a pair ``(lr(step), batch_size(step))``.

    * explore (``t < T_1``): a large constant rate :math:`\eta_e` with small batches
      :math:`B_e` — the highest temperature :math:`\eta/B`, fast progress and wide exploration;
    * converge (``T_1 <= t < T_1 + T_2``): the rate anneals along a cosine from :math:`\eta_e`
      to :math:`\eta_r`, batches still :math:`B_e`;
    * refine (afterwards): rate :math:`\eta_r` with large batches :math:`B_r` — the lowest
      temperature, shrinking the confusion ball.

    Parameters
    ----------
    lr_explore, lr_refine : float
        :math:`\eta_e \ge \eta_r > 0`.
    batch_size_explore, batch_size_refine : int
        :math:`1 \le B_e \le B_r`.
    explore_steps, converge_steps : int
        :math:`T_1, T_2 \ge 1`.

    Examples
    --------
    >>> lr, bs = three_phase(0.5, 0.05, 4, 64, explore_steps=10, converge_steps=10)
    >>> lr(0), round(lr(15), 4), lr(30), bs(0), bs(19), bs(20)
    (0.5, 0.275, 0.05, 4, 4, 64)
    """
    lr_explore = check_positive_float("lr_explore", lr_explore)
    lr_refine = check_positive_float("lr_refine", lr_refine)
    if lr_refine > lr_explore:
        raise ValueError(f"lr_refine must be <= lr_explore = {lr_explore}, got {lr_refine}")
    b_explore = check_positive_int("batch_size_explore", batch_size_explore)
    b_refine = check_positive_int("batch_size_refine", batch_size_refine, minimum=b_explore)
    t1 = check_positive_int("explore_steps", explore_steps)
    t2 = check_positive_int("converge_steps", converge_steps)
    anneal = cosine_lr(lr_explore, t2, lr_min=lr_refine)

    def lr(t: int) -> float:
        return lr_explore if t < t1 else anneal(t - t1)

    def batch_size(t: int) -> int:
        return b_explore if t < t1 + t2 else b_refine

    return lr, batch_size


def _scaling_args(lr, base_batch_size, batch_size) -> tuple[float, int, np.ndarray]:
    """Validate the arguments shared by the scaling rules."""
    lr = check_positive_float("lr", lr)
    b0 = check_positive_int("base_batch_size", base_batch_size)
    b = np.asarray(batch_size, dtype=float)
    if (b < 1).any():
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return lr, b0, b


def linear_scaling_lr(lr: float, base_batch_size: int, batch_size):
    r"""The linear scaling rule :math:`\eta = \eta_0\,B/B_0` (Goyal et al. 2017): keeps :math:`\eta/B` fixed.

    Parameters
    ----------
    lr : float
        :math:`\eta_0 > 0`, the rate tuned at ``base_batch_size``.
    base_batch_size : int
        :math:`B_0 \ge 1`.
    batch_size : int or array of int
        :math:`B \ge 1`.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> linear_scaling_lr(0.1, 32, 256)
    0.8
    """
    lr, b0, b = _scaling_args(lr, base_batch_size, batch_size)
    out = lr * b / b0
    return float(out) if out.ndim == 0 else out


def sqrt_scaling_lr(lr: float, base_batch_size: int, batch_size):
    r"""The square-root rule :math:`\eta = \eta_0\sqrt{B/B_0}` (Krizhevsky 2014; Hoffer et al. 2017): keeps :math:`\eta^2/B` fixed.

    Parameters as in :func:`linear_scaling_lr`.

    Examples
    --------
    >>> sqrt_scaling_lr(0.1, 16, 64)
    0.2
    """
    lr, b0, b = _scaling_args(lr, base_batch_size, batch_size)
    out = lr * np.sqrt(b / b0)
    return float(out) if out.ndim == 0 else out


def injection_variance(step, scale: float, decay: float = 0.55):
    r"""The annealed variance :math:`\sigma_t^2 = c/(1+t)^\gamma` of injected gradient noise.

    Parameters
    ----------
    step : int or array of int
        :math:`t \ge 0`, counted from 0.
    scale : float
        :math:`c \ge 0` (Neelakantan et al. tried 0.01, 0.3 and 1).
    decay : float
        :math:`\gamma \ge 0` (0.55 in the paper).

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Neelakantan et al. (2015), "Adding gradient noise improves learning for very deep networks",
    arXiv:1511.06807.

    Examples
    --------
    >>> injection_variance(0, 0.3)
    0.3
    >>> round(injection_variance(99, 1.0, 0.5), 6)
    0.1
    """
    scale = check_positive_float("scale", scale, allow_zero=True)
    decay = check_positive_float("decay", decay, allow_zero=True)
    t = np.asarray(step)
    if not np.issubdtype(t.dtype, np.integer) or (t < 0).any():
        raise ValueError(f"step must be an integer >= 0, got {step}")
    out = scale / (1.0 + t) ** decay
    return float(out) if out.ndim == 0 else out


def add_gradient_noise(grads: Sequence[torch.Tensor], variance: float,
                       generator: torch.Generator | None = None) -> list[torch.Tensor]:
    r"""The gradient (a list of tensors, one per parameter) plus Gaussian noise :math:`\mathcal N(0, \sigma^2 I)`.

    :math:`g \mapsto g + \sigma\zeta`, :math:`\zeta \sim \mathcal N(0, I)`, drawn tensor by tensor on
    the gradients' device with ``generator``; with :math:`\sigma^2` = :func:`injection_variance`
    this is the annealed injection of Neelakantan et al. (2015).

    Parameters
    ----------
    grads : sequence of torch.Tensor
    variance : float
        :math:`\sigma^2 \ge 0`.
    generator : torch.Generator, optional
        On the gradients' device; ``None``: a fresh one seeded from the operating system.

    Returns
    -------
    list of torch.Tensor

    Examples
    --------
    >>> g = add_gradient_noise([torch.zeros(20000)], 4.0, torch.Generator().manual_seed(0))
    >>> round(float(g[0].std()), 1)
    2.0
    """
    from ._validate import torch_generator

    grads = list(grads)
    if not grads or not all(isinstance(g, torch.Tensor) for g in grads):
        raise ValueError("grads must be a non-empty sequence of tensors")
    std = math.sqrt(check_positive_float("variance", variance, allow_zero=True))
    generator = torch_generator(generator, grads[0], data="the gradients")
    return [g + std * torch.randn(g.shape, generator=generator, device=g.device, dtype=g.dtype) for g in grads]
