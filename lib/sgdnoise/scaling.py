r"""Batch-size scaling: the gradient noise scale, scaling rules and the critical batch size.

* :func:`noise_scale` — :math:`B_{\text{simple}} = \operatorname{tr}\Sigma/\lVert G\rVert^2` from
  per-example gradients, :func:`noise_scale_of_model` straight from a model (both through
  :mod:`sgdnoise.covariance`, where Σ lives);
  :func:`noise_scale_hessian` — the Hessian-weighted :math:`B_{\text{noise}} = \operatorname{tr}(H\Sigma)/G^\top HG`;
* :func:`two_batch_estimates` — unbiased :math:`\lVert G\rVert^2` and :math:`\operatorname{tr}\Sigma`
  from gradient norms at two batch sizes (McCandlish et al. 2018, Appendix A), smoothed over steps
  with :func:`ema`; :class:`NoiseScaleLogger` records them during :func:`sgdnoise.training.train_sgd`;
* :func:`fit_critical_batch` — the fit of :math:`(S/S_{\min} - 1)(E/E_{\min} - 1) = 1` to steps
  and examples to a target, :func:`bootstrap_critical_batch` its uncertainty over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn

from ._validate import (
    check_finite,
    check_positive_float,
    check_positive_int,
    numpy_generator,
)
from .covariance import (
    _check_grads,
    b_simple,
    gradient_moments_of_model,
    mean_gradient,
    minibatch_variance_theory,
    trace_covariance,
)
from .gradients import LossFn


def noise_scale(grads: torch.Tensor) -> float:
    r"""The simple gradient noise scale :math:`B_{\text{simple}} = \operatorname{tr}\Sigma / \lVert G\rVert^2`.

    With :math:`\mathbb{E}\lVert\hat g_B - G\rVert^2 = \operatorname{tr}\Sigma/B`, a batch of
    :math:`B_{\text{simple}}` examples has a noise as large as the signal; it is the batch size
    around which larger batches stop paying off (McCandlish, Kaplan, Amodei et al. 2018).

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients (:func:`sgdnoise.gradients.per_example_grads`).

    Returns
    -------
    float
        ``inf`` if :math:`G = 0`.

    Examples
    --------
    >>> noise_scale(torch.tensor([[1.0, 0.0], [3.0, 0.0]]))   # G = (2, 0), tr Σ = 1
    0.25
    """
    return b_simple(trace_covariance(grads), float(mean_gradient(grads).square().sum()))


def noise_scale_hessian(grads: torch.Tensor, hessian: torch.Tensor) -> float:
    r"""The Hessian-weighted noise scale :math:`B_{\text{noise}} = \operatorname{tr}(H\Sigma)/G^\top H G`.

    For a locally quadratic loss, a step :math:`-\epsilon\hat g_B` changes the expected loss by
    :math:`-\epsilon\lVert G\rVert^2 + \frac{\epsilon^2}{2}(G^\top HG + \operatorname{tr}(H\Sigma)/B)`;
    at the best :math:`\epsilon` the decrease is :math:`\Delta L_{\max}/(1 + B_{\text{noise}}/B)`
    with :math:`\Delta L_{\max} = \lVert G\rVert^4/(2G^\top HG)` (McCandlish et al. 2018, eq. 2.6).
    :func:`noise_scale` is the special case :math:`H \propto I`.

    Parameters
    ----------
    grads : torch.Tensor, shape (N, d)
        Per-example gradients.
    hessian : torch.Tensor, shape (d, d)
        Symmetric Hessian of the mean loss at the same point.

    Returns
    -------
    float
        ``inf`` if :math:`G^\top HG = 0`.

    Examples
    --------
    >>> g = torch.tensor([[1.0, 0.0], [3.0, 0.0]])      # G = (2, 0), Sigma = diag(1, 0)
    >>> noise_scale_hessian(g, torch.eye(2)) == noise_scale(g)
    True
    >>> noise_scale_hessian(torch.tensor([[1.0, 1.0], [3.0, -1.0]]), torch.diag(torch.tensor([1.0, 4.0])))
    1.25
    """
    g = _check_grads(grads).double()
    h = torch.as_tensor(hessian).to(g.device).double()
    if h.shape != (g.shape[1], g.shape[1]):
        raise ValueError(f"hessian must have shape ({g.shape[1]}, {g.shape[1]}), got {tuple(h.shape)}")
    G = g.mean(0)
    D = g - G
    gHg = float(G @ h @ G)
    trHS = float(((D @ h) * D).sum(1).mean())
    return trHS / gHg if gHg > 0 else float("inf")


def noise_scale_of_model(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         chunk_size: int | None = None) -> float:
    r""":math:`B_{\text{simple}}` of a model on ``(X, y)``, without storing per-example gradients.

    :func:`sgdnoise.covariance.b_simple` of the two moments from
    :func:`sgdnoise.covariance.gradient_moments_of_model` (per-example squared norms: about one
    full-batch gradient for linear layers).

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        Mean loss ``loss_fn(outputs, targets)``.
    X, y : torch.Tensor
    chunk_size : int, optional
        Examples per pass.

    Returns
    -------
    float
        ``inf`` if :math:`G = 0`.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> from sgdnoise.gradients import per_example_grads
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (50,), generator=g)
    >>> b = noise_scale_of_model(m, F.cross_entropy, X, y)
    >>> bool(abs(b - noise_scale(per_example_grads(m, F.cross_entropy, X, y))) < 1e-9 * b)
    True
    """
    g2, tr = gradient_moments_of_model(model, loss_fn, X, y, chunk_size)
    return b_simple(tr, g2)


def _noise_factor(b: int, n: int | None) -> float:
    # E|g_B|^2 = |G|^2 + c_B tr Σ: c_B is the mini-batch variance per unit tr Σ, 1/B with
    # replacement (n None), (N-B)/(B(N-1)) without.
    return minibatch_variance_theory(1.0, 1 if n is None else n, b, replace=n is None)


def two_batch_estimates(sq_norm_small, sq_norm_big, b_small: int, b_big: int, n: int | None = None):
    r"""Unbiased estimates of :math:`\lVert G\rVert^2` and :math:`\operatorname{tr}\Sigma` from two batch sizes.

    With replacement, :math:`\mathbb{E}\lVert\hat g_B\rVert^2 = \lVert G\rVert^2 + \operatorname{tr}\Sigma/B`.
    Solving this for two batch sizes :math:`B_s < B_b` (McCandlish et al. 2018, Appendix A):

    .. math::
        \widehat{\lVert G\rVert^2} = \frac{B_b\lVert\hat g_{B_b}\rVert^2 - B_s\lVert\hat g_{B_s}\rVert^2}{B_b - B_s},
        \qquad
        \widehat{\operatorname{tr}\Sigma} = \frac{\lVert\hat g_{B_s}\rVert^2 - \lVert\hat g_{B_b}\rVert^2}{1/B_s - 1/B_b}.

    Each is unbiased; their ratio is not (the noise of the denominator biases it), so average
    each over many steps (:func:`ema`) before dividing. Without replacement from ``n`` examples,
    :math:`1/B` becomes :math:`(N-B)/(B(N-1))` (pass ``n``).

    Parameters
    ----------
    sq_norm_small, sq_norm_big : float or array
        :math:`\lVert\hat g_{B_s}\rVert^2`, :math:`\lVert\hat g_{B_b}\rVert^2` (same shape), finite and >= 0.
    b_small, b_big : int
        :math:`1 \le B_s < B_b`.
    n : int, optional
        Dataset size for batches drawn without replacement (``b_big <= n``).

    Returns
    -------
    (g2, trace_sigma) : floats or arrays

    Examples
    --------
    >>> g2, tr = two_batch_estimates(1.0 + 4.0 / 2, 1.0 + 4.0 / 8, 2, 8)   # exact expectations
    >>> float(g2), float(tr)
    (1.0, 4.0)
    """
    b_small = check_positive_int("b_small", b_small)
    b_big = check_positive_int("b_big", b_big, minimum=b_small + 1)
    if n is not None:
        n = check_positive_int("n", n, minimum=b_big)
    s = np.asarray(sq_norm_small, dtype=float)
    b = np.asarray(sq_norm_big, dtype=float)
    if s.shape != b.shape:
        raise ValueError(f"sq_norm_small and sq_norm_big must have the same shape, got {s.shape} and {b.shape}")
    check_finite("sq_norm_small", s)
    check_finite("sq_norm_big", b)
    for name, arr in (("sq_norm_small", s), ("sq_norm_big", b)):
        if (arr < 0).any():
            raise ValueError(f"{name} must be >= 0 (a squared norm), got a minimum of {arr.min()}")
    c_s, c_b = _noise_factor(b_small, n), _noise_factor(b_big, n)
    trace = (s - b) / (c_s - c_b)
    g2 = b - c_b * trace
    return g2, trace


def ema(values, beta: float) -> np.ndarray:
    r"""Bias-corrected exponential moving average :math:`m_t/(1-\beta^{t+1})`, :math:`m_t = \beta m_{t-1} + (1-\beta)x_t`.

    The average of the last :math:`\approx (1+\beta)/(1-\beta)` values; the correction removes the
    pull towards :math:`m_{-1} = 0` at the start (Kingma & Ba 2015). The recursion is the IIR
    filter ``scipy.signal.lfilter([1 - beta], [1, -beta], values, axis=0)``.

    Parameters
    ----------
    values : array, shape (T,) or (T, ...)
        Time along the first axis.
    beta : float
        Decay in [0, 1).

    Examples
    --------
    >>> ema([2.0, 2.0, 2.0], 0.9).tolist()
    [2.0, 2.0, 2.0]
    """
    x = np.asarray(values, dtype=float)
    beta = check_positive_float("beta", beta, allow_zero=True)
    if beta >= 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"values must have at least one entry along the first axis, got shape {x.shape}")
    m = lfilter([1 - beta], [1.0, -beta], x, axis=0)       # m_t = beta m_{t-1} + (1 - beta) x_t, m_{-1} = 0
    t = np.arange(1, x.shape[0] + 1).reshape((-1,) + (1,) * (x.ndim - 1))
    return m / (1 - beta ** t)


def ema_weights(length: int, beta: float) -> np.ndarray:
    r"""Weights :math:`w_k` with :math:`\text{ema}(x)_{T-1} = \sum_k w_k x_k` (for standard errors of :func:`ema`).

    Examples
    --------
    >>> float(ema_weights(5, 0.5).sum())
    1.0
    """
    length = check_positive_int("length", length)
    beta = check_positive_float("beta", beta, allow_zero=True)
    if beta >= 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    k = np.arange(length)
    return (1 - beta) * beta ** (length - 1 - k) / (1 - beta ** length)


@dataclass
class NoiseScaleLogger:
    r"""A ``train_sgd`` callback that logs both estimators of :math:`B_{\text{simple}}` at every step.

    At each step, before the update, it computes the squared norm of the gradient of the whole
    mini-batch (:math:`B_b` examples) and of its first ``b_small`` examples, and stores the
    per-step unbiased estimates of :func:`two_batch_estimates`. With ``X, y`` given it also
    records the exact :math:`\lVert G\rVert^2` and :math:`\operatorname{tr}\Sigma` of the full data
    every ``exact_every`` steps (:func:`sgdnoise.covariance.gradient_moments_of_model`). Use it with batches drawn with
    replacement (``sampler="replacement"``), for which :math:`\mathbb{E}\lVert\hat g_B\rVert^2 =
    \lVert G\rVert^2 + \operatorname{tr}\Sigma/B` holds given the current weights.

    Parameters
    ----------
    loss_fn : callable
        The mean loss used for training.
    b_small : int
        :math:`B_s`, smaller than the training batch size.
    X, y : torch.Tensor, optional
        Full training data for the exact values.
    exact_every : int
        Record the exact values every this many steps (0: never).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> from sgdnoise.training import train_sgd
    >>> g = torch.Generator().manual_seed(0)
    >>> X, y = torch.randn(200, 3, generator=g), torch.randint(0, 2, (200,), generator=g)
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))
    >>> log = NoiseScaleLogger(F.cross_entropy, b_small=4, X=X, y=y, exact_every=5)
    >>> _ = train_sgd(m, F.cross_entropy, X, y, lr=0.1, batch_size=16, epochs=1, sampler="replacement",
    ...               callback=log, generator=torch.Generator().manual_seed(0))
    >>> len(log.steps), len(log.exact_steps)
    (13, 3)
    """

    loss_fn: LossFn
    b_small: int
    X: torch.Tensor | None = None
    y: torch.Tensor | None = None
    exact_every: int = 0
    steps: list = field(default_factory=list)
    g2: list = field(default_factory=list)
    trace: list = field(default_factory=list)
    exact_steps: list = field(default_factory=list)
    exact_g2: list = field(default_factory=list)
    exact_trace: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.b_small = check_positive_int("b_small", self.b_small)
        self.exact_every = check_positive_int("exact_every", self.exact_every, minimum=0)
        if self.exact_every and (self.X is None or self.y is None):
            raise ValueError("exact_every > 0 needs the full data X and y")

    def _sq_norm(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> float:
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(self.loss_fn(model(xb), yb), params)
        return float(sum(g.double().square().sum() for g in grads))

    def __call__(self, step: int, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> None:
        b_big = xb.shape[0]
        if b_big > self.b_small:
            small = self._sq_norm(model, xb[:self.b_small], yb[:self.b_small])
            big = self._sq_norm(model, xb, yb)
            g2, tr = two_batch_estimates(small, big, self.b_small, b_big)
            self.steps.append(step)
            self.g2.append(float(g2))
            self.trace.append(float(tr))
        if self.exact_every and step % self.exact_every == 0:
            g2, tr = gradient_moments_of_model(model, self.loss_fn, self.X, self.y)
            self.exact_steps.append(step)
            self.exact_g2.append(g2)
            self.exact_trace.append(tr)

    def smoothed(self, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Steps, :func:`ema` of :math:`\widehat{\lVert G\rVert^2}` and of :math:`\widehat{\operatorname{tr}\Sigma}`."""
        return np.asarray(self.steps), ema(self.g2, beta), ema(self.trace, beta)


@dataclass(frozen=True)
class CriticalBatch:
    """Result of :func:`fit_critical_batch` (and, with errors, :func:`bootstrap_critical_batch`)."""

    s_min: float
    e_min: float
    s_min_err: float = float("nan")
    e_min_err: float = float("nan")
    b_crit_err: float = float("nan")

    @property
    def b_crit(self) -> float:
        r""":math:`B_{\text{crit}} = E_{\min}/S_{\min}`."""
        return self.e_min / self.s_min

    def steps(self, batch_size):
        r"""The fitted curve :math:`S(B) = S_{\min}(1 + B_{\text{crit}}/B)`."""
        return self.s_min + self.e_min / np.asarray(batch_size, dtype=float)


def fit_critical_batch(batch_sizes, steps) -> CriticalBatch:
    r"""Fit :math:`(S/S_{\min} - 1)(E/E_{\min} - 1) = 1` to steps :math:`S` and examples :math:`E = BS`.

    With :math:`E = BS` the curve is :math:`S = S_{\min} + E_{\min}/B`, linear in :math:`1/B`
    (McCandlish et al. 2018, eq. 2.11). It is fitted by least squares on the *relative* residuals
    :math:`(S_i - S_{\min} - E_{\min}/B_i)/S_i`, so that a batch size needing many steps does not
    dominate.

    Parameters
    ----------
    batch_sizes : array, shape (K,)
        At least two distinct batch sizes > 0.
    steps : array, shape (K,)
        Steps to the target (> 0, finite).

    Returns
    -------
    CriticalBatch

    Examples
    --------
    >>> B = [1, 4, 16, 64, 256]
    >>> fit = fit_critical_batch(B, [100 + 2000 / b for b in B])
    >>> round(fit.s_min, 6), round(fit.e_min, 6), round(fit.b_crit, 6)
    (100.0, 2000.0, 20.0)
    """
    b = np.asarray(batch_sizes, dtype=float)
    s = np.asarray(steps, dtype=float)
    if b.ndim != 1 or b.shape != s.shape:
        raise ValueError(f"batch_sizes and steps must be 1-d of the same length, got {b.shape} and {s.shape}")
    if len(np.unique(b)) < 2 or (b <= 0).any() or not np.isfinite(b).all():
        raise ValueError(f"batch_sizes must hold at least two distinct finite values > 0, got {b.tolist()}")
    if (s <= 0).any() or not np.isfinite(s).all():
        raise ValueError(f"steps must be finite and > 0, got {s.tolist()}")
    A = np.stack([np.ones_like(b), 1 / b], axis=1) / s[:, None]
    (s_min, e_min), *_ = np.linalg.lstsq(A, np.ones_like(s), rcond=None)
    return CriticalBatch(float(s_min), float(e_min))


def best_steps(steps: np.ndarray) -> np.ndarray:
    r"""Steps to target at the best learning rate: the mean over seeds, minimized over rates.

    Parameters
    ----------
    steps : array, shape (K, L, R)
        Steps for K batch sizes, L learning rates, R seeds (``inf`` where the target was not
        reached: that rate is then never the best).

    Returns
    -------
    numpy.ndarray, shape (K,)

    Examples
    --------
    >>> best_steps(np.array([[[10, 12], [8, np.inf]]])).tolist()
    [11.0]
    """
    s = np.asarray(steps, dtype=float)
    if s.ndim != 3:
        raise ValueError(f"steps must have shape (batch sizes, learning rates, seeds), got {s.shape}")
    return s.mean(2).min(1)


def bootstrap_critical_batch(batch_sizes, steps, n_boot: int = 200, *,
                             generator: np.random.Generator | None = None) -> CriticalBatch:
    r"""Fit :func:`fit_critical_batch` to :func:`best_steps` and its standard errors by a bootstrap over seeds.

    Each bootstrap replicate resamples the R seeds with replacement (the same seeds for every
    batch size and rate), re-tunes the rate per batch size and refits; the standard deviations
    of the replicates' :math:`S_{\min}`, :math:`E_{\min}`, :math:`B_{\text{crit}}` are the errors.

    Parameters
    ----------
    batch_sizes : array, shape (K,)
    steps : array, shape (K, L, R)
    n_boot : int
        Replicates (>= 2).
    generator : numpy.random.Generator, optional
        Draws the resampled seeds; ``None``: a fresh one seeded from the operating system.

    Examples
    --------
    >>> B = np.array([1, 4, 16, 64])
    >>> s = (100 + 400 / B)[:, None, None] * np.ones((4, 1, 5))
    >>> fit = bootstrap_critical_batch(B, s, n_boot=10, generator=np.random.default_rng(0))
    >>> round(fit.b_crit, 6), round(fit.b_crit_err, 6)
    (4.0, 0.0)
    """
    s = np.asarray(steps, dtype=float)
    n_boot = check_positive_int("n_boot", n_boot, minimum=2)
    center = fit_critical_batch(batch_sizes, best_steps(s))
    rng = numpy_generator(generator)
    reps = []
    for _ in range(n_boot):
        pick = rng.integers(0, s.shape[2], s.shape[2])
        f = fit_critical_batch(batch_sizes, best_steps(s[:, :, pick]))
        reps.append((f.s_min, f.e_min, f.b_crit))
    sd = np.std(reps, axis=0, ddof=1)
    return CriticalBatch(center.s_min, center.e_min, float(sd[0]), float(sd[1]), float(sd[2]))
