r"""The finite-precision noise floor: the gradient that rounding alone produces.

* :func:`precision_floor` — the norm of the least-squares gradient at the exact optimum, evaluated
  in a given floating-point format: below it no gradient measurement in that precision can go;
* :func:`input_rounding_floor` — the distribution of its input-rounding part, in the statistical
  model of rounding (independent errors uniform on ±½ ulp).

References: Higham (2002), *Accuracy and Stability of Numerical Algorithms*, §2.8 and §3.
"""

from __future__ import annotations

import numpy as np
import torch

from ._validate import check_positive_int, torch_generator
from .data import RegressionProblem


def precision_floor(problem: RegressionProblem, dtype: torch.dtype) -> float:
    r"""Norm of the least-squares gradient at the exact optimum, evaluated in ``dtype``.

    At :math:`w^\star = (X^\top X)^{-1}X^\top y` the gradient of
    :math:`L(w) = \frac{1}{2n}\lVert Xw - y\rVert^2`, :math:`\nabla L = \frac1n X^\top(Xw - y)`,
    is zero. Computed with data and weights rounded to ``dtype`` it is not: what remains is a
    noise floor below which no gradient measurement in that precision can go. To first order in
    the unit roundoff :math:`u = \varepsilon_{\rm mach}/2` it is
    :math:`H\,\delta w + \frac1n[\delta X^\top r + X^\top\delta X\,w - X^\top\delta y]` plus the
    rounding inside the two products (:math:`H = X^\top X/n`, :math:`r` the exact residual). The
    rounding of the weights, :math:`\lVert H\delta w\rVert \sim u\lVert H\rVert\lVert w^\star\rVert`,
    does not average out over the examples; the data terms are sums of :math:`n` independent
    roundings and shrink like :math:`1/\sqrt n`. The floor is therefore of order
    :math:`u\,\lVert H\rVert\lVert w^\star\rVert`, below the crude bound
    :math:`\varepsilon\,\lVert X\rVert_F\lVert y\rVert/n` (for rows of unit scale
    :math:`\varepsilon\sqrt d\,\lVert y\rVert/\sqrt n`, i.e. :math:`\varepsilon\sqrt d` times the
    r.m.s. label), and it does not grow with :math:`n`. :func:`input_rounding_floor` gives the
    distribution of its input-rounding part.

    Parameters
    ----------
    problem : RegressionProblem
        From :func:`sgdnoise.data.make_linear_regression` (its ``w_opt`` solved in float64).
    dtype : torch.dtype
        ``torch.float32``, ``torch.float64``, ``torch.float16`` or ``torch.bfloat16``.

    Returns
    -------
    float
        :math:`\lVert\nabla L(w^\star)\rVert` in that precision.

    References
    ----------
    Higham (2002), *Accuracy and Stability of Numerical Algorithms*, §3 (inner products).

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(500, 10, generator=np.random.default_rng(0), device="cpu")
    >>> bool(precision_floor(p, torch.float32) > 1e3 * precision_floor(p, torch.float64))
    True
    """
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype}")
    X, y, w = problem.X.to(dtype), problem.y.to(dtype), problem.w_opt.to(dtype)
    g = X.T @ (X @ w - y) / X.shape[0]
    return float(g.double().norm())


def _half_ulp(a: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Half the spacing of ``dtype`` at each entry of ``a`` (normal range), as ``a``'s dtype."""
    _, exponent = torch.frexp(a)                       # a = m 2^e, 0.5 <= |m| < 1
    return torch.ldexp(torch.full_like(a, torch.finfo(dtype).eps / 2), exponent - 1)


def input_rounding_floor(problem: RegressionProblem, dtype: torch.dtype, n_draws: int, *,
                         generator: torch.Generator | None = None) -> np.ndarray:
    r"""Gradient norms at the optimum when only the *inputs* are rounded, in a random-rounding model.

    Models the rounding of :math:`X`, :math:`y` and :math:`w^\star` to ``dtype`` as independent
    errors uniform on :math:`\pm\frac12\,\mathrm{ulp}` of each entry (the standard statistical
    model of round-to-nearest), and evaluates
    :math:`\frac1n (X+\delta X)^\top\big((X+\delta X)(w^\star+\delta w) - (y + \delta y)\big)` in
    float64, where the products themselves add no error. Its spread shows how far one rounding
    realization (:func:`precision_floor`) may fall from the typical size; the rounding inside the
    products, left out here, adds to it. Meaningless for ``float64`` (the inputs are already
    float64).

    Parameters
    ----------
    problem : RegressionProblem
        Data in float64, as from :func:`sgdnoise.data.make_linear_regression`.
    dtype : torch.dtype
        ``torch.float32``, ``torch.float16`` or ``torch.bfloat16``.
    n_draws : int
        Number of independent rounding-error draws, >= 1.
    generator : torch.Generator, optional
        On the problem's device; ``None``: a fresh one seeded from the operating system.

    Returns
    -------
    numpy.ndarray, shape (n_draws,)
        :math:`\lVert\nabla L\rVert` for each draw.

    References
    ----------
    Higham (2002), *Accuracy and Stability of Numerical Algorithms*, §2.8 (statistical rounding
    error analysis).

    Examples
    --------
    >>> from sgdnoise.data import make_linear_regression
    >>> p = make_linear_regression(500, 10, generator=np.random.default_rng(0), device="cpu")
    >>> draws = input_rounding_floor(p, torch.float32, 50, generator=torch.Generator().manual_seed(0))
    >>> bool(1e-9 < draws.mean() < 1e-6)
    True
    """
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
    n_draws = check_positive_int("n_draws", n_draws)
    if not isinstance(problem, RegressionProblem):
        raise ValueError(f"problem must be a RegressionProblem (make_linear_regression), got {type(problem).__name__}")
    generator = torch_generator(generator, problem.X, data="problem.X")
    X, y, w = (t.double() for t in (problem.X, problem.y, problem.w_opt))
    hx, hy, hw = (_half_ulp(t, dtype) for t in (X, y, w))

    def jitter(t, h):
        return t + (2 * torch.rand(t.shape, generator=generator, device=t.device, dtype=t.dtype) - 1) * h

    out = np.empty(n_draws)
    for k in range(n_draws):
        Xp = jitter(X, hx)
        out[k] = float((Xp.T @ (Xp @ jitter(w, hw) - jitter(y, hy)) / X.shape[0]).norm())
    return out
