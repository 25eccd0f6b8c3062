r"""Heavy tails: the tail index of an α-stable sample and the cure by clipping.

A symmetric α-stable (SαS) variable :math:`X` has characteristic function
:math:`\mathbb E e^{itX} = e^{-\sigma^\alpha |t|^\alpha}`, :math:`0 < \alpha \le 2`; :math:`\alpha = 2`
is the Gaussian, and for :math:`\alpha < 2` the tails fall like :math:`|x|^{-1-\alpha}`, so the
variance is infinite. Sums are stable: the sum of :math:`K_1` independent copies is distributed as
:math:`K_1^{1/\alpha} X`, which is what the estimator of :func:`inverse_tail_index` uses.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._validate import check_finite, check_positive_int, numpy_generator


def inverse_tail_index(samples, block_size: int | None = None) -> float:
    r"""The inverse tail index :math:`\widehat{1/\alpha}` of a symmetric α-stable sample (Mohammadi et al. 2015).

    The ``K`` samples are cut into :math:`K_2` consecutive blocks of :math:`K_1` (``block_size``)
    with :math:`K = K_1 K_2` (extra samples are dropped); :math:`Y_i` is the sum of block
    :math:`i`. Since :math:`Y_i \overset{d}{=} K_1^{1/\alpha} X`,
    :math:`\mathbb E\log|Y| - \mathbb E\log|X| = \frac{1}{\alpha}\log K_1`, and

    .. math::

        \widehat{1/\alpha} = \frac{1}{\log K_1}\Big(\frac{1}{K_2}\sum_{i=1}^{K_2}\log|Y_i|
                              - \frac{1}{K}\sum_{j=1}^{K}\log|X_j|\Big),

    which is unbiased for :math:`1/\alpha` when the samples are exactly SαS. The estimate
    :math:`\hat\alpha = 1/\widehat{1/\alpha}` is not clipped: for any finite-variance data the
    block sums grow like :math:`K_1^{1/2}`, so :math:`\hat\alpha \approx 2` up to noise, on either side.
    (The divisor is the log of the *block length* :math:`K_1`, the factor by which summing
    rescales a stable variable.) Simsekli, Sagun & Gürbüzbalaban (2019) apply it to the entries of
    the gradient-noise vector :math:`\hat g_B - G`.

    Parameters
    ----------
    samples : array_like or torch.Tensor
        Real samples, any shape (flattened), assumed centred and symmetric; at least 4 values.
    block_size : int, optional
        :math:`K_1`, ``2 <= K_1 <= K/2``. Default :math:`\lfloor\sqrt K\rfloor`.

    Returns
    -------
    float
        :math:`\widehat{1/\alpha}`; :func:`tail_index` returns its inverse. Average this
        quantity, not :math:`\hat\alpha`, over repetitions: it is the unbiased one.

    References
    ----------
    Mohammadi, Mohammadpour & Ogata (2015), "On estimating the tail index and the spectral measure
    of multivariate α-stable distributions", Metrika 78, 549–561. Simsekli, Sagun & Gürbüzbalaban
    (2019), "A tail-index analysis of stochastic gradient noise in deep neural networks", ICML.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(100_000)   # alpha = 2: 1/alpha = 0.5
    >>> bool(abs(inverse_tail_index(x) - 0.5) < 0.03)
    True
    """
    x = samples.detach().double().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples, float)
    x = x.reshape(-1)
    if x.size < 4:
        raise ValueError(f"samples must contain at least 4 values, got {x.size}")
    check_finite("samples", x)
    k = x.size
    k1 = int(math.isqrt(k)) if block_size is None else block_size
    k1 = check_positive_int("block_size", k1, minimum=2, maximum=k // 2)
    k2 = k // k1
    x = x[:k1 * k2]
    with np.errstate(divide="ignore"):
        log_x = np.log(np.abs(x))
        log_y = np.log(np.abs(x.reshape(k2, k1).sum(1)))
    log_x, log_y = log_x[np.isfinite(log_x)], log_y[np.isfinite(log_y)]  # exact zeros carry no scale
    if log_x.size == 0 or log_y.size == 0:
        raise ValueError("samples must not be all zero")
    return float((log_y.mean() - log_x.mean()) / math.log(k1))


def tail_index(samples, block_size: int | None = None) -> float:
    r"""The tail index :math:`\hat\alpha = 1/\widehat{1/\alpha}` of :func:`inverse_tail_index`.

    Returns ``inf`` if the estimate of :math:`1/\alpha` is not positive. Same parameters.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(100_000)   # alpha = 2
    >>> round(tail_index(x), 1)
    2.0
    """
    inv_alpha = inverse_tail_index(samples, block_size)
    return 1.0 / inv_alpha if inv_alpha > 0 else float("inf")


def sample_symmetric_stable(alpha: float, size, *, generator: np.random.Generator | None = None) -> np.ndarray:
    r"""Draws of a standard symmetric α-stable law, :math:`\mathbb E e^{itX} = e^{-|t|^\alpha}`.

    Chambers–Mallows–Stuck: with :math:`V` uniform on :math:`(-\pi/2, \pi/2)` and :math:`W`
    exponential with mean 1, independent,

    .. math:: X = \frac{\sin\alpha V}{(\cos V)^{1/\alpha}}
              \Big(\frac{\cos\big((1-\alpha)V\big)}{W}\Big)^{(1-\alpha)/\alpha}.

    :math:`\alpha = 1` is the Cauchy law, :math:`\alpha = 2` the Gaussian with variance 2 (the
    parametrization of ``scipy.stats.levy_stable`` with :math:`\beta = 0`). Vectorized; used to
    stream many samples without holding them all.

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    size : int or tuple of int
        Output shape.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray of float64

    References
    ----------
    Chambers, Mallows & Stuck (1976), "A method for simulating stable random variables", JASA 71,
    340–344.

    Examples
    --------
    >>> x = sample_symmetric_stable(2.0, 100_000, generator=np.random.default_rng(0))
    >>> round(float(x.var()), 1)
    2.0
    """
    alpha = float(alpha)
    if not 0.0 < alpha <= 2.0:
        raise ValueError(f"alpha must be in (0, 2], got {alpha}")
    generator = numpy_generator(generator)
    v = generator.uniform(-np.pi / 2, np.pi / 2, size)
    w = generator.standard_exponential(size)
    return np.sin(alpha * v) / np.cos(v) ** (1 / alpha) * (np.cos((1 - alpha) * v) / w) ** ((1 - alpha) / alpha)


def running_variance(samples, axis: int = -1) -> np.ndarray:
    r"""The sample variance of the first :math:`n` samples, for every :math:`n = 2, \dots, K`.

    :math:`s_n^2 = \frac{1}{n-1}\sum_{j\le n}(x_j - \bar x_n)^2`, by cumulative sums in float64.
    For a finite-variance sample it settles at :math:`\operatorname{Var}X`; for an
    infinite-variance one it keeps jumping up with every new extreme value.

    Parameters
    ----------
    samples : array_like, shape (..., K)
    axis : int
        The sample axis.

    Returns
    -------
    numpy.ndarray, shape (..., K - 1)
        Entry ``n - 2`` is :math:`s_n^2`.

    Examples
    --------
    >>> running_variance([1.0, 3.0, 5.0]).tolist()
    [2.0, 4.0]
    """
    x = np.moveaxis(np.asarray(samples, dtype=float), axis, -1)
    if x.shape[-1] < 2:
        raise ValueError(f"samples must have at least 2 values along axis, got {x.shape[-1]}")
    check_finite("samples", x)
    n = np.arange(1, x.shape[-1] + 1)
    s1, s2 = np.cumsum(x, -1), np.cumsum(x * x, -1)
    var = (s2 - s1 ** 2 / n) / np.maximum(n - 1, 1)
    return np.moveaxis(np.maximum(var[..., 1:], 0.0), -1, axis)
