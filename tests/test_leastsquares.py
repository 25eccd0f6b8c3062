import numpy as np
import pytest
import torch

from sgdnoise.bayes import linear_regression_posterior
from sgdnoise.data import make_linear_regression
from sgdnoise.ensemble import excess_trajectories
from sgdnoise.leastsquares import (LeastSquares, SGDRuns, condition_number, expected_excess, sgd,
                                   stationary_covariance, stationary_excess)
from sgdnoise.theory import lyapunov_covariance_discrete
from sgdnoise.covariance import least_squares_gradient_covariance


def ls_cov(X, y, w) -> np.ndarray:
    """Σ of least squares at w, as a NumPy array (the library gives a tensor for tensor data)."""
    return np.asarray(least_squares_gradient_covariance(X, y, w))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def ls2():
    # Two features of different scales (the shape of chapter 3's problem).
    p = make_linear_regression(300, 2, noise=0.5, generator=np.random.default_rng(0), device="cpu")
    return LeastSquares(p.X * torch.tensor([1.0, 0.5], dtype=torch.float64), p.y)


@pytest.fixture(scope="module")
def ls3():
    p = make_linear_regression(64, 3, noise=0.5, generator=np.random.default_rng(4), device="cpu")
    return LeastSquares(p.X, p.y)


def cov_z(samples, S):
    n = samples.shape[0]
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / (n - 1))
    return np.abs((np.cov(samples.T) - S) / se).max()


# ---- the problem object -------------------------------------------------------------------------

def test_problem_against_numpy_and_autograd(ls2):
    X, y = ls2.X, ls2.y
    # The optimum against numpy's SVD-based lstsq (another code path), to float64 rounding.
    np.testing.assert_allclose(ls2.w_opt.numpy(), np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)[0], rtol=1e-12)
    np.testing.assert_allclose(ls2.hessian.numpy(), X.numpy().T @ X.numpy() / 300, rtol=1e-12)
    w = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
    loss = 0.5 * ((X @ w - y) ** 2).mean()
    (g,) = torch.autograd.grad(loss, w)
    assert float(ls2.loss(w.detach())) == pytest.approx(float(loss.detach()), rel=1e-14)
    assert torch.allclose(ls2.gradient(w.detach()), g, rtol=1e-12)
    # Per-example gradients row by row with autograd; their mean is the gradient.
    rows = torch.stack([torch.autograd.grad(0.5 * (X[i] @ w - y[i]) ** 2, w)[0] for i in range(5)])
    assert torch.allclose(ls2.per_example_grads(w.detach())[:5], rows, rtol=1e-12)
    assert torch.allclose(ls2.per_example_grads(w.detach()).mean(0), g, rtol=1e-12)
    # The excess is L(w) - L(w*) (the quadratic identity), for a batch of iterates at once.
    W = torch.randn(4, 2, generator=gen(0), dtype=torch.float64)
    assert torch.allclose(ls2.excess(W), ls2.loss(W) - ls2.loss(ls2.w_opt), rtol=1e-10)


def test_problem_bad_inputs():
    X = torch.randn(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="X"):
        LeastSquares(X[:, 0], X[:, 0])
    with pytest.raises(ValueError, match="y"):
        LeastSquares(X, X[:4, 0])
    with pytest.raises(ValueError, match="y"):
        LeastSquares(X, X[:, 0].float())
    with pytest.raises(ValueError, match="w"):
        LeastSquares(X, X[:, 0]).loss(torch.zeros(3))


def test_condition_number():
    X = torch.tensor([[1.0, 0.0], [0.0, 5.0], [-1.0, 0.0], [0.0, -5.0]])
    assert condition_number(X) == pytest.approx(25.0, rel=1e-12)
    with pytest.raises(ValueError, match="rtol"):
        condition_number(X, rtol=0.0)


# ---- the engine ---------------------------------------------------------------------------------

def test_full_batch_without_replacement_is_gradient_descent(ls3):
    # B = N without replacement: every run takes the deterministic step w - eta grad L(w).
    w = sgd(ls3, lr=0.1, batch_size=ls3.n, n_steps=20, n_runs=3, replace=False, generator=gen(0))
    ref = torch.zeros(3, dtype=torch.float64)
    for _ in range(20):
        ref = ref - 0.1 * ls3.gradient(ref)
    assert torch.allclose(w, ref.expand(3, 3), rtol=1e-10)


def test_without_replacement_each_batch_is_a_subset(ls3):
    # A batch of N - 1 distinct rows: the step is (N g - g_j)/(N - 1) for the left-out row j, so
    # every run lands on one of N points (with replacement, repeats make most runs land elsewhere).
    n = ls3.n
    runs = SGDRuns(ls3, 200, replace=False, generator=gen(1))
    runs.step(0.1, n - 1)
    g = ls3.per_example_grads(torch.zeros(3, dtype=torch.float64))
    candidates = -0.1 * (g.sum(0) - g) / (n - 1)
    dist = torch.cdist(runs.w, candidates).min(1).values
    assert float(dist.max()) < 1e-8
    with_repl = SGDRuns(ls3, 200, replace=True, generator=gen(1))
    with_repl.step(0.1, n - 1)
    assert float((torch.cdist(with_repl.w, candidates).min(1).values > 1e-6).float().mean()) > 0.9


def test_chunks_do_not_change_the_runs(ls3):
    a = sgd(ls3, lr=0.2, batch_size=4, n_steps=30, n_runs=10, generator=gen(3))
    b = sgd(ls3, lr=0.2, batch_size=4, n_steps=30, n_runs=10, generator=gen(3), chunk_size=3)
    c = sgd(ls3, lr=0.2, batch_size=16, n_steps=30, n_runs=10, generator=gen(3), chunk_size=4)  # counting path
    d = sgd(ls3, lr=0.2, batch_size=16, n_steps=30, n_runs=10, generator=gen(3))
    assert torch.allclose(a, b, rtol=0, atol=1e-14) and torch.allclose(c, d, rtol=0, atol=1e-14)


def test_engine_stationary_covariance_is_the_lyapunov_solution_on_a_quadratic():
    # x_i = +-1 in 1-D: every M_i = x_i x_i^T = 1, so the gradient noise does not depend on w and
    # constant-rate SGD is a linear recursion with additive noise: its stationary covariance solves
    # the discrete Lyapunov equation S = (1 - eta)^2 S + eta^2 Sigma / B. Both the exact solver and
    # 20 000 simulated runs must agree with it (the runs to 5 s.e., i.e. about 5 % here).
    X = torch.tensor([[1.0], [-1.0], [1.0], [-1.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([0.3, -1.2, 2.0, 0.1, -0.4], dtype=torch.float64)
    ls = LeastSquares(X, y)
    Sig = ls_cov(X, y, ls.w_opt)
    for lr, B in [(0.3, 1), (1.7, 3)]:
        lyap = lyapunov_covariance_discrete(lr, [[1.0]], Sig, B)
        np.testing.assert_allclose(stationary_covariance(ls, lr, B), lyap, rtol=1e-12)
    lr, B, n = 0.3, 1, 20_000
    w = sgd(ls, lr=lr, batch_size=B, n_steps=200, n_runs=n, w0=ls.w_opt, generator=gen(4)).numpy()[:, 0]
    d2 = (w - float(ls.w_opt)) ** 2
    lyap = float(lyapunov_covariance_discrete(lr, [[1.0]], Sig, B)[0, 0])
    assert abs(d2.mean() - lyap) < 5 * d2.std(ddof=1) / np.sqrt(n)


def test_sgd_runs_match_the_discrete_lyapunov_covariance_at_small_lr(ls2):
    A = ls2.hessian.numpy()
    Sig = ls_cov(ls2.X, ls2.y, ls2.w_opt)
    lr, B, n = 0.2, 5, 4000
    w = sgd(ls2, lr=lr, batch_size=B, n_steps=300, n_runs=n, w0=ls2.w_opt, generator=gen(0))
    assert cov_z(w.numpy(), lyapunov_covariance_discrete(lr, A, Sig, B)) < 5


def test_exact_covariance_matches_simulation_where_lyapunov_fails(ls2):
    # At eta = 0.5, B = 2 the state-dependent noise makes the variances 1.7x and 1.4x the
    # Lyapunov values; the runs must match the exact covariance. The s.e. of each entry is the
    # empirical one of the products d_i d_j (the law is not Gaussian): with 10 000 runs it is
    # 2-3 % of the entry, so 5 s.e. detects a 10-15 % error; the Lyapunov values are off by 36-72 %.
    m = ls2.w_opt.numpy()
    lr, B, n = 0.5, 2, 10_000
    S = stationary_covariance(ls2, lr, B)
    w = sgd(ls2, lr=lr, batch_size=B, n_steps=600, n_runs=n, w0=ls2.w_opt, generator=gen(2)).numpy()
    d = w - m
    prod = np.stack([d[:, 0] ** 2, d[:, 1] ** 2, d[:, 0] * d[:, 1]], 1)
    mean, se = prod.mean(0), prod.std(0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(mean - np.array([S[0, 0], S[1, 1], S[0, 1]])) < 5 * se)
    L = lyapunov_covariance_discrete(lr, ls2.hessian.numpy(), ls_cov(ls2.X, ls2.y, m), B)
    assert np.all(np.abs(mean[:2] - np.diag(L)) > 5 * se[:2])       # the Lyapunov value is rejected


def test_injected_noise_matches_the_exact_covariance(ls2):
    # SGLD-like runs: with v injected per coordinate the exact covariance gains v I in its source;
    # the part it adds is within 2 % of the state-independent (Lyapunov) solution at this small
    # eta (the state dependence is O(eta)), and 4000 runs agree with the whole to 5 s.e.
    lr, B, v, n = 0.1, 10, 1e-3, 4000
    S = stationary_covariance(ls2, lr, B, inject_var=v)
    S0 = stationary_covariance(ls2, lr, B)
    Sv = lyapunov_covariance_discrete(lr, ls2.hessian.numpy(), v * B / lr ** 2 * np.eye(2), B)
    np.testing.assert_allclose(np.diag(S - S0), np.diag(Sv), rtol=0.02)
    w = sgd(ls2, lr=lr, batch_size=B, n_steps=400, n_runs=n, w0=ls2.w_opt, inject_var=v, generator=gen(5))
    assert cov_z(w.numpy(), S) < 5


def test_engine_bad_inputs(ls2):
    with pytest.raises(ValueError, match="problem"):
        sgd((ls2.X, ls2.y), lr=0.1, batch_size=2, n_steps=3, n_runs=2)
    with pytest.raises(ValueError, match="lr"):
        sgd(ls2, lr=-1.0, batch_size=5, n_steps=10, n_runs=10)
    with pytest.raises(ValueError, match="inject_var"):
        sgd(ls2, lr=0.1, batch_size=5, n_steps=10, n_runs=10, inject_var=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        sgd(ls2, lr=0.1, batch_size=301, n_steps=10, n_runs=10, replace=False)
    with pytest.raises(ValueError, match="w0"):
        sgd(ls2, lr=0.1, batch_size=5, n_steps=10, n_runs=10, w0=torch.zeros(3))
    with pytest.raises(ValueError, match="generator"):
        sgd(ls2, lr=0.1, batch_size=5, n_steps=10, n_runs=10, generator=1)
    with pytest.raises(ValueError, match="lr"):
        stationary_covariance(ls2, 5.0, 1)
    with pytest.raises(ValueError, match="inject_var"):
        stationary_covariance(ls2, 0.1, 1, inject_var=-1.0)


def test_posterior_is_the_optimum_and_the_inverse_hessian(ls2):
    m, C = linear_regression_posterior(ls2, 0.25)
    Xn = ls2.X.numpy()
    np.testing.assert_allclose(m, np.linalg.lstsq(Xn, ls2.y.numpy(), rcond=None)[0], rtol=1e-10)
    np.testing.assert_allclose(np.linalg.inv(C), Xn.T @ Xn / 0.25, rtol=1e-10)


# ---- exact moments: stationary and expected excess ------------------------------------------------

@pytest.mark.parametrize("eta, batch_size", [(0.05, 1), (0.3, 4)])
def test_stationary_excess_matches_simulation(ls3, eta, batch_size):
    R, T = 400, 1500
    tr = excess_trajectories(ls3, lr=eta, batch_size=batch_size, n_steps=T, n_runs=R, w0=ls3.w_opt,
                             record_at=np.arange(T // 2, T + 1, 5), generator=gen(2))
    per_run = tr.excess.mean(1)                     # time averages: independent across runs
    exact = stationary_excess(ls3, eta, batch_size)
    assert abs(per_run.mean() - exact) < 5 * per_run.std(ddof=1) / np.sqrt(R)


def test_stationary_excess_small_lr_limit_and_instability(ls3):
    trS = float(ls3.per_example_grads(ls3.w_opt).square().sum(1).mean())
    eta = 1e-5
    assert stationary_excess(ls3, eta, 3) == pytest.approx(eta * trS / 12, rel=1e-3)
    lam_max = float(torch.linalg.eigvalsh(ls3.hessian)[-1])
    assert stationary_excess(ls3, 2.1 / lam_max, 64) == float("inf")
    # and it is half the trace of A times the exact covariance
    S = stationary_covariance(ls3, 0.1, 4)
    assert stationary_excess(ls3, 0.1, 4) == pytest.approx(0.5 * float(np.trace(ls3.hessian.numpy() @ S)), rel=1e-12)
    with pytest.raises(ValueError, match="lr"):
        stationary_excess(ls3, 0.0, 2)


@pytest.mark.parametrize("batch_size", [2, 16])
def test_expected_excess_matches_simulation_in_the_transient(ls3, batch_size):
    # Independent check: the mean of 40000 simulated runs at steps 1, 5 and 30 (transient and
    # near-stationary) agrees within 5 s.e.; the s.e. is 0.2-0.5 % of the value, so a relative
    # error of about 2 % (e.g. the cross term K(m) dropped, or 1/B for (1 - 1/B)) would fail.
    R, at = 40000, [1, 5, 30]
    exact = expected_excess(ls3, lr=0.2, batch_size=batch_size, n_steps=30, record_at=at)[0]
    tr = excess_trajectories(ls3, lr=0.2, batch_size=batch_size, n_steps=30, n_runs=R, record_at=at,
                             generator=gen(3))
    m, se = tr.excess.mean(0), tr.excess.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(m - exact) < 5 * se), (m, exact, se)


def test_expected_excess_first_step_closed_form_and_fixed_point(ls3):
    # Step 1 from w0 = 0 by the explicit formula (mean part + eta^2/(2B) tr(H Cov_i g_i(w0))), to
    # float64 rounding; a long constant-rate run ends at the linear-solve fixed point of
    # stationary_excess (another code path).
    X, y, w = ls3.X, ls3.y, ls3.w_opt
    n, eta, b = X.shape[0], 0.2, 3
    H = (X.T @ X / n).double()
    m1 = -w.double() + eta * H @ w.double()
    g = (X * (-y)[:, None]).double()
    D = g - g.mean(0)
    step1 = 0.5 * float(m1 @ H @ m1) + eta ** 2 / (2 * b) * float(((D @ H) * D).sum(1).mean())
    curve = expected_excess(ls3, lr=[eta, 0.05], batch_size=b, n_steps=4000, record_at=[0, 1, 4000])
    assert curve.shape == (2, 3)
    assert curve[0, 0] == pytest.approx(0.5 * float(w.double() @ H @ w.double()), rel=1e-12)
    assert curve[0, 1] == pytest.approx(step1, rel=1e-10)
    for k, rate in enumerate([eta, 0.05]):
        assert curve[k, 2] == pytest.approx(stationary_excess(ls3, rate, b), rel=1e-8)


def test_expected_excess_schedules_and_bad_input(ls3):
    a = expected_excess(ls3, lr=lambda t: 0.1, batch_size=lambda t: 4, n_steps=50)
    b = expected_excess(ls3, lr=0.1, batch_size=4, n_steps=50)
    assert np.array_equal(a, b)
    lam_max = float(torch.linalg.eigvalsh(ls3.hessian)[-1])
    assert np.isinf(expected_excess(ls3, lr=2.5 / lam_max, batch_size=64, n_steps=3000)[0, -1])
    with pytest.raises(ValueError, match="n_steps"):
        expected_excess(ls3, lr=0.1, batch_size=4, n_steps=0)
    with pytest.raises(ValueError, match="record_at"):
        expected_excess(ls3, lr=0.1, batch_size=4, n_steps=5, record_at=[6])
    with pytest.raises(ValueError, match="w0"):
        expected_excess(ls3, lr=0.1, batch_size=4, n_steps=5, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="lr"):
        expected_excess(ls3, lr=-0.1, batch_size=4, n_steps=5)


def _all_batches(n, b, replace):
    """Every equally likely batch: ordered b-tuples with replacement, b-subsets without."""
    import itertools
    return list(itertools.product(range(n), repeat=b)) if replace else list(itertools.combinations(range(n), b))


@pytest.mark.parametrize("replace", [True, False])
def test_stationary_covariance_matches_the_enumerated_update(replace):
    # Independent of the vec/Kronecker algebra: the stationary second moment of
    # delta' = (I - eta A_b) delta - eta u_b solves S = E_b[(I - eta A_b) S (I - eta A_b)^T] + eta^2 E_b[u_b u_b^T]
    # (the mean is 0 at stationarity, so no cross term), with the expectation an explicit average over
    # every batch. Using 1/B without replacement (or the finite-population factor with it) fails by
    # 30-60 % here.
    gen = np.random.default_rng(3)
    X, y = gen.normal(size=(5, 2)), gen.normal(size=5)
    problem = LeastSquares(torch.as_tensor(X), torch.as_tensor(y))
    w = problem.w_opt.numpy()
    eta, b, d = 0.6 / np.linalg.eigvalsh(X.T @ X / 5).max(), 2, 2
    batches = _all_batches(5, b, replace)
    T, src = np.zeros((d * d, d * d)), np.zeros((d, d))
    for batch in batches:
        rows = X[list(batch)]
        P = np.eye(d) - eta * rows.T @ rows / b
        u = rows.T @ (rows @ w - y[list(batch)]) / b
        T += np.kron(P, P) / len(batches)
        src += eta ** 2 * np.outer(u, u) / len(batches)
    S = np.linalg.solve(np.eye(d * d) - T, src.reshape(-1)).reshape(d, d)
    np.testing.assert_allclose(stationary_covariance(problem, eta, b, replace=replace), S, rtol=1e-10)


@pytest.mark.parametrize("replace", [True, False])
def test_expected_excess_follows_schedules_step_by_step(replace):
    # Exact enumeration over every sequence of batches for three updates with a rate and a batch
    # size that change at every step: reading the schedules at t + 1 instead of t, or the batch
    # factor of the wrong sampling scheme, changes the curve by far more than 1e-10.
    import itertools
    gen = np.random.default_rng(4)
    X, y = gen.normal(size=(4, 2)), gen.normal(size=4)
    problem = LeastSquares(torch.as_tensor(X), torch.as_tensor(y))
    A, w_opt = X.T @ X / 4, problem.w_opt.numpy()
    rates, sizes, w0 = [0.1, 0.6, 0.3], [1, 2, 3], np.array([1.0, -2.0])
    per_step = [_all_batches(4, b, replace) for b in sizes]
    expected = [0.5 * (w0 - w_opt) @ A @ (w0 - w_opt)]
    for t in range(1, 4):
        total = 0.0
        for seq in itertools.product(*per_step[:t]):
            w = w0.copy()
            for s, batch in enumerate(seq):
                rows = X[list(batch)]
                w = w - rates[s] * rows.T @ (rows @ w - y[list(batch)]) / len(batch)
            total += 0.5 * (w - w_opt) @ A @ (w - w_opt)
        expected.append(total / np.prod([len(p) for p in per_step[:t]]))
    curve = expected_excess(problem, lr=lambda t: rates[t], batch_size=lambda t: sizes[t], n_steps=3,
                            w0=w0, replace=replace)
    np.testing.assert_allclose(curve[0], expected, rtol=1e-10)
