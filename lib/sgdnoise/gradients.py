r"""Gradients of a model's loss: full-batch, per-example, and accumulated over micro-batches.

Notation (see the book's notation page): per-example gradients :math:`g_i(w) = \nabla_w \ell(w; x_i, y_i)`,
the full gradient :math:`G = \frac1N \sum_i g_i`, the per-example covariance
:math:`\Sigma = \frac1N \sum_i (g_i - G)(g_i - G)^\top`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ._validate import check_finite, check_positive_int

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_data(X: torch.Tensor, y: torch.Tensor) -> None:
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("X must contain at least one example")
    check_finite("X", X)
    if y.is_floating_point():
        check_finite("y", y)


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def full_gradient(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The gradient of the mean loss over ``(X, y)``, flattened: :math:`G = \frac1N\sum_i g_i`.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over the batch (as
        ``torch.nn.functional.cross_entropy`` does by default).
    X, y : torch.Tensor
        Inputs ``(N, ...)`` and targets ``(N, ...)``.

    Returns
    -------
    torch.Tensor, shape (d,)
    """
    _check_data(X, y)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads])


def per_example_grads(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                      chunk_size: int | None = None) -> torch.Tensor:
    r"""Every example's gradient in one vectorized call: rows :math:`g_i = \nabla_w \ell(w; x_i, y_i)`.

    Uses ``torch.func``: ``vmap(grad(ℓ))`` over the examples with the parameters held fixed
    through ``functional_call``, so it works for any ``nn.Module`` on CPU or GPU. ``chunk_size``
    bounds memory by processing that many examples at a time. Random layers (dropout) draw
    independent masks per example.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss; it is called with a batch of one.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per vectorized chunk (default: all at once).

    Returns
    -------
    torch.Tensor, shape (N, d)
        Row ``i`` is example ``i``'s gradient, flattened in ``model.parameters()`` order.

    References
    ----------
    PyTorch documentation, "Per-sample-gradients" (torch.func tutorial).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, device="cpu")
    >>> per_example_grads(m, F.cross_entropy, torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])).shape
    torch.Size([5, 8])
    """
    _check_data(X, y)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    params = _trainable(model)
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, x, t):
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return loss_fn(out, t.unsqueeze(0))

    g = vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size, randomness="different")(params, X, y)
    n = X.shape[0]
    return torch.cat([g[k].reshape(n, -1) for k in params], dim=1)


def accumulated_gradient(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         micro_batch_size: int) -> torch.Tensor:
    r"""The gradient of the mean loss over ``(X, y)``, computed by gradient accumulation.

    The batch of size :math:`B` is split into micro-batches :math:`M_k` of at most
    ``micro_batch_size`` examples; each backward pass adds :math:`\frac{|M_k|}{B}\nabla \bar\ell_{M_k}`
    into ``.grad``, so the sum equals the full-batch gradient
    :math:`\frac1B\sum_{i} g_i` exactly in exact arithmetic (with unequal micro-batches the
    weights :math:`|M_k|/B` matter). Only one micro-batch's activations are alive at a time.
    Models whose forward pass couples the examples (batch normalization) break the identity.

    Parameters
    ----------
    micro_batch_size : int
        Examples per backward pass, ``1 <= micro_batch_size``.

    Returns
    -------
    torch.Tensor, shape (d,)
        Flattened accumulated gradient; ``model``'s ``.grad`` fields are left as they were.
    """
    _check_data(X, y)
    micro_batch_size = check_positive_int("micro_batch_size", micro_batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    n = X.shape[0]
    for start in range(0, n, micro_batch_size):
        xb, yb = X[start:start + micro_batch_size], y[start:start + micro_batch_size]
        loss = loss_fn(model(xb), yb) * (xb.shape[0] / n)
        for acc, g in zip(total, torch.autograd.grad(loss, params)):
            acc.add_(g)
    return torch.cat([t.reshape(-1) for t in total])
