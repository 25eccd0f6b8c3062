import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sgdnoise import scaling
from sgdnoise.data import make_linear_regression
from sgdnoise.models import make_model
from sgdnoise.covariance import gradient_moments_of_model, minibatch_means, trace_covariance
from sgdnoise.sampling import sample_batches
from sgdnoise.training import train_sgd

def _logistic_data(n, d, seed):
    # Binary labels from a logistic model (x ~ N(0, I), w ~ N(0, 4I/d)), float64 tensors.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = 2 * rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    return torch.as_tensor(X), torch.as_tensor(y)



@pytest.fixture(scope="module")
def grads():
    # Per-example gradients of least squares at w = 0: g_i = x_i (x_i^T w - y_i) = -x_i y_i.
    p = make_linear_regression(300, 5, noise=0.5, generator=np.random.default_rng(1), device="cpu")
    return -(p.X * p.y[:, None])


def _trace_and_sq_mean_by_loop(rows):
    # tr Sigma = (1/N) sum_i |g_i - G|^2 and |G|^2, one example at a time in plain Python/numpy.
    rows = [np.asarray(r, dtype=np.float64) for r in rows]
    G = sum(rows) / len(rows)
    return sum(float((r - G) @ (r - G)) for r in rows) / len(rows), float(G @ G)


def test_noise_scale_is_trace_over_squared_mean(grads):
    # Catches a 1/(N-1) normalization (0.3 % here, far above rel=1e-12), an uncentred second
    # moment, or |G| for |G|^2.
    tr, g2 = _trace_and_sq_mean_by_loop(grads.numpy())
    assert scaling.noise_scale(grads) == pytest.approx(tr / g2, rel=1e-12)
    assert scaling.noise_scale(torch.ones(4, 3)) == 0.0
    assert scaling.noise_scale(torch.tensor([[1.0], [-1.0]])) == float("inf")


def test_gradient_moments_and_noise_scale_of_model_match_per_example_gradients():
    # Reference: one backward pass per example (a batch of one row), not per_example_grads.
    X, y = _logistic_data(200, 4, seed=2)
    m = make_model("logistic", 4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = y.long()
    g2, tr = gradient_moments_of_model(m, F.cross_entropy, X, y)
    rows = []
    for i in range(len(y)):
        gi = torch.autograd.grad(F.cross_entropy(m(X[i:i + 1]), y[i:i + 1]), list(m.parameters()))
        rows.append(torch.cat([t.reshape(-1) for t in gi]).numpy())
    ref_tr, ref_g2 = _trace_and_sq_mean_by_loop(rows)
    assert g2 == pytest.approx(ref_g2, rel=1e-10)
    assert tr == pytest.approx(ref_tr, rel=1e-10)
    assert scaling.noise_scale_of_model(m, F.cross_entropy, X, y) == pytest.approx(ref_tr / ref_g2, rel=1e-10)


@pytest.mark.parametrize("replace", [True, False])
def test_two_batch_estimates_are_unbiased(grads, replace):
    # K independent (small, big) pairs; the small batch is the first b_s indices of the big one.
    n, K, b_s, b_b = grads.shape[0], 4000, 4, 32
    idx = sample_batches(n, b_b, K, replace=replace, generator=torch.Generator().manual_seed(0))
    big = minibatch_means(grads, idx).square().sum(1).numpy()
    small = minibatch_means(grads, idx[:, :b_s].contiguous()).square().sum(1).numpy()
    g2, tr = scaling.two_batch_estimates(small, big, b_s, b_b, n=None if replace else n)
    exact_g2, exact_tr = float(grads.mean(0).square().sum()), trace_covariance(grads)
    for est, exact in ((g2, exact_g2), (tr, exact_tr)):
        z = (est.mean() - exact) / (est.std(ddof=1) / np.sqrt(K))
        assert abs(z) < 5, (est.mean(), exact, z)
    # averaged before dividing, the ratio estimates B_simple (relative error of the means ~ 2 %)
    se_rel = np.hypot(g2.std() / g2.mean(), tr.std() / tr.mean()) / np.sqrt(K)
    assert abs(tr.mean() / g2.mean() / (exact_tr / exact_g2) - 1) < 5 * se_rel


def test_logger_estimates_agree_with_exact_values_at_a_fixed_point():
    # A negligible learning rate keeps w fixed: the logged per-step estimates are i.i.d. and unbiased.
    X, y = _logistic_data(512, 4, seed=3)
    X, y = X.float(), y.long()
    m = make_model("logistic", 4, 2, generator=torch.Generator().manual_seed(0))
    log = scaling.NoiseScaleLogger(F.cross_entropy, b_small=4, X=X, y=y, exact_every=50)
    train_sgd(m, F.cross_entropy, X, y, lr=1e-12, batch_size=32, epochs=25, sampler="replacement",
              callback=log, generator=torch.Generator().manual_seed(0))
    assert len(log.steps) == 16 * 25 and log.exact_steps == list(range(0, 400, 50))
    exact_g2, exact_tr = log.exact_g2[0], log.exact_trace[0]
    assert np.allclose(log.exact_g2, exact_g2, rtol=1e-5)
    for est, exact in ((np.array(log.g2), exact_g2), (np.array(log.trace), exact_tr)):
        z = (est.mean() - exact) / (est.std(ddof=1) / np.sqrt(len(est)))
        assert abs(z) < 5, z
    steps, g2s, trs = log.smoothed(0.0)
    assert np.array_equal(g2s, log.g2) and np.array_equal(steps, np.arange(400))


def test_ema_and_its_weights():
    x = np.random.default_rng(0).normal(size=50)
    beta = 0.8
    out = scaling.ema(x, beta)
    assert out[0] == pytest.approx(x[0])
    assert out[-1] == pytest.approx(float(scaling.ema_weights(50, beta) @ x), rel=1e-12)
    assert np.allclose(scaling.ema(np.ones((5, 2)), 0.5), 1.0)
    m, ref = 0.0, []                                   # the recursion itself, step by step
    for t, xt in enumerate(x):
        m = beta * m + (1 - beta) * xt
        ref.append(m / (1 - beta ** (t + 1)))
    assert np.allclose(out, ref, rtol=1e-12, atol=0)


def test_fit_recovers_the_curve_exactly():
    B = np.array([1, 2, 8, 32, 128, 1024])
    s_min, e_min = 37.0, 5000.0
    steps = s_min + e_min / B
    fit = scaling.fit_critical_batch(B, steps)
    assert fit.s_min == pytest.approx(s_min, rel=1e-10) and fit.e_min == pytest.approx(e_min, rel=1e-10)
    assert fit.b_crit == pytest.approx(e_min / s_min, rel=1e-10)
    E = B * steps
    assert np.allclose((steps / fit.s_min - 1) * (E / fit.e_min - 1), 1.0)


def test_bootstrap_covers_the_truth_with_noisy_seeds():
    rng = np.random.default_rng(1)
    B = 2 ** np.arange(0, 10)
    s_min, e_min, R = 20.0, 800.0, 40
    truth = s_min + e_min / B
    # two rates: the good one has the true curve with 10 % noise per seed, the other is 1.5x slower
    good = truth[:, None] * (1 + 0.1 * rng.standard_normal((len(B), R)))
    steps = np.stack([good, 1.5 * good], axis=1)
    assert np.allclose(scaling.best_steps(steps), good.mean(1))
    fit = scaling.bootstrap_critical_batch(B, steps, n_boot=300, generator=np.random.default_rng(2))
    assert abs(fit.b_crit - e_min / s_min) < 5 * fit.b_crit_err
    assert abs(fit.s_min - s_min) < 5 * fit.s_min_err and abs(fit.e_min - e_min) < 5 * fit.e_min_err
    assert 0 < fit.b_crit_err < 0.2 * fit.b_crit


def test_bad_inputs(grads):
    with pytest.raises(ValueError, match="b_big"):
        scaling.two_batch_estimates(1.0, 0.5, 8, 8)
    with pytest.raises(ValueError, match="sq_norm_small"):
        scaling.two_batch_estimates([1.0, 2.0], [0.5], 2, 8)
    with pytest.raises(ValueError, match="n must"):
        scaling.two_batch_estimates(1.0, 0.5, 2, 8, n=4)
    with pytest.raises(ValueError, match="grads"):
        scaling.noise_scale(torch.zeros(3))
    with pytest.raises(ValueError, match="beta"):
        scaling.ema([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="exact_every"):
        scaling.NoiseScaleLogger(F.cross_entropy, b_small=2, exact_every=5)
    with pytest.raises(ValueError, match="b_small"):
        scaling.NoiseScaleLogger(F.cross_entropy, b_small=0)
    with pytest.raises(ValueError, match="steps"):
        scaling.fit_critical_batch([1, 2], [10.0, -1.0])
    with pytest.raises(ValueError, match="batch_sizes"):
        scaling.fit_critical_batch([2, 2], [10.0, 11.0])
    with pytest.raises(ValueError, match="steps"):
        scaling.best_steps(np.ones((3, 4)))
    with pytest.raises(ValueError, match="n_boot"):
        scaling.bootstrap_critical_batch([1, 2], np.ones((2, 1, 3)), n_boot=1)


def test_noise_scale_hessian_against_brute_force():
    # Independent path: Sigma as an explicit covariance matrix (torch.cov, ddof 0) and tr(H Sigma)
    # by a matrix product, against the function's per-example contraction; float64 rounding only.
    from sgdnoise.scaling import noise_scale, noise_scale_hessian
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(50, 4, generator=gen, dtype=torch.float64) + 0.3
    A = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    H = A @ A.T
    Sigma = torch.cov(g.T, correction=0)
    G = g.mean(0)
    expected = float(torch.trace(H @ Sigma) / (G @ H @ G))
    assert noise_scale_hessian(g, H) == pytest.approx(expected, rel=1e-12)
    assert noise_scale_hessian(g, 3 * torch.eye(4)) == pytest.approx(noise_scale(g), rel=1e-12)
    with pytest.raises(ValueError, match="hessian"):
        noise_scale_hessian(g, torch.eye(3))
