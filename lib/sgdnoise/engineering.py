r"""Measurements of the gradient noise that chapter 7's knobs change (what is left of ``engineering``).

:func:`gradient_noise_summary` (tr Σ, ‖G‖², the simple noise scale
:math:`B_{\rm simple} = \operatorname{tr}\Sigma/\lVert G\rVert^2` of McCandlish et al. 2018 and the
anisotropy :math:`\lambda_1/\operatorname{tr}\Sigma`), :func:`minibatch_noise_trace` (the same
noise measured from whole mini-batches, the only definition that makes sense with batch norm) and
the split of augmented noise into the augmentation's own part and the rest
(:func:`augmentation_noise_split`). All three are measurements of Σ and belong with the
covariance module; the knobs themselves moved: the injection schedule to
:mod:`sgdnoise.schedules`, label smoothing to :mod:`sgdnoise.models`, standardization,
augmentation in pixel space and class subsets to :mod:`sgdnoise.data`, the condition number to
:mod:`sgdnoise.leastsquares`, head replacement to :mod:`sgdnoise.models`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_positive_int
from .gradients import LossFn, per_example_grads
from .noise import covariance_top_eigenpairs, mean_gradient
from .sampling import sample_batches, trace_covariance


def gradient_noise_summary(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                           chunk_size: int | None = None) -> dict[str, float]:
    r"""tr Σ, ‖G‖², the simple noise scale and the anisotropy of the per-example gradients.

    From the per-example gradients :math:`g_i` (:func:`sgdnoise.gradients.per_example_grads`):
    :math:`G = \frac1N\sum g_i`, :math:`\operatorname{tr}\Sigma = \frac1N\sum\lVert g_i - G\rVert^2`,
    :math:`B_{\rm simple} = \operatorname{tr}\Sigma/\lVert G\rVert^2` (McCandlish et al. 2018: the
    batch size at which the noise and the signal of a step are equal), and the share of the noise
    in its top direction :math:`\lambda_1(\Sigma)/\operatorname{tr}\Sigma` (1 for noise along a
    line, :math:`1/d` for isotropic noise).

    Parameters
    ----------
    model : nn.Module
        In the mode it is in (call ``model.eval()`` first for batch norm).
    loss_fn : callable
        Mean loss over a batch.
    X, y : torch.Tensor

    Returns
    -------
    dict
        ``trace_sigma``, ``grad_sq_norm``, ``b_simple``, ``top_share``.

    References
    ----------
    McCandlish, Kaplan, Amodei et al. (2018), "An empirical model of large-batch training",
    arXiv:1812.06162.

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, device="cpu", dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(20, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (20,), generator=g)
    >>> s = gradient_noise_summary(m, F.cross_entropy, X, y)
    >>> bool(abs(s["b_simple"] - s["trace_sigma"] / s["grad_sq_norm"]) < 1e-12), bool(0 < s["top_share"] <= 1)
    (True, True)
    """
    grads = per_example_grads(model, loss_fn, X, y, chunk_size)
    G = mean_gradient(grads)
    tr = trace_covariance(grads)
    lam, _ = covariance_top_eigenpairs(grads, 1)
    g2 = float(G.square().sum())
    return {"trace_sigma": tr, "grad_sq_norm": g2, "b_simple": tr / g2 if g2 > 0 else float("inf"),
            "top_share": float(lam[0]) / tr if tr > 0 else float("nan")}


def minibatch_noise_trace(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                          batch_size: int, n_batches: int, generator: torch.Generator | None = None,
                          params: Sequence[torch.Tensor] | None = None) -> tuple[float, float]:
    r"""The gradient noise measured from whole mini-batches: :math:`B\,\operatorname{tr}\operatorname{Cov}(\hat g_B)` and :math:`\lVert\bar g\rVert^2`.

    Draws ``n_batches`` batches of size :math:`B` with replacement, computes each mini-batch
    gradient :math:`\hat g_k` with the model in its current mode, and returns
    :math:`B\cdot\frac{1}{K-1}\sum_k\lVert\hat g_k - \bar g\rVert^2` (an unbiased estimate of
    :math:`\operatorname{tr}\Sigma` for a model whose examples do not interact) together with
    :math:`\lVert\bar g\rVert^2`. With batch normalization in training mode an example's gradient
    depends on its batch-mates, per-example gradients do not exist, and this is the noise SGD
    actually feels.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
    X, y : torch.Tensor
    batch_size : int
        :math:`B \ge 2` (batch norm needs two examples).
    n_batches : int
        :math:`K \ge 2`.
    generator : torch.Generator, optional
    params : sequence of torch.Tensor, optional
        Restrict the gradient to these parameters (a block of the covariance, e.g. one layer's
        weights); default: every parameter that requires a gradient. With the same generator
        seed the batches are the same, so the blocks of one measurement can be compared.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, device="cpu")
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(50, 3, generator=g), torch.randint(0, 2, (50,), generator=g)
    >>> tr, g2 = minibatch_noise_trace(m, F.cross_entropy, X, y, 5, 20, torch.Generator().manual_seed(0))
    >>> bool(tr > 0 and g2 > 0)
    True
    """
    n = X.shape[0]
    batch_size = check_positive_int("batch_size", batch_size, minimum=2)
    n_batches = check_positive_int("n_batches", n_batches, minimum=2)
    idx = sample_batches(n, batch_size, n_batches, replace=True, generator=generator)
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not params:
        raise ValueError("params must name at least one parameter")
    rows = []
    for k in range(n_batches):  # a loop over batches: batch norm couples the examples inside one
        g = torch.autograd.grad(loss_fn(model(X[idx[k]]), y[idx[k]]), params)
        rows.append(torch.cat([gi.reshape(-1) for gi in g]).double())
    grads = torch.stack(rows)
    mean = grads.mean(0)
    tr = float((grads - mean).square().sum(1).sum() / (n_batches - 1))
    return batch_size * tr, float(mean.square().sum())


def augmentation_noise_split(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                             augment, draws: int, chunk_size: int | None = None) -> dict[str, float]:
    r"""Split the noise of augmented per-example gradients into the augmentation's own part and the rest.

    With :math:`M` independent augmentations :math:`a` of every example :math:`i` and gradients
    :math:`g_{ia}`, the law of total variance splits the trace of the covariance over
    (example, augmentation) pairs, :math:`\operatorname{tr}\Sigma_{\rm aug}`, into

    .. math::  \operatorname{tr}\Sigma_{\rm aug} = \underbrace{\tfrac1N\textstyle\sum_i
               \mathbb{E}_a\lVert g_{ia} - m_i\rVert^2}_{\text{within}} +
               \underbrace{\operatorname{tr}\operatorname{Cov}_i(m_i)}_{\text{between}},
               \qquad m_i = \mathbb{E}_a g_{ia}.

    *within* is the noise that augmentation itself adds (estimated without bias with the
    :math:`M - 1` divisor); *between* is the sampling noise of the augmentation-averaged
    gradients, estimated as :math:`\operatorname{tr}\operatorname{Cov}_i(\bar g_i) -
    \text{within}/M` (:math:`\bar g_i` the mean of the :math:`M` draws). Their sum is exactly the
    trace of the pooled covariance of the :math:`NM` gradients (divisor :math:`NM`).

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        Mean loss over a batch.
    X, y : torch.Tensor
        The un-augmented inputs and their labels.
    augment : callable
        ``augment(X)`` returns a fresh random augmentation of every row of ``X`` (it carries its
        own generator).
    draws : int
        :math:`M \ge 2` augmentations per example.
    chunk_size : int, optional
        Passed to :func:`sgdnoise.gradients.per_example_grads`.

    Returns
    -------
    dict
        ``within``, ``between``, ``total`` (their sum) and ``grad_sq_norm`` (of the pooled mean).

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, device="cpu", dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (30,), generator=g)
    >>> s = augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 3)   # no augmentation
    >>> abs(s["within"]) < 1e-12, abs(s["between"] - gradient_noise_summary(m, F.cross_entropy, X, y)["trace_sigma"]) < 1e-9
    (True, True)
    """
    draws = check_positive_int("draws", draws, minimum=2)
    if not callable(augment):
        raise ValueError("augment must be a callable X -> augmented X")
    s1, s2 = None, None
    for _ in range(draws):
        g = per_example_grads(model, loss_fn, augment(X), y, chunk_size).double()
        s1 = g.clone() if s1 is None else s1.add_(g)
        sq = g.square().sum(1)
        s2 = sq if s2 is None else s2 + sq
    gbar = s1 / draws
    within = float(((s2 - draws * gbar.square().sum(1)) / (draws - 1)).mean())
    G = gbar.mean(0)
    between = float((gbar - G).square().sum(1).mean()) - within / draws
    return {"within": within, "between": between, "total": within + between,
            "grad_sq_norm": float(G.square().sum())}
