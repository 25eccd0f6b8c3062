r"""Morphogen gradients: reading position from a noisy concentration.

A morphogen spreads from a source and forms a concentration profile :math:`c(x)`; a cell at
position :math:`x` reads the local concentration with some noise and adopts a fate by comparing
its reading with a threshold. An error :math:`\delta c` in the reading is an error
:math:`\delta x = \delta c / |c'(x)|` in the position the cell infers, so the **positional error**
is

.. math::

    \sigma_x = \frac{\sigma_c}{|\mathrm dc/\mathrm dx|}
    \;=\; \lambda\,\frac{\sigma_c}{c} \quad\text{for } c(x) = c_0 e^{-x/\lambda}

(Gregor et al. 2007; Houchmandzadeh et al. 2002 for the Bicoid–Hunchback system). Averaging
:math:`n` independent readings (neighbouring nuclei, successive time windows) divides it by
:math:`\sqrt n`, and the counting of molecules sets a floor :math:`\delta c/c \sim 1/\sqrt{D a c T}`
(Berg & Purcell 1977). Positions are in units of egg length (EL) unless said otherwise; all
functions are vectorized over embryos and cells (NumPy broadcasting), with randomness from an
explicit :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import check_positive_float, check_positive_int, numpy_generator

#: Avogadro's number, 1/mol.
AVOGADRO = 6.02214076e23


# ---------------------------------------------------------------------------------- profiles

def exponential_profile(x, c0: float = 1.0, decay_length: float = 0.2) -> np.ndarray:
    r"""The exponential gradient :math:`c(x) = c_0 e^{-x/\lambda}`.

    Parameters
    ----------
    x : array_like
        Positions (any unit; e.g. fraction of egg length).
    c0 : float
        Concentration at the source, :math:`x = 0` (> 0).
    decay_length : float
        :math:`\lambda` (> 0), in the unit of ``x``.

    Returns
    -------
    numpy.ndarray, shape of ``x``

    Examples
    --------
    >>> float(exponential_profile(0.2, c0=1.0, decay_length=0.2)) == float(np.exp(-1))
    True
    """
    c0 = check_positive_float("c0", c0)
    lam = check_positive_float("decay_length", decay_length)
    return c0 * np.exp(-np.asarray(x, dtype=float) / lam)


def exponential_slope(x, c0: float = 1.0, decay_length: float = 0.2) -> np.ndarray:
    r"""Derivative :math:`c'(x) = -c(x)/\lambda` of :func:`exponential_profile`."""
    return -exponential_profile(x, c0, decay_length) / decay_length


def exponential_position(c, c0: float = 1.0, decay_length: float = 0.2) -> np.ndarray:
    r"""Inverse of the exponential profile, :math:`x = \lambda \ln(c_0/c)`: the position a reading implies.

    Examples
    --------
    >>> round(float(exponential_position(exponential_profile(0.5), 1.0, 0.2)), 12)
    0.5
    """
    c0 = check_positive_float("c0", c0)
    lam = check_positive_float("decay_length", decay_length)
    c = np.asarray(c, dtype=float)
    if np.any(c <= 0):
        raise ValueError("c must be > 0 to be decoded into a position")
    return lam * np.log(c0 / c)


def power_law_profile(x, c0: float = 1.0, decay_length: float = 0.2, exponent: float = 2.0) -> np.ndarray:
    r"""A power-law gradient :math:`c(x) = c_0 (1 + x/\lambda)^{-p}`.

    Such profiles arise when the morphogen enhances its own degradation; far from the source
    they are shallower than an exponential, so the positional error grows with :math:`x`.

    Examples
    --------
    >>> float(power_law_profile(0.2, 1.0, 0.2, 2.0))
    0.25
    """
    c0 = check_positive_float("c0", c0)
    lam = check_positive_float("decay_length", decay_length)
    p = check_positive_float("exponent", exponent)
    return c0 * (1 + np.asarray(x, dtype=float) / lam) ** (-p)


def power_law_slope(x, c0: float = 1.0, decay_length: float = 0.2, exponent: float = 2.0) -> np.ndarray:
    r"""Derivative :math:`c'(x) = -\frac{p}{\lambda}\,c_0 (1 + x/\lambda)^{-p-1}` of :func:`power_law_profile`."""
    x = np.asarray(x, dtype=float)
    return -exponent / decay_length * power_law_profile(x, c0, decay_length, exponent + 1)


def power_law_position(c, c0: float = 1.0, decay_length: float = 0.2, exponent: float = 2.0) -> np.ndarray:
    r"""Inverse of the power-law profile, :math:`x = \lambda[(c_0/c)^{1/p} - 1]`.

    Examples
    --------
    >>> round(float(power_law_position(power_law_profile(0.3))), 12)
    0.3
    """
    c0 = check_positive_float("c0", c0)
    lam = check_positive_float("decay_length", decay_length)
    p = check_positive_float("exponent", exponent)
    c = np.asarray(c, dtype=float)
    if np.any(c <= 0):
        raise ValueError("c must be > 0 to be decoded into a position")
    return lam * ((c0 / c) ** (1 / p) - 1)


# ------------------------------------------------------------------------- positional error

def positional_error(sigma_c, slope) -> np.ndarray:
    r"""Positional error :math:`\sigma_x = \sigma_c / |\mathrm dc/\mathrm dx|` (to first order in the noise).

    Parameters
    ----------
    sigma_c : array_like
        Standard deviation of the concentration reading (concentration units).
    slope : array_like
        Local slope :math:`c'(x)` (concentration per unit length), non-zero.

    Returns
    -------
    numpy.ndarray
        In the length unit of the slope.

    References
    ----------
    Gregor et al. (2007), Eq. 1; Houchmandzadeh et al. (2002).

    Examples
    --------
    >>> float(positional_error(0.1, -2.0))
    0.05
    """
    s = np.asarray(sigma_c, dtype=float)
    g = np.asarray(slope, dtype=float)
    if np.any(s < 0):
        raise ValueError("sigma_c must be >= 0")
    if np.any(g == 0):
        raise ValueError("slope must be non-zero: a flat profile carries no positional information")
    return s / np.abs(g)


def positional_error_exponential(relative_noise, decay_length, n_samples: int = 1) -> np.ndarray:
    r"""Positional error of an exponential gradient, :math:`\sigma_x = \lambda\,(\sigma_c/c)/\sqrt n`.

    Parameters
    ----------
    relative_noise : array_like
        :math:`\sigma_c/c` of a single reading (>= 0).
    decay_length : array_like
        :math:`\lambda` (> 0); broadcasts against ``relative_noise``.
    n_samples : int
        Number of independent readings averaged.

    Examples
    --------
    >>> round(float(positional_error_exponential(0.10, 0.20)), 12)   # Bicoid: 10 % readout -> 2 % EL
    0.02
    """
    lam = np.asarray(decay_length, dtype=float)
    if np.any(lam <= 0) or not np.all(np.isfinite(lam)):
        raise ValueError("decay_length must be finite and > 0")
    n = check_positive_int("n_samples", n_samples)
    r = np.asarray(relative_noise, dtype=float)
    if np.any(r < 0):
        raise ValueError("relative_noise must be >= 0")
    return lam * r / math.sqrt(n)


def exponential_decoding_moments(relative_noise: float, decay_length: float = 0.2,
                                 n_samples: int = 1) -> tuple[float, float]:
    r"""Exact mean and standard deviation of the decoding error of an exponential gradient.

    A reading :math:`r = c(x)(1 + s\xi)`, :math:`s = \sigma/\sqrt n` (the mean of ``n_samples``
    readings, Gaussian :math:`\xi`), decoded by :func:`exponential_position`, gives
    :math:`\hat x - x = -\lambda\ln(1 + s\xi)`, the same at every :math:`x`. Its moments, by
    quadrature over :math:`\xi` (trapezoid rule on :math:`[-8.5, 8.5]`, 40,001 points), expand as

    .. math:: \mathbb E[\hat x - x] = \lambda\big(\tfrac{s^2}{2} + \tfrac{3s^4}{4} + \dots\big), \qquad
        \operatorname{sd}(\hat x - x) = \lambda s\big(1 + \tfrac54 s^2 + \dots\big),

    whose first term is the positional error :math:`\lambda\sigma_c/c`
    (:func:`positional_error_exponential`).

    Parameters
    ----------
    relative_noise : float
        :math:`\sigma` of one reading, in (0, 0.1175]: above that the reading is negative with
        probability above :math:`10^{-16}` and the decoder is undefined.
    decay_length : float
        :math:`\lambda` (> 0).
    n_samples : int
        Readings averaged (>= 1).

    Returns
    -------
    mean, sd : float
        In the unit of ``decay_length``.

    Examples
    --------
    >>> m, sd = exponential_decoding_moments(0.1, 0.2)
    >>> round(sd / (0.2 * 0.1 * (1 + 1.25 * 0.01)) - 1, 5)      # the next order: 0.05 %
    0.00048
    """
    sigma = check_positive_float("relative_noise", relative_noise)
    lam = check_positive_float("decay_length", decay_length)
    n = check_positive_int("n_samples", n_samples)
    s = sigma / math.sqrt(n)
    if s > 1 / 8.5:
        raise ValueError(f"relative_noise / sqrt(n_samples) must be <= 1/8.5 = 0.1176 for a positive reading, got {s}")
    xi = np.linspace(-8.5, 8.5, 40_001)
    w = np.exp(-xi ** 2 / 2)
    w /= w.sum()
    err = -lam * np.log1p(s * xi)
    mean = float(w @ err)
    return mean, float(math.sqrt(w @ (err - mean) ** 2))


def samples_needed(single_error: float, target_error: float) -> int:
    r"""Smallest number of independent readings whose average reaches ``target_error``: :math:`\lceil(\sigma_1/\sigma)^2\rceil`.

    Examples
    --------
    >>> samples_needed(0.02, 0.01)
    4
    """
    s1 = check_positive_float("single_error", single_error)
    s = check_positive_float("target_error", target_error)
    return int(math.ceil((s1 / s) ** 2 - 1e-9))


# ---------------------------------------------------------------------------- noisy readout

def read_multiplicative(c, relative_noise: float, n_samples: int = 1, size: tuple[int, ...] | None = None, *,
                        generator: np.random.Generator | None = None) -> np.ndarray:
    r"""Noisy readings :math:`r = c\,(1 + \sigma\xi)`, averaged over ``n_samples`` independent draws.

    Each of the ``n_samples`` readings has independent Gaussian :math:`\xi`; their mean has relative
    standard deviation :math:`\sigma/\sqrt n`. The noise is drawn independently for every element of
    the output, so the shape decides what shares noise: ``c`` of shape ``(n_embryos, 1)`` gives one
    draw per embryo (embryo-to-embryo variability), ``(n_embryos, n_cells)`` one per cell.

    Parameters
    ----------
    c : array_like
        True concentrations.
    relative_noise : float
        :math:`\sigma = \sigma_c/c` of one reading, >= 0.
    n_samples : int
        Readings averaged (nuclei, time windows).
    size : tuple of int, optional
        Output shape (``c`` is broadcast to it); default ``c``'s shape.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray, shape ``size``

    Examples
    --------
    >>> r = read_multiplicative(np.ones(100_000), 0.1, n_samples=4, generator=np.random.default_rng(0))
    >>> bool(abs(r.std() - 0.05) < 0.001)
    True
    """
    sigma = check_positive_float("relative_noise", relative_noise, allow_zero=True)
    n = check_positive_int("n_samples", n_samples)
    rng = numpy_generator(generator)
    c = np.asarray(c, dtype=float)
    shape = c.shape if size is None else tuple(size)
    xi = rng.standard_normal((n,) + shape).mean(0)
    return np.broadcast_to(c, shape) * (1 + sigma * xi)


def read_poisson(c, counts_per_unit: float, n_samples: int = 1, size: tuple[int, ...] | None = None, *,
                 generator: np.random.Generator | None = None) -> np.ndarray:
    r"""Molecule-counting readings :math:`r = K/(n v)` with :math:`K \sim \mathrm{Poisson}(n v c)`.

    A reading counts the molecules in a volume (or the binding events in a time window) with
    expected count :math:`v c`; ``n_samples`` independent counts add up to a Poisson count with
    mean :math:`n v c`. Relative error :math:`1/\sqrt{n v c}`.

    Parameters
    ----------
    c : array_like
        True concentrations (>= 0).
    counts_per_unit : float
        :math:`v`, expected count per unit concentration of one reading (> 0).
    n_samples : int
    size : tuple of int, optional
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> r = read_poisson(np.full(100_000, 2.0), 50.0, generator=np.random.default_rng(0))
    >>> bool(abs(r.std() / 2.0 - 1 / np.sqrt(100.0)) < 0.002)
    True
    """
    v = check_positive_float("counts_per_unit", counts_per_unit)
    n = check_positive_int("n_samples", n_samples)
    rng = numpy_generator(generator)
    c = np.asarray(c, dtype=float)
    if np.any(c < 0):
        raise ValueError("c must be >= 0")
    shape = c.shape if size is None else tuple(size)
    return rng.poisson(np.broadcast_to(c, shape) * v * n) / (v * n)


def poisson_relative_error(c, counts_per_unit: float, n_samples: int = 1) -> np.ndarray:
    r"""Relative error of :func:`read_poisson`, :math:`\sigma_c/c = 1/\sqrt{n v c}`."""
    v = check_positive_float("counts_per_unit", counts_per_unit)
    n = check_positive_int("n_samples", n_samples)
    return 1 / np.sqrt(n * v * np.asarray(c, dtype=float))


# --------------------------------------------------------------------------- boundaries

def boundary_position(x, readout, threshold: float) -> np.ndarray:
    r"""Where each embryo puts its boundary: the cells reading above ``threshold`` take the anterior fate.

    For cells on a uniform grid ``x`` (increasing, spacing :math:`\Delta x`, profile decreasing),
    the boundary is placed after the anterior cells:
    :math:`x_b = x_0 - \Delta x/2 + \Delta x\,\#\{j: r_j > \theta\}`. For a monotone readout
    this is the threshold crossing to grid resolution; with independent noise per cell, misplaced
    cells on either side partly cancel.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_cells,)
        Cell positions, uniformly spaced, increasing.
    readout : numpy.ndarray, shape (..., n_cells)
        Readings of every cell in every embryo.
    threshold : float
        Concentration above which a cell takes the anterior fate (> 0).

    Returns
    -------
    numpy.ndarray, shape (...)

    Examples
    --------
    >>> x = np.linspace(0.005, 0.995, 100)
    >>> round(float(boundary_position(x, exponential_profile(x), np.exp(-2.5))), 3)   # x* = 0.5
    0.5
    """
    x = np.asarray(x, dtype=float)
    theta = check_positive_float("threshold", threshold)
    if x.ndim != 1 or x.size < 2:
        raise ValueError("x must be a 1-D grid of at least 2 cells")
    dx = np.diff(x)
    if np.any(dx <= 0) or not np.allclose(dx, dx[0], rtol=1e-6):
        raise ValueError("x must be uniformly spaced and increasing")
    r = np.asarray(readout, dtype=float)
    if r.shape[-1] != x.size:
        raise ValueError(f"readout must have a last axis of length n_cells = {x.size}, got {r.shape}")
    return x[0] - dx[0] / 2 + dx[0] * (r > theta).sum(-1)


def threshold_boundary_moments(x, c, threshold: float, relative_noise: float, rows: int = 1) -> tuple[float, float]:
    r"""Exact mean and standard deviation of :func:`boundary_position` when every nucleus has its own noise.

    A nucleus at :math:`x_j` reads :math:`r = c_j(1 + \sigma\xi)` with independent Gaussian
    :math:`\xi` and takes the anterior fate when :math:`r > \theta`, with probability
    :math:`p_j = \Phi\big((c_j - \theta)/(\sigma c_j)\big)`. With ``rows`` independent nuclei at each
    position (around the embryo's circumference) and the boundary placed from the fraction of
    anterior nuclei, :math:`x_b = x_0 - \Delta x/2 + \Delta x\,\#\{\text{on}\}/m`, the count is a sum
    of independent Bernoulli variables, so exactly

    .. math:: \mathbb E\,x_b = x_0 - \frac{\Delta x}{2} + \Delta x\sum_j p_j, \qquad
        \operatorname{Var} x_b = \frac{\Delta x^2}{m}\sum_j p_j(1 - p_j).

    To first order in the noise, :func:`threshold_boundary_sd_first_order` gives the same variance
    in closed form.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_cells,)
        Uniform, increasing grid of nucleus positions.
    c : numpy.ndarray, shape (n_cells,)
        True concentrations at ``x`` (> 0).
    threshold : float
        :math:`\theta` (> 0).
    relative_noise : float
        :math:`\sigma` of one reading (> 0).
    rows : int
        :math:`m`, independent nuclei per position (>= 1).

    Returns
    -------
    mean, sd : float

    Examples
    --------
    >>> x = np.linspace(0.005, 0.995, 100)
    >>> m, sd = threshold_boundary_moments(x, exponential_profile(x), float(exponential_profile(0.5)), 0.1)
    >>> round(m, 3), round(sd, 4)
    (0.499, 0.0107)
    """
    x = np.asarray(x, dtype=float)
    c = np.asarray(c, dtype=float)
    theta = check_positive_float("threshold", threshold)
    sigma = check_positive_float("relative_noise", relative_noise)
    m = check_positive_int("rows", rows)
    if x.ndim != 1 or x.size < 2 or c.shape != x.shape:
        raise ValueError(f"x and c must be 1-D of equal length >= 2, got {x.shape} and {c.shape}")
    if np.any(c <= 0):
        raise ValueError("c must be > 0")
    dx = x[1] - x[0]
    p = 0.5 * np.array([math.erfc(z) for z in (theta - c) / (math.sqrt(2) * sigma * c)])
    return float(x[0] - dx / 2 + dx * p.sum()), float(dx * math.sqrt((p * (1 - p)).sum() / m))


def threshold_boundary_sd_first_order(positional_error: float, spacing: float, rows: int = 1) -> float:
    r"""First-order spread of a boundary placed from the fraction of "on" nuclei: :math:`\sqrt{\Delta x\,\sigma_x/(\sqrt\pi\,m)}`.

    To first order a nucleus at :math:`x` is on with probability :math:`\Phi((x^\star - x)/\sigma_x)`,
    :math:`\sigma_x = \sigma_c/|c'|` (:func:`positional_error`). Replacing the sum of
    :math:`p(1 - p)` over the grid by an integral and using
    :math:`\int\Phi(u)(1 - \Phi(u))\,\mathrm du = 1/\sqrt\pi`,

    .. math:: \sigma_b^2 = \frac{\Delta x\,\sigma_x}{\sqrt\pi\,m} = \frac{\sigma_x^2}{n_\text{eff}\,m},
        \qquad n_\text{eff} = \frac{\sqrt\pi\,\sigma_x}{\Delta x}:

    the boundary averages the :math:`n_\text{eff}` nuclei per row of its transition zone. The
    sum-to-integral step is accurate while :math:`\sigma_x \gtrsim \Delta x`.

    Examples
    --------
    >>> round(threshold_boundary_sd_first_order(0.02, 0.01), 5)
    0.01062
    """
    sx = check_positive_float("positional_error", positional_error)
    dx = check_positive_float("spacing", spacing)
    m = check_positive_int("rows", rows)
    return math.sqrt(dx * sx / (math.sqrt(math.pi) * m))


def decoded_position_error(x, decoded) -> np.ndarray:
    r"""Standard deviation over embryos of the decoded position of each cell, shape ``(n_cells,)``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_cells,)
    decoded : numpy.ndarray, shape (n_embryos, n_cells)
        Positions inferred by each cell in each embryo (e.g. :func:`exponential_position` of readings).
    """
    decoded = np.asarray(decoded, dtype=float)
    if decoded.ndim != 2 or decoded.shape[0] < 2 or decoded.shape[1] != np.size(x):
        raise ValueError(f"decoded must have shape (n_embryos >= 2, n_cells = {np.size(x)}), got {decoded.shape}")
    return decoded.std(0, ddof=1)


# ------------------------------------------------------------------------- counting limit

def nanomolar_to_per_cubic_micron(c_nanomolar) -> np.ndarray:
    r"""Convert a concentration in nM to molecules per µm³ (1 nM ≈ 0.602 µm⁻³).

    Examples
    --------
    >>> round(float(nanomolar_to_per_cubic_micron(1.0)), 4)
    0.6022
    """
    c = np.asarray(c_nanomolar, dtype=float)
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError(f"c_nanomolar must be finite and >= 0, got {c_nanomolar!r}")
    return c * 1e-9 * AVOGADRO * 1e-15


def berg_purcell_relative_error(diffusion, size, concentration, time, prefactor: float = 1.0) -> np.ndarray:
    r"""The counting limit :math:`\delta c/c \sim 1/\sqrt{\kappa\,D a c T}` (Berg & Purcell 1977).

    A detector of linear size :math:`a` that integrates for a time :math:`T` sees about
    :math:`D a c T` independent molecules, because diffusion renews the molecules in its
    neighbourhood every :math:`a^2/D`. :math:`\kappa` is an order-one factor that depends on the
    geometry (``prefactor``; :math:`\kappa = \pi` for a single receptor in Bialek & Setayeshgar 2005).

    Parameters
    ----------
    diffusion : array_like
        :math:`D`, µm²/s.
    size : array_like
        :math:`a`, µm.
    concentration : array_like
        :math:`c`, molecules/µm³.
    time : array_like
        :math:`T`, s.
    prefactor : float
        :math:`\kappa` (> 0).

    Returns
    -------
    numpy.ndarray
        Relative error (dimensionless).

    Examples
    --------
    >>> round(float(berg_purcell_relative_error(1.0, 1.0, 1.0, 100.0)), 6)
    0.1
    """
    k = check_positive_float("prefactor", prefactor)
    args = {"diffusion": diffusion, "size": size, "concentration": concentration, "time": time}
    vals = {}
    for name, v in args.items():
        v = np.asarray(v, dtype=float)
        if np.any(v <= 0) or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be finite and > 0")
        vals[name] = v
    return 1 / np.sqrt(k * vals["diffusion"] * vals["size"] * vals["concentration"] * vals["time"])


def berg_purcell_time(diffusion: float, size: float, concentration: float, relative_error: float,
                      prefactor: float = 1.0) -> float:
    r"""Integration time to reach a relative error, :math:`T = 1/(\kappa D a c\,(\delta c/c)^2)`, in s.

    Examples
    --------
    >>> round(berg_purcell_time(1.0, 1.0, 1.0, 0.1), 6)
    100.0
    """
    for name, v in (("diffusion", diffusion), ("size", size), ("concentration", concentration),
                    ("relative_error", relative_error), ("prefactor", prefactor)):
        check_positive_float(name, v)
    return 1.0 / (prefactor * diffusion * size * concentration * relative_error ** 2)
