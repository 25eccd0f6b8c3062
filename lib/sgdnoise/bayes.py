r"""Constant-learning-rate SGD as approximate Bayesian inference, on linear regression.

For the mean squared loss :math:`L(w) = \frac1{2N}\sum_i (y_i - x_i^\top w)^2` with Gaussian label
noise of variance :math:`\sigma^2` and a flat prior, the posterior is Gaussian,

.. math::

    p(w \mid X, y) = \mathcal N\big(\hat w,\ \sigma^2 (X^\top X)^{-1}\big)
    = \mathcal N\big(\hat w,\ \tfrac{\sigma^2}{N} A^{-1}\big),\qquad A = X^\top X / N = \nabla^2 L .

Mandt, Hoffman & Blei (2017) read the iterates of SGD with a constant learning rate as samples
of a stationary distribution and ask when it matches the posterior; stochastic gradient Langevin
dynamics (SGLD, Welling & Teh 2011) adds Gaussian noise so that it does as :math:`\eta \to 0`.
Both run here as many independent chains at once (torch, vectorized over chains).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._progress import progress
from ._validate import check_finite, check_generator, check_positive_float, check_positive_int
from .sampling import sample_batches


def linear_regression_posterior(X, y, noise_var: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Posterior mean and covariance of linear regression with a flat prior.

    :math:`\hat w = (X^\top X)^{-1} X^\top y`, :math:`\operatorname{Cov} = \sigma^2 (X^\top X)^{-1}`.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
    noise_var : float
        Label-noise variance :math:`\sigma^2 > 0`.

    Returns
    -------
    mean : numpy.ndarray, shape (d,)
    cov : numpy.ndarray, shape (d, d)

    References
    ----------
    Bishop (2006), *Pattern Recognition and Machine Learning*, §3.3 (flat-prior limit).

    Examples
    --------
    >>> X = np.array([[1.0], [1.0], [1.0], [1.0]]); y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> m, c = linear_regression_posterior(X, y, noise_var=1.0)
    >>> float(m[0]), float(c[0, 0])
    (2.5, 0.25)
    """
    X = np.asarray(X.cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, d) and y (N,), got {X.shape} and {y.shape}")
    s2 = check_positive_float("noise_var", noise_var)
    XtX = X.T @ X
    mean = np.linalg.solve(XtX, X.T @ y)
    return mean, s2 * np.linalg.inv(XtX)


def mandt_learning_rate(noise_cov, n_data: int, batch_size: int, temperature: float = 1.0) -> float:
    r"""The constant learning rate whose stationary SGD law is closest (in KL) to the posterior.

    Which loss is assumed matters. SGD runs on a mean loss :math:`L(w) = \frac1N\sum_i \ell_i(w)`
    whose posterior is :math:`p(w\mid\text{data}) \propto e^{-N L(w)/\tau}`:

    * :math:`\tau = 1` when :math:`\ell_i` is the per-example negative log-likelihood (Mandt,
      Hoffman & Blei 2017, Thm. 1);
    * :math:`\tau = \sigma^2` for the squared loss :math:`\ell_i = \frac12 (y_i - x_i^\top w)^2`
      with Gaussian label noise of variance :math:`\sigma^2` (then :math:`\ell_i/\sigma^2` is the
      negative log-likelihood).

    Near the optimum the posterior is :math:`\mathcal N(\hat w, \frac{\tau}{N}A^{-1})` with
    :math:`A = \nabla^2 L`, and SGD's stationary covariance in the small-:math:`\eta` (Ornstein–
    Uhlenbeck) limit solves :math:`AS + SA = \eta\Sigma/B`, so :math:`S = \eta S_1` and
    :math:`\operatorname{tr}(AS) = \eta\operatorname{tr}\Sigma/(2B)` for *any* noise covariance
    :math:`\Sigma`. The KL divergence from the SGD law to the posterior is then

    .. math::

        \mathrm{KL}(\eta) = \frac12\Big[\frac{N}{\tau}\operatorname{tr}(AS) - \ln\det S\Big] + \text{const}
        = \frac{N\eta\operatorname{tr}\Sigma}{4B\tau} - \frac d2\ln\eta + \text{const},

    minimized at

    .. math::

        \eta^\star = \frac{2 B d\,\tau}{N \operatorname{tr}\Sigma},

    where :math:`\operatorname{tr}(P^{-1}S) = d` (:math:`P` the posterior covariance): the SGD
    cloud has the posterior's scale in the posterior's own metric. No assumption
    :math:`\Sigma \approx \tau A` is needed for :math:`\eta^\star`; that assumption is what makes the
    SGD cloud isotropic (:math:`S = \frac{\eta\tau}{2B}I`). The exact (discrete) stationary law
    differs at order :math:`\eta\lambda_{\max}(A)`.

    Parameters
    ----------
    noise_cov : array_like, shape (d, d)
        Per-example gradient covariance :math:`\Sigma` of the loss SGD runs on, at the optimum.
    n_data : int
        :math:`N`.
    batch_size : int
        :math:`B`.
    temperature : float
        :math:`\tau > 0`: 1 for a negative log-likelihood, :math:`\sigma^2` for the squared loss
        with label-noise variance :math:`\sigma^2`.

    Returns
    -------
    float

    References
    ----------
    Mandt, Hoffman & Blei (2017), *Stochastic gradient descent as approximate Bayesian
    inference*, JMLR 18, Theorem 1.

    Examples
    --------
    >>> mandt_learning_rate(np.eye(2), n_data=1000, batch_size=10)
    0.02
    >>> mandt_learning_rate(0.25 * np.eye(2), n_data=1000, batch_size=10, temperature=0.25)   # squared loss
    0.02
    """
    S = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
    tr = float(np.trace(S))
    if S.shape[0] != S.shape[1] or tr <= 0:
        raise ValueError(f"noise_cov must be a square matrix with positive trace, got shape {S.shape}")
    n = check_positive_int("n_data", n_data)
    b = check_positive_int("batch_size", batch_size, maximum=n)
    tau = check_positive_float("temperature", temperature)
    return 2 * b * S.shape[0] * tau / (n * tr)


def sgd_stationary_covariance_linear_regression(X, y, lr: float, batch_size: int,
                                                inject_var: float = 0.0) -> np.ndarray:
    r"""Exact stationary covariance of mini-batch SGD (with replacement) on least squares.

    For :math:`w \leftarrow w - \frac{\eta}{B}\sum_{b}x_b(x_b^\top w - y_b) + \sqrt v\,\zeta` with
    :math:`B` indices drawn uniformly with replacement, write :math:`\delta = w - \hat w`,
    :math:`M_i = x_i x_i^\top`, :math:`u_i = x_i r_i` (:math:`r_i` the residuals at :math:`\hat w`,
    so :math:`\sum_i u_i = 0`) and :math:`A = \frac1N\sum_i M_i`. The mini-batch gradient is
    :math:`\frac1B\sum_b (M_b\delta - u_b)`; its noise depends on :math:`\delta`, and averaging over
    the stationary law (mean :math:`\hat w`) gives the closed linear equation

    .. math::

        S = (I-\eta A)S(I-\eta A) + \frac{\eta^2}{B}\Big[\frac1N\sum_i M_i S M_i - ASA + \Sigma\Big] + vI,
        \qquad \Sigma = \frac1N\sum_i u_i u_i^\top,

    solved here as a :math:`d^2 \times d^2` linear system. Dropping the bracket's first two terms
    (state-independent noise) gives :func:`sgdnoise.theory.lyapunov_covariance_discrete`. The law
    itself is not Gaussian; this is its exact covariance.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
    lr : float
        :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1`.
    inject_var : float
        :math:`v \ge 0`, injected Gaussian noise per coordinate (SGLD).

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If the second-moment recursion is unstable at this ``lr`` (no stationary covariance).

    Examples
    --------
    >>> X = np.ones((4, 1)); y = np.array([1.0, 2.0, 3.0, 4.0])     # M_i = 1: no state dependence
    >>> float(sgd_stationary_covariance_linear_regression(X, y, 0.5, 1)[0, 0])   # 0.5² · 1.25 / (1 − 0.25)
    0.4166666666666667
    """
    X = np.asarray(X.cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, d) and y (N,), got {X.shape} and {y.shape}")
    lr = check_positive_float("lr", lr)
    b = check_positive_int("batch_size", batch_size)
    v = check_positive_float("inject_var", inject_var, allow_zero=True)
    n, d = X.shape
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    u = X * (y - X @ w_hat)[:, None]
    A, Sig = X.T @ X / n, u.T @ u / n
    G = np.eye(d) - lr * A
    # vec(M S M) = (M ⊗ M) vec(S) for symmetric M; sum over examples without forming N Kronecker products
    MM = np.einsum("ni,nj,nk,nl->ijkl", X, X, X, X).reshape(d * d, d * d) / n
    T = np.kron(G, G) + lr ** 2 / b * (MM - np.kron(A, A))
    if np.max(np.abs(np.linalg.eigvals(T))) >= 1:
        raise ValueError(f"lr = {lr} gives an unstable second-moment recursion: no stationary covariance")
    rhs = (lr ** 2 / b * Sig + v * np.eye(d)).reshape(-1)
    S = np.linalg.solve(np.eye(d * d) - T, rhs).reshape(d, d)
    return 0.5 * (S + S.T)


def sgd_chains_linear_regression(X: torch.Tensor, y: torch.Tensor, lr: float, batch_size: int, n_chains: int,
                                 n_steps: int, w0: torch.Tensor, inject_var: float = 0.0,
                                 generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Run ``n_chains`` independent chains of mini-batch SGD on linear regression.

    .. math::

        w \leftarrow w - \eta\,\hat g_B(w) + \sqrt{v}\,\zeta, \qquad
        \hat g_B(w) = -\frac1B\sum_{i\in\mathcal B} x_i\,(y_i - x_i^\top w),\quad \zeta \sim \mathcal N(0, I),

    with a fresh batch (drawn with replacement) per chain and step, and optional injected
    Gaussian noise of variance :math:`v` per coordinate (:math:`v = 0`: plain SGD).

    Parameters
    ----------
    X : torch.Tensor, shape (N, d)
    y : torch.Tensor, shape (N,)
    lr : float
        :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1`.
    n_chains, n_steps : int
    w0 : torch.Tensor, shape (d,) or (n_chains, d)
        Starting point(s).
    inject_var : float
        :math:`v \ge 0`.
    generator : torch.Generator, optional
        On ``X``'s device.

    Returns
    -------
    torch.Tensor, shape (n_chains, d)
        The chains after ``n_steps`` steps.

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> w = sgd_chains_linear_regression(X, y, 0.5, 4, 3, 100, torch.zeros(1, dtype=torch.float64),
    ...                                  generator=torch.Generator().manual_seed(0))
    >>> w.shape
    torch.Size([3, 1])
    """
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, d) and y (N,), got {tuple(X.shape)} and {tuple(y.shape)}")
    check_finite("X", X)
    check_finite("y", y)
    n, d = X.shape
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    n_chains = check_positive_int("n_chains", n_chains)
    n_steps = check_positive_int("n_steps", n_steps)
    inject_sd = math.sqrt(check_positive_float("inject_var", inject_var, allow_zero=True))
    check_generator(generator, X, data="X")
    w0 = torch.as_tensor(w0)
    if w0.shape not in ((d,), (n_chains, d)):
        raise ValueError(f"w0 must have shape ({d},) or ({n_chains}, {d}), got {tuple(w0.shape)}")
    check_finite("w0", w0)
    w = w0.to(dtype=X.dtype, device=X.device).expand(n_chains, d).clone()
    noise = torch.empty_like(w)
    for _ in progress(range(n_steps), "SGD chains", leave=False):
        idx = sample_batches(n, batch_size, n_chains, replace=True, generator=generator)
        Xb, yb = X[idx], y[idx]                                   # (K, B, d), (K, B)
        resid = yb - torch.einsum("kbd,kd->kb", Xb, w)
        w.add_(torch.einsum("kbd,kb->kd", Xb, resid), alpha=lr / batch_size)
        if inject_sd > 0:
            w.add_(noise.normal_(0.0, inject_sd, generator=generator))
    return w


def sgld_chains_linear_regression(X: torch.Tensor, y: torch.Tensor, step_size: float, noise_var: float,
                                  batch_size: int, n_chains: int, n_steps: int, w0: torch.Tensor,
                                  generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Stochastic gradient Langevin dynamics (Welling & Teh 2011) for linear regression, flat prior.

    SGLD's update :math:`\Delta w = \frac{\epsilon}{2}\,\frac NB\sum_{i\in\mathcal B}\nabla\log p(y_i\mid x_i, w)
    + \mathcal N(0, \epsilon I)` is, for Gaussian noise of variance :math:`\sigma^2`, plain SGD on the
    mean squared loss with learning rate :math:`\eta = \epsilon N / (2\sigma^2)` plus injected noise of
    variance :math:`\epsilon = 2\eta\sigma^2/N`; it calls :func:`sgd_chains_linear_regression`.

    Parameters
    ----------
    step_size : float
        :math:`\epsilon > 0`.
    noise_var : float
        :math:`\sigma^2 > 0` of the likelihood.
    (others as in :func:`sgd_chains_linear_regression`)

    Returns
    -------
    torch.Tensor, shape (n_chains, d)

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> w = sgld_chains_linear_regression(X, y, 0.01, 1.0, 2, 5, 10, torch.zeros(1, dtype=torch.float64),
    ...                                   generator=torch.Generator().manual_seed(0))
    >>> w.shape
    torch.Size([5, 1])
    """
    eps = check_positive_float("step_size", step_size)
    s2 = check_positive_float("noise_var", noise_var)
    return sgd_chains_linear_regression(X, y, eps * X.shape[0] / (2 * s2), batch_size, n_chains, n_steps, w0,
                                        inject_var=eps, generator=generator)
