import numpy as np
import pytest
import torch

from sgdnoise.bayes import (linear_regression_posterior, mandt_learning_rate,
                            sgd_stationary_covariance_linear_regression,
                            sgd_chains_linear_regression, sgld_chains_linear_regression)
from sgdnoise.covariance import least_squares_gradient_covariance
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


def test_sgd_chains_match_the_discrete_lyapunov_covariance(problem):
    X, y = problem
    m, _ = linear_regression_posterior(X, y, 0.25)
    A = X.numpy().T @ X.numpy() / X.shape[0]
    Sig = least_squares_gradient_covariance(X.numpy(), y.numpy(), m)
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
    S = lyapunov_covariance_discrete(lr, A, least_squares_gradient_covariance(X.numpy(), y.numpy(), m) + eps * B / lr ** 2 * np.eye(2), B)
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


def _kl_gauss(S, P):
    # KL(N(0, S) || N(0, P)), written out independently of the library
    d = len(S)
    return 0.5 * (np.trace(np.linalg.solve(P, S)) - d + np.linalg.slogdet(P)[1] - np.linalg.slogdet(S)[1])


def _kl_minimizing_rate(A, Sig, N, B, tau):
    # For each eta the OU covariance is solved by scipy (AS + SA = eta Sigma / B) and the KL to the
    # posterior N(0, tau A^-1 / N) is minimized numerically over log eta: no use of the closed form.
    import scipy.linalg
    import scipy.optimize
    P = tau * np.linalg.inv(A) / N
    kl = lambda le: _kl_gauss(scipy.linalg.solve_continuous_lyapunov(A, np.exp(le) * Sig / B), P)
    return np.exp(scipy.optimize.minimize_scalar(kl, bounds=(-15, 2), method="bounded",
                                                 options={"xatol": 1e-10}).x)


@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_mandt_rate_minimizes_the_kl_by_brute_force(tau):
    # A random Hessian and a noise covariance NOT proportional to it.
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    A = Q @ np.diag([2.0, 0.5, 0.1]) @ Q.T
    R = rng.standard_normal((3, 3))
    Sig = R @ R.T + 0.1 * np.eye(3)
    N, B = 2000, 16
    best = _kl_minimizing_rate(A, Sig, N, B, tau)
    assert mandt_learning_rate(Sig, N, B, temperature=tau) == pytest.approx(best, rel=1e-4)
    if tau != 1.0:   # the NLL formula (tau = 1) applied to a squared loss is off by 1/tau
        assert mandt_learning_rate(Sig, N, B) == pytest.approx(best / tau, rel=1e-4)


def test_mandt_rate_on_the_regression_problem_by_brute_force(problem):
    # The squared loss 1/2 (y - x.w)^2 with label noise s^2: tau = s^2, A = X^T X / N, Sigma measured
    # at the optimum; the KL-minimizing rate found numerically (about 0.11 here).
    X, y = problem
    N, B = X.shape[0], 10
    m, _ = linear_regression_posterior(X, y, 0.25)
    Sig = least_squares_gradient_covariance(X.numpy(), y.numpy(), m)
    A = X.numpy().T @ X.numpy() / N
    tau = float(np.mean((y.numpy() - X.numpy() @ m) ** 2))
    best = _kl_minimizing_rate(A, Sig, N, B, tau)
    assert mandt_learning_rate(Sig, N, B, temperature=tau) == pytest.approx(best, rel=1e-4)


def test_exact_sgd_covariance_reduces_to_lyapunov_without_state_dependence():
    # x_i = +-1 in 1-D: M_i = 1 for every example, so the noise does not depend on w.
    X = np.array([[1.0], [-1.0], [1.0], [-1.0], [1.0]])
    y = np.array([0.3, -1.2, 2.0, 0.1, -0.4])
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    Sig = least_squares_gradient_covariance(X, y, w_hat)
    for lr, B in [(0.3, 1), (1.7, 3)]:
        np.testing.assert_allclose(sgd_stationary_covariance_linear_regression(X, y, lr, B),
                                   lyapunov_covariance_discrete(lr, [[1.0]], Sig, B), rtol=1e-12)


def test_exact_sgd_covariance_matches_simulation_where_lyapunov_fails(problem):
    # At eta = 0.5, B = 2 the state-dependent noise makes the variances 1.7x and 1.4x the
    # Lyapunov values; the chains must match the exact covariance. The s.e. of each entry is the
    # empirical one of the products d_i d_j (the law is not Gaussian): with 10 000 chains it is
    # 2-3 % of the entry, so 5 s.e. detects a 10-15 % error; the Lyapunov values are off by 36-72 %.
    X, y = problem
    m, _ = linear_regression_posterior(X, y, 0.25)
    lr, B, n = 0.5, 2, 10_000
    S = sgd_stationary_covariance_linear_regression(X, y, lr, B)
    w = sgd_chains_linear_regression(X, y, lr, B, n, 600, torch.as_tensor(m), generator=torch.Generator().manual_seed(2)).numpy()
    d = w - m
    prod = np.stack([d[:, 0] ** 2, d[:, 1] ** 2, d[:, 0] * d[:, 1]], 1)
    mean, se = prod.mean(0), prod.std(0, ddof=1) / np.sqrt(n)
    ref = np.array([S[0, 0], S[1, 1], S[0, 1]])
    assert np.all(np.abs(mean - ref) < 5 * se)
    A = X.numpy().T @ X.numpy() / X.shape[0]
    L = lyapunov_covariance_discrete(lr, A, least_squares_gradient_covariance(X.numpy(), y.numpy(), m), B)
    assert np.all(np.abs(mean[:2] - np.diag(L)) > 5 * se[:2])       # the Lyapunov value is rejected


def test_exact_sgd_covariance_bad_inputs(problem):
    X, y = problem
    with pytest.raises(ValueError, match="lr"):
        sgd_stationary_covariance_linear_regression(X, y, 5.0, 1)
    with pytest.raises(ValueError, match="inject_var"):
        sgd_stationary_covariance_linear_regression(X, y, 0.1, 1, inject_var=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        mandt_learning_rate(np.eye(2), 10, 2, temperature=0.0)
