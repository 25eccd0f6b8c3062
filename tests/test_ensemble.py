import numpy as np
import pytest
import torch

from sgdnoise.data import make_linear_regression
from sgdnoise.ensemble import excess_trajectories, steps_to_target
from sgdnoise.leastsquares import LeastSquares


@pytest.fixture(scope="module")
def prob():
    p = make_linear_regression(64, 3, noise=0.5, generator=np.random.default_rng(4))
    return LeastSquares(p.X, p.y)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("batch_size", [2, 16])        # 16 >= N/8 takes the counting path
def test_mean_iterate_follows_gradient_descent(prob, batch_size):
    # E[w_t] - w* = (I - eta H)^t (w_0 - w*): SGD with i.i.d. batches is unbiased step by step.
    # excess_trajectories records the suboptimality, so check it through an exact identity instead:
    # E[F(w_t)] - F* = 1/2 tr(H C_t) >= 1/2 m_t^T H m_t, and at t = 1 the mean excess is exact:
    # E[F(w_1)] - F* = 1/2 m_1^T H m_1 + eta^2/(2B) tr(H Cov_i(g_i(w_0))).
    X, y, w = prob.X, prob.y, prob.w_opt
    n, eta, R = X.shape[0], 0.2, 20000
    H = X.T @ X / n
    tr = excess_trajectories(prob, lr=eta, batch_size=batch_size, n_steps=1, n_runs=R, generator=gen(1))
    e0 = -w
    m1 = e0 - eta * H @ e0
    g = X * (X @ torch.zeros(3, dtype=X.dtype) - y)[:, None]
    D = g - g.mean(0)
    expected = 0.5 * float(m1 @ H @ m1) + eta ** 2 / (2 * batch_size) * float(((D @ H) * D).sum(1).mean())
    ex = tr.excess[:, 1]
    assert abs(ex.mean() - expected) < 5 * ex.std(ddof=1) / np.sqrt(R)
    assert np.allclose(tr.excess[:, 0], 0.5 * float(w @ H @ w))
    assert np.allclose(tr.excess_avg[:, 1], tr.excess[:, 1])          # the average of one iterate is itself


def test_steps_to_target_is_the_first_crossing(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    target, R = 0.02, 6
    hits = steps_to_target(prob, lrs=[0.1], batch_size=4, target=target, n_seeds=R, max_steps=500,
                           generator=gen(3))
    tr = excess_trajectories(prob, lr=0.1, batch_size=4, n_steps=500, n_runs=R, generator=gen(3))
    first = np.array([np.argmax(row <= target) if (row <= target).any() else np.inf for row in tr.excess])
    assert hits.shape == (1, R) and np.array_equal(hits[0], first)


def test_steps_to_target_gives_up_on_slow_and_diverging_rates(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    s = steps_to_target(prob, lrs=[0.002, 0.2, 50.0], batch_size=8, target=0.02, n_seeds=4,
                        max_steps=5000, give_up_factor=2.0, generator=gen(4))
    assert np.isfinite(s[1]).all() and np.isinf(s[0]).all() and np.isinf(s[2]).all()


def test_schedules_per_run_and_batch_size_schedule(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    tr = excess_trajectories(prob, lr=lambda t: np.array([0.1, 0.2]), batch_size=lambda t: 2 if t < 5 else 8,
                           n_steps=10, n_runs=2, generator=gen(5))
    assert np.array_equal(tr.examples, np.r_[0, np.cumsum([2] * 5 + [8] * 5)]) and tr.excess.shape == (2, 11)
    # Values: rows x_i = +-v with y = X w*, so every per-example gradient is v v^T (w - w*) and every
    # batch gives the same step, whatever it draws: e_t = (1 - eta_t |v|^2) e_{t-1} along v, and
    # F(w_t) - F* = 1/2 (v^T e_t)^2 exactly. Run r has its own rate eta_r(t) (halved from t = 5 on);
    # the rates swapped between runs, applied one step late, or shared by both runs all fail.
    v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0] * 8, dtype=torch.float64)
    Xv = signs[:, None] * v
    w_star = torch.tensor([0.7, 0.1, -0.4], dtype=torch.float64)
    rates = lambda t: np.array([0.05, 0.15]) * (1.0 if t < 5 else 0.5)
    # batch size 1 (8 B < N: the gather path), then 8 (the counting path)
    tr = excess_trajectories(LeastSquares(Xv, Xv @ w_star), lr=rates, batch_size=lambda t: 1 if t < 5 else 8,
                           n_steps=10, n_runs=2, generator=gen(5))
    vv = float(v @ v)
    for r in range(2):
        e = float(v @ -w_star)                          # w_0 = 0, so e_0 = -w*
        ref = [0.5 * e ** 2]
        for t in range(10):
            e *= 1 - rates(t)[r] * vv
            ref.append(0.5 * e ** 2)
        assert np.allclose(tr.excess[r], ref, rtol=1e-12, atol=1e-15), (r, tr.excess[r], ref)


def test_bad_inputs(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    with pytest.raises(ValueError, match="lr"):
        excess_trajectories(prob, lr=-0.1, batch_size=2, n_steps=3, n_runs=2)
    with pytest.raises(ValueError, match="learning rate"):
        excess_trajectories(prob, lr=[0.1, 0.2, 0.3], batch_size=2, n_steps=3, n_runs=2)
    with pytest.raises(ValueError, match="batch_size"):
        excess_trajectories(prob, lr=0.1, batch_size=0, n_steps=3, n_runs=2)
    with pytest.raises(ValueError, match="record_at"):
        excess_trajectories(prob, lr=0.1, batch_size=2, n_steps=3, n_runs=2, record_at=[5])
    with pytest.raises(ValueError, match="problem"):
        excess_trajectories((X, y), lr=0.1, batch_size=2, n_steps=3, n_runs=2)
    with pytest.raises(ValueError, match="w0"):
        excess_trajectories(prob, lr=0.1, batch_size=2, n_steps=3, n_runs=2, w0=torch.zeros(5))
    with pytest.raises(ValueError, match="give_up_factor"):
        steps_to_target(prob, lrs=[0.1], batch_size=2, target=0.1, n_seeds=2, max_steps=5, give_up_factor=1.0)
    with pytest.raises(ValueError, match="target"):
        steps_to_target(prob, lrs=[0.1], batch_size=2, target=0.0, n_seeds=2, max_steps=5)
    with pytest.raises(ValueError, match="lrs"):
        steps_to_target(prob, lrs=[0.1, -1.0], batch_size=2, target=0.1, n_seeds=2, max_steps=5)


