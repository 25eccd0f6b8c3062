import numpy as np
import pytest
import torch
from scipy.stats import levy_stable

from sgdnoise.tails import inverse_tail_index, running_variance, tail_index

R, K = 30, 10_000  # repetitions and samples per repetition


@pytest.mark.parametrize("alpha", [1.5, 2.0])
def test_estimator_recovers_alpha_of_stable_samples(alpha):
    # For exact SaS samples the estimate of 1/alpha is unbiased (Y =d K1^(1/alpha) X): the mean of
    # R independent estimates is within 5 standard errors (from their own spread) of 1/alpha.
    rng = np.random.default_rng(12345)
    x = levy_stable.rvs(alpha, 0.0, size=(R, K), random_state=rng)
    est = np.array([inverse_tail_index(row) for row in x])
    se = est.std(ddof=1) / np.sqrt(R)
    assert abs(est.mean() - 1 / alpha) < 5 * se
    assert se < 0.01   # and the estimator is sharp enough to tell 1.5 from 2 in one run


def test_estimator_distinguishes_cauchy_from_gaussian():
    rng = np.random.default_rng(0)
    assert tail_index(rng.standard_cauchy(40_000)) == pytest.approx(1.0, abs=0.1)
    assert tail_index(torch.as_tensor(rng.standard_normal(40_000))) == pytest.approx(2.0, abs=0.2)


def test_estimator_is_scale_invariant():
    x = np.random.default_rng(1).standard_cauchy(5000)
    assert inverse_tail_index(1e-3 * x, 50) == pytest.approx(inverse_tail_index(x, 50), rel=1e-12)


def test_running_variance_matches_direct_computation():
    x = np.random.default_rng(2).standard_normal((3, 50))
    rv = running_variance(x)
    assert rv.shape == (3, 49)
    for n in (2, 10, 50):
        assert np.allclose(rv[:, n - 2], x[:, :n].var(axis=1, ddof=1))
    assert np.allclose(running_variance(x.T, axis=0), rv.T)


def test_bad_inputs():
    with pytest.raises(ValueError, match="samples"):
        inverse_tail_index([1.0, 2.0])
    with pytest.raises(ValueError, match="block_size"):
        inverse_tail_index(np.ones(100), block_size=1)
    with pytest.raises(ValueError, match="block_size"):
        inverse_tail_index(np.ones(100), block_size=51)
    with pytest.raises(ValueError, match="samples contains NaN"):
        tail_index(np.array([1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match="samples"):
        running_variance([1.0])


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_stable_sampler_matches_scipy_cdf(alpha):
    # Empirical CDF at a few points against scipy's levy_stable.cdf (numerical integration, an
    # independent code path): within 5 binomial standard errors (~0.8 % of probability at n = 1e5).
    from sgdnoise.tails import sample_symmetric_stable
    n = 100_000
    x = sample_symmetric_stable(alpha, n, generator=np.random.default_rng(1))
    for t in (-4.0, -1.0, 0.3, 2.5):
        p = float(levy_stable.cdf(t, alpha, 0.0))
        assert abs(float((x <= t).mean()) - p) < 5 * np.sqrt(p * (1 - p) / n), (alpha, t)


def test_stable_sampler_bad_inputs():
    from sgdnoise.tails import sample_symmetric_stable
    with pytest.raises(ValueError, match="alpha"):
        sample_symmetric_stable(2.5, 10, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="generator"):
        sample_symmetric_stable(1.5, 10, generator=0)
