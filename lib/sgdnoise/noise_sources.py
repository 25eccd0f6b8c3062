r"""Sources of gradient noise other than mini-batch sampling, as switches on the same measurement.

* :func:`flip_labels` — label noise: a fraction of the training labels replaced by a different
  class, chosen with a generator (fixed once, as in a noisy dataset).
* :func:`augment_digits` — data augmentation for 8×8 digit images: a small random shift and
  rotation per example, drawn fresh on every call (``affine_grid`` + ``grid_sample``); pass it to
  :func:`sgdnoise.training.train_sgd` as ``transform``.
* dropout — :class:`sgdnoise.models.MLP` with ``dropout > 0``, in training mode.
* :class:`GeneratorDropout` — dropout with masks from an explicit generator.
* :func:`precision_floor` — the finite-precision "noise floor": the gradient that rounding alone
  produces at a point where the exact gradient is zero; :func:`input_rounding_floor` — its
  input-rounding part in the statistical model of rounding.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_finite, check_generator, check_positive_float, check_positive_int
from .data import RegressionProblem


def flip_labels(y: torch.Tensor, fraction: float, n_classes: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Replace ``round(fraction·N)`` labels, chosen at random, by a uniformly random *other* class.

    Parameters
    ----------
    y : torch.Tensor, shape (N,), int64
        Class labels in ``[0, n_classes)``.
    fraction : float
        Fraction of labels to corrupt, in [0, 1].
    n_classes : int
        ``>= 2``.
    generator : torch.Generator, optional
        On ``y``'s device.

    Returns
    -------
    torch.Tensor, shape (N,)
        A new tensor; exactly ``round(fraction·N)`` entries differ from ``y``.

    References
    ----------
    Zhang, Bengio, Hardt, Recht & Vinyals (2017), "Understanding deep learning requires rethinking
    generalization", ICLR (label-corruption experiments).

    Examples
    --------
    >>> y = torch.zeros(10, dtype=torch.int64)
    >>> int((flip_labels(y, 0.3, 10, torch.Generator().manual_seed(0)) != y).sum())
    3
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    if y.ndim != 1 or y.dtype != torch.int64:
        raise ValueError("y must be an int64 tensor of shape (N,)")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"y must lie in [0, n_classes) = [0, {n_classes})")
    n = y.shape[0]
    m = int(round(fraction * n))
    check_generator(generator, y, data="y")
    idx = torch.randperm(n, generator=generator, device=y.device)[:m]
    shift = torch.randint(1, n_classes, (m,), generator=generator, device=y.device)
    out = y.clone()
    out[idx] = (y[idx] + shift) % n_classes
    return out


def augment_digits(X: torch.Tensor, max_shift: float = 1.0, max_rotation: float = 15.0,
                   generator: torch.Generator | None = None, side: int = 8, padding: str = "border") -> torch.Tensor:
    r"""Randomly shift and rotate flattened ``side × side`` images, independently per example.

    Each image is rotated by an angle uniform in :math:`[-\theta, \theta]` degrees about its
    centre and shifted by offsets uniform in :math:`[-s, s]` pixels along each axis, with bilinear
    interpolation (``torch.nn.functional.affine_grid`` + ``grid_sample``); pixels that come from
    outside the image take the value of the nearest border pixel (``padding="border"``) or 0
    (``padding="zeros"``). ``max_shift = max_rotation = 0`` returns ``X`` unchanged (up to
    rounding). Apply it to *raw* intensities, whose background is 0, with ``padding="zeros"``,
    and standardize afterwards (:func:`sgdnoise.data.augment_standardized`): on
    pixel-by-pixel standardized images a value scaled by one pixel's statistics would land at
    another pixel, and the background would not stay background.

    Parameters
    ----------
    X : torch.Tensor, shape (N, side²)
    max_shift : float
        :math:`s` in pixels, >= 0.
    max_rotation : float
        :math:`\theta` in degrees, >= 0.
    generator : torch.Generator, optional
        On ``X``'s device.
    side : int
        Image side (8 for scikit-learn's digits).
    padding : {"border", "zeros"}
        Value of pixels that come from outside the image (``grid_sample``'s ``padding_mode``).

    Returns
    -------
    torch.Tensor, shape (N, side²)

    References
    ----------
    Simard, Steinkraus & Platt (2003), "Best practices for convolutional neural networks applied
    to visual document analysis", ICDAR.

    Examples
    --------
    >>> X = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(augment_digits(X, 0.0, 0.0, generator=torch.Generator().manual_seed(1)), X, atol=1e-5))
    True
    """
    max_shift = check_positive_float("max_shift", max_shift, allow_zero=True)
    max_rotation = check_positive_float("max_rotation", max_rotation, allow_zero=True)
    side = check_positive_int("side", side)
    if padding not in ("border", "zeros"):
        raise ValueError(f"padding must be 'border' or 'zeros', got {padding!r}")
    if X.ndim != 2 or X.shape[1] != side * side:
        raise ValueError(f"X must have shape (N, {side * side}), got {tuple(X.shape)}")
    check_finite("X", X)
    n = X.shape[0]
    check_generator(generator, X, data="X")
    u = torch.rand(n, 3, generator=generator, device=X.device, dtype=X.dtype) * 2 - 1
    angle = u[:, 0] * math.radians(max_rotation)
    # affine_grid works in normalized coordinates [-1, 1] (align_corners=False): one pixel is 2/side.
    shift = u[:, 1:] * max_shift * 2.0 / side
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    img = X.reshape(n, 1, side, side)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return out.reshape(n, side * side)


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
    >>> p = make_linear_regression(500, 10, device="cpu")
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


def input_rounding_floor(problem: RegressionProblem, dtype: torch.dtype, n_draws: int,
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
        On the problem's device.

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
    >>> p = make_linear_regression(500, 10, device="cpu")
    >>> draws = input_rounding_floor(p, torch.float32, 50, torch.Generator().manual_seed(0))
    >>> bool(1e-9 < draws.mean() < 1e-6)
    True
    """
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
    n_draws = check_positive_int("n_draws", n_draws)
    if not isinstance(problem, RegressionProblem):
        raise ValueError(f"problem must be a RegressionProblem (make_linear_regression), got {type(problem).__name__}")
    check_generator(generator, problem.X, data="problem.X")
    X, y, w = (t.double() for t in (problem.X, problem.y, problem.w_opt))
    hx, hy, hw = (_half_ulp(t, dtype) for t in (X, y, w))

    def jitter(t, h):
        return t + (2 * torch.rand(t.shape, generator=generator, device=t.device, dtype=t.dtype) - 1) * h

    out = np.empty(n_draws)
    for k in range(n_draws):
        Xp = jitter(X, hx)
        out[k] = float((Xp.T @ (Xp @ jitter(w, hw) - jitter(y, hy)) / X.shape[0]).norm())
    return out


class GeneratorDropout(torch.nn.Module):
    r"""Dropout whose masks come from an explicit ``torch.Generator`` (``nn.Dropout`` uses the global one).

    In training mode each entry is kept with probability :math:`1 - p` and scaled by
    :math:`1/(1 - p)` (inverted dropout, as ``nn.Dropout``); in eval mode the identity. Masks are
    drawn independently for every entry, hence for every example of a batch.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    generator : torch.Generator
        On the device of the inputs; the same seed gives the same masks.

    References
    ----------
    Srivastava et al. (2014), "Dropout: a simple way to prevent neural networks from overfitting",
    JMLR 15.

    Examples
    --------
    >>> d = GeneratorDropout(0.5, torch.Generator().manual_seed(0))
    >>> sorted(set(d(torch.ones(100)).tolist()))
    [0.0, 2.0]
    >>> d.eval()(torch.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
        if not isinstance(generator, torch.Generator):
            raise ValueError("generator must be a torch.Generator")
        self.p, self.generator = float(p), generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        check_generator(self.generator, x, data="the input x")
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)
