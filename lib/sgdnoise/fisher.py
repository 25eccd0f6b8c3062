r"""Curvature matrices of a negative log-likelihood, and how to compare their eigenvectors with Σ's.

For a model :math:`p_w(y\mid x)` trained on the NLL :math:`\ell_i = -\log p_w(y_i\mid x_i)`:

* the **empirical Fisher** :math:`F_{\rm emp} = \frac1N\sum_i g_i g_i^\top` (the data's labels),
  so that :math:`\Sigma = F_{\rm emp} - G G^\top` exactly (:func:`empirical_fisher`);
* the **true Fisher** :math:`F = \frac1N\sum_i \mathbb E_{y\sim p_w(\cdot\mid x_i)}\,
  \nabla\ell(w;x_i,y)\nabla\ell(w;x_i,y)^\top` (labels drawn from the model, :func:`true_fisher`);
* the **Hessian** :math:`H = \nabla^2 L` (:func:`sgdnoise.hessian.full_hessian`, small models only);
* :func:`subspace_overlap` — how far the top eigenvectors of two of them (from
  :func:`sgdnoise.covariance.top_eigenpairs`) span the same space.

For a generalized linear model with canonical link (softmax regression) :math:`H = F` exactly at
every :math:`w`; for other models :math:`H = F` + a term weighted by the residuals, which vanishes
where the model fits the data's distribution. Near a minimum of a well-specified model
:math:`G \approx 0` and :math:`F_{\rm emp} \approx F`, hence :math:`\Sigma \approx F \approx H`
(Martens 2020; Kunstner, Balles & Hennig 2019 on when the empirical Fisher misleads).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_finite
from .covariance import _check_grads
from .gradients import per_example_grads


def empirical_fisher(grads: torch.Tensor) -> torch.Tensor:
    r"""The empirical Fisher :math:`F_{\rm emp} = \frac1N\sum_i g_i g_i^\top` (uncentred second moment).

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)

    Returns
    -------
    torch.Tensor, shape (d, d), float64

    Examples
    --------
    >>> g = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    >>> empirical_fisher(g).tolist()
    [[5.0, 0.0], [0.0, 0.0]]
    """
    g = _check_grads(grads)
    return g.T @ g / g.shape[0]


def true_fisher(model: nn.Module, X: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
    r"""The Fisher information of a softmax classifier, exact over the model's own label distribution.

    .. math::  F = \frac1N\sum_{i=1}^N \sum_{c=1}^C p_w(c\mid x_i)\,
               \nabla_w\ell(w; x_i, c)\,\nabla_w\ell(w; x_i, c)^\top,
               \qquad \ell(w; x, c) = -\log \operatorname{softmax}(f_w(x))_c ,

    computed as :math:`M^\top M` with rows :math:`\sqrt{p_{ic}/N}\,\nabla\ell(w;x_i,c)` (one
    per-example gradient pass per class; :math:`O(C N d)` time, :math:`O(d^2)` memory).

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits.
    X : torch.Tensor, shape (N, ...)
    chunk_size : int, optional
        Passed to :func:`sgdnoise.gradients.per_example_grads`.

    Returns
    -------
    torch.Tensor, shape (d, d), float64

    References
    ----------
    Amari (1998); Martens (2020), "New insights and perspectives on the natural gradient
    method", JMLR 21.

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> Fm = true_fisher(m, torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    >>> Fm.shape, bool(torch.allclose(Fm, Fm.T))
    (torch.Size([9, 9]), True)
    """
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError("X must contain at least one example")
    check_finite("X", X)
    with torch.no_grad():
        probs = torch.softmax(model(X), dim=1).double()
    n, n_classes = probs.shape
    out = None
    for c in range(n_classes):
        yc = torch.full((n,), c, dtype=torch.int64, device=X.device)
        g = per_example_grads(model, F.cross_entropy, X, yc, chunk_size=chunk_size).double()
        m = g * (probs[:, c:c + 1] / n).sqrt()
        out = m.T @ m if out is None else out + m.T @ m
    return out


def subspace_overlap(U: torch.Tensor, V: torch.Tensor) -> float:
    r"""Overlap of the spans of two sets of orthonormal columns, :math:`\lVert U^\top V\rVert_F^2 / k`.

    1 when the spans coincide, 0 when they are orthogonal; for :math:`k` random directions in
    :math:`\mathbb R^d` it is about :math:`k/d` (Gur-Ari, Roberts & Dyer 2018 use it to compare
    the gradient with the Hessian's top eigenspace). With :math:`k = 1` it is the squared cosine.

    Parameters
    ----------
    U, V : torch.Tensor, shape (d, k)
        Orthonormal columns (e.g. eigenvectors); the same ``k`` for both.

    Returns
    -------
    float, in [0, 1]

    Examples
    --------
    >>> I = torch.eye(3)
    >>> subspace_overlap(I[:, :2], I[:, :2]), subspace_overlap(I[:, :1], I[:, 1:2])
    (1.0, 0.0)
    """
    if U.ndim != 2 or V.ndim != 2 or U.shape != V.shape:
        raise ValueError(f"U and V must have the same shape (d, k), got {tuple(U.shape)} and {tuple(V.shape)}")
    return float((U.double().T @ V.double()).square().sum() / U.shape[1])
