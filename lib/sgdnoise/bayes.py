r"""Constant-learning-rate SGD as approximate Bayesian inference, on linear regression.

For the mean squared loss :math:`L(w) = \frac1{2N}\sum_i (y_i - x_i^\top w)^2` with Gaussian label
noise of variance :math:`\sigma^2` and a flat prior, the posterior is Gaussian,

.. math::

    p(w \mid X, y) = \mathcal N\big(\hat w,\ \sigma^2 (X^\top X)^{-1}\big)
    = \mathcal N\big(\hat w,\ \tfrac{\sigma^2}{N} A^{-1}\big),\qquad A = X^\top X / N = \nabla^2 L .

Mandt, Hoffman & Blei (2017) read the iterates of SGD with a constant learning rate as samples
of a stationary distribution and ask when it matches the posterior; stochastic gradient Langevin
dynamics (SGLD, Welling & Teh 2011) adds Gaussian noise so that it does as :math:`\eta \to 0`.
Both run as many independent chains at once on the library's one least-squares engine
(:func:`sgdnoise.leastsquares.sgd`; :func:`sgld_chains` translates SGLD's parameters), and
:func:`sgdnoise.leastsquares.stationary_covariance` is their exact stationary covariance.
"""

from __future__ import annotations

import numpy as np
import torch

from ._validate import check_positive_float, check_positive_int
from .leastsquares import LeastSquares, _check_problem, sgd


def linear_regression_posterior(problem: LeastSquares, noise_var: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Posterior mean and covariance of linear regression with a flat prior.

    :math:`\hat w = w^\star` (the least-squares optimum), :math:`\operatorname{Cov} = \sigma^2 (X^\top X)^{-1}
    = \frac{\sigma^2}{N}A^{-1}`.

    Parameters
    ----------
    problem : sgdnoise.leastsquares.LeastSquares
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
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> m, c = linear_regression_posterior(LeastSquares(X, y), noise_var=1.0)
    >>> round(float(m[0]), 12), round(float(c[0, 0]), 12)
    (2.5, 0.25)
    """
    _check_problem(problem)
    s2 = check_positive_float("noise_var", noise_var)
    Xd, H, _ = problem._float64()
    return problem.w_opt.double().cpu().numpy(), s2 / problem.n * torch.linalg.inv(H).numpy()


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


def sgld_chains(problem: LeastSquares, *, lr: float, noise_var: float, batch_size: int, n_chains: int,
                n_steps: int, w0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Stochastic gradient Langevin dynamics (Welling & Teh 2011) for linear regression, flat prior.

    SGLD's update :math:`\Delta w = \frac{\epsilon}{2}\,\frac NB\sum_{i\in\mathcal B}\nabla\log p(y_i\mid x_i, w)
    + \mathcal N(0, \epsilon I)` is, for Gaussian noise of variance :math:`\sigma^2`, plain SGD on the
    mean squared loss with learning rate :math:`\eta = \epsilon N / (2\sigma^2)` plus injected noise of
    variance :math:`\epsilon = 2\eta\sigma^2/N`: :func:`sgdnoise.leastsquares.sgd` with those.

    Parameters
    ----------
    problem : sgdnoise.leastsquares.LeastSquares
    lr : float
        SGLD's step size :math:`\epsilon > 0` (the variance of its injected noise).
    noise_var : float
        :math:`\sigma^2 > 0` of the likelihood.
    batch_size, n_chains, n_steps : int
    w0 : torch.Tensor, shape (d,) or (n_chains, d)
    generator : torch.Generator, optional
        On the data's device.

    Returns
    -------
    torch.Tensor, shape (n_chains, d)

    Examples
    --------
    >>> X = torch.ones(4, 1, dtype=torch.float64); y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    >>> w = sgld_chains(LeastSquares(X, y), lr=0.01, noise_var=1.0, batch_size=2, n_chains=5, n_steps=10,
    ...                 w0=torch.zeros(1, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> w.shape
    torch.Size([5, 1])
    """
    eps = check_positive_float("lr", lr)
    s2 = check_positive_float("noise_var", noise_var)
    return sgd(_check_problem(problem), lr=eps * problem.n / (2 * s2), batch_size=batch_size, n_steps=n_steps,
               n_runs=n_chains, w0=w0, inject_var=eps, generator=generator)
