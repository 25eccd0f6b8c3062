import numpy as np
import pytest

from sgdnoise.morphogen import (berg_purcell_relative_error, berg_purcell_time, boundary_position,
                                decoded_position_error, exponential_position, exponential_profile,
                                exponential_slope, nanomolar_to_per_cubic_micron, poisson_relative_error,
                                positional_error, positional_error_exponential, power_law_position,
                                power_law_profile, power_law_slope, read_multiplicative, read_poisson, samples_needed,
                                threshold_boundary_moments, threshold_boundary_sd_first_order,
                                exponential_decoding_moments)

X = np.linspace(0.005, 0.995, 100)  # 100 cells along the embryo, positions in egg lengths


def sd_of_sd(n):
    """Relative standard error of a sample standard deviation of n Gaussian values."""
    return 1 / np.sqrt(2 * (n - 1))


def test_slopes_match_finite_differences():
    h = 1e-6
    for prof, slope, kw in ((exponential_profile, exponential_slope, dict(c0=2.0, decay_length=0.2)),
                            (power_law_profile, power_law_slope, dict(c0=2.0, decay_length=0.1, exponent=2.5))):
        fd = (prof(X + h, **kw) - prof(X - h, **kw)) / (2 * h)
        assert np.allclose(slope(X, **kw), fd, rtol=1e-6)


def test_inverses():
    assert np.allclose(exponential_position(exponential_profile(X, 2.0, 0.3), 2.0, 0.3), X)
    assert np.allclose(power_law_position(power_law_profile(X, 2.0, 0.1, 3.0), 2.0, 0.1, 3.0), X)


def test_exponential_formula_is_the_general_one():
    c, g = exponential_profile(X, 3.0, 0.2), exponential_slope(X, 3.0, 0.2)
    assert np.allclose(positional_error(0.1 * c, g), positional_error_exponential(0.1, 0.2))


@pytest.mark.parametrize("lam", [0.1, 0.2, 0.4])
@pytest.mark.parametrize("n", [1, 4])
def test_decoded_position_error_matches_formula(lam, n):
    # small noise (2 %) so that the first-order formula is accurate to well below the sampling error
    embryos, sigma = 4000, 0.02
    c = exponential_profile(X, 1.0, lam)
    r = read_multiplicative(c, sigma, n_samples=n, size=(embryos, X.size), generator=np.random.default_rng(10))
    err = decoded_position_error(X, exponential_position(r, 1.0, lam))
    theory = exponential_decoding_moments(sigma, lam, n)[1]     # exact sd of -lam log(1 + s xi)
    assert theory == pytest.approx(positional_error_exponential(sigma, lam, n), rel=2 * sigma ** 2)  # first order
    # each cell: sample sd within 5 standard errors (~5.6 %); pooled over cells: ~0.6 %
    assert np.all(np.abs(err / theory - 1) < 5 * sd_of_sd(embryos))
    assert abs(np.mean(err ** 2) / theory ** 2 - 1) < 5 * np.sqrt(2 / ((embryos - 1) * X.size))


def test_poisson_readout_positional_error_grows_along_the_embryo():
    embryos, lam, v = 4000, 0.2, 20_000.0
    c = exponential_profile(X, 1.0, lam)
    r = read_poisson(c, v, size=(embryos, X.size), generator=np.random.default_rng(11))
    err = decoded_position_error(X, exponential_position(r, 1.0, lam))
    theory = positional_error(c * poisson_relative_error(c, v), exponential_slope(X, 1.0, lam))
    keep = c * v > 400  # where the Gaussian (first-order) approximation holds
    assert np.all(np.abs(err[keep] / theory[keep] - 1) < 5 * sd_of_sd(embryos) + 0.01)
    assert err[-1] > 5 * err[0]


def test_boundary_variability_from_embryo_level_noise_matches_formula():
    embryos, lam, sigma = 20_000, 0.2, 0.05
    c = exponential_profile(X, 1.0, lam)
    theta = float(exponential_profile(0.5, 1.0, lam))
    amplitude = read_multiplicative(np.ones((embryos, 1)), sigma, generator=np.random.default_rng(12))
    xb = boundary_position(X, amplitude * c, theta)
    # the crossing moves by lam log(1 + sigma xi) (exact moments); the grid of 0.01 EL adds dx^2/12
    # to the variance (Sheppard; x* = 0.5 lies midway between nuclei, so the mean is not shifted)
    shift_mean, shift_sd = exponential_decoding_moments(sigma, lam)
    theory = np.sqrt(shift_sd ** 2 + 0.01 ** 2 / 12)
    assert abs(xb.std(ddof=1) / theory - 1) < 5 * sd_of_sd(embryos)          # ~2.5 %
    assert abs(xb.mean() - (0.5 - shift_mean)) < 5 * theory / np.sqrt(embryos)


@pytest.mark.parametrize("rows", [1, 4])
def test_threshold_boundary_with_noise_per_nucleus_matches_exact_moments(rows):
    # Simulate every nucleus (boundary_position on each row, averaged over rows) against the
    # Bernoulli-sum moments computed from the normal CDF: independent code paths. 20,000 embryos:
    # the mean is tested to 5 s.e. (~4 % of one sd), the sd to 5 s.e. of a sample sd (~3 %).
    embryos, lam, sigma = 20_000, 0.2, 0.1
    c = exponential_profile(X, 1.0, lam)
    theta = float(exponential_profile(0.5, 1.0, lam))
    r = read_multiplicative(c, sigma, size=(embryos, rows, X.size), generator=np.random.default_rng(14))
    xb = boundary_position(X, r, theta).mean(-1)
    mean, sd = threshold_boundary_moments(X, c, theta, sigma, rows)
    assert abs(xb.mean() - mean) < 5 * sd / np.sqrt(embryos)
    d = xb - xb.mean()
    se_var = np.sqrt(((d ** 4).mean() - (d ** 2).mean() ** 2) / embryos)
    assert abs(xb.var(ddof=1) - sd ** 2) < 5 * se_var


def test_threshold_boundary_first_order_formula_is_the_small_noise_limit():
    # Fine grid (sigma_x = 20 dx) and 1 % noise: the exact Bernoulli sum approaches the closed form;
    # the remaining difference is O(sigma^2) = 1e-4 relative (a wrong sqrt(pi) would be off by 33 %).
    x = np.linspace(0.0005, 0.9995, 1000)
    lam, sigma = 0.2, 0.01
    c = exponential_profile(x, 1.0, lam)
    _, sd = threshold_boundary_moments(x, c, float(exponential_profile(0.5, 1.0, lam)), sigma, rows=3)
    first = threshold_boundary_sd_first_order(positional_error_exponential(sigma, lam), 0.001, rows=3)
    assert sd == pytest.approx(first, rel=1e-3)


def test_exponential_decoding_moments_series_and_monte_carlo():
    # small noise: the series lam (s^2/2 + 3 s^4/4), lam s (1 + 5/4 s^2); the next terms are O(s^6),
    # O(s^5) (relative 1e-8 at s = 0.01, checked to 1e-6)
    m, sd = exponential_decoding_moments(0.01, 0.3)
    assert m == pytest.approx(0.3 * (0.01 ** 2 / 2 + 0.75 * 0.01 ** 4), rel=1e-6)
    assert sd == pytest.approx(0.3 * 0.01 * (1 + 1.25 * 0.01 ** 2), rel=1e-6)
    # averaging n readings is the same as noise sigma/sqrt(n)
    assert exponential_decoding_moments(0.1, 0.2, 4) == pytest.approx(exponential_decoding_moments(0.05, 0.2))
    # Monte Carlo at 10 % noise, 10^6 decodings: mean to 5 s.e. (~10 % of the bias), sd to 5 s.e. (0.35 %)
    r = read_multiplicative(np.ones(1_000_000), 0.1, generator=np.random.default_rng(15))
    err = exponential_position(r, 1.0, 0.2)
    m, sd = exponential_decoding_moments(0.1, 0.2)
    assert abs(err.mean() - m) < 5 * sd / 1e3
    assert abs(err.std(ddof=1) - sd) < 5 * sd / np.sqrt(2e6)


def test_poisson_readout_moments():
    r = read_poisson(np.full(50_000, 3.0), 10.0, n_samples=5, generator=np.random.default_rng(13))
    assert abs(r.mean() - 3.0) < 5 * 3.0 * poisson_relative_error(3.0, 10.0, 5) / np.sqrt(50_000)
    assert abs(r.std() / 3.0 / poisson_relative_error(3.0, 10.0, 5) - 1) < 5 * sd_of_sd(50_000) + 0.01


def test_samples_needed_and_counting_limit():
    assert samples_needed(0.02, 0.01) == 4 and samples_needed(0.01, 0.01) == 1 and samples_needed(0.03, 0.01) == 9
    t = berg_purcell_time(0.3, 0.003, 4.8, 0.1)
    assert berg_purcell_relative_error(0.3, 0.003, 4.8, t) == pytest.approx(0.1)
    assert nanomolar_to_per_cubic_micron(8.0) == pytest.approx(4.818, rel=1e-3)


def test_seeded_readout_is_reproducible():
    a = read_multiplicative(np.ones(5), 0.1, n_samples=3, generator=np.random.default_rng(3))
    b = read_multiplicative(np.ones(5), 0.1, n_samples=3, generator=np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="decay_length"):
        exponential_profile(X, 1.0, 0.0)
    with pytest.raises(ValueError, match="slope"):
        positional_error(0.1, 0.0)
    with pytest.raises(ValueError, match="relative_noise"):
        read_multiplicative(X, -0.1, generator=rng)
    with pytest.raises(ValueError, match="n_samples"):
        read_poisson(X, 10.0, n_samples=0, generator=rng)
    with pytest.raises(ValueError, match="counts_per_unit"):
        read_poisson(X, 0.0, generator=rng)
    with pytest.raises(ValueError, match="generator"):
        read_poisson(X, 10.0, generator=0)
    with pytest.raises(ValueError, match="threshold"):
        boundary_position(X, np.ones((2, X.size)), -1.0)
    with pytest.raises(ValueError, match="uniformly spaced"):
        boundary_position(X ** 2, np.ones((2, X.size)), 0.5)
    with pytest.raises(ValueError, match="rows"):
        threshold_boundary_moments(X, exponential_profile(X), 0.1, 0.1, rows=0)
    with pytest.raises(ValueError, match="relative_noise"):
        threshold_boundary_moments(X, exponential_profile(X), 0.1, 0.0)
    with pytest.raises(ValueError, match="relative_noise"):
        exponential_decoding_moments(0.2)
    with pytest.raises(ValueError, match="spacing"):
        threshold_boundary_sd_first_order(0.02, 0.0)
    with pytest.raises(ValueError, match="time"):
        berg_purcell_relative_error(0.3, 0.003, 4.8, 0.0)
    with pytest.raises(ValueError, match="target_error"):
        samples_needed(0.02, 0.0)
    with pytest.raises(ValueError, match="c must be > 0"):
        exponential_position(np.array([0.5, -0.1]))
