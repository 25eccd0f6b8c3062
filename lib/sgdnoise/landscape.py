r"""Slices of the loss landscape, and a reparametrization that changes sharpness but not the function.

* :func:`filter_normalized_direction` — a random direction in weight space scaled filter by filter
  to the weights' own sizes (Li et al. 2018), so that slices of different networks are comparable;
* :func:`loss_along_direction`, :func:`loss_interpolation`, :func:`loss_plane` — the training loss
  on a line :math:`w_0 + \alpha\,\delta`, on the segment between two solutions, and on a plane
  :math:`w_0 + \alpha\,\delta_1 + \beta\,\delta_2`, evaluated for many points in one vectorized
  pass (``torch.func.vmap`` over weight vectors);
* :func:`rescale_relu_layers`, :func:`rescaling_factors` — multiply one layer by :math:`\alpha`
  and the next by :math:`1/\alpha` across a ReLU: the same function, a Hessian
  :math:`D^{-1} H D^{-1}`, hence any sharpness one likes (Dinh et al. 2017).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, vmap

from ._validate import check_bool, check_finite, check_positive_float, check_positive_int, torch_generator
from .gradients import LossFn, _check_data


def _named_trainable(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [(k, v) for k, v in model.named_parameters() if v.requires_grad]


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([v.detach().reshape(-1) for _, v in _named_trainable(model)])


def _check_vector(name: str, v: torch.Tensor, d: int) -> None:
    if not isinstance(v, torch.Tensor) or v.ndim != 1 or v.numel() != d:
        shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(f"{name} must be a vector of length d = {d}, got {shape}")
    check_finite(name, v)


def filter_normalized_direction(model: nn.Module, *, generator: torch.Generator | None = None,
                                zero_bias: bool = True) -> torch.Tensor:
    r"""A random Gaussian direction with every filter rescaled to the norm of the model's filter.

    For a weight tensor of shape ``(out, ...)``, each filter (row) :math:`i` of the Gaussian
    direction :math:`\delta` is rescaled:
    :math:`\delta_i \leftarrow \delta_i\,\lVert w_i\rVert / \lVert\delta_i\rVert`. One-dimensional
    parameters (biases) are set to zero (``zero_bias=True``, as Li et al. do) or rescaled as one
    filter. A step :math:`\alpha = 1` along :math:`\delta` thus perturbs every unit by about its
    own size, whatever the layer's scale — without it, the scale symmetry of ReLU networks makes
    slices of different networks incomparable.

    Parameters
    ----------
    model : nn.Module
    generator : torch.Generator, optional
        On the model's device; ``None``: a fresh generator seeded from the OS's entropy.
    zero_bias : bool

    Returns
    -------
    torch.Tensor, shape (d,)
        In the order of :func:`sgdnoise.models.get_flat_params`.

    References
    ----------
    Li, Xu, Taylor, Studer & Goldstein (2018), "Visualizing the loss landscape of neural nets",
    NeurIPS.

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))       # weights seeded, W (2, 3) then b (2,)
    >>> delta = filter_normalized_direction(m, generator=torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(delta[:6].view(2, 3).norm(dim=1), m.linear.weight.detach().norm(dim=1))), delta[6:].tolist()
    (True, [0.0, 0.0])
    """
    zero_bias = check_bool("zero_bias", zero_bias)
    named = _named_trainable(model)
    if not named:
        raise ValueError("model must have at least one trainable parameter")
    generator = torch_generator(generator, named[0][1], data="the model")
    parts = []
    for _, p in named:
        w = p.detach()
        g = torch.randn(w.shape, generator=generator, dtype=w.dtype, device=w.device)
        if w.ndim <= 1:
            g = torch.zeros_like(w) if zero_bias else g * w.norm() / g.norm().clamp_min(1e-30)
        else:
            rows_w = w.reshape(w.shape[0], -1).norm(dim=1)
            rows_g = g.reshape(g.shape[0], -1).norm(dim=1).clamp_min(1e-30)
            g = g * (rows_w / rows_g).reshape(-1, *([1] * (w.ndim - 1)))
        parts.append(g.reshape(-1))
    return torch.cat(parts)


def losses_at(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, points: torch.Tensor,
              points_per_pass: int = 64) -> torch.Tensor:
    r"""The mean loss :math:`L(w_p)` at many flat weight vectors :math:`w_p`, vectorized.

    ``vmap`` of ``functional_call`` over the points, ``points_per_pass`` at a time; the model
    itself is not modified.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        Mean loss ``loss_fn(outputs, targets)``.
    X, y : torch.Tensor
    points : torch.Tensor, shape (P, d)
    points_per_pass : int

    Returns
    -------
    torch.Tensor, shape (P,), float64

    Examples
    --------
    >>> lin = torch.nn.Linear(1, 1, bias=False).double()
    >>> X, t = torch.ones(4, 1).double(), torch.zeros(4, 1).double()
    >>> losses_at(lin, torch.nn.functional.mse_loss, X, t, torch.tensor([[0.0], [2.0]]).double()).tolist()
    [0.0, 4.0]
    """
    _check_data(X, y, model)
    points_per_pass = check_positive_int("points_per_pass", points_per_pass)
    named = _named_trainable(model)
    d = sum(v.numel() for _, v in named)
    if not isinstance(points, torch.Tensor) or points.ndim != 2 or points.shape[1] != d:
        raise ValueError(f"points must have shape (P, d) with d = {d}, got "
                         f"{tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__}")
    check_finite("points", points)
    buffers = dict(model.named_buffers())

    def loss_at(flat: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for name, v in named:
            params[name] = flat[i:i + v.numel()].view_as(v)
            i += v.numel()
        return loss_fn(functional_call(model, (params, buffers), (X,)), y)

    out = []
    with torch.no_grad():
        for s in range(0, points.shape[0], points_per_pass):
            out.append(vmap(loss_at)(points[s:s + points_per_pass]).double())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64, device=points.device)


def loss_along_direction(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         direction: torch.Tensor, alphas: torch.Tensor,
                         origin: torch.Tensor | None = None) -> torch.Tensor:
    r"""The 1-D slice :math:`\alpha \mapsto L(w_0 + \alpha\,\delta)`.

    Parameters
    ----------
    model, loss_fn, X, y
        As in :func:`losses_at`.
    direction : torch.Tensor, shape (d,)
        :math:`\delta`, e.g. from :func:`filter_normalized_direction`.
    alphas : torch.Tensor, shape (A,)
    origin : torch.Tensor, shape (d,), optional
        :math:`w_0`; default the model's current weights.

    Returns
    -------
    torch.Tensor, shape (A,), float64

    References
    ----------
    Goodfellow, Vinyals & Saxe (2015); Li et al. (2018).

    Examples
    --------
    >>> lin = torch.nn.Linear(1, 1, bias=False).double()
    >>> X, t = torch.ones(3, 1).double(), torch.ones(3, 1).double()
    >>> loss_along_direction(lin, torch.nn.functional.mse_loss, X, t, torch.ones(1).double(),
    ...                      torch.tensor([0.0, 1.0]).double(), origin=torch.zeros(1).double()).tolist()
    [1.0, 0.0]
    """
    d = _flat(model).numel()
    w0 = _flat(model) if origin is None else origin
    _check_vector("origin", w0, d)
    _check_vector("direction", direction, d)
    if not isinstance(alphas, torch.Tensor) or alphas.ndim != 1:
        raise ValueError("alphas must be a 1-D tensor")
    check_finite("alphas", alphas)
    a = alphas.to(dtype=w0.dtype, device=w0.device)
    return losses_at(model, loss_fn, X, y, w0[None, :] + a[:, None] * direction.to(w0)[None, :])


def loss_interpolation(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                       w_a: torch.Tensor, w_b: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    r"""The loss on the line through two solutions, :math:`L\big((1-\alpha)\,w_a + \alpha\,w_b\big)`.

    :math:`\alpha = 0` is :math:`w_a`, :math:`\alpha = 1` is :math:`w_b`; values outside
    :math:`[0, 1]` extrapolate (Goodfellow, Vinyals & Saxe 2015; Keskar et al. 2017, fig. 3).

    Parameters
    ----------
    model : nn.Module
        Supplies the architecture; its weights are not used or changed.
    w_a, w_b : torch.Tensor, shape (d,)
    alphas : torch.Tensor, shape (A,)

    Returns
    -------
    torch.Tensor, shape (A,), float64

    Examples
    --------
    >>> lin = torch.nn.Linear(1, 1, bias=False).double()
    >>> X, t = torch.ones(3, 1).double(), torch.zeros(3, 1).double()
    >>> loss_interpolation(lin, torch.nn.functional.mse_loss, X, t, torch.tensor([-1.0]).double(),
    ...                    torch.tensor([1.0]).double(), torch.tensor([0.0, 0.5, 1.0]).double()).tolist()
    [1.0, 0.0, 1.0]
    """
    d = _flat(model).numel()
    _check_vector("w_a", w_a, d)
    _check_vector("w_b", w_b, d)
    return loss_along_direction(model, loss_fn, X, y, w_b - w_a, alphas, origin=w_a)


def loss_plane(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
               direction1: torch.Tensor, direction2: torch.Tensor, alphas: torch.Tensor, betas: torch.Tensor,
               origin: torch.Tensor | None = None) -> torch.Tensor:
    r"""The 2-D slice :math:`L(w_0 + \alpha\,\delta_1 + \beta\,\delta_2)` on a grid.

    Parameters
    ----------
    model, loss_fn, X, y
        As in :func:`losses_at`.
    direction1, direction2 : torch.Tensor, shape (d,)
    alphas : torch.Tensor, shape (A,)
    betas : torch.Tensor, shape (B,)
    origin : torch.Tensor, shape (d,), optional
        Default the model's weights.

    Returns
    -------
    torch.Tensor, shape (A, B), float64
        Entry ``[i, j]`` at :math:`(\alpha_i, \beta_j)`.

    References
    ----------
    Li et al. (2018).

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1, bias=False).double()
    >>> X, t = torch.eye(2).double(), torch.zeros(2, 1).double()
    >>> e1, e2 = torch.eye(2).double()
    >>> loss_plane(lin, torch.nn.functional.mse_loss, X, t, e1, e2, torch.tensor([0.0, 2.0]).double(),
    ...            torch.tensor([0.0, 2.0]).double(), origin=torch.zeros(2).double()).tolist()
    [[0.0, 2.0], [2.0, 4.0]]
    """
    d = _flat(model).numel()
    w0 = _flat(model) if origin is None else origin
    _check_vector("origin", w0, d)
    _check_vector("direction1", direction1, d)
    _check_vector("direction2", direction2, d)
    for name, v in (("alphas", alphas), ("betas", betas)):
        if not isinstance(v, torch.Tensor) or v.ndim != 1:
            raise ValueError(f"{name} must be a 1-D tensor")
        check_finite(name, v)
    a = alphas.to(w0)[:, None, None]
    b = betas.to(w0)[None, :, None]
    pts = w0 + a * direction1.to(w0) + b * direction2.to(w0)
    return losses_at(model, loss_fn, X, y, pts.reshape(-1, d)).reshape(len(alphas), len(betas))


def _linear_layers(model: nn.Module, layer: int) -> tuple[nn.Linear, nn.Linear]:
    seq = getattr(model, "net", model)
    if not isinstance(seq, nn.Sequential):
        raise ValueError("model must be an nn.Sequential or have one as .net (e.g. sgdnoise.models.MLP)")
    mods = list(seq)
    lin_idx = [i for i, m in enumerate(mods) if isinstance(m, nn.Linear)]
    layer = check_positive_int("layer", layer, minimum=0, maximum=len(lin_idx) - 2)
    i, j = lin_idx[layer], lin_idx[layer + 1]
    between = mods[i + 1:j]
    if not any(isinstance(m, nn.ReLU) for m in between) or not all(isinstance(m, (nn.ReLU, nn.Dropout))
                                                                   for m in between):
        raise ValueError(f"layer {layer} and {layer + 1} must be separated by a ReLU (positive homogeneity), "
                         f"got {[type(m).__name__ for m in between]}")
    return mods[i], mods[j]


def rescale_relu_layers(model: nn.Module, layer: int, alpha: float) -> nn.Module:
    r"""A copy of ``model`` with linear layer ``layer`` scaled by :math:`\alpha` and the next by :math:`1/\alpha`.

    Because :math:`\mathrm{relu}(\alpha z) = \alpha\,\mathrm{relu}(z)` for :math:`\alpha > 0`,

    .. math::  W_{l+1}/\alpha\;\mathrm{relu}\big(\alpha (W_l h + b_l)\big) = W_{l+1}\,\mathrm{relu}(W_l h + b_l):

    the network computes exactly the same function (the bias :math:`b_{l+1}` is untouched), but
    in the new coordinates :math:`w' = Dw` the Hessian is :math:`D^{-1}HD^{-1}`
    (:func:`rescaling_factors`), so :math:`\lambda_{\max}` grows like :math:`1/\alpha^2` as
    :math:`\alpha\to0` (or :math:`\alpha^2` as :math:`\alpha\to\infty`).

    Parameters
    ----------
    model : nn.Module
        An ``nn.Sequential`` (or a model with one as ``.net``, like :class:`sgdnoise.models.MLP`)
        with a ReLU between linear layers ``layer`` and ``layer + 1``.
    layer : int
        Index of the first of the two linear layers, counted from 0.
    alpha : float
        :math:`\alpha > 0`.

    Returns
    -------
    nn.Module
        A deep copy; ``model`` is unchanged.

    References
    ----------
    Dinh, Pascanu, Bengio & Bengio (2017), "Sharp minima can generalize for deep nets", ICML.

    Examples
    --------
    >>> from sgdnoise.models import MLP
    >>> m = MLP((3, 4, 2)).double()
    >>> x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> bool(torch.allclose(rescale_relu_layers(m, 0, 10.0)(x), m(x)))
    True
    """
    alpha = check_positive_float("alpha", alpha)
    _linear_layers(model, layer)
    new = copy.deepcopy(model)
    first, second = _linear_layers(new, layer)
    with torch.no_grad():
        first.weight.mul_(alpha)
        if first.bias is not None:
            first.bias.mul_(alpha)
        second.weight.div_(alpha)
    return new


def rescaling_factors(model: nn.Module, layer: int, alpha: float) -> torch.Tensor:
    r"""The diagonal :math:`D` of the rescaling :math:`w' = Dw` made by :func:`rescale_relu_layers`.

    :math:`\alpha` on layer ``layer``'s weight and bias, :math:`1/\alpha` on the next layer's
    weight, 1 elsewhere. Since :math:`L'(w') = L(D^{-1}w')`, the rescaled model's gradient is
    :math:`D^{-1}\nabla L` and its Hessian :math:`D^{-1}HD^{-1}`.

    Parameters
    ----------
    model, layer, alpha
        As in :func:`rescale_relu_layers`.

    Returns
    -------
    torch.Tensor, shape (d,)
        In the order of :func:`sgdnoise.models.get_flat_params`.

    Examples
    --------
    >>> from sgdnoise.models import MLP
    >>> rescaling_factors(MLP((1, 1, 1)), 0, 2.0).tolist()   # W1, b1, W2, b2
    [2.0, 2.0, 0.5, 1.0]
    """
    alpha = check_positive_float("alpha", alpha)
    first, second = _linear_layers(model, layer)
    scale = {id(first.weight): alpha, id(second.weight): 1.0 / alpha}
    if first.bias is not None:
        scale[id(first.bias)] = alpha
    return torch.cat([torch.full((p.numel(),), scale.get(id(p), 1.0), dtype=p.dtype, device=p.device)
                      for _, p in _named_trainable(model)])
