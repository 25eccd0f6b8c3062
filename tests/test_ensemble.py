import numpy as np
import pytest
import torch

from sgdnoise.data import make_linear_regression
from sgdnoise.ensemble import (least_squares_expected_excess, least_squares_sgd, least_squares_stationary_excess,
                               steps_to_target)


@pytest.fixture(scope="module")
def prob():
    return make_linear_regression(64, 3, noise=0.5, seed=4, device="cpu")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("batch_size", [2, 16])        # 16 >= N/8 takes the counting path
def test_mean_iterate_follows_gradient_descent(prob, batch_size):
    # E[w_t] - w* = (I - eta H)^t (w_0 - w*): SGD with i.i.d. batches is unbiased step by step.
    # least_squares_sgd records the suboptimality, so check it through an exact identity instead:
    # E[F(w_t)] - F* = 1/2 tr(H C_t) >= 1/2 m_t^T H m_t, and at t = 1 the mean excess is exact:
    # E[F(w_1)] - F* = 1/2 m_1^T H m_1 + eta^2/(2B) tr(H Cov_i(g_i(w_0))).
    X, y, w = prob.X, prob.y, prob.w_opt
    n, eta, R = X.shape[0], 0.2, 20000
    H = X.T @ X / n
    tr = least_squares_sgd(X, y, w, lr=eta, batch_size=batch_size, steps=1, n_runs=R, generator=gen(1), device="cpu")
    e0 = -w
    m1 = e0 - eta * H @ e0
    g = X * (X @ torch.zeros(3, dtype=X.dtype) - y)[:, None]
    D = g - g.mean(0)
    expected = 0.5 * float(m1 @ H @ m1) + eta ** 2 / (2 * batch_size) * float(((D @ H) * D).sum(1).mean())
    ex = tr.excess[:, 1]
    assert abs(ex.mean() - expected) < 5 * ex.std(ddof=1) / np.sqrt(R)
    assert np.allclose(tr.excess[:, 0], 0.5 * float(w @ H @ w))
    assert np.allclose(tr.excess_avg[:, 1], tr.excess[:, 1])          # the average of one iterate is itself


@pytest.mark.parametrize("eta, batch_size", [(0.05, 1), (0.3, 4)])
def test_stationary_excess_matches_simulation(prob, eta, batch_size):
    X, y, w = prob.X, prob.y, prob.w_opt
    R, T = 400, 1500
    tr = least_squares_sgd(X, y, w, lr=eta, batch_size=batch_size, steps=T, n_runs=R, w0=w,
                           record_at=np.arange(T // 2, T + 1, 5), generator=gen(2), device="cpu")
    per_run = tr.excess.mean(1)                     # time averages: independent across runs
    exact = least_squares_stationary_excess(X, y, w, eta, batch_size)
    assert abs(per_run.mean() - exact) < 5 * per_run.std(ddof=1) / np.sqrt(R)


def test_stationary_excess_small_lr_limit_and_instability(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    trS = float(((X @ w - y)[:, None] * X).square().sum(1).mean())
    eta = 1e-5
    assert least_squares_stationary_excess(X, y, w, eta, 3) == pytest.approx(eta * trS / 12, rel=1e-3)
    lam_max = float(torch.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])
    assert least_squares_stationary_excess(X, y, w, 2.1 / lam_max, 64) == float("inf")


def test_steps_to_target_is_the_first_crossing(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    target, R = 0.02, 6
    hits = steps_to_target(X, y, w, lrs=[0.1], batch_size=4, target=target, n_seeds=R, max_steps=500,
                           generator=gen(3), device="cpu")
    tr = least_squares_sgd(X, y, w, lr=0.1, batch_size=4, steps=500, n_runs=R, generator=gen(3), device="cpu")
    first = np.array([np.argmax(row <= target) if (row <= target).any() else np.inf for row in tr.excess])
    assert hits.shape == (1, R) and np.array_equal(hits[0], first)


def test_steps_to_target_gives_up_on_slow_and_diverging_rates(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    s = steps_to_target(X, y, w, lrs=[0.002, 0.2, 50.0], batch_size=8, target=0.02, n_seeds=4,
                        max_steps=5000, give_up_factor=2.0, generator=gen(4), device="cpu")
    assert np.isfinite(s[1]).all() and np.isinf(s[0]).all() and np.isinf(s[2]).all()


def test_schedules_per_run_and_batch_size_schedule(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    tr = least_squares_sgd(X, y, w, lr=lambda t: np.array([0.1, 0.2]), batch_size=lambda t: 2 if t < 5 else 8,
                           steps=10, n_runs=2, generator=gen(5), device="cpu")
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
    tr = least_squares_sgd(Xv, Xv @ w_star, w_star, lr=rates, batch_size=lambda t: 1 if t < 5 else 8,
                           steps=10, n_runs=2, generator=gen(5), device="cpu")
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
        least_squares_sgd(X, y, w, lr=-0.1, batch_size=2, steps=3, n_runs=2, device="cpu")
    with pytest.raises(ValueError, match="learning rate"):
        least_squares_sgd(X, y, w, lr=[0.1, 0.2, 0.3], batch_size=2, steps=3, n_runs=2, device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        least_squares_sgd(X, y, w, lr=0.1, batch_size=0, steps=3, n_runs=2, device="cpu")
    with pytest.raises(ValueError, match="record_at"):
        least_squares_sgd(X, y, w, lr=0.1, batch_size=2, steps=3, n_runs=2, record_at=[5], device="cpu")
    with pytest.raises(ValueError, match="w_opt"):
        least_squares_sgd(X, y, w[:2], lr=0.1, batch_size=2, steps=3, n_runs=2, device="cpu")
    with pytest.raises(ValueError, match="w0"):
        least_squares_sgd(X, y, w, lr=0.1, batch_size=2, steps=3, n_runs=2, w0=torch.zeros(5), device="cpu")
    with pytest.raises(ValueError, match="give_up_factor"):
        steps_to_target(X, y, w, lrs=[0.1], batch_size=2, target=0.1, n_seeds=2, max_steps=5, give_up_factor=1.0)
    with pytest.raises(ValueError, match="target"):
        steps_to_target(X, y, w, lrs=[0.1], batch_size=2, target=0.0, n_seeds=2, max_steps=5)
    with pytest.raises(ValueError, match="lrs"):
        steps_to_target(X, y, w, lrs=[0.1, -1.0], batch_size=2, target=0.1, n_seeds=2, max_steps=5)
    with pytest.raises(ValueError, match="lr"):
        least_squares_stationary_excess(X, y, w, 0.0, 2)


@pytest.mark.parametrize("batch_size", [2, 16])
def test_expected_excess_matches_simulation_in_the_transient(prob, batch_size):
    # Independent check: the mean of 40000 simulated runs at steps 1, 5 and 30 (transient and
    # near-stationary) agrees within 5 s.e.; the s.e. is 0.2-0.5 % of the value, so a relative
    # error of about 2 % (e.g. the cross term K(m) dropped, or 1/B for (1 - 1/B)) would fail.
    X, y, w = prob.X, prob.y, prob.w_opt
    R, at = 40000, [1, 5, 30]
    exact = least_squares_expected_excess(X, y, w, lr=0.2, batch_size=batch_size, steps=30, record_at=at)[0]
    tr = least_squares_sgd(X, y, w, lr=0.2, batch_size=batch_size, steps=30, n_runs=R, record_at=at,
                           generator=gen(3), device="cpu")
    m, se = tr.excess.mean(0), tr.excess.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(m - exact) < 5 * se), (m, exact, se)


def test_expected_excess_first_step_closed_form_and_fixed_point(prob):
    # Step 1 from w0 = 0 by the explicit formula of test_mean_iterate_follows_gradient_descent
    # (mean part + eta^2/(2B) tr(H Cov_i g_i(w0))), to float64 rounding; a long constant-rate run
    # ends at the linear-solve fixed point of least_squares_stationary_excess (another code path).
    X, y, w = prob.X, prob.y, prob.w_opt
    n, eta, b = X.shape[0], 0.2, 3
    H = (X.T @ X / n).double()
    m1 = -w.double() + eta * H @ w.double()
    g = (X * (-y)[:, None]).double()
    D = g - g.mean(0)
    step1 = 0.5 * float(m1 @ H @ m1) + eta ** 2 / (2 * b) * float(((D @ H) * D).sum(1).mean())
    curve = least_squares_expected_excess(X, y, w, lr=[eta, 0.05], batch_size=b, steps=4000, record_at=[0, 1, 4000])
    assert curve.shape == (2, 3)
    assert curve[0, 0] == pytest.approx(0.5 * float(w.double() @ H @ w.double()), rel=1e-12)
    assert curve[0, 1] == pytest.approx(step1, rel=1e-10)
    for k, rate in enumerate([eta, 0.05]):
        assert curve[k, 2] == pytest.approx(least_squares_stationary_excess(X, y, w, rate, b), rel=1e-8)


def test_expected_excess_schedules_and_bad_input(prob):
    X, y, w = prob.X, prob.y, prob.w_opt
    # A batch-size schedule equal to a constant gives the same curve.
    a = least_squares_expected_excess(X, y, w, lr=lambda t: 0.1, batch_size=lambda t: 4, steps=50)
    b = least_squares_expected_excess(X, y, w, lr=0.1, batch_size=4, steps=50)
    assert np.array_equal(a, b)
    lam_max = float(torch.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])
    assert np.isinf(least_squares_expected_excess(X, y, w, lr=2.5 / lam_max, batch_size=64, steps=3000)[0, -1])
    with pytest.raises(ValueError, match="steps"):
        least_squares_expected_excess(X, y, w, lr=0.1, batch_size=4, steps=0)
    with pytest.raises(ValueError, match="record_at"):
        least_squares_expected_excess(X, y, w, lr=0.1, batch_size=4, steps=5, record_at=[6])
    with pytest.raises(ValueError, match="w0"):
        least_squares_expected_excess(X, y, w, lr=0.1, batch_size=4, steps=5, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="lr"):
        least_squares_expected_excess(X, y, w, lr=-0.1, batch_size=4, steps=5)
