r"""Sources of gradient noise other than mini-batch sampling, as switches on the same measurement.

* :func:`flip_labels` — label noise: a fraction of the training labels replaced by a different
  class, chosen with a generator (fixed once, as in a noisy dataset).
* :func:`augment_digits` — data augmentation for 8×8 digit images: a small random shift and
  rotation per example, drawn fresh on every call (``affine_grid`` + ``grid_sample``); pass it to
  :func:`sgdnoise.training.train_sgd` as ``transform``.
* dropout — :class:`sgdnoise.models.MLP` with ``dropout > 0``, in training mode.
* :func:`precision_floor` — the finite-precision "noise floor": the gradient that rounding alone
  produces at a point where the exact gradient is zero.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_finite, check_positive_float, check_positive_int
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
    idx = torch.randperm(n, generator=generator, device=y.device)[:m]
    shift = torch.randint(1, n_classes, (m,), generator=generator, device=y.device)
    out = y.clone()
    out[idx] = (y[idx] + shift) % n_classes
    return out


def augment_digits(X: torch.Tensor, max_shift: float = 1.0, max_rotation: float = 15.0,
                   generator: torch.Generator | None = None, side: int = 8) -> torch.Tensor:
    r"""Randomly shift and rotate flattened ``side × side`` images, independently per example.

    Each image is rotated by an angle uniform in :math:`[-\theta, \theta]` degrees about its
    centre and shifted by offsets uniform in :math:`[-s, s]` pixels along each axis, with bilinear
    interpolation (``torch.nn.functional.affine_grid`` + ``grid_sample``); pixels that come from
    outside the image take the value of the nearest border pixel (``padding_mode="border"``), so
    standardized backgrounds stay background. ``max_shift = max_rotation = 0`` returns ``X``
    unchanged (up to rounding).

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

    Returns
    -------
    torch.Tensor, shape (N, side²)

    References
    ----------
    Simard, Steinkraus & Platt (2003), "Best practices for convolutional neural networks applied
    to visual document analysis", ICDAR.

    Examples
    --------
    >>> X = torch.randn(3, 64)
    >>> bool(torch.allclose(augment_digits(X, 0.0, 0.0), X, atol=1e-5))
    True
    """
    max_shift = check_positive_float("max_shift", max_shift, allow_zero=True)
    max_rotation = check_positive_float("max_rotation", max_rotation, allow_zero=True)
    side = check_positive_int("side", side)
    if X.ndim != 2 or X.shape[1] != side * side:
        raise ValueError(f"X must have shape (N, {side * side}), got {tuple(X.shape)}")
    check_finite("X", X)
    n = X.shape[0]
    u = torch.rand(n, 3, generator=generator, device=X.device, dtype=X.dtype) * 2 - 1
    angle = u[:, 0] * math.radians(max_rotation)
    # affine_grid works in normalized coordinates [-1, 1] (align_corners=False): one pixel is 2/side.
    shift = u[:, 1:] * max_shift * 2.0 / side
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    img = X.reshape(n, 1, side, side)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(n, side * side)


def precision_floor(problem: RegressionProblem, dtype: torch.dtype) -> float:
    r"""Norm of the least-squares gradient at the exact optimum, evaluated in ``dtype``.

    At :math:`w^\star = (X^\top X)^{-1}X^\top y` the gradient of
    :math:`L(w) = \frac{1}{2n}\lVert Xw - y\rVert^2`, :math:`\nabla L = \frac1n X^\top(Xw - y)`,
    is zero. Computed with data and weights rounded to ``dtype`` it is not: what remains,
    of order :math:`\varepsilon_{\rm mach}\,\lVert X\rVert\,\lVert y\rVert/\sqrt n` in size, is a noise floor
    below which no gradient measurement in that precision can go.

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
