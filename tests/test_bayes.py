import numpy as np
import pytest
import torch

from sgdnoise.bayes import linear_regression_posterior, mandt_learning_rate, sgld_chains
from sgdnoise.data import make_linear_regression
from sgdnoise.leastsquares import LeastSquares
from sgdnoise.theory import lyapunov_covariance_discrete
from sgdnoise.covariance import least_squares_gradient_covariance


def ls_cov(X, y, w) -> np.ndarray:
    """Σ of least squares at w, as a NumPy array (the library gives a tensor for tensor data)."""
    return np.asarray(least_squares_gradient_covariance(X, y, w))


@pytest.fixture(scope="module")
def problem():
    p = make_linear_regression(300, 2, noise=0.5, generator=np.random.default_rng(0), device="cpu")
    X = p.X * torch.tensor([1.0, 0.5], dtype=torch.float64)
    return X, p.y


def cov_z(samples, S):
    n = samples.shape[0]
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / (n - 1))
    return np.abs((np.cov(samples.T) - S) / se).max()


def test_sgld_approaches_the_posterior(problem):
    X, y = problem
    N, s2 = X.shape[0], 0.25
    m, C = linear_regression_posterior(LeastSquares(X, y), s2)
    eps, B, n = 2 * 0.004 * s2 / N, 30, 1000      # learning rate 0.004: minibatch noise ~2% of injected
    w = sgld_chains(LeastSquares(X, y), lr=eps, noise_var=s2, batch_size=B, n_chains=n, n_steps=2500,
                    w0=torch.as_tensor(m), generator=torch.Generator().manual_seed(1))
    A = X.numpy().T @ X.numpy() / N
    lr = eps * N / (2 * s2)
    S = lyapunov_covariance_discrete(lr, A, least_squares_gradient_covariance(X.numpy(), y.numpy(), m) + eps * B / lr ** 2 * np.eye(2), B)
    assert cov_z(w.numpy(), S) < 5
    np.testing.assert_allclose(S, C, rtol=0.05, atol=0.05 * np.abs(C).max())   # exact law within 5 % of the posterior


def test_bad_inputs(problem):
    X, y = problem
    with pytest.raises(ValueError, match="noise_var"):
        linear_regression_posterior(LeastSquares(X, y), 0.0)
    with pytest.raises(ValueError, match="problem"):
        linear_regression_posterior(X, 0.25)
    with pytest.raises(ValueError, match="lr"):
        sgld_chains(LeastSquares(X, y), lr=0.0, noise_var=0.25, batch_size=5, n_chains=10, n_steps=10, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="noise_var"):
        sgld_chains(LeastSquares(X, y), lr=0.1, noise_var=0.0, batch_size=5, n_chains=10, n_steps=10, w0=torch.zeros(2))
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
    m, _ = linear_regression_posterior(LeastSquares(X, y), 0.25)
    Sig = ls_cov(X, y, m)
    A = X.numpy().T @ X.numpy() / N
    tau = float(np.mean((y.numpy() - X.numpy() @ m) ** 2))
    best = _kl_minimizing_rate(A, Sig, N, B, tau)
    assert mandt_learning_rate(Sig, N, B, temperature=tau) == pytest.approx(best, rel=1e-4)


def test_mandt_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        mandt_learning_rate(np.eye(2), 10, 2, temperature=0.0)
