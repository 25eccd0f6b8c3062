r"""Ensembles of particles in a potential: Euler–Maruyama for Langevin dynamics, and SGD.

:func:`euler_maruyama` integrates the overdamped Langevin equation

.. math::

    dw = -\nabla U(w)\,dt + \sqrt{2 D(w)}\,dW, \qquad
    w_{k+1} = w_k - \Delta t\,\nabla U(w_k) + \sqrt{2\Delta t\,D(w_k)}\;\xi_k,\quad \xi_k\sim\mathcal N(0, I),

for ``n`` independent particles at once, with :math:`D = T I` (temperature :math:`T`), a constant
matrix, or a state-dependent matrix :math:`D(w)`. :func:`sgd_on_potential` is the same recursion
read as SGD: :math:`w \leftarrow w - \eta(\nabla U(w) + \xi)` with :math:`\xi \sim \mathcal N(0, C/B)`
is Euler–Maruyama with :math:`\Delta t = \eta` and :math:`D = \eta C / (2B)`, so it calls
:func:`euler_maruyama` (Kloeden & Platen 1992; Mandt, Hoffman & Blei 2017).

Performance: the update is done in place in the particles' dtype (use float32), with the
Gaussian noise drawn into a preallocated buffer by ``torch.randn(out=...)`` and an explicit
``torch.Generator``; on a CPU the step then costs little more than drawing the noise
(``benchmarks/bench_langevin.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ._progress import progress
from ._validate import check_bool, check_finite, check_positive_float, check_positive_int, torch_generator
from .potentials import Potential

Target = Callable[[torch.Tensor], torch.Tensor]


def crossing(threshold: float, axis: int = 0, above: bool = True, absolute: bool = False) -> Target:
    """A first-passage target: the particles with coordinate ``axis`` beyond ``threshold``.

    Parameters
    ----------
    threshold : float
    axis : int
        Which coordinate of ``w`` (shape ``(n, d)``) to test.
    above : bool
        ``w[:, axis] >= threshold`` if True, ``<= threshold`` otherwise.
    absolute : bool
        Test ``|w[:, axis]|`` instead (e.g. leaving a saddle in either direction).

    Returns
    -------
    callable
        ``w -> bool tensor of shape (n,)``.

    Examples
    --------
    >>> crossing(0.5)(torch.tensor([[0.0], [1.0]])).tolist()
    [False, True]
    """
    try:
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}") from None
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an integer (a coordinate of w), got {axis!r}")
    axis = int(axis)
    above, absolute = check_bool("above", above), check_bool("absolute", absolute)

    def target(w: torch.Tensor) -> torch.Tensor:
        x = w[:, axis].abs() if absolute else w[:, axis]
        return x >= threshold if above else x <= threshold

    target.__doc__ = f"{'|w[:, %d]|' % axis if absolute else 'w[:, %d]' % axis} {'>=' if above else '<='} {threshold}"
    return target


@dataclass
class Ensemble:
    """The result of a simulation.

    Attributes
    ----------
    w : torch.Tensor, shape (n, d)
        The particles at the end.
    dt : float
        The time step (the learning rate for SGD).
    n_steps : int
        Steps taken (fewer than asked when ``stop_when_passed`` ended the run early).
    passage_step : dict of str -> torch.Tensor, shape (n,), int64
        For each target, the step after which each particle first satisfied it (``-1``: never).
    record_steps : numpy.ndarray, shape (k,)
        Steps at which the trajectory was recorded (0 is the initial state).
    trajectory : torch.Tensor, shape (k, n_record, d), or None
        The first ``n_record`` particles at ``record_steps``.
    """

    w: torch.Tensor
    dt: float
    n_steps: int
    passage_step: dict[str, torch.Tensor] = field(default_factory=dict)
    record_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    trajectory: torch.Tensor | None = None

    def passage_time(self, name: str) -> np.ndarray:
        """First-passage times (``steps × dt``) for target ``name``, ``nan`` where never reached (float64)."""
        steps = self.passage_step[name].cpu().numpy().astype(np.float64)
        return np.where(steps >= 0, steps * self.dt, np.nan)

    @property
    def record_times(self) -> np.ndarray:
        """``record_steps × dt``."""
        return self.record_steps * self.dt


def _noise_amplitude(temperature, diffusion, dim: int, dt: float, like: torch.Tensor):
    """Return ``(scalar, matrix, function)``: exactly one is not None."""
    if (temperature is None) == (diffusion is None):
        raise ValueError("give exactly one of temperature and diffusion")
    if temperature is not None:
        temperature = check_positive_float("temperature", temperature, allow_zero=True)
        return math.sqrt(2 * temperature * dt), None, None
    if callable(diffusion):
        return None, None, diffusion
    D = torch.as_tensor(np.asarray(diffusion, dtype=np.float64))
    if D.ndim == 0:
        return _noise_amplitude(float(D), None, dim, dt, like)
    if D.shape != (dim, dim) or not torch.allclose(D, D.T) or not torch.isfinite(D).all():
        raise ValueError(f"diffusion must be a finite symmetric ({dim}, {dim}) matrix, got shape {tuple(D.shape)}")
    evals, evecs = torch.linalg.eigh(D)
    if evals.min() < -1e-12 * max(1.0, float(evals.abs().max())):
        raise ValueError(f"diffusion must be positive semi-definite, got eigenvalues {evals.tolist()}")
    root = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T * math.sqrt(2 * dt)
    return None, root.to(dtype=like.dtype, device=like.device), None


def _matrix_sqrt_apply(D: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """``sqrt(D) @ xi`` per particle; ``D`` of shape (n, d) (diagonal) or (n, d, d) (symmetric PSD)."""
    if D.ndim == 2:
        return D.clamp(min=0).sqrt() * xi
    if D.shape[1] == 1:
        return D[:, :, 0].clamp(min=0).sqrt() * xi
    evals, evecs = torch.linalg.eigh(D)
    root = (evecs * evals.clamp(min=0).sqrt()[:, None, :]) @ evecs.transpose(1, 2)
    return (root @ xi[:, :, None])[:, :, 0]


def euler_maruyama(potential: Potential, w0: torch.Tensor, dt: float, n_steps: int,
                   temperature: float | None = None, diffusion=None, *,
                   targets: dict[str, Target] | None = None, stop_when_passed: bool = False,
                   record_every: int = 0, n_record: int | None = None,
                   generator: torch.Generator | None = None) -> Ensemble:
    r"""Simulate :math:`dw = -\nabla U\,dt + \sqrt{2D}\,dW` for an ensemble of particles (Euler–Maruyama).

    .. math::

        w_{k+1} = w_k - \Delta t\,\nabla U(w_k) + \sqrt{2\Delta t}\,D(w_k)^{1/2}\,\xi_k ,
        \qquad \xi_k \sim \mathcal N(0, I_d)\ \text{i.i.d.}

    The particles are updated in place in the dtype and on the device of ``w0`` (a copy is
    made; ``w0`` is untouched); the noise is drawn into one preallocated buffer per step.

    Parameters
    ----------
    potential : Potential
        :math:`U`, see :mod:`sgdnoise.potentials`.
    w0 : torch.Tensor, shape (n, d)
        Initial positions (float32 is fastest; float64 for precision).
    dt : float
        Time step :math:`\Delta t > 0`.
    n_steps : int
        Number of steps (>= 1).
    temperature : float, optional
        :math:`T \ge 0`: isotropic diffusion :math:`D = T I` (Gibbs density :math:`\propto e^{-U/T}`).
    diffusion : array_like (d, d) or callable, optional
        Instead of ``temperature``: a constant symmetric positive semi-definite matrix
        :math:`D`, or a function ``w -> D(w)`` returning shape ``(n, d)`` (diagonal) or
        ``(n, d, d)`` (full, symmetric; negative eigenvalues are clipped to 0).
    targets : dict of str -> callable, optional
        First-passage targets ``w -> bool (n,)`` (e.g. :func:`crossing`); checked after every step.
    stop_when_passed : bool
        End early once every particle has reached every target (checked every 64 steps).
    record_every : int
        Record the first ``n_record`` particles every ``record_every`` steps (0: never).
    n_record : int, optional
        How many particles to record (default: all).
    generator : torch.Generator, optional
        Randomness, on ``w0``'s device; ``None``: a fresh generator seeded from the OS's entropy
        (torch's global generator is never used).

    Returns
    -------
    Ensemble

    References
    ----------
    Kloeden & Platen (1992), *Numerical Solution of Stochastic Differential Equations*, §9.1.

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> g = torch.Generator().manual_seed(0)
    >>> w0 = torch.zeros(100_000, 1)
    >>> ens = euler_maruyama(Quadratic(2.0), w0, dt=0.01, n_steps=500, temperature=0.5, generator=g)
    >>> bool(abs(ens.w.var().item() - 0.25) < 0.01)   # Gibbs variance T/h = 0.25 (+ O(dt))
    True
    """
    if not isinstance(potential, Potential):
        raise ValueError(f"potential must be a sgdnoise.potentials.Potential, got {type(potential).__name__}")
    if not isinstance(w0, torch.Tensor) or w0.ndim != 2 or w0.shape[1] != potential.dim:
        raise ValueError(f"w0 must be a torch.Tensor of shape (n, {potential.dim}), got {getattr(w0, 'shape', w0)}")
    check_finite("w0", w0)
    dt = check_positive_float("dt", dt)
    n_steps = check_positive_int("n_steps", n_steps)
    record_every = check_positive_int("record_every", record_every, minimum=0)
    stop_when_passed = check_bool("stop_when_passed", stop_when_passed)
    generator = torch_generator(generator, w0, data="w0")
    scalar, root, diff_fn = _noise_amplitude(temperature, diffusion, potential.dim, dt, w0)
    targets = dict(targets or {})
    n, dim = w0.shape
    n_record = n if n_record is None else check_positive_int("n_record", n_record, maximum=n)

    w = w0.clone()
    buf = torch.empty_like(w)
    noise = torch.empty_like(w)
    passage = {name: torch.full((n,), -1, dtype=torch.int64, device=w.device) for name in targets}
    for name, target in targets.items():  # a particle may start on its target
        passage[name].masked_fill_(target(w), 0)
    steps, frames = [0], [w[:n_record].clone()] if record_every else []
    sqrt_2dt = math.sqrt(2 * dt)
    k = 0
    for k in progress(range(1, n_steps + 1), "Langevin/SGD steps", leave=False):
        if scalar is not None:  # isotropic: the scaled noise is drawn in one pass
            if scalar > 0:
                noise.normal_(0.0, scalar, generator=generator)
            potential.step_(w, dt, buf, noise if scalar > 0 else None)
        else:
            torch.randn(w.shape, generator=generator, out=noise)
            if diff_fn is not None:  # D(w_k), evaluated before w moves
                increment = _matrix_sqrt_apply(diff_fn(w), noise).mul_(sqrt_2dt)
            else:
                increment = noise @ root.T
            potential.step_(w, dt, buf, increment)
        for name, target in targets.items():
            p = passage[name]
            p.masked_fill_(target(w) & (p < 0), k)
        if record_every and k % record_every == 0:
            steps.append(k)
            frames.append(w[:n_record].clone())
        if stop_when_passed and targets and k % 64 == 0:
            if all(bool((p >= 0).all()) for p in passage.values()):
                break
    return Ensemble(w=w, dt=dt, n_steps=k, passage_step=passage, record_steps=np.array(steps if record_every else []),
                    trajectory=torch.stack(frames) if record_every else None)


def sgd_on_potential(potential: Potential, w0: torch.Tensor, lr: float, n_steps: int,
                     noise_cov=1.0, batch_size: int = 1, **kwargs) -> Ensemble:
    r"""SGD on a potential with Gaussian gradient noise: :math:`w \leftarrow w - \eta\,(\nabla U(w) + \xi)`.

    The noise :math:`\xi \sim \mathcal N(0, C/B)` models a mini-batch gradient of batch size
    :math:`B` whose per-example covariance is :math:`C`. This is exactly the Euler–Maruyama step
    with :math:`\Delta t = \eta` and :math:`D = \eta C/(2B)`, and is computed by
    :func:`euler_maruyama` (so the "time" of the result is :math:`\eta\times` steps).

    Parameters
    ----------
    potential : Potential
    w0 : torch.Tensor, shape (n, d)
    lr : float
        Learning rate :math:`\eta > 0`.
    n_steps : int
    noise_cov : float, array_like (d, d), callable or "hessian"
        Per-example noise covariance :math:`C`: a variance :math:`\sigma^2` (isotropic, white
        noise), a constant matrix, a function ``w -> C(w)`` of shape ``(n, d)`` or ``(n, d, d)``,
        or ``"hessian"`` for :math:`C(w) = \nabla^2 U(w)` (negative curvature gives no noise).
    batch_size : int
        :math:`B \ge 1`.
    **kwargs
        Passed on to :func:`euler_maruyama` (``targets``, ``generator``, ``record_every``, ...).

    Returns
    -------
    Ensemble

    References
    ----------
    Mandt, Hoffman & Blei (2017), *Stochastic gradient descent as approximate Bayesian inference*, JMLR 18.

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> g = torch.Generator().manual_seed(0)
    >>> ens = sgd_on_potential(Quadratic(1.0), torch.zeros(200_000, 1), lr=1.0, n_steps=50,
    ...                        noise_cov=1.0, generator=g)      # eta*h = 1: Var = eta s^2/(h(2 - eta h)) = 1
    >>> bool(abs(ens.w.var().item() - 1.0) < 0.02)
    True
    """
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    scale = lr / (2 * batch_size)
    if isinstance(noise_cov, str):
        if noise_cov != "hessian":
            raise ValueError(f"noise_cov must be a number, a matrix, a callable or 'hessian', got {noise_cov!r}")
        noise_cov = potential.hessian
    if callable(noise_cov):
        cov_fn = noise_cov
        return euler_maruyama(potential, w0, lr, n_steps, diffusion=lambda w: cov_fn(w) * scale, **kwargs)
    C = np.asarray(noise_cov, dtype=np.float64)
    if C.ndim == 0:
        return euler_maruyama(potential, w0, lr, n_steps, temperature=check_positive_float(
            "noise_cov", float(C), allow_zero=True) * scale, **kwargs)
    return euler_maruyama(potential, w0, lr, n_steps, diffusion=C * scale, **kwargs)
