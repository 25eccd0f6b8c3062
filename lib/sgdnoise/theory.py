r"""Analytic results for noisy gradient dynamics: stationary laws and escape times.

=====================================  ============================================================
:func:`gibbs_density_1d`, ``_2d``      :math:`e^{-U/T}/Z` on a grid
:func:`stationary_variance_discrete`   exact stationary variance of SGD on a quadratic
:func:`stationary_variance_langevin`   its small-step (Langevin) limit
:func:`lyapunov_covariance_discrete`   :math:`S = (I-\eta H)S(I-\eta H)^\top + \eta^2\Sigma/B`
:func:`lyapunov_covariance_continuous` :math:`HS + SH = \eta\Sigma/B`
:func:`kramers_rate`                   :math:`\sqrt{U''(a)|U''(b)|}/(2\pi)\,e^{-\Delta U/T}`
:func:`mean_first_passage_time`        exact 1-D mean first-passage time by quadrature
:func:`discrete_monitoring_shift`      barrier shift that mimics checking a crossing only at steps
:func:`saddle_escape_steps`            steps for noise of size ε to leave a strict saddle
:func:`euler_maruyama_law_1d`          law of the Euler–Maruyama chain itself (its O(Δt) bias)
:func:`stationary_excess_kurtosis_discrete`  tails of SGD's law on a quadratic, non-Gaussian noise
:func:`variance_under_schedule`        variance along a learning-rate schedule
=====================================  ============================================================
"""

from __future__ import annotations

import math

import numpy as np
import scipy.integrate
import scipy.linalg

from ._validate import check_positive_float, check_positive_int
from .potentials import Potential

#: :math:`-\zeta(1/2)/\sqrt{2\pi}`, the Broadie–Glasserman–Kou constant.
BGK_BETA = 0.5825971579390107


def _energies(potential: Potential, x: np.ndarray) -> np.ndarray:
    return np.asarray(potential.value(np.asarray(x, dtype=np.float64).reshape(-1, potential.dim)))


def gibbs_density_1d(potential: Potential, x, temperature: float) -> np.ndarray:
    r"""The Gibbs density :math:`p(x) = e^{-U(x)/T} / Z` of a 1-D potential on a grid.

    :math:`Z` is the trapezoidal integral over the grid, which must cover the region where the
    density is not negligible.

    Parameters
    ----------
    potential : Potential
        A 1-D potential.
    x : array_like, shape (m,)
        Increasing grid points.
    temperature : float
        :math:`T > 0`.

    Returns
    -------
    numpy.ndarray, shape (m,)

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> x = np.linspace(-8, 8, 2001)
    >>> p = gibbs_density_1d(Quadratic(1.0), x, temperature=1.0)     # standard normal
    >>> round(float(p[1000]), 4)
    0.3989
    """
    if potential.dim != 1:
        raise ValueError(f"potential must be 1-D, got dimension {potential.dim}")
    T = check_positive_float("temperature", temperature)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not (np.diff(x) > 0).all():
        raise ValueError("x must be an increasing 1-D grid of at least 2 points")
    u = _energies(potential, x)
    p = np.exp(-(u - u.min()) / T)
    return p / np.trapezoid(p, x)


def gibbs_density_2d(potential: Potential, x, y, temperature: float) -> np.ndarray:
    r"""The Gibbs density :math:`e^{-U/T}/Z` of a 2-D potential on the grid ``x × y``.

    Returns
    -------
    numpy.ndarray, shape (len(y), len(x))
        ``p[j, i]`` is the density at ``(x[i], y[j])`` (the layout of ``plt.contour(x, y, p)``).

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> g = np.linspace(-6, 6, 301)
    >>> p = gibbs_density_2d(Quadratic(np.eye(2)), g, g, temperature=1.0)
    >>> round(float(p[150, 150]), 4)          # 1/(2 pi)
    0.1592
    """
    if potential.dim != 2:
        raise ValueError(f"potential must be 2-D, got dimension {potential.dim}")
    T = check_positive_float("temperature", temperature)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    X, Y = np.meshgrid(x, y)
    u = _energies(potential, np.stack([X.ravel(), Y.ravel()], 1)).reshape(X.shape)
    p = np.exp(-(u - u.min()) / T)
    return p / np.trapezoid(np.trapezoid(p, x, axis=1), y)


def _check_lr_curvature(lr, curvature):
    lr = np.asarray(lr, dtype=np.float64)
    h = check_positive_float("curvature", curvature)
    if (lr <= 0).any() or (lr * h >= 2).any() or not np.isfinite(lr).all():
        raise ValueError(f"learning rate lr must be in (0, 2/h) = (0, {2 / h:.4g}) for a stable iteration, got {lr}")
    return lr, h


def stationary_variance_discrete(lr, curvature: float, noise_var: float, batch_size: int = 1):
    r"""Exact stationary variance of SGD :math:`w \leftarrow w - \eta(h w + \xi)` on :math:`\tfrac h2 w^2`.

    With :math:`\xi` of variance :math:`s^2 = \sigma^2/B`, :math:`w_{k+1} = (1-\eta h) w_k - \eta\xi_k`
    is an AR(1) recursion, stable iff :math:`0 < \eta h < 2`, with

    .. math::

        \operatorname{Var}(w_\infty) = \frac{\eta^2 s^2}{1 - (1-\eta h)^2} = \frac{\eta s^2}{h\,(2 - \eta h)} .

    Parameters
    ----------
    lr : float or array_like
        :math:`\eta`, in :math:`(0, 2/h)`.
    curvature : float
        :math:`h > 0`.
    noise_var : float
        Per-example gradient-noise variance :math:`\sigma^2 \ge 0`.
    batch_size : int
        :math:`B \ge 1`.

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Mandt, Hoffman & Blei (2017); any AR(1) text, e.g. Hamilton (1994), §3.4.

    Examples
    --------
    >>> stationary_variance_discrete(1.0, 1.0, 1.0)      # eta h = 1: twice the Langevin value
    1.0
    >>> stationary_variance_langevin(1.0, 1.0, 1.0)
    0.5
    """
    lr, h = _check_lr_curvature(lr, curvature)
    s2 = check_positive_float("noise_var", noise_var, allow_zero=True) / check_positive_int("batch_size", batch_size)
    out = lr * s2 / (h * (2 - lr * h))
    return float(out) if out.ndim == 0 else out


def stationary_variance_langevin(lr, curvature: float, noise_var: float, batch_size: int = 1):
    r"""The Langevin (small :math:`\eta h`) limit :math:`\eta s^2 / (2h)` of :func:`stationary_variance_discrete`.

    It is the Gibbs variance :math:`T/h` at the temperature :math:`T = \eta s^2/2` of the SDE
    :math:`dw = -h w\,dt + \sqrt{\eta}\, s\, dW`.

    Examples
    --------
    >>> stationary_variance_langevin(0.1, 2.0, 4.0, batch_size=2)
    0.05
    """
    lr = np.asarray(lr, dtype=np.float64)
    if (lr <= 0).any() or not np.isfinite(lr).all():
        raise ValueError(f"learning rate lr must be > 0, got {lr}")
    h = check_positive_float("curvature", curvature)
    s2 = check_positive_float("noise_var", noise_var, allow_zero=True) / check_positive_int("batch_size", batch_size)
    out = lr * s2 / (2 * h)
    return float(out) if out.ndim == 0 else out


def _check_matrices(hessian, noise_cov):
    H = np.atleast_2d(np.asarray(hessian, dtype=np.float64))
    S = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
    d = H.shape[0]
    if H.shape != (d, d) or not np.allclose(H, H.T):
        raise ValueError(f"hessian must be a symmetric (d, d) matrix, got shape {H.shape}")
    if S.shape != (d, d) or not np.allclose(S, S.T):
        raise ValueError(f"noise_cov must be a symmetric ({d}, {d}) matrix, got shape {S.shape}")
    return H, S


def lyapunov_covariance_discrete(lr: float, hessian, noise_cov, batch_size: int = 1) -> np.ndarray:
    r"""Exact stationary covariance of SGD on a quadratic: the discrete Lyapunov equation.

    For :math:`w_{k+1} = (I - \eta H) w_k - \eta\xi_k`, :math:`\operatorname{Cov}\xi = \Sigma/B`,

    .. math::

        S = (I - \eta H)\, S\, (I - \eta H)^\top + \eta^2\,\Sigma / B,

    solved by :func:`scipy.linalg.solve_discrete_lyapunov`. Requires every eigenvalue of
    :math:`\eta H` in :math:`(0, 2)`.

    Parameters
    ----------
    lr : float
        :math:`\eta > 0`.
    hessian : array_like, shape (d, d)
        Symmetric positive definite :math:`H`.
    noise_cov : array_like, shape (d, d)
        Per-example gradient-noise covariance :math:`\Sigma`.
    batch_size : int

    Returns
    -------
    numpy.ndarray, shape (d, d)

    References
    ----------
    Mandt, Hoffman & Blei (2017), eq. (8) and its discrete-time form.

    Examples
    --------
    >>> S = lyapunov_covariance_discrete(1.0, [[1.0]], [[1.0]])
    >>> float(S[0, 0])
    1.0
    """
    lr = check_positive_float("lr", lr)
    H, Sig = _check_matrices(hessian, noise_cov)
    ev = np.linalg.eigvalsh(lr * H)
    if ev.min() <= 0 or ev.max() >= 2:
        raise ValueError(f"lr * eigenvalues of hessian must lie in (0, 2) for a stable iteration, got {ev}")
    A = np.eye(H.shape[0]) - lr * H
    S = scipy.linalg.solve_discrete_lyapunov(A, lr ** 2 * Sig / check_positive_int("batch_size", batch_size))
    return 0.5 * (S + S.T)


def lyapunov_covariance_continuous(lr: float, hessian, noise_cov, batch_size: int = 1) -> np.ndarray:
    r"""Small-:math:`\eta` limit of :func:`lyapunov_covariance_discrete`: :math:`HS + SH = \eta\Sigma/B`.

    The stationary covariance of the Ornstein–Uhlenbeck process that approximates SGD
    (Mandt, Hoffman & Blei 2017, eq. 8), solved by :func:`scipy.linalg.solve_continuous_lyapunov`.

    Examples
    --------
    >>> S = lyapunov_covariance_continuous(0.1, np.diag([1.0, 4.0]), np.eye(2))
    >>> np.round(np.diag(S), 4).tolist()         # eta/(2 h_i)
    [0.05, 0.0125]
    """
    lr = check_positive_float("lr", lr)
    H, Sig = _check_matrices(hessian, noise_cov)
    if np.linalg.eigvalsh(H).min() <= 0:
        raise ValueError("hessian must be positive definite")
    S = scipy.linalg.solve_continuous_lyapunov(H, lr * Sig / check_positive_int("batch_size", batch_size))
    return 0.5 * (S + S.T)


def kramers_rate(curvature_min: float, curvature_top: float, barrier: float, temperature):
    r"""Kramers' escape rate over a barrier in the overdamped, low-temperature limit.

    .. math::

        k = \frac{\sqrt{U''(a)\,|U''(b)|}}{2\pi}\; e^{-\Delta U / T},

    for a minimum :math:`a`, a barrier top :math:`b` and :math:`\Delta U = U(b) - U(a)`. The
    mean escape time :math:`1/k` is the mean time to go from :math:`a` to well beyond :math:`b`;
    the time to reach :math:`b` itself is about half of it.

    Parameters
    ----------
    curvature_min : float
        :math:`U''(a) > 0`.
    curvature_top : float
        :math:`|U''(b)| > 0`.
    barrier : float
        :math:`\Delta U > 0`.
    temperature : float or array_like
        :math:`T > 0`.

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Kramers (1940), Physica 7, 284; Hänggi, Talkner & Borkovec (1990), Rev. Mod. Phys. 62, 251.

    Examples
    --------
    >>> round(1 / kramers_rate(8.0, 4.0, 1.0, 0.25), 2)      # the double well (w^2 - 1)^2 at T = 0.25
    60.64
    """
    a = check_positive_float("curvature_min", curvature_min)
    b = check_positive_float("curvature_top", curvature_top)
    dU = check_positive_float("barrier", barrier)
    T = np.asarray(temperature, dtype=np.float64)
    if (T <= 0).any() or not np.isfinite(T).all():
        raise ValueError(f"temperature must be > 0, got {temperature}")
    out = np.sqrt(a * b) / (2 * np.pi) * np.exp(-dU / T)
    return float(out) if out.ndim == 0 else out


def mean_first_passage_time(potential: Potential, x0: float, target: float, temperature: float,
                            lower: float | None = None, n_grid: int = 20001) -> float:
    r"""Exact mean first-passage time of 1-D overdamped Langevin dynamics, by quadrature.

    For :math:`dw = -U'(w)\,dt + \sqrt{2T}\,dW` started at :math:`x_0 < b`, the mean time to first
    reach :math:`b` (with :math:`-\infty` reflecting) is

    .. math::

        \tau(x_0) = \frac1T \int_{x_0}^{b} e^{U(y)/T} \int_{-\infty}^{y} e^{-U(z)/T}\,dz\,dy .

    Both integrals are computed by the trapezoidal rule on ``n_grid`` points from ``lower`` to
    :math:`b`; the inner one with :func:`scipy.integrate.cumulative_trapezoid`.

    Parameters
    ----------
    potential : Potential
        1-D, confining as :math:`w \to -\infty`.
    x0 : float
        Start.
    target : float
        :math:`b > x_0`.
    temperature : float
        :math:`T > 0`.
    lower : float, optional
        Where the inner integral starts (stands for :math:`-\infty`). Default: the first point
        left of :math:`x_0` where :math:`U` exceeds its minimum on :math:`[x_0, b]` by :math:`40T`.
    n_grid : int
        Number of grid points (>= 101).

    Returns
    -------
    float

    References
    ----------
    Gardiner (2009), *Stochastic Methods*, §5.5 (eq. 5.5.22); Risken (1989), §8.

    Examples
    --------
    >>> from sgdnoise.potentials import DoubleWell
    >>> t_far = mean_first_passage_time(DoubleWell(), -1.0, 1.0, temperature=0.1)
    >>> round(t_far * kramers_rate(8.0, 4.0, 1.0, 0.1), 3)     # Kramers is 4 % off at T = 0.1
    1.043
    """
    if potential.dim != 1:
        raise ValueError(f"potential must be 1-D, got dimension {potential.dim}")
    T = check_positive_float("temperature", temperature)
    x0, b = float(x0), float(target)
    if not b > x0:
        raise ValueError(f"target must be > x0 = {x0}, got {target}")
    n_grid = check_positive_int("n_grid", n_grid, minimum=101)
    u_ref = _energies(potential, np.linspace(x0, b, 1001)).min()
    if lower is None:
        lower, step = x0, max(b - x0, 1.0) / 4
        for _ in range(200):
            lower -= step
            if _energies(potential, np.array([lower]))[0] - u_ref > 40 * T:
                break
        else:
            raise ValueError("potential does not confine as w -> -inf; give lower")
    elif not lower < x0:
        raise ValueError(f"lower must be < x0 = {x0}, got {lower}")
    z = np.linspace(lower, b, n_grid)
    u = _energies(potential, z) - u_ref
    inner = scipy.integrate.cumulative_trapezoid(np.exp(-u / T), z, initial=0.0)
    keep = z >= x0
    # the outer integral from x0 (between grid points) to b
    zz, ff = z[keep], np.exp(u[keep] / T) * inner[keep]
    j = max(int(np.searchsorted(z, x0)) - 1, 0)   # only the two grid points around x0 (exp(u/T) may overflow far left)
    f0 = np.interp(x0, z[j:j + 2], np.exp(u[j:j + 2] / T) * inner[j:j + 2])
    return float((np.trapezoid(ff, zz) + 0.5 * (f0 + ff[0]) * (zz[0] - x0)) / T)


def discrete_monitoring_shift(temperature: float, dt: float) -> float:
    r"""How far a barrier moves when a crossing is only checked at the time steps.

    A path simulated with step :math:`\Delta t` and checked only at the steps misses excursions
    beyond the barrier between steps; to leading order this delays the first passage as if the
    barrier were moved outwards by

    .. math::

        \delta = \beta\,\sqrt{2T\,\Delta t}, \qquad \beta = -\zeta(1/2)/\sqrt{2\pi} \approx 0.5826 .

    Parameters
    ----------
    temperature : float
        :math:`T \ge 0` (the diffusion coefficient; the noise per step has variance :math:`2T\Delta t`).
    dt : float
        :math:`\Delta t > 0`.

    References
    ----------
    Broadie, Glasserman & Kou (1997), *A continuity correction for discrete barrier options*,
    Mathematical Finance 7, 325–349.

    Examples
    --------
    >>> round(discrete_monitoring_shift(0.5, 0.01), 4)
    0.0583
    """
    T = check_positive_float("temperature", temperature, allow_zero=True)
    return BGK_BETA * math.sqrt(2 * T * check_positive_float("dt", dt))


def saddle_escape_steps(noise_std, lr: float, gamma: float, radius: float = 1.0):
    r"""Mean number of SGD steps to leave a strict saddle along its negative-curvature direction.

    Along the escape direction, :math:`y_{k+1} = (1 + \eta\gamma)\,y_k - \eta\,\xi_k` with
    :math:`\xi_k \sim \mathcal N(0, \varepsilon^2)` and :math:`y_0 = 0`. Then
    :math:`y_k \approx q^k Z` with :math:`q = 1 + \eta\gamma` and
    :math:`Z \sim \mathcal N(0, \eta^2\varepsilon^2/(q^2 - 1))`, so :math:`|y_k|` reaches
    :math:`r` after :math:`\log(r/|Z|)/\log q` steps. Averaging with
    :math:`\mathbb E\log|N(0,1)| = -(\gamma_E + \log 2)/2` and adding half a step for the first
    whole step past the crossing:

    .. math::

        \bar k = \frac{\log\!\big(r\sqrt{q^2-1}/(\eta\varepsilon)\big) + (\gamma_E + \log 2)/2}{\log q} + \frac12
        \;\approx\; \frac{\log(1/\varepsilon)}{\eta\gamma}\quad(\varepsilon \to 0).

    Parameters
    ----------
    noise_std : float or array_like
        :math:`\varepsilon > 0`, the standard deviation of the gradient noise along :math:`y`.
    lr : float
        :math:`\eta > 0`.
    gamma : float
        :math:`\gamma > 0`, minus the curvature along the escape direction.
    radius : float
        :math:`r`, the distance from the saddle that counts as escaped.

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Ge, Huang, Jin & Yuan (2015), *Escaping from saddle points*, COLT; Jin et al. (2017), ICML.

    Examples
    --------
    >>> k = saddle_escape_steps([1e-4, 1e-8], lr=0.1, gamma=1.0)
    >>> round(float(k[1] - k[0]), 2), round(float(np.log(1e4) / np.log(1.1)), 2)   # slope in log(1/eps)
    (96.64, 96.64)
    """
    eps = np.asarray(noise_std, dtype=np.float64)
    if (eps <= 0).any() or not np.isfinite(eps).all():
        raise ValueError(f"noise_std must be > 0, got {noise_std}")
    lr = check_positive_float("lr", lr)
    gamma = check_positive_float("gamma", gamma)
    r = check_positive_float("radius", radius)
    q = 1 + lr * gamma
    out = (np.log(r * np.sqrt(q * q - 1) / (lr * eps)) + (np.euler_gamma + math.log(2)) / 2) / np.log(q) + 0.5
    return float(out) if out.ndim == 0 else out


def stationary_variance_after(n_steps, lr: float, curvature: float, noise_var: float, batch_size: int = 1):
    r"""Variance of SGD on :math:`\tfrac h2 w^2` after ``n_steps`` steps from :math:`w_0 = 0`.

    .. math::

        \operatorname{Var}(w_k) = \eta^2 s^2 \sum_{j<k} q^{2j} = \eta^2 s^2\,\frac{q^{2k} - 1}{q^2 - 1},
        \qquad q = 1 - \eta h,\ s^2 = \sigma^2/B,

    valid for every :math:`\eta h` (and :math:`k\,\eta^2 s^2` at :math:`q^2 = 1`). For
    :math:`\eta h > 2` it grows like :math:`|q|^{2k}`: the iteration diverges.

    Parameters
    ----------
    n_steps : int or array_like of int
        :math:`k \ge 0`.
    lr, curvature, noise_var, batch_size
        As in :func:`stationary_variance_discrete`, but any :math:`\eta > 0` is allowed.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> float(stationary_variance_after(3, 1.0, 1.0, 2.0))      # q = 0: one step's noise
    2.0
    >>> float(stationary_variance_after(2, 3.0, 1.0, 1.0))      # q = -2: 9 (1 + 4)
    45.0
    """
    k = np.asarray(n_steps)
    if not np.issubdtype(k.dtype, np.integer) or (k < 0).any():
        raise ValueError(f"n_steps must be integers >= 0, got {n_steps}")
    lr = check_positive_float("lr", lr)
    h = check_positive_float("curvature", curvature)
    s2 = check_positive_float("noise_var", noise_var, allow_zero=True) / check_positive_int("batch_size", batch_size)
    q2 = (1 - lr * h) ** 2
    geometric = k.astype(float) if q2 == 1 else (q2 ** k.astype(float) - 1) / (q2 - 1)
    out = lr ** 2 * s2 * geometric
    return float(out) if out.ndim == 0 else out


def stationary_density_1d(potential: Potential, x, diffusion) -> np.ndarray:
    r"""Stationary density of the 1-D Itô diffusion :math:`dw = -U'(w)\,dt + \sqrt{2D(w)}\,dW`.

    Zero probability flux, :math:`U' p + (D p)' = 0`, gives

    .. math::

        p(x) \propto \frac{1}{D(x)} \exp\Big(-\int_{x_0}^{x} \frac{U'(s)}{D(s)}\,ds\Big),

    which is the Gibbs density :math:`e^{-U/T}/Z` when :math:`D \equiv T`, and is not when the
    noise depends on the state. Integrals by the trapezoidal rule on the grid.

    Parameters
    ----------
    potential : Potential
        1-D.
    x : array_like, shape (m,)
        Increasing grid covering the bulk of the density.
    diffusion : callable
        ``x -> D(x)`` on a numpy array of shape ``(m, 1)``, returning ``m`` positive values (any
        shape that flattens to ``m``).

    Returns
    -------
    numpy.ndarray, shape (m,)
        Normalized on the grid.

    References
    ----------
    Gardiner (2009), *Stochastic Methods*, §5.3.

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> x = np.linspace(-6, 6, 3001)
    >>> p = stationary_density_1d(Quadratic(1.0), x, lambda w: np.full(len(w), 0.5))
    >>> bool(np.allclose(p, gibbs_density_1d(Quadratic(1.0), x, 0.5)))
    True
    """
    if potential.dim != 1:
        raise ValueError(f"potential must be 1-D, got dimension {potential.dim}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not (np.diff(x) > 0).all():
        raise ValueError("x must be an increasing 1-D grid of at least 2 points")
    if not callable(diffusion):
        raise ValueError(f"diffusion must be a callable w (m, 1) -> D(w) (m,), got {type(diffusion).__name__}")
    D = np.asarray(diffusion(x[:, None]), dtype=np.float64).reshape(-1)
    if D.shape != x.shape or not np.isfinite(D).all() or (D <= 0).any():
        raise ValueError("diffusion must return one positive value per grid point")
    phi = scipy.integrate.cumulative_trapezoid(np.asarray(potential.grad(x[:, None]))[:, 0] / D, x, initial=0.0)
    logp = -np.log(D) - phi
    p = np.exp(logp - logp.max())
    return p / np.trapezoid(p, x)


def euler_maruyama_law_1d(potential: Potential, x, dt: float, temperature: float, n_steps: int | None = None,
                          x0: float | None = None, at=None) -> np.ndarray:
    r"""Density of the Euler–Maruyama chain itself (not of the SDE) in 1-D, on a grid.

    The chain :math:`w_{k+1} = w_k - \Delta t\,U'(w_k) + \sqrt{2T\Delta t}\,\xi_k` has the
    Gaussian transition kernel :math:`k(y\mid x) = \mathcal N\big(y;\ x - \Delta t\,U'(x),\
    2T\Delta t\big)`. Its law evolves by :math:`p_{k+1}(y) = \int k(y\mid x)\,p_k(x)\,dx`,
    discretized here by the trapezoidal (Nyström) rule on the grid. Its stationary density
    differs from the Gibbs density :math:`e^{-U/T}/Z` at order :math:`\Delta t` (e.g. on
    :math:`U = \frac h2 w^2` the chain's variance is :math:`T/(h(1 - h\Delta t/2))`, not
    :math:`T/h`); this is the reference an Euler–Maruyama simulation should be compared with
    once its sample resolves that bias.

    Parameters
    ----------
    potential : Potential
        1-D.
    x : array_like, shape (m,)
        Equally spaced grid covering the bulk of the density, with spacing below half the
        kernel's width :math:`\sqrt{2T\Delta t}` (the trapezoidal rule is then accurate to
        many digits for this smooth kernel).
    dt : float
        :math:`\Delta t > 0`.
    temperature : float
        :math:`T > 0`.
    n_steps : int, optional
        With ``x0``: the law after ``n_steps >= 1`` steps from :math:`w_0 = x_0` (computed as
        the one-step Gaussian followed by a matrix power of the discretized kernel).
    x0 : float, optional
        Starting point (with ``n_steps``). Without both: the stationary density (the
        eigenvector of eigenvalue 1, by one linear solve).
    at : array_like, shape (k,), optional
        Where to return the density (default: ``x``). The last step is applied exactly,
        :math:`p_n(y) = \sum_i w_i\,k(y\mid x_i)\,p_{n-1}(x_i)` (Nyström interpolation), so
        ``at`` may be finer than ``x``, e.g. to integrate over histogram bins.

    Returns
    -------
    numpy.ndarray, shape (m,) or (k,)
        The density; it integrates to 1 up to the mass the chain puts outside ``x``.

    References
    ----------
    Talay & Tubaro (1990), *Stoch. Anal. Appl.* 8, 483 (the :math:`O(\Delta t)` bias of the
    Euler scheme's invariant law); Nyström's method, e.g. Press et al., *Numerical Recipes*, §19.1.

    Examples
    --------
    >>> from sgdnoise.potentials import Quadratic
    >>> x = np.linspace(-8, 8, 1601)
    >>> p = euler_maruyama_law_1d(Quadratic(1.0), x, dt=0.2, temperature=1.0)
    >>> round(float(np.trapezoid(x * x * p, x)), 6)        # T / (h (1 - h dt / 2)) = 1/0.9
    1.111111
    """
    if potential.dim != 1:
        raise ValueError(f"potential must be 1-D, got dimension {potential.dim}")
    dt = check_positive_float("dt", dt)
    T = check_positive_float("temperature", temperature)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 3 or not np.allclose(np.diff(x), x[1] - x[0], rtol=1e-9, atol=0) or x[1] <= x[0]:
        raise ValueError("x must be an equally spaced increasing 1-D grid of at least 3 points")
    h, sd = x[1] - x[0], math.sqrt(2 * T * dt)
    if h > sd / 2:
        raise ValueError(f"grid spacing of x ({h:.3g}) must be below half the kernel width sqrt(2 T dt)/2 = {sd / 2:.3g}")
    if (n_steps is None) != (x0 is None):
        raise ValueError("give both n_steps and x0 (law after n steps) or neither (stationary law)")
    mean = x - dt * np.asarray(potential.grad(x[:, None]), dtype=np.float64)[:, 0]
    weights = np.full(x.size, h)
    weights[[0, -1]] = h / 2
    kernel = lambda y, centres: np.exp(-0.5 * ((y[:, None] - centres[None, :]) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    if n_steps is None:
        # stationary: (K - I) p = 0 with the last equation replaced by the normalization sum_i w_i p_i = 1
        M = kernel(x, mean) * weights[None, :] - np.eye(x.size)
        M[-1] = weights
        rhs = np.zeros(x.size)
        rhs[-1] = 1.0
        prev = np.linalg.solve(M, rhs)
    else:
        n_steps = check_positive_int("n_steps", n_steps)
        x0 = float(x0)
        start = np.array([x0 - dt * float(np.asarray(potential.grad(np.array([[x0]])))[0, 0])])
        if n_steps == 1:
            return kernel(x if at is None else np.asarray(at, dtype=np.float64).ravel(), start)[:, 0]
        prev = kernel(x, start)[:, 0]                          # the law after one step
        if n_steps > 2:
            prev = np.linalg.matrix_power(kernel(x, mean) * weights[None, :], n_steps - 2) @ prev
        prev = prev / (weights @ prev)                         # mass lost off the grid: renormalize
    y = x if at is None else np.asarray(at, dtype=np.float64).ravel()
    return np.clip(kernel(y, mean) @ (weights * prev), 0.0, None)


def stationary_excess_kurtosis_discrete(lr, curvature: float, noise_excess_kurtosis: float):
    r"""Excess kurtosis of SGD's stationary law on :math:`\tfrac h2 w^2` with non-Gaussian i.i.d. noise.

    :math:`w_\infty = -\eta\sum_{j\ge0} q^j\xi_j` with :math:`q = 1-\eta h`; cumulants add, so
    :math:`\kappa_4(w) = \eta^4\kappa_4(\xi)/(1-q^4)` and :math:`\operatorname{Var} w = \eta^2
    s^2/(1-q^2)`, giving

    .. math::

        \gamma_2(w_\infty) = \gamma_2(\xi)\,\frac{(1-q^2)^2}{1-q^4} = \gamma_2(\xi)\,\frac{1-q^2}{1+q^2}.

    Small :math:`\eta h` averages many noise draws (the law tends to a Gaussian, as Langevin
    assumes); at :math:`\eta h = 1` the iterate *is* one noise draw. The variance does not
    depend on the noise's shape (:func:`stationary_variance_discrete`).

    Parameters
    ----------
    lr : float or array_like
        :math:`\eta` in :math:`(0, 2/h)`.
    curvature : float
        :math:`h > 0`.
    noise_excess_kurtosis : float
        :math:`\gamma_2(\xi) = \kappa_4/s^4 \ge -2` of the gradient noise (0 for Gaussian, 6 for
        a centred exponential).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> stationary_excess_kurtosis_discrete(1.0, 1.0, 6.0)     # q = 0: the noise's own kurtosis
    6.0
    >>> round(stationary_excess_kurtosis_discrete(0.1, 1.0, 6.0), 4)
    0.6298
    """
    lr, h = _check_lr_curvature(lr, curvature)
    g = float(noise_excess_kurtosis)
    if not (math.isfinite(g) and g >= -2):
        raise ValueError(f"noise_excess_kurtosis must be a finite number >= -2, got {noise_excess_kurtosis}")
    q2 = (1 - lr * h) ** 2
    out = g * (1 - q2) / (1 + q2)
    return float(out) if out.ndim == 0 else out


def variance_under_schedule(lrs, curvature: float, noise_var: float, batch_size: int = 1,
                            initial_var: float = 0.0) -> np.ndarray:
    r"""Variance of SGD on :math:`\tfrac h2 w^2` along a learning-rate schedule :math:`\eta_0, \eta_1, \dots`.

    .. math::

        v_{k+1} = (1-\eta_k h)^2\, v_k + \eta_k^2 s^2, \qquad s^2 = \sigma^2/B,

    exactly (the mean decays separately). With a decaying schedule :math:`v_k` lags behind the
    stationary value :func:`stationary_variance_discrete` at the current :math:`\eta_k`: the
    iterates are never in equilibrium, and how far they lag depends on the path.

    Parameters
    ----------
    lrs : array_like, shape (k,)
        :math:`\eta_j > 0` (any value; no stability requirement).
    curvature : float
        :math:`h > 0`.
    noise_var : float
        :math:`\sigma^2 \ge 0`.
    batch_size : int
    initial_var : float
        :math:`v_0 \ge 0`.

    Returns
    -------
    numpy.ndarray, shape (k + 1,)
        :math:`v_0, \dots, v_k`.

    Examples
    --------
    >>> variance_under_schedule([1.0, 1.0, 0.5], 1.0, 2.0).tolist()     # q = 0, 0, then 0.5
    [0.0, 2.0, 2.0, 1.0]
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    if lrs.ndim != 1 or (lrs <= 0).any() or not np.isfinite(lrs).all():
        raise ValueError(f"lrs must be a 1-D array of learning rates > 0, got {lrs}")
    h = check_positive_float("curvature", curvature)
    s2 = check_positive_float("noise_var", noise_var, allow_zero=True) / check_positive_int("batch_size", batch_size)
    v = np.empty(lrs.size + 1)
    v[0] = check_positive_float("initial_var", initial_var, allow_zero=True)
    for k, eta in enumerate(lrs):
        v[k + 1] = (1 - eta * h) ** 2 * v[k] + eta ** 2 * s2
    return v
