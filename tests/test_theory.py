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


def test_euler_maruyama_law_matches_the_ar1_closed_form_on_a_quadratic():
    # On U = h w^2/2 the Euler-Maruyama chain is AR(1): w' = q w + sqrt(2 T dt) xi, q = 1 - h dt.
    # Stationary: N(0, 2 T dt/(1 - q^2)); after n steps from x0: N(x0 q^n, 2 T dt (1 - q^{2n})/(1 - q^2)).
    from sgdnoise.theory import euler_maruyama_law_1d
    h, T, dt = 2.0, 0.5, 0.1
    q, x = 1 - h * dt, np.linspace(-5, 5, 1001)
    normal = lambda m, v: np.exp(-(x - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
    p = euler_maruyama_law_1d(Quadratic(h), x, dt, T)
    np.testing.assert_allclose(p, normal(0.0, 2 * T * dt / (1 - q * q)), atol=1e-10)
    assert 2 * T * dt / (1 - q * q) == pytest.approx(T / h / (1 - h * dt / 2))       # the O(dt) excess
    for n in (1, 2, 7):
        pn = euler_maruyama_law_1d(Quadratic(h), x, dt, T, n_steps=n, x0=1.5)
        np.testing.assert_allclose(pn, normal(1.5 * q ** n, 2 * T * dt * (1 - q ** (2 * n)) / (1 - q * q)), atol=1e-10)


def test_euler_maruyama_law_tends_to_gibbs_at_first_order_in_dt():
    # On a double well the bias of the chain's stationary law is O(dt): halving dt halves it.
    from sgdnoise.theory import euler_maruyama_law_1d
    u, T, x = DoubleWell(tilt=0.3), 0.4, np.linspace(-2.6, 2.6, 521)
    g = gibbs_density_1d(u, x, T)
    err = [np.abs(euler_maruyama_law_1d(u, x, dt, T) - g).max() for dt in (0.02, 0.01, 0.005)]
    assert err[0] / err[1] == pytest.approx(2, rel=0.05) and err[1] / err[2] == pytest.approx(2, rel=0.03)
    assert err[2] > 1e-3 * g.max()            # ... and is not negligible at the chapter's dt = 0.005


def test_non_gaussian_kurtosis_and_schedule_variance():
    from sgdnoise.theory import stationary_excess_kurtosis_discrete, stationary_variance_after, variance_under_schedule
    # kurtosis: brute-force cumulant sum sum_j q^{4j} / (sum_j q^{2j})^2 over 2000 terms
    for lr in (0.05, 0.35, 0.75):
        q = 1 - lr * 2.0
        j = np.arange(2000)
        assert stationary_excess_kurtosis_discrete(lr, 2.0, 6.0) == pytest.approx(
            6.0 * (q ** (4 * j)).sum() / (q ** (2 * j)).sum() ** 2, rel=1e-10)
    # a constant schedule reproduces the transient closed form
    v = variance_under_schedule(np.full(30, 0.4), 1.5, 2.0, batch_size=2)
    np.testing.assert_allclose(v, stationary_variance_after(np.arange(31), 0.4, 1.5, 2.0, 2), rtol=1e-12)
    with pytest.raises(ValueError, match="noise_excess_kurtosis"):
        stationary_excess_kurtosis_discrete(0.1, 1.0, -3.0)
    with pytest.raises(ValueError, match="lrs"):
        variance_under_schedule([0.1, -0.1], 1.0, 1.0)


def test_euler_maruyama_law_bad_inputs():
    from sgdnoise.theory import euler_maruyama_law_1d
    with pytest.raises(ValueError, match="spacing"):
        euler_maruyama_law_1d(DoubleWell(), np.linspace(-2, 2, 11), 0.005, 0.4)
    with pytest.raises(ValueError, match="n_steps"):
        euler_maruyama_law_1d(DoubleWell(), np.linspace(-2, 2, 401), 0.005, 0.4, n_steps=10)
    with pytest.raises(ValueError, match="dt"):
        euler_maruyama_law_1d(DoubleWell(), np.linspace(-2, 2, 401), -0.005, 0.4)


def test_richardson_removes_the_first_order_bias_of_the_chain():
    # The premise of the chapter's 2-D check, tested deterministically in 1-D with the chain's exact law: the mean
    # energy of the Euler-Maruyama chain is E_Gibbs + c1 dt + O(dt^2), so 2 E(dt/2) - E(dt) is much closer to Gibbs.
    from sgdnoise.theory import euler_maruyama_law_1d
    u, T, x = DoubleWell(tilt=0.3), 0.4, np.linspace(-2.6, 2.6, 1041)
    mean_u = lambda p: np.trapezoid(p * u.value(x[:, None]), x) / np.trapezoid(p, x)
    e0 = mean_u(gibbs_density_1d(u, x, T))
    e1, e2 = (mean_u(euler_maruyama_law_1d(u, x, dt, T)) for dt in (0.005, 0.0025))
    assert abs(e1 - e0) > 0.05 * abs(e0)                  # the bias at dt = 0.005 is real (9 % of this small mean) ...
    assert abs(2 * e2 - e1 - e0) < 0.05 * abs(e1 - e0)    # ... and extrapolation removes more than 95 % of it (99 %)
