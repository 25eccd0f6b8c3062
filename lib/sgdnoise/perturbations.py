r"""Perturbations that add gradient noise beyond mini-batch sampling, as switches on the same measurement.

* :func:`flip_labels` — label noise: a fraction of the training labels replaced by a different
  class, chosen with a generator (fixed once, as in a noisy dataset).
* :func:`augment_digits` — data augmentation for 8×8 digit images: a small random shift and
  rotation per example, drawn fresh on every call (``affine_grid`` + ``grid_sample``); pass it to
  :func:`sgdnoise.training.train_sgd` as ``transform``; :func:`augment_standardized` applies it
  to standardized images in raw pixel space.
* :class:`GeneratorDropout` — dropout with masks from an explicit generator (plain dropout is
  :class:`sgdnoise.models.MLP` with ``dropout > 0``, in training mode).

Their effect on Σ is measured with :mod:`sgdnoise.covariance`; the noise floor of finite
precision is in :mod:`sgdnoise.precision`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._validate import (
    check_finite,
    check_generator,
    check_positive_float,
    check_positive_int,
    torch_generator,
)


def flip_labels(y: torch.Tensor, fraction: float, n_classes: int, *,
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
        On ``y``'s device; ``None``: a fresh one seeded from the operating system.

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
    >>> int((flip_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(0)) != y).sum())
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
    generator = torch_generator(generator, y, data="y")
    idx = torch.randperm(n, generator=generator, device=y.device)[:m]
    shift = torch.randint(1, n_classes, (m,), generator=generator, device=y.device)
    out = y.clone()
    out[idx] = (y[idx] + shift) % n_classes
    return out


def augment_digits(X: torch.Tensor, max_shift: float = 1.0, max_rotation: float = 15.0, *,
                   generator: torch.Generator | None = None, side: int = 8, padding: str = "border") -> torch.Tensor:
    r"""Randomly shift and rotate flattened ``side × side`` images, independently per example.

    Each image is rotated by an angle uniform in :math:`[-\theta, \theta]` degrees about its
    centre and shifted by offsets uniform in :math:`[-s, s]` pixels along each axis, with bilinear
    interpolation (``torch.nn.functional.affine_grid`` + ``grid_sample``); pixels that come from
    outside the image take the value of the nearest border pixel (``padding="border"``) or 0
    (``padding="zeros"``). ``max_shift = max_rotation = 0`` returns ``X`` unchanged (up to
    rounding). Apply it to *raw* intensities, whose background is 0, with ``padding="zeros"``,
    and standardize afterwards (:func:`augment_standardized`): on
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
        On ``X``'s device; ``None``: a fresh one seeded from the operating system.
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
    generator = torch_generator(generator, X, data="X")
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


def augment_standardized(X: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                         generator: torch.Generator | None = None, max_shift: float = 1.0,
                         max_rotation: float = 15.0, side: int = 8) -> torch.Tensor:
    r"""Augment standardized images in raw pixel space: un-standardize, shift and rotate, standardize.

    .. math::  x' = \big(A_\theta(s \odot z + \mu) - \mu\big) / s,

    where :math:`z` is a standardized image, :math:`\mu, s` the training statistics
    (:func:`sgdnoise.data.feature_statistics`) and :math:`A_\theta` the random shift and rotation of
    :func:`augment_digits` with zero padding (the raw background).
    Augmenting the standardized pixels directly would move a value scaled by one pixel's
    statistics onto another pixel, and a blank border would not stay blank.

    Parameters
    ----------
    X : torch.Tensor, shape (N, side²)
        Standardized images.
    mean, std : torch.Tensor, shape (side²,)
        The statistics they were standardized with (``std > 0``).
    generator : torch.Generator, optional
        On ``X``'s device.
    max_shift, max_rotation, side
        As in :func:`augment_digits`.

    Returns
    -------
    torch.Tensor, shape (N, side²)

    References
    ----------
    Simard, Steinkraus & Platt (2003), ICDAR; LeCun, Bottou, Orr & Müller (1998), §4.3.

    Examples
    --------
    >>> raw = torch.zeros(2, 64); raw[0, 27] = 16.0
    >>> mean, std = raw.mean(0), torch.full((64,), 2.0)
    >>> z = (raw - mean) / std
    >>> out = augment_standardized(z, mean, std, torch.Generator().manual_seed(0))
    >>> bool(torch.equal(out[1], z[1]))   # a blank image stays blank
    True
    """
    if mean.shape != (X.shape[-1],) or std.shape != (X.shape[-1],):
        raise ValueError(f"mean and std must have shape ({X.shape[-1]},), got {tuple(mean.shape)}, {tuple(std.shape)}")
    if not bool((std > 0).all()):
        raise ValueError("std must be > 0 everywhere")
    raw = augment_digits(X * std + mean, max_shift, max_rotation, generator=generator, side=side, padding="zeros")
    return (raw - mean) / std


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
    >>> d = GeneratorDropout(0.5, generator=torch.Generator().manual_seed(0))
    >>> sorted(set(d(torch.ones(100)).tolist()))
    [0.0, 2.0]
    >>> d.eval()(torch.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float, *, generator: torch.Generator):
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
