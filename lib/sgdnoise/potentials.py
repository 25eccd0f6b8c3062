r"""Potentials (loss landscapes) for particle simulations: value, gradient and Hessian.

Every potential acts on an ensemble of particles: an array ``w`` of shape ``(n, d)`` (a
``torch.Tensor`` or a ``numpy.ndarray``; the result has the same type, dtype and device) and
returns

* ``value(w)`` — shape ``(n,)``, the potential :math:`U(w)`;
* ``grad(w, out=None)`` — shape ``(n, d)``, :math:`\nabla U(w)` (written into ``out`` when given,
  without allocating: the hot path of the integrators in :mod:`sgdnoise.langevin`);
* ``hessian(w)`` — shape ``(n, d, d)``, :math:`\nabla^2 U(w)`.

``step_(w, scale, buf, increment)`` performs the in-place step :math:`w \leftarrow w - s\,\nabla U(w) + \text{increment}`
(``buf`` is scratch space of ``w``'s shape); subclasses may override it with fused operations.

=========================  =================================================================
:class:`Quadratic`         :math:`\tfrac12 (w-c)^\top H (w-c)`, any dimension
:class:`DoubleWell`        :math:`h\,(w^2-1)^2 + \text{tilt}\cdot w`, 1-D (tilted when tilt ≠ 0)
:class:`SharpFlatWells`    two wells of equal depth and different curvature, 1-D
:class:`StrictSaddle`      :math:`(a x^2 - \gamma y^2)/2`, 2-D
:class:`CurvedDoubleWell`  a 2-D double well with a curved valley, for pictures
=========================  =================================================================
"""

from __future__ import annotations

import numpy as np
import torch

from ._validate import check_positive_float

Array = torch.Tensor | np.ndarray


def _check_state(w: Array, dim: int) -> None:
    if w.ndim != 2 or w.shape[1] != dim:
        raise ValueError(f"w must have shape (n, {dim}), got {tuple(w.shape)}")


def _zeros_like(w: Array, shape: tuple[int, ...]) -> Array:
    if isinstance(w, torch.Tensor):
        return torch.zeros(shape, dtype=w.dtype, device=w.device)
    return np.zeros(shape, dtype=w.dtype)


class Potential:
    """Base class: a potential on :math:`\\mathbb R^d` evaluated on ``(n, d)`` ensembles."""

    dim: int = 1

    def value(self, w: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, w: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def hessian(self, w: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def grad(self, w: Array, out: Array | None = None) -> Array:
        """:math:`\\nabla U(w)`, shape ``(n, d)``; written into ``out`` when given."""
        _check_state(w, self.dim)
        g = self._grad(w)
        if out is None:
            return g
        out[...] = g
        return out

    def step_(self, w: torch.Tensor, scale: float, buf: torch.Tensor,
              increment: torch.Tensor | None = None) -> torch.Tensor:
        """In place, :math:`w \\leftarrow w - \\text{scale}\\cdot\\nabla U(w) + \\text{increment}`.

        ``buf`` is scratch space of ``w``'s shape; ``increment`` (e.g. the noise) may be None.
        """
        self.grad(w, out=buf)
        w.add_(buf, alpha=-scale)
        return w if increment is None else w.add_(increment)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Quadratic(Potential):
    r"""The quadratic :math:`U(w) = \tfrac12 (w-c)^\top H (w-c)` in any dimension.

    Parameters
    ----------
    hessian : array_like, shape (d, d) or scalar
        Symmetric matrix :math:`H` (a scalar means the 1-D curvature :math:`h`).
    center : array_like, shape (d,), optional
        The stationary point :math:`c` (default 0).

    Examples
    --------
    >>> q = Quadratic([[2.0, 0.0], [0.0, 0.5]])
    >>> q.value(np.array([[1.0, 2.0]])).tolist(), q.grad(np.array([[1.0, 2.0]])).tolist()
    ([2.0], [[2.0, 1.0]])
    """

    def __init__(self, hessian, center=None):
        H = np.atleast_2d(np.asarray(hessian, dtype=np.float64))
        if H.shape[0] != H.shape[1] or not np.allclose(H, H.T) or not np.isfinite(H).all():
            raise ValueError(f"hessian must be a finite symmetric (d, d) matrix, got {H.tolist()}")
        self.H = H
        self.dim = H.shape[0]
        c = np.zeros(self.dim) if center is None else np.asarray(center, dtype=np.float64).reshape(-1)
        if c.shape != (self.dim,):
            raise ValueError(f"center must have shape ({self.dim},), got {c.shape}")
        self.center = c
        self._cache: dict = {}

    def _as(self, w: Array, name: str) -> Array:
        a = getattr(self, name)
        if not isinstance(w, torch.Tensor):
            return a.astype(w.dtype, copy=False)
        key = (name, w.dtype, w.device)
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(a, dtype=w.dtype, device=w.device)
        return self._cache[key]

    def value(self, w: Array) -> Array:
        _check_state(w, self.dim)
        x = w - self._as(w, "center")
        return 0.5 * ((x @ self._as(w, "H")) * x).sum(1)

    def _grad(self, w: Array) -> Array:
        return (w - self._as(w, "center")) @ self._as(w, "H")

    def hessian(self, w: Array) -> Array:
        _check_state(w, self.dim)
        H = self._as(w, "H")
        return H[None].repeat(w.shape[0], 1, 1) if isinstance(w, torch.Tensor) else np.repeat(H[None], w.shape[0], 0)


class DoubleWell(Potential):
    r"""The 1-D double well :math:`U(w) = h\,(w^2 - 1)^2 + \text{tilt}\cdot w`.

    Untilted, the minima are at :math:`w = \pm 1` with :math:`U''(\pm1) = 8h`, the barrier top at
    :math:`w = 0` with :math:`U''(0) = -4h` and barrier height :math:`\Delta U = h`. A tilt makes
    the wells unequal; :meth:`critical_points` finds them.

    Parameters
    ----------
    height : float
        :math:`h > 0` (the barrier height of the untilted well).
    tilt : float
        Linear tilt; :math:`|\text{tilt}| < 8h/(3\sqrt3)` keeps two minima.

    Examples
    --------
    >>> u = DoubleWell()
    >>> u.value(np.array([[0.0], [1.0]])).tolist(), float(u.hessian(np.array([[1.0]]))[0, 0, 0])
    ([1.0, 0.0], 8.0)
    """

    dim = 1

    def __init__(self, height: float = 1.0, tilt: float = 0.0):
        self.height = check_positive_float("height", height)
        self.tilt = float(tilt)
        self._one_plus_c = (None, None)
        limit = 8 * self.height / (3 * np.sqrt(3))
        if not abs(self.tilt) < limit:
            raise ValueError(f"tilt must be in (-{limit:.4g}, {limit:.4g}) for two minima, got {tilt}")

    def value(self, w: Array) -> Array:
        _check_state(w, 1)
        x = w[:, 0]
        return self.height * (x * x - 1) ** 2 + self.tilt * x

    def _grad(self, w: Array) -> Array:
        return 4 * self.height * w * (w * w - 1) + self.tilt

    def grad(self, w: Array, out: Array | None = None) -> Array:
        if out is None or not isinstance(w, torch.Tensor):
            return super().grad(w, out)
        _check_state(w, 1)
        torch.mul(w, w, out=out)
        out.sub_(1.0).mul_(w).mul_(4 * self.height)
        return out.add_(self.tilt) if self.tilt else out

    def step_(self, w: torch.Tensor, scale: float, buf: torch.Tensor,
              increment: torch.Tensor | None = None) -> torch.Tensor:
        # w - s (4h w (w^2 - 1) + tilt) + increment = increment + w (1 + c - c w^2) - s tilt, c = 4hs:
        # two fused passes over memory (addcmul with a 0-d tensor as its first operand).
        c = 4 * self.height * scale
        key = (w.dtype, w.device, c)
        if self._one_plus_c[0] != key:
            self._one_plus_c = (key, torch.tensor(1.0 + c, dtype=w.dtype, device=w.device))
        torch.addcmul(self._one_plus_c[1], w, w, value=-c, out=buf)
        if increment is None:
            w.mul_(buf)
        else:
            torch.addcmul(increment, w, buf, out=w)
        return w.sub_(scale * self.tilt) if self.tilt else w

    def hessian(self, w: Array) -> Array:
        _check_state(w, 1)
        return (self.height * (12 * w * w - 4))[:, :, None]

    def critical_points(self) -> tuple[float, float, float]:
        """``(left minimum, barrier top, right minimum)``: the real roots of :math:`U'(w) = 0`, sorted."""
        roots = np.roots([4 * self.height, 0.0, -4 * self.height, self.tilt])
        return tuple(float(r) for r in np.sort(roots.real))


class SharpFlatWells(Potential):
    r"""Two wells of equal depth :math:`\Delta U` and different curvature, 1-D.

    Piecewise quartic, continuously differentiable, with the barrier top at :math:`w = 0`:

    .. math::

        U(w) = \Delta U\,\big((w/a_\pm)^2 - 1\big)^2, \qquad a_\pm = \sqrt{8\Delta U / h_\pm},

    using :math:`a_-` for :math:`w < 0` (the left well, curvature :math:`h_-` at :math:`w = -a_-`)
    and :math:`a_+` for :math:`w \ge 0` (curvature :math:`h_+` at :math:`w = a_+`). On each side the
    barrier curvature is :math:`U''(0^\pm) = -h_\pm/2`.

    Parameters
    ----------
    depth : float
        :math:`\Delta U > 0`.
    curvature_left, curvature_right : float
        :math:`h_-, h_+ > 0`: the Hessians at the two minima.

    Examples
    --------
    >>> u = SharpFlatWells(depth=0.5, curvature_left=16.0, curvature_right=4.0)
    >>> u.minima
    (-0.5, 1.0)
    >>> u.hessian(np.array([[-0.5], [1.0]]))[:, 0, 0].tolist(), u.value(np.array([[0.0]])).tolist()
    ([16.0, 4.0], [0.5])
    """

    dim = 1

    def __init__(self, depth: float = 1.0, curvature_left: float = 16.0, curvature_right: float = 4.0):
        self.depth = check_positive_float("depth", depth)
        self.curvature_left = check_positive_float("curvature_left", curvature_left)
        self.curvature_right = check_positive_float("curvature_right", curvature_right)
        self.minima = (-float(np.sqrt(8 * self.depth / self.curvature_left)),
                       float(np.sqrt(8 * self.depth / self.curvature_right)))

    def _scale(self, w: Array) -> Array:
        a_left, a_right = -self.minima[0], self.minima[1]
        if isinstance(w, torch.Tensor):
            return torch.where(w < 0, a_left, a_right).to(w.dtype)
        return np.where(w < 0, a_left, a_right).astype(w.dtype)

    def value(self, w: Array) -> Array:
        _check_state(w, 1)
        z = (w / self._scale(w))[:, 0]
        return self.depth * (z * z - 1) ** 2

    def _grad(self, w: Array) -> Array:
        a = self._scale(w)
        z = w / a
        return 4 * self.depth * z * (z * z - 1) / a

    def hessian(self, w: Array) -> Array:
        _check_state(w, 1)
        a = self._scale(w)
        z = w / a
        return (self.depth * (12 * z * z - 4) / (a * a))[:, :, None]

    def basin_hessian(self, w: Array) -> Array:
        """The Hessian at the minimum of the basin that holds each particle, shape ``(n, 1, 1)``.

        :math:`h_-` for :math:`w < 0`, :math:`h_+` otherwise: a model of SGD noise whose covariance
        is the Hessian of the nearby minimum (:math:`C \\approx H_a`).
        """
        _check_state(w, 1)
        if isinstance(w, torch.Tensor):
            h = torch.where(w < 0, self.curvature_left, self.curvature_right).to(w.dtype)
        else:
            h = np.where(w < 0, self.curvature_left, self.curvature_right).astype(w.dtype)
        return h[:, :, None]


class StrictSaddle(Potential):
    r"""The strict saddle :math:`U(x, y) = (a x^2 - \gamma y^2)/2` (unbounded below along :math:`y`).

    Parameters
    ----------
    a : float
        Positive curvature along :math:`x`.
    gamma : float
        :math:`\gamma > 0`: minus the curvature along :math:`y` (the escape direction).

    Examples
    --------
    >>> StrictSaddle(1.0, 0.5).grad(np.array([[1.0, 1.0]])).tolist()
    [[1.0, -0.5]]
    """

    dim = 2

    def __init__(self, a: float = 1.0, gamma: float = 1.0):
        self.a = check_positive_float("a", a)
        self.gamma = check_positive_float("gamma", gamma)

    def value(self, w: Array) -> Array:
        _check_state(w, 2)
        return 0.5 * (self.a * w[:, 0] ** 2 - self.gamma * w[:, 1] ** 2)

    def _grad(self, w: Array) -> Array:
        g = w * 1.0
        g[:, 0] *= self.a
        g[:, 1] *= -self.gamma
        return g

    def hessian(self, w: Array) -> Array:
        _check_state(w, 2)
        h = _zeros_like(w, (w.shape[0], 2, 2))
        h[:, 0, 0] = self.a
        h[:, 1, 1] = -self.gamma
        return h


class CurvedDoubleWell(Potential):
    r"""A 2-D double well with a curved valley, for pictures.

    .. math::

        U(x, y) = (x^2 - 1)^2 + \tfrac{\kappa}{2}\,\big(y - \beta (x^2 - 1)\big)^2 .

    Minima at :math:`(\pm 1, 0)`, a saddle at :math:`(0, -\beta)` with :math:`U = 1`; the valley
    joining them bends along :math:`y = \beta(x^2 - 1)`.

    Parameters
    ----------
    kappa : float
        Stiffness across the valley, > 0.
    bend : float
        :math:`\beta`, how far the valley bends.

    Examples
    --------
    >>> u = CurvedDoubleWell()
    >>> u.value(np.array([[1.0, 0.0], [0.0, -u.bend]])).tolist()
    [0.0, 1.0]
    """

    dim = 2

    def __init__(self, kappa: float = 4.0, bend: float = 0.5):
        self.kappa = check_positive_float("kappa", kappa)
        self.bend = float(bend)

    def value(self, w: Array) -> Array:
        _check_state(w, 2)
        x, y = w[:, 0], w[:, 1]
        r = y - self.bend * (x * x - 1)
        return (x * x - 1) ** 2 + 0.5 * self.kappa * r * r

    def _grad(self, w: Array) -> Array:
        x, y = w[:, 0], w[:, 1]
        r = y - self.bend * (x * x - 1)
        g = w * 0.0
        g[:, 0] = 4 * x * (x * x - 1) - 2 * self.kappa * self.bend * x * r
        g[:, 1] = self.kappa * r
        return g

    def hessian(self, w: Array) -> Array:
        _check_state(w, 2)
        x, y = w[:, 0], w[:, 1]
        r = y - self.bend * (x * x - 1)
        k, b = self.kappa, self.bend
        h = _zeros_like(w, (w.shape[0], 2, 2))
        h[:, 0, 0] = 12 * x * x - 4 - 2 * k * b * r + 4 * k * b * b * x * x
        h[:, 0, 1] = h[:, 1, 0] = -2 * k * b * x
        h[:, 1, 1] = k
        return h
