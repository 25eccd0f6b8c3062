r"""Gradient descent–ascent on the bilinear game :math:`\min_x\max_y\, f(x, y) = xy`.

The only equilibrium is :math:`(0, 0)`. With step :math:`\eta` and gradient noise (independent
:math:`\mathcal N(0, \sigma^2)` on each player's gradient, :math:`\xi_t, \zeta_t`):

* simultaneous GDA, :math:`x' = x - \eta(y + \sigma\xi)`, :math:`y' = y + \eta(x + \sigma\zeta)`:
  without noise :math:`r' = \sqrt{1+\eta^2}\,r` (:func:`simultaneous_radius_factor`), an outward
  spiral; with noise :math:`\mathbb E r'^2 = (1+\eta^2)\,\mathbb E r^2 + 2\eta^2\sigma^2`
  (:func:`expected_sq_radius_simultaneous`);
* alternating GDA, :math:`x' = x - \eta(y + \sigma\xi)`, :math:`y' = y + \eta(x' + \sigma\zeta)`
  (:math:`y` sees the new :math:`x`): without noise :math:`Q = x^2 + y^2 - \eta xy` is conserved
  exactly (:func:`alternating_invariant`), a closed ellipse for :math:`\eta < 2`; with noise
  :math:`\mathbb E Q' = Q + 2\eta^2\sigma^2` (:func:`expected_invariant_alternating`): a random walk
  of the energy, outward on average.

Derivation of the last one: write :math:`\bar x' = x - \eta y`, so :math:`x' = \bar x' - \eta\sigma\xi`
and :math:`y' = \tilde y + \eta\sigma\zeta` with :math:`\tilde y = y + \eta x'`. Then
:math:`\mathbb E_\zeta Q(x', y') = x'^2 + \tilde y^2 - \eta x'\tilde y + \eta^2\sigma^2
= x'^2 + y^2 + \eta x' y + \eta^2\sigma^2`, and averaging over :math:`\xi` gives
:math:`\bar x'^2 + y^2 + \eta\bar x' y + 2\eta^2\sigma^2 = Q(x, y) + 2\eta^2\sigma^2`.

References: Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien & Mitliagkas (2019),
"Negative momentum for improved game dynamics", AISTATS; Mescheder, Geiger & Nowozin (2018).
"""

from __future__ import annotations

import numpy as np

from ._validate import check_bool, check_positive_float, check_positive_int, numpy_generator


def gda_bilinear(x0, y0, lr: float, n_steps: int, alternating: bool, sigma: float = 0.0, *,
                 generator: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Run gradient descent–ascent on :math:`f = xy` from many starting points at once.

    Player :math:`x` descends :math:`\partial_x f = y`, player :math:`y` ascends
    :math:`\partial_y f = x`; each gradient carries independent :math:`\mathcal N(0, \sigma^2)`
    noise. Simultaneous: both use the old point. Alternating: :math:`y` uses the new :math:`x`.

    Parameters
    ----------
    x0, y0 : float or numpy.ndarray, shape (R,)
        Starting points of R runs (broadcast together).
    lr : float
        Step size > 0.
    n_steps : int
        T >= 1.
    alternating : bool
    sigma : float
        Gradient-noise standard deviation >= 0.
    generator : numpy.random.Generator, optional
        The noise's randomness (used when ``sigma > 0``); ``None`` draws from a fresh generator
        seeded from the OS's entropy.

    Returns
    -------
    x, y : numpy.ndarray, shape (T + 1, R)
        The trajectories, starting points included.

    References
    ----------
    Gidel et al. (2019), "Negative momentum for improved game dynamics", AISTATS.

    Examples
    --------
    >>> x, y = gda_bilinear(1.0, 0.0, 0.1, 10, alternating=False)
    >>> bool(np.isclose(np.hypot(x[-1], y[-1])[0], 1.01 ** 5))
    True
    """
    lr = check_positive_float("lr", lr)
    n_steps = check_positive_int("n_steps", n_steps)
    sigma = check_positive_float("sigma", sigma, allow_zero=True)
    alternating = check_bool("alternating", alternating)
    rng = numpy_generator(generator) if sigma > 0 else None
    x, y = np.broadcast_arrays(np.atleast_1d(np.asarray(x0, dtype=float)), np.atleast_1d(np.asarray(y0, dtype=float)))
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x0 and y0 must be finite")
    r = x.shape[0]
    xs, ys = np.empty((n_steps + 1, r)), np.empty((n_steps + 1, r))
    xs[0], ys[0] = x, y
    for t in range(n_steps):
        xi, zeta = (sigma * rng.standard_normal((2, r))) if sigma > 0 else (0.0, 0.0)
        x_new = xs[t] - lr * (ys[t] + xi)
        x_seen = x_new if alternating else xs[t]
        ys[t + 1] = ys[t] + lr * (x_seen + zeta)
        xs[t + 1] = x_new
    return xs, ys


def simultaneous_radius_factor(lr: float) -> float:
    r"""The factor :math:`\sqrt{1+\eta^2}` by which noiseless simultaneous GDA multiplies :math:`r = \sqrt{x^2+y^2}` each step.

    The update is :math:`(x, y) \mapsto (x - \eta y,\, y + \eta x)`, a rotation scaled by
    :math:`\lvert 1 + i\eta\rvert`.

    Examples
    --------
    >>> simultaneous_radius_factor(0.75)
    1.25
    """
    lr = check_positive_float("lr", lr)
    return float(np.sqrt(1.0 + lr * lr))


def alternating_invariant(x, y, lr: float):
    r"""The quantity :math:`Q = x^2 + y^2 - \eta xy` that noiseless alternating GDA conserves exactly.

    For :math:`\eta < 2`, :math:`Q` is positive definite and its level sets are ellipses: the
    iterates cycle forever, neither converging nor diverging.

    Parameters
    ----------
    x, y : float or numpy.ndarray
    lr : float

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> alternating_invariant(1.0, 1.0, 0.5)
    1.5
    """
    lr = check_positive_float("lr", lr)
    for name, v in (("x", x), ("y", y)):
        if not np.isfinite(np.asarray(v, dtype=float)).all():
            raise ValueError(f"{name} must be finite, got {v!r}")
    out = np.asarray(x, dtype=float) ** 2 + np.asarray(y, dtype=float) ** 2 - lr * np.asarray(x) * np.asarray(y)
    return float(out) if out.ndim == 0 else out


def expected_sq_radius_simultaneous(r0_sq: float, lr: float, sigma: float, n_steps):
    r""":math:`\mathbb E r_t^2` of noisy simultaneous GDA from the recursion :math:`m_{t+1} = (1+\eta^2) m_t + 2\eta^2\sigma^2`.

    Solved: :math:`m_t = a^t r_0^2 + 2\sigma^2 (a^t - 1)` with :math:`a = 1+\eta^2` (the fixed point
    of the affine recursion is :math:`-2\sigma^2`).

    Parameters
    ----------
    r0_sq : float
        :math:`r_0^2 \ge 0`.
    lr, sigma : float
    n_steps : int or array of int
        t >= 0.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> round(expected_sq_radius_simultaneous(1.0, 0.5, 1.0, 1), 6)  # 1.25 + 2·0.25
    1.75
    """
    r0_sq = check_positive_float("r0_sq", r0_sq, allow_zero=True)
    lr = check_positive_float("lr", lr)
    sigma = check_positive_float("sigma", sigma, allow_zero=True)
    t = np.asarray(n_steps)
    if not np.issubdtype(t.dtype, np.integer) or (t < 0).any():
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps}")
    a = (1.0 + lr * lr) ** t.astype(float)
    out = a * r0_sq + 2.0 * sigma ** 2 * (a - 1.0)
    return float(out) if out.ndim == 0 else out


def expected_invariant_alternating(q0: float, lr: float, sigma: float, n_steps):
    r""":math:`\mathbb E Q_t = Q_0 + 2\eta^2\sigma^2 t` for noisy alternating GDA (derivation in the module docstring).

    Parameters
    ----------
    q0 : float
        :math:`Q_0 = x_0^2 + y_0^2 - \eta x_0 y_0`.
    lr, sigma : float
    n_steps : int or array of int

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> expected_invariant_alternating(1.0, 0.5, 1.0, 4)
    3.0
    """
    lr = check_positive_float("lr", lr)
    sigma = check_positive_float("sigma", sigma, allow_zero=True)
    t = np.asarray(n_steps)
    if not np.issubdtype(t.dtype, np.integer) or (t < 0).any():
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps}")
    out = float(q0) + 2.0 * lr * lr * sigma ** 2 * t.astype(float)
    return float(out) if out.ndim == 0 else out
