import numpy as np
import pytest

from sgdnoise.games import (alternating_invariant, expected_invariant_alternating, expected_sq_radius_simultaneous,
                            gda_bilinear, simultaneous_radius_factor)


def starts(r=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=r), rng.normal(size=r)


def test_simultaneous_radius_grows_by_the_exact_factor():
    x0, y0 = starts()
    lr, T = 0.2, 100
    x, y = gda_bilinear(x0, y0, lr, T, alternating=False)
    r = np.hypot(x, y)
    assert np.allclose(r[1:] / r[:-1], simultaneous_radius_factor(lr), rtol=1e-12)
    assert np.allclose(r[-1] ** 2, expected_sq_radius_simultaneous(1.0, lr, 0.0, T) * r[0] ** 2, rtol=1e-10)


def test_alternating_conserves_q_exactly():
    x0, y0 = starts()
    lr, T = 0.5, 2000
    x, y = gda_bilinear(x0, y0, lr, T, alternating=True)
    q = alternating_invariant(x, y, lr)
    assert np.allclose(q, q[0], rtol=1e-11, atol=0)
    assert np.abs(x).max() < 10  # a closed cycle: bounded


def test_noisy_alternating_q_grows_by_2_eta2_sigma2_per_step():
    R, lr, sigma, T = 20000, 0.3, 0.5, 50
    x, y = gda_bilinear(np.ones(R), np.zeros(R), lr, T, alternating=True, sigma=sigma,
                        generator=np.random.default_rng(1))
    q = alternating_invariant(x[-1], y[-1], lr)
    expected = expected_invariant_alternating(1.0, lr, sigma, T)
    assert abs(q.mean() - expected) < 5 * q.std(ddof=1) / np.sqrt(R)
    # and the whole curve, at a few times
    for t in (1, 10, 25):
        qt = alternating_invariant(x[t], y[t], lr)
        assert abs(qt.mean() - expected_invariant_alternating(1.0, lr, sigma, t)) < 5 * qt.std(ddof=1) / np.sqrt(R)


def test_noisy_simultaneous_r2_follows_the_recursion():
    R, lr, sigma, T = 20000, 0.2, 0.7, 40
    x, y = gda_bilinear(np.zeros(R), np.full(R, 0.5), lr, T, alternating=False, sigma=sigma,
                        generator=np.random.default_rng(2))
    for t in (1, 5, 20, 40):
        r2 = x[t] ** 2 + y[t] ** 2
        expected = expected_sq_radius_simultaneous(0.25, lr, sigma, t)
        assert abs(r2.mean() - expected) < 5 * r2.std(ddof=1) / np.sqrt(R)
    # the recursion itself
    m = expected_sq_radius_simultaneous(0.25, lr, sigma, np.arange(T + 1))
    assert np.allclose(m[1:], (1 + lr ** 2) * m[:-1] + 2 * lr ** 2 * sigma ** 2)


def test_same_seed_same_paths_and_bad_inputs():
    a = gda_bilinear(1.0, 1.0, 0.1, 5, True, 0.3, generator=np.random.default_rng(4))
    b = gda_bilinear(1.0, 1.0, 0.1, 5, True, 0.3, generator=np.random.default_rng(4))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match=r"\blr\b"):
        gda_bilinear(1.0, 1.0, 0.0, 5, True)
    with pytest.raises(ValueError, match="n_steps"):
        gda_bilinear(1.0, 1.0, 0.1, 0, True)
    with pytest.raises(ValueError, match="sigma"):
        gda_bilinear(1.0, 1.0, 0.1, 5, True, -1.0)
    with pytest.raises(ValueError, match="generator"):
        gda_bilinear(1.0, 1.0, 0.1, 5, True, 0.5, generator=0)
    with pytest.raises(ValueError, match="n_steps"):
        expected_invariant_alternating(1.0, 0.1, 0.1, -1)
    with pytest.raises(ValueError, match="r0_sq"):
        expected_sq_radius_simultaneous(-1.0, 0.1, 0.1, 1)
