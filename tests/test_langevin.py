import numpy as np
import pytest
import torch

from sgdnoise.langevin import Ensemble, crossing, euler_maruyama, sgd_on_potential
from sgdnoise.potentials import DoubleWell, Quadratic, StrictSaddle
from sgdnoise.theory import (discrete_monitoring_shift, lyapunov_covariance_discrete, mean_first_passage_time,
                             saddle_escape_steps, stationary_variance_discrete)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def z_var(sample_var, theory, n):
    """z-score of a sample variance of n Gaussian draws (standard error theory * sqrt(2/(n-1)))."""
    return (sample_var - theory) / (theory * np.sqrt(2 / (n - 1)))


def cov_z(samples, S):
    """Largest z-score of the entries of a sample covariance against S (Gaussian standard errors)."""
    n = samples.shape[0]
    C = np.cov(samples.T)
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / (n - 1))
    return np.abs((C - S) / se).max()


@pytest.mark.parametrize("dt", [0.05, 0.5, 0.9])
def test_em_on_quadratic_has_the_exact_discrete_stationary_variance(dt):
    # Euler-Maruyama on h w^2/2 is the AR(1) w <- (1 - h dt) w + sqrt(2 T dt) xi: exact for any dt.
    h, T, n = 2.0, 0.3, 40_000
    ens = euler_maruyama(Quadratic(h), torch.zeros(n, 1, dtype=torch.float64), dt, int(30 / (h * dt)) + 50,
                         temperature=T, generator=gen(0))
    theory = stationary_variance_discrete(dt, h, noise_var=2 * T / dt)
    assert abs(z_var(ens.w.var().item(), theory, n)) < 5


def test_constant_and_state_dependent_diffusion_match_the_lyapunov_covariance():
    H = np.array([[2.0, 0.6], [0.6, 1.0]])
    D = np.array([[0.5, -0.2], [-0.2, 0.3]])
    dt, n = 0.2, 20_000
    # w <- (I - dt H) w + sqrt(2 dt) D^(1/2) xi : S = A S A^T + 2 dt D = lyapunov(lr=dt, Sigma = 2D/dt)
    S = lyapunov_covariance_discrete(dt, H, 2 * D / dt)
    w0 = torch.zeros(n, 2, dtype=torch.float64)
    const = euler_maruyama(Quadratic(H), w0, dt, 200, diffusion=D, generator=gen(1))
    Dt = torch.as_tensor(D)
    fn = euler_maruyama(Quadratic(H), w0, dt, 200, diffusion=lambda w: Dt.expand(w.shape[0], 2, 2), generator=gen(2))
    assert cov_z(const.w.numpy(), S) < 5
    assert cov_z(fn.w.numpy(), S) < 5


def test_diagonal_state_dependent_diffusion():
    # D(w) = T for every particle, returned as (n, 1): the same law as temperature=T.
    n, h, T, dt = 40_000, 1.0, 0.5, 0.1
    ens = euler_maruyama(Quadratic(h), torch.zeros(n, 1, dtype=torch.float64), dt, 300,
                         diffusion=lambda w: torch.full_like(w, T), generator=gen(3))
    assert abs(z_var(ens.w.var().item(), stationary_variance_discrete(dt, h, 2 * T / dt), n)) < 5


def test_mean_first_passage_time_matches_the_exact_integral():
    u, T, dt, n = DoubleWell(), 0.5, 0.005, 2000
    ens = euler_maruyama(u, torch.full((n, 1), -1.0), dt, 200_000, temperature=T,
                         targets={"far": crossing(1.0), "top": crossing(0.0)}, stop_when_passed=True,
                         generator=gen(4))
    for name, b in (("far", 1.0), ("top", 0.0)):
        t = ens.passage_time(name)
        assert not np.isnan(t).any()
        exact = mean_first_passage_time(u, -1.0, b + discrete_monitoring_shift(T, dt), T)
        assert abs(t.mean() - exact) < 5 * t.std() / np.sqrt(n), (name, t.mean(), exact)
    assert ens.n_steps < 200_000  # stopped early
    assert (ens.passage_step["top"] <= ens.passage_step["far"]).all()


def test_recording_and_targets_bookkeeping():
    w0 = torch.linspace(-1, 1, 11)[:, None]
    ens = euler_maruyama(DoubleWell(), w0, 0.01, 100, temperature=0.1, targets={"right": crossing(0.5)},
                         record_every=10, n_record=4, generator=gen(5))
    assert isinstance(ens, Ensemble) and ens.n_steps == 100
    assert ens.record_steps.tolist() == list(range(0, 101, 10))
    assert ens.trajectory.shape == (11, 4, 1) and torch.equal(ens.trajectory[0], w0[:4])
    assert torch.equal(ens.trajectory[-1], ens.w[:4])
    assert (ens.passage_step["right"][w0[:, 0] >= 0.5] == 0).all()     # already there at the start
    np.testing.assert_allclose(ens.record_times, ens.record_steps * 0.01)
    assert torch.equal(w0, torch.linspace(-1, 1, 11)[:, None])          # input untouched


def test_zero_temperature_is_gradient_descent_and_seeds_reproduce():
    w0 = torch.full((3, 1), 0.5, dtype=torch.float64)
    gd = euler_maruyama(DoubleWell(), w0, 0.01, 2000, temperature=0.0)
    assert torch.allclose(gd.w, torch.ones(3, 1, dtype=torch.float64))
    a = euler_maruyama(DoubleWell(), w0, 0.01, 50, temperature=0.3, generator=gen(6)).w
    b = euler_maruyama(DoubleWell(), w0, 0.01, 50, temperature=0.3, generator=gen(6)).w
    assert torch.equal(a, b)


@pytest.mark.parametrize("lr", [0.3, 1.5, 1.9])
def test_sgd_on_quadratic_matches_the_exact_discrete_variance(lr):
    h, s2, B, n = 1.0, 2.0, 4, 40_000
    ens = sgd_on_potential(Quadratic(h), torch.zeros(n, 1, dtype=torch.float64), lr, 400, noise_cov=s2,
                           batch_size=B, generator=gen(7))
    assert abs(z_var(ens.w.var().item(), stationary_variance_discrete(lr, h, s2, B), n)) < 5


def test_sgd_with_hessian_shaped_noise_matches_lyapunov():
    H = np.array([[3.0, 1.0], [1.0, 1.0]])
    lr, B, n = 0.2, 2, 20_000
    ens = sgd_on_potential(Quadratic(H), torch.zeros(n, 2, dtype=torch.float64), lr, 300, noise_cov="hessian",
                           batch_size=B, generator=gen(8))
    assert cov_z(ens.w.numpy(), lyapunov_covariance_discrete(lr, H, H, B)) < 5
    mat = sgd_on_potential(Quadratic(H), torch.zeros(n, 2, dtype=torch.float64), lr, 300, noise_cov=H,
                           batch_size=B, generator=gen(9))
    assert cov_z(mat.w.numpy(), lyapunov_covariance_discrete(lr, H, H, B)) < 5


def test_saddle_escape_steps_match_simulation():
    lr, gamma, n = 0.1, 1.0, 4000
    for eps in (1e-3, 1e-7):
        ens = sgd_on_potential(StrictSaddle(1.0, gamma), torch.zeros(n, 2, dtype=torch.float64), lr, 2000,
                               noise_cov=eps ** 2, targets={"out": crossing(1.0, axis=1, absolute=True)},
                               stop_when_passed=True, generator=gen(10))
        k = ens.passage_step["out"].double().numpy()
        assert (k > 0).all()
        assert abs(k.mean() - saddle_escape_steps(eps, lr, gamma)) < 5 * k.std() / np.sqrt(n)


def test_bad_inputs():
    w0 = torch.zeros(4, 1)
    with pytest.raises(ValueError, match="dt"):
        euler_maruyama(DoubleWell(), w0, -0.1, 10, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        euler_maruyama(DoubleWell(), w0, 0.1, 10, temperature=-1.0)
    with pytest.raises(ValueError, match="exactly one"):
        euler_maruyama(DoubleWell(), w0, 0.1, 10)
    with pytest.raises(ValueError, match="w0"):
        euler_maruyama(DoubleWell(), torch.zeros(4, 2), 0.1, 10, temperature=1.0)
    with pytest.raises(ValueError, match="n_steps"):
        euler_maruyama(DoubleWell(), w0, 0.1, 0, temperature=1.0)
    with pytest.raises(ValueError, match="diffusion"):
        euler_maruyama(Quadratic(np.eye(2)), torch.zeros(3, 2), 0.1, 10, diffusion=-np.eye(2))
    with pytest.raises(ValueError, match="potential"):
        euler_maruyama(lambda w: w, w0, 0.1, 10, temperature=1.0)
    with pytest.raises(ValueError, match="lr"):
        sgd_on_potential(DoubleWell(), w0, 0.0, 10)
    with pytest.raises(ValueError, match="batch_size"):
        sgd_on_potential(DoubleWell(), w0, 0.1, 10, batch_size=0)
    with pytest.raises(ValueError, match="noise_cov"):
        sgd_on_potential(DoubleWell(), w0, 0.1, 10, noise_cov="fisher")
