r"""Gradient clipping by norm, as functions on gradients.

Clipping to norm :math:`c` maps a vector :math:`g` to
:math:`\operatorname{clip}_c(g) = g\,\min\!\big(1, c/\lVert g\rVert\big)`: unchanged inside the
ball of radius :math:`c`, projected onto its surface outside. Applied to every per-example gradient
(as in DP-SGD, Abadi et al. 2016) or to the mini-batch gradient (as
``torch.nn.utils.clip_grad_norm_`` does, Pascanu, Mikolov & Bengio 2013). A clipped variable is
bounded, so it has a finite variance whatever the tails of the original: this turns
infinite-variance (α-stable) noise into noise for which the central limit theorem holds again —
at the price of a bias, :math:`\mathbb E\operatorname{clip}_c(g) \ne \mathbb E g` in general.
"""

from __future__ import annotations

import torch

from ._validate import check_finite, check_positive_float


def clip_by_norm(g: torch.Tensor, max_norm: float) -> torch.Tensor:
    r"""Clip one gradient (or a batch-mean gradient) to Euclidean norm at most ``max_norm``.

    :math:`g \mapsto g\,\min(1, c/\lVert g\rVert)`.

    Parameters
    ----------
    g : torch.Tensor, shape (d,)
    max_norm : float
        :math:`c > 0`.

    Returns
    -------
    torch.Tensor, shape (d,)

    References
    ----------
    Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks", ICML.

    Examples
    --------
    >>> clip_by_norm(torch.tensor([3.0, 4.0]), 1.0).tolist()
    [0.6000000238418579, 0.800000011920929]
    >>> clip_by_norm(torch.tensor([0.3, 0.4]), 1.0).tolist()
    [0.30000001192092896, 0.4000000059604645]
    """
    if not isinstance(g, torch.Tensor) or g.ndim != 1:
        raise ValueError("g must be a 1-D tensor (one gradient); use clip_per_example for rows")
    check_finite("g", g)
    return clip_per_example(g.unsqueeze(0), max_norm)[0]


def clip_per_example(grads: torch.Tensor, max_norm: float) -> torch.Tensor:
    r"""Clip every row (a per-example gradient) to norm at most ``max_norm``.

    :math:`g_i \mapsto g_i\,\min(1, c/\lVert g_i\rVert)`, vectorized over the rows. A scalar
    sample is clipped by absolute value when given as shape ``(N, 1)``.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
    max_norm : float
        :math:`c > 0`.

    Returns
    -------
    torch.Tensor, shape (N, d)

    References
    ----------
    Abadi et al. (2016), "Deep learning with differential privacy", CCS.

    Examples
    --------
    >>> clip_per_example(torch.tensor([[3.0, 4.0], [0.0, 0.5]]), 1.0).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.5]]
    """
    if not isinstance(grads, torch.Tensor) or grads.ndim != 2:
        raise ValueError("grads must be a tensor of shape (N, d)")
    max_norm = check_positive_float("max_norm", max_norm)
    check_finite("grads", grads)
    norms = grads.norm(dim=1, keepdim=True)
    scale = torch.where(norms > max_norm, max_norm / norms.clamp_min(torch.finfo(grads.dtype).tiny),
                        torch.ones_like(norms))
    return grads * scale
