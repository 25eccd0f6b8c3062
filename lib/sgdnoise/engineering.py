r"""Engineering the noise: knobs that change the gradient noise, and the measurements that show it.

The knobs are options of the one training loop (:func:`sgdnoise.training.train_sgd`):

* annealed gradient-noise injection, ``train_sgd(..., grad_noise=c, grad_noise_decay=γ)``, whose
  variance schedule :math:`\sigma_t^2 = c/(1+t)^\gamma` is :func:`injection_variance`
  (Neelakantan et al. 2015);
* label smoothing, a loss (:func:`smoothed_cross_entropy`, Szegedy et al. 2016);
* data augmentation, ``transform=`` with :func:`augment_standardized` (the shifts and rotations of
  :func:`sgdnoise.perturbations.augment_digits`, applied to the raw pixels);
* feature standardization, :func:`standardize_features` (and ``load_digits(standardize=...)``),
  whose effect on the curvature is :func:`second_moment_condition_number`;
* batch normalization, ``make_model("mlp", ..., batch_norm=True)``;
* clipping, ``train_sgd(..., clip_norm=c)``.

The measurements of Σ (:func:`sgdnoise.covariance.gradient_noise_summary`,
:func:`sgdnoise.covariance.minibatch_noise_trace`) are in :mod:`sgdnoise.covariance`; here, the split of augmented noise into the augmentation's own part and the rest
(:func:`augmentation_noise_split`), and for fine-tuning :func:`class_subset` and :func:`replace_head`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_finite, check_positive_float, check_positive_int
from .gradients import LossFn, per_example_grads


def injection_variance(step, scale: float, decay: float = 0.55):
    r"""The annealed variance :math:`\sigma_t^2 = c/(1+t)^\gamma` of injected gradient noise.

    Parameters
    ----------
    step : int or array of int
        :math:`t \ge 0`, counted from 0.
    scale : float
        :math:`c \ge 0` (Neelakantan et al. tried 0.01, 0.3 and 1).
    decay : float
        :math:`\gamma \ge 0` (0.55 in the paper).

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Neelakantan et al. (2015), "Adding gradient noise improves learning for very deep networks",
    arXiv:1511.06807.

    Examples
    --------
    >>> injection_variance(0, 0.3)
    0.3
    >>> round(injection_variance(99, 1.0, 0.5), 6)
    0.1
    """
    scale = check_positive_float("scale", scale, allow_zero=True)
    decay = check_positive_float("decay", decay, allow_zero=True)
    t = np.asarray(step)
    if not np.issubdtype(t.dtype, np.integer) or (t < 0).any():
        raise ValueError(f"step must be an integer >= 0, got {step}")
    out = scale / (1.0 + t) ** decay
    return float(out) if out.ndim == 0 else out


def smoothed_cross_entropy(epsilon: float) -> LossFn:
    r"""The label-smoothed cross-entropy loss, as a ``loss_fn(logits, labels)``.

    The target is :math:`(1-\varepsilon)\,e_y + \varepsilon/K` instead of the one-hot
    :math:`e_y`, so

    .. math::  \ell_\varepsilon = (1-\varepsilon)\,(-\log p_y) + \frac{\varepsilon}{K}\sum_{k=1}^K(-\log p_k).

    Its gradient with respect to the logits is :math:`p - (1-\varepsilon)e_y - \varepsilon/K`,
    which never vanishes on a confidently classified example: smoothing keeps a floor of
    per-example gradient noise late in training.

    Parameters
    ----------
    epsilon : float
        :math:`\varepsilon \in [0, 1)`; 0 is the ordinary cross-entropy.

    Returns
    -------
    callable
        ``loss_fn(logits (B, K), labels (B,)) -> mean loss``.

    References
    ----------
    Szegedy, Vanhoucke, Ioffe, Shlens & Wojna (2016), "Rethinking the Inception architecture for
    computer vision", CVPR.

    Examples
    --------
    >>> loss = smoothed_cross_entropy(0.1)
    >>> round(float(loss(torch.zeros(1, 4), torch.tensor([2]))), 6)  # uniform p: log K
    1.386294
    """
    if not 0.0 <= float(epsilon) < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    epsilon = float(epsilon)

    def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=epsilon)

    return loss_fn


def standardize_features(X_train: torch.Tensor, X_test: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Centre and scale every feature with the training mean and standard deviation.

    :math:`x_j \leftarrow (x_j - \mu_j)/s_j`; features constant in training (:math:`s_j = 0`) are
    only centred, to 0.

    Parameters
    ----------
    X_train : torch.Tensor, shape (N, d)
    X_test : torch.Tensor, shape (M, d), optional
        Transformed with the *training* statistics.

    Returns
    -------
    (torch.Tensor, torch.Tensor or None)

    References
    ----------
    LeCun, Bottou, Orr & Müller (1998), "Efficient BackProp", §4.3.

    Examples
    --------
    >>> Xs, _ = standardize_features(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
    >>> Xs.tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    if not isinstance(X_train, torch.Tensor) or X_train.ndim != 2 or X_train.shape[0] < 2:
        raise ValueError("X_train must be a tensor of shape (N, d) with N >= 2")
    check_finite("X_train", X_train)
    mean = X_train.mean(0)
    std = X_train.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    out_test = None
    if X_test is not None:
        if not isinstance(X_test, torch.Tensor) or X_test.ndim != 2 or X_test.shape[1] != X_train.shape[1]:
            raise ValueError(f"X_test must be a tensor of shape (M, {X_train.shape[1]})")
        out_test = (X_test - mean) / std
    return (X_train - mean) / std, out_test


def feature_statistics(X_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The per-feature training mean and standard deviation used by :func:`standardize_features`.

    :math:`\mu_j` and :math:`s_j = \sqrt{\frac1N\sum_i (x_{ij}-\mu_j)^2}`, with :math:`s_j`
    replaced by 1 for features constant in training, so that :math:`(x - \mu)/s` is the
    standardization and :math:`x = s\,z + \mu` its exact inverse.

    Examples
    --------
    >>> mean, std = feature_statistics(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
    >>> mean.tolist(), std.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    if not isinstance(X_train, torch.Tensor) or X_train.ndim != 2 or X_train.shape[0] < 2:
        raise ValueError("X_train must be a tensor of shape (N, d) with N >= 2")
    check_finite("X_train", X_train)
    std = X_train.std(0, unbiased=False)
    return X_train.mean(0), torch.where(std > 0, std, torch.ones_like(std))


def augment_standardized(X: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                         generator: torch.Generator | None = None, max_shift: float = 1.0,
                         max_rotation: float = 15.0, side: int = 8) -> torch.Tensor:
    r"""Augment standardized images in raw pixel space: un-standardize, shift and rotate, standardize.

    .. math::  x' = \big(A_\theta(s \odot z + \mu) - \mu\big) / s,

    where :math:`z` is a standardized image, :math:`\mu, s` the training statistics
    (:func:`feature_statistics`) and :math:`A_\theta` the random shift and rotation of
    :func:`sgdnoise.perturbations.augment_digits` with zero padding (the raw background).
    Augmenting the standardized pixels directly would move a value scaled by one pixel's
    statistics onto another pixel, and a blank border would not stay blank.

    Parameters
    ----------
    X : torch.Tensor, shape (N, side²)
        Standardized images.
    mean, std : torch.Tensor, shape (side²,)
        The statistics they were standardized with (``std > 0``).
    generator : torch.Generator, optional
    max_shift, max_rotation, side
        As in :func:`sgdnoise.perturbations.augment_digits`.

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
    from .perturbations import augment_digits

    if mean.shape != (X.shape[-1],) or std.shape != (X.shape[-1],):
        raise ValueError(f"mean and std must have shape ({X.shape[-1]},), got {tuple(mean.shape)}, {tuple(std.shape)}")
    if not bool((std > 0).all()):
        raise ValueError("std must be > 0 everywhere")
    raw = augment_digits(X * std + mean, max_shift, max_rotation, generator=generator, side=side, padding="zeros")
    return (raw - mean) / std


def second_moment_condition_number(X: torch.Tensor, rtol: float = 1e-9) -> float:
    r"""Condition number of the data's second-moment matrix :math:`M = \frac1N X^\top X`.

    :math:`M` is the Hessian of the least-squares loss :math:`\frac1{2N}\lVert Xw - y\rVert^2` (and,
    up to the softmax's curvature factors, the input block of a logistic model's Hessian), so
    :math:`\kappa = \lambda_{\max}/\lambda_{\min}` sets how anisotropic the valley — and the
    gradient noise, whose covariance inherits :math:`M`'s shape — is. Directions with
    :math:`\lambda < {\rm rtol}\cdot\lambda_{\max}` (e.g. always-blank pixels) are left out: no
    gradient ever moves along them.

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
    rtol : float
        Relative cut-off for zero eigenvalues, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, -3.0]])
    >>> second_moment_condition_number(X)
    9.0
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise ValueError("X must be a tensor of shape (N, d)")
    check_finite("X", X)
    rtol = check_positive_float("rtol", rtol)
    Xd = X.double()
    lam = torch.linalg.eigvalsh(Xd.T @ Xd / X.shape[0])
    lam = lam[lam > rtol * lam.max()]
    return float(lam.max() / lam.min())


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
    >>> from sgdnoise.covariance import trace_covariance
    >>> m = make_model("logistic", 3, 2, device="cpu", dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (30,), generator=g)
    >>> s = augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 3)   # no augmentation
    >>> abs(s["within"]) < 1e-12, abs(s["between"] - trace_covariance(per_example_grads(m, F.cross_entropy, X, y))) < 1e-9
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


def class_subset(X: torch.Tensor, y: torch.Tensor, classes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows whose label is in ``classes``, relabelled ``0 … len(classes)-1`` in the given order.

    Examples
    --------
    >>> Xs, ys = class_subset(torch.arange(4.0)[:, None], torch.tensor([5, 1, 7, 5]), [5, 7])
    >>> Xs[:, 0].tolist(), ys.tolist()
    ([0.0, 2.0, 3.0], [0, 1, 0])
    """
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    lookup = torch.full((int(max(int(y.max()), max(classes))) + 1,), -1, dtype=torch.int64, device=y.device)
    lookup[torch.tensor(classes, device=y.device)] = torch.arange(len(classes), device=y.device)
    new = lookup[y]
    keep = new >= 0
    return X[keep], new[keep]


def replace_head(model: nn.Module, n_classes: int, seed: int = 0) -> nn.Module:
    """Replace the last ``nn.Linear`` of an MLP by a fresh, seeded one with ``n_classes`` outputs (in place).

    The new layer has PyTorch's default bounds ``±1/√fan_in``, drawn from a generator seeded with
    ``seed``; the rest of the network (the "pretrained body") is kept.

    Examples
    --------
    >>> from sgdnoise.models import make_model
    >>> m = replace_head(make_model("mlp", 64, 10, hidden=(32,), device="cpu"), 5)
    >>> tuple(m(torch.zeros(2, 64)).shape)
    (2, 5)
    """
    n_classes = check_positive_int("n_classes", n_classes)
    net = getattr(model, "net", None)
    if not isinstance(net, nn.Sequential) or not isinstance(net[-1], nn.Linear):
        raise ValueError("model must be an sgdnoise MLP (a .net Sequential ending in nn.Linear)")
    old = net[-1]
    gen = torch.Generator().manual_seed(seed)
    bound = 1.0 / old.in_features ** 0.5
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own default init must not move the global RNG
        head = nn.Linear(old.in_features, n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.empty_like(head.weight).uniform_(-bound, bound, generator=gen))
        head.bias.copy_(torch.empty_like(head.bias).uniform_(-bound, bound, generator=gen))
    net[-1] = head.to(device=old.weight.device, dtype=old.weight.dtype)
    return model
