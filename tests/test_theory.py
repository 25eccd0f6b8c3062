import numpy as np
import pytest
import scipy.integrate

from sgdnoise.potentials import CurvedDoubleWell, DoubleWell, Quadratic, SharpFlatWells
from sgdnoise.theory import (discrete_monitoring_shift, gibbs_density_1d, gibbs_density_2d, kramers_rate,
                             lyapunov_covariance_continuous, lyapunov_covariance_discrete, mean_first_passage_time,
                             saddle_escape_steps, stationary_variance_discrete, stationary_variance_langevin)


def test_gibbs_densities_are_normalized_and_gaussian_for_a_quadratic():
    x = np.linspace(-10, 10, 4001)
    p = gibbs_density_1d(Quadratic(2.0), x, temperature=0.5)          # N(0, T/h = 1/4)
    np.testing.assert_allclose(p, np.exp(-2 * x ** 2) / np.sqrt(np.pi / 2), atol=1e-9)
    g = np.linspace(-3, 3, 301)
    p2 = gibbs_density_2d(CurvedDoubleWell(), g, g, temperature=0.3)
    assert np.trapezoid(np.trapezoid(p2, g, axis=1), g) == pytest.approx(1.0)
    assert p2.shape == (301, 301)


def test_discrete_variance_solves_the_ar1_recursion_and_has_the_langevin_limit():
    lr, h, s2, B = np.array([0.01, 0.5, 1.0, 1.9]), 1.0, 3.0, 3
    v = stationary_variance_discrete(lr, h, s2, B)
    np.testing.assert_allclose(v, (1 - lr * h) ** 2 * v + lr ** 2 * s2 / B)
    lang = stationary_variance_langevin(lr, h, s2, B)
    np.testing.assert_allclose(v / lang, 2 / (2 - lr * h))
    assert stationary_variance_discrete(1e-6, h, s2, B) / stationary_variance_langevin(1e-6, h, s2, B) == pytest.approx(1, rel=1e-5)


def test_lyapunov_solutions_satisfy_their_equations():
    H = np.array([[2.0, 0.5], [0.5, 0.7]])
    Sig = np.array([[1.0, -0.3], [-0.3, 0.4]])
    lr, B = 0.3, 5
    S = lyapunov_covariance_discrete(lr, H, Sig, B)
    A = np.eye(2) - lr * H
    np.testing.assert_allclose(S, A @ S @ A.T + lr ** 2 * Sig / B, atol=1e-14)
    Sc = lyapunov_covariance_continuous(lr, H, Sig, B)
    np.testing.assert_allclose(H @ Sc + Sc @ H, lr * Sig / B, atol=1e-14)
    small = 1e-5
    np.testing.assert_allclose(lyapunov_covariance_discrete(small, H, Sig, B),
                               lyapunov_covariance_continuous(small, H, Sig, B), rtol=1e-4)
    assert lyapunov_covariance_discrete(1.0, [[1.0]], [[2.0]])[0, 0] == pytest.approx(stationary_variance_discrete(1.0, 1.0, 2.0))


def test_mfpt_quadrature_matches_closed_form_for_free_diffusion():
    # U = 0, reflecting at L: tau(x0 -> b) = ((b - L)^2 - (x0 - L)^2) / (2T).
    T, L, x0, b = 0.7, -1.0, 0.5, 2.0
    tau = mean_first_passage_time(Quadratic(0.0), x0, b, T, lower=L)
    assert tau == pytest.approx(((b - L) ** 2 - (x0 - L) ** 2) / (2 * T), rel=1e-6)


def test_mfpt_quadrature_matches_scipy_dblquad():
    u, T = DoubleWell(), 0.4
    U = lambda x: (x * x - 1) ** 2
    inner = lambda y: scipy.integrate.quad(lambda z: np.exp(-U(z) / T), -4, y)[0]
    ref = scipy.integrate.quad(lambda y: np.exp(U(y) / T) * inner(y), -0.7, 0.3)[0] / T
    assert mean_first_passage_time(u, -0.7, 0.3, T) == pytest.approx(ref, rel=1e-6)


def test_kramers_is_the_low_temperature_limit_and_top_is_half():
    u = DoubleWell()
    for T in (0.05, 0.1):
        k = kramers_rate(8.0, 4.0, 1.0, T)
        far, top = mean_first_passage_time(u, -1, 1, T) * k, mean_first_passage_time(u, -1, 0, T) * k
        assert 1 < far < 1 + 0.5 * T and 0.5 < top < 0.5 + 0.25 * T   # corrections of order T
    # the sharp/flat wells: rate with the left-side barrier curvature h/2, time to the top
    w = SharpFlatWells(0.3, 20.0, 5.0)
    T = 0.02
    top = mean_first_passage_time(w, w.minima[0], 0.0, T)
    assert top * kramers_rate(20.0, 10.0, 0.3, T) == pytest.approx(0.5, rel=0.05)


def test_saddle_escape_and_shift_formulas():
    k = saddle_escape_steps(np.array([1e-2, 1e-6]), 0.05, 2.0, radius=0.5)
    assert k[1] - k[0] == pytest.approx(np.log(1e4) / np.log(1.1))
    assert discrete_monitoring_shift(0.0, 0.1) == 0.0
    assert discrete_monitoring_shift(2.0, 0.01) == pytest.approx(0.5826 * 0.2, rel=1e-4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="lr"):
        stationary_variance_discrete(2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="curvature"):
        stationary_variance_discrete(0.1, -1.0, 1.0)
    with pytest.raises(ValueError, match="batch_size"):
        stationary_variance_langevin(0.1, 1.0, 1.0, batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        lyapunov_covariance_discrete(1.5, np.diag([1.0, 2.0]), np.eye(2))
    with pytest.raises(ValueError, match="noise_cov"):
        lyapunov_covariance_continuous(0.1, np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="temperature"):
        kramers_rate(8.0, 4.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="target"):
        mean_first_passage_time(DoubleWell(), 0.0, -1.0, 0.5)
    with pytest.raises(ValueError, match="temperature"):
        gibbs_density_1d(DoubleWell(), np.linspace(-2, 2, 10), -1.0)
    with pytest.raises(ValueError, match="noise_std"):
        saddle_escape_steps(0.0, 0.1, 1.0)
