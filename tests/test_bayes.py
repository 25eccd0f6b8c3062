import numpy as np
import pytest
import torch

from sgdnoise.bayes import (gradient_noise_covariance, linear_regression_posterior, mandt_learning_rate,
                            sgd_chains_linear_regression, sgld_chains_linear_regression)
from sgdnoise.data import make_linear_regression
from sgdnoise.theory import lyapunov_covariance_discrete


@pytest.fixture(scope="module")
def problem():
    p = make_linear_regression(300, 2, noise=0.5, seed=0, device="cpu")
    X = p.X * torch.tensor([1.0, 0.5], dtype=torch.float64)
    return X, p.y


def cov_z(samples, S):
    n = samples.shape[0]
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / (n - 1))
    return np.abs((np.cov(samples.T) - S) / se).max()


def test_posterior_matches_normal_equations(problem):
    X, y = problem
    m, C = linear_regression_posterior(X, y, 0.25)
    Xn = X.numpy()
    np.testing.assert_allclose(m, np.linalg.lstsq(Xn, y.numpy(), rcond=None)[0], rtol=1e-10)
    np.testing.assert_allclose(np.linalg.inv(C), Xn.T @ Xn / 0.25, rtol=1e-10)


def test_noise_covariance_is_hessian_shaped_at_the_optimum(problem):
    X, y = problem
    m, _ = linear_regression_posterior(X, y, 0.25)
    Sig = gradient_noise_covariance(X, y, m)
    A = X.numpy().T @ X.numpy() / X.shape[0]
    resid_var = np.mean((y.numpy() - X.numpy() @ m) ** 2)
    np.testing.assert_allclose(Sig, resid_var * A, atol=0.25 * resid_var * np.abs(A).max())  # sampling error of a 300-point sum
    assert mandt_learning_rate(Sig, 300, 10) == pytest.approx(2 * 10 * 2 / (300 * np.trace(Sig)))


def test_sgd_chains_match_the_discrete_lyapunov_covariance(problem):
    X, y = problem
    m, _ = linear_regression_posterior(X, y, 0.25)
    A = X.numpy().T @ X.numpy() / X.shape[0]
    Sig = gradient_noise_covariance(X, y, m)
    lr, B, n = 0.2, 5, 4000
    w = sgd_chains_linear_regression(X, y, lr, B, n, 300, torch.as_tensor(m), generator=torch.Generator().manual_seed(0))
    assert cov_z(w.numpy(), lyapunov_covariance_discrete(lr, A, Sig, B)) < 5


def test_sgld_approaches_the_posterior(problem):
    X, y = problem
    N, s2 = X.shape[0], 0.25
    m, C = linear_regression_posterior(X, y, s2)
    eps, B, n = 2 * 0.004 * s2 / N, 30, 1000      # learning rate 0.004: minibatch noise ~2% of injected
    w = sgld_chains_linear_regression(X, y, eps, s2, B, n, 2500, torch.as_tensor(m), generator=torch.Generator().manual_seed(1))
    A = X.numpy().T @ X.numpy() / N
    lr = eps * N / (2 * s2)
    S = lyapunov_covariance_discrete(lr, A, gradient_noise_covariance(X, y, m) + eps * B / lr ** 2 * np.eye(2), B)
    assert cov_z(w.numpy(), S) < 5
    np.testing.assert_allclose(S, C, rtol=0.05, atol=0.05 * np.abs(C).max())   # exact law within 5 % of the posterior


def test_bad_inputs(problem):
    X, y = problem
    with pytest.raises(ValueError, match="noise_var"):
        linear_regression_posterior(X, y, 0.0)
    with pytest.raises(ValueError, match="lr"):
        sgd_chains_linear_regression(X, y, -1.0, 5, 10, 10, torch.zeros(2))
    with pytest.raises(ValueError, match="inject_var"):
        sgd_chains_linear_regression(X, y, 0.1, 5, 10, 10, torch.zeros(2), inject_var=-1.0)
    with pytest.raises(ValueError, match="step_size"):
        sgld_chains_linear_regression(X, y, 0.0, 0.25, 5, 10, 10, torch.zeros(2))
    with pytest.raises(ValueError, match="batch_size"):
        mandt_learning_rate(np.eye(2), 10, 20)
