"""The gradient-noise covariance Σ (sgdnoise.covariance): each statistic against a computation that
shares none of its code path (numpy's covariance and eigvalsh, per-example loops, enumeration of every
batch, closed forms), and the mini-batch variance against its theory within 5 standard errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sgdnoise.covariance import (
    b_simple,
    covariance_matrix,
    covariance_top_eigenpairs,
    gradient_diversity,
    gradient_moments_of_model,
    gradient_noise_summary,
    least_squares_gradient_covariance,
    mean_gradient,
    measure_minibatch_variance,
    minibatch_means,
    minibatch_noise,
    minibatch_noise_trace,
    minibatch_variance_theory,
    participation_ratio,
    top_eigenpairs,
    trace_covariance,
)
from sgdnoise.data import make_linear_regression
from sgdnoise.gradients import per_example_grads
from sgdnoise.models import make_model
from sgdnoise.sampling import sample_batches


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def ls_problem():
    p = make_linear_regression(300, 2, noise=0.5, generator=np.random.default_rng(0), device="cpu")
    return p.X * torch.tensor([1.0, 0.5], dtype=torch.float64), p.y


@pytest.fixture
def aniso():
    g = torch.Generator().manual_seed(0)
    # anisotropic: coordinate scales 3, 2, 1, 0.5, ... plus a mean
    scales = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.25, 0.1], dtype=torch.float64)
    return torch.randn(200, 6, generator=g, dtype=torch.float64) * scales + 0.3


def test_covariance_matches_numpy(aniso):
    S = covariance_matrix(aniso)
    assert torch.allclose(S, torch.as_tensor(np.cov(aniso.numpy().T, bias=True)), atol=1e-13)
    assert torch.allclose(mean_gradient(aniso), aniso.mean(0))
    assert abs(float(torch.trace(S)) - trace_covariance(aniso)) < 1e-12


@pytest.mark.parametrize("k", [1, 3, 6])
def test_gram_eigenpairs_equal_those_of_the_full_covariance(aniso, k):
    vals, vecs = covariance_top_eigenpairs(aniso, k)
    ref_vals, _ = torch.linalg.eigh(covariance_matrix(aniso))
    assert torch.allclose(vals, ref_vals.flip(0)[:k], rtol=1e-10)
    # same vectors up to sign, and they are eigenvectors
    S = covariance_matrix(aniso)
    assert torch.allclose(S @ vecs, vecs * vals, atol=1e-10)
    assert torch.allclose(vecs.T @ vecs, torch.eye(k, dtype=torch.float64), atol=1e-10)


def test_gram_eigenpairs_when_d_exceeds_n():
    g = torch.randn(10, 500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    vals, vecs = covariance_top_eigenpairs(g, 9)
    S = covariance_matrix(g)
    assert torch.allclose(S @ vecs, vecs * vals, atol=1e-10)
    assert abs(float(vals.sum()) - float(torch.trace(S))) < 1e-10   # rank N - 1 = 9: all the trace


def test_gradient_diversity_identity(aniso):
    # Delta = (1 + tr Sigma / |G|^2) / N  (Yin et al. 2018, by expanding sum |g_i|^2)
    n = aniso.shape[0]
    G2 = float(aniso.mean(0).square().sum())
    assert gradient_diversity(aniso) == pytest.approx((1 + trace_covariance(aniso) / G2) / n, rel=1e-12)
    assert gradient_diversity(torch.ones(5, 2)) == pytest.approx(1 / 5)
    assert gradient_diversity(torch.tensor([[1.0], [-1.0]])) == float("inf")


def test_minibatch_noise_mean_zero_and_variance_trace_over_b(aniso):
    B, K = 8, 4000
    idx = sample_batches(aniso.shape[0], B, K, replace=True, generator=torch.Generator().manual_seed(2))
    noise = minibatch_noise(aniso, idx)
    sq = noise.square().sum(1)
    # E|noise|^2 = tr Sigma / B, to 5 standard errors of the mean of K squared norms
    assert abs(float(sq.mean()) - trace_covariance(aniso) / B) < 5 * float(sq.std()) / K ** 0.5
    # each coordinate of the mean noise is within 5 standard errors of zero
    se = noise.std(0) / K ** 0.5
    assert bool((noise.mean(0).abs() < 5 * se).all())


@pytest.fixture(scope="module")
def grads():
    # Per-example "gradients" with a skewed, anisotropic distribution (not Gaussian).
    rng = np.random.default_rng(0)
    g = rng.exponential(size=(60, 4)) * np.array([3.0, 1.0, 0.5, 0.1]) + rng.standard_normal((60, 4))
    return torch.as_tensor(g)


def test_trace_covariance_matches_numpy(grads):
    assert trace_covariance(grads) == pytest.approx(np.trace(np.cov(grads.numpy().T, bias=True)), rel=1e-12)


@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("b", [1, 5, 30, 59])
def test_measured_variance_matches_theory(grads, replace, b):
    est = measure_minibatch_variance(grads, b, 20_000, replace, generator=gen(b + 1000 * replace))
    theory = minibatch_variance_theory(trace_covariance(grads), 60, b, replace)
    assert abs(est.value - theory) < 5 * est.stderr, (est, theory)


def test_variance_without_replacement_at_full_batch_is_zero(grads):
    est = measure_minibatch_variance(grads, 60, 100, replace=False, generator=gen(0))
    assert est.value < 1e-25 and minibatch_variance_theory(1.0, 60, 60, replace=False) == 0.0


def test_minibatch_means_counts_duplicates():
    g = torch.arange(4.0, dtype=torch.float64)[:, None]
    means = minibatch_means(g, torch.tensor([[0, 0, 3], [1, 2, 3]]))
    assert means.squeeze(1).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("replace", [True, False])
def test_theory_against_enumeration_of_every_batch(replace):
    # E|g_B - G|^2 exactly, by averaging over every batch: all 7^B ordered draws with replacement,
    # all C(7, B) subsets without. No formula shared with the library; a missing or wrong
    # finite-population factor ((N - B)/N instead of (N - B)/(N - 1): 14 % here) fails.
    from itertools import combinations, product
    rng = np.random.default_rng(1)
    g = rng.exponential(size=(7, 3)) + rng.standard_normal((7, 3))
    G = g.mean(0)
    for b in (1, 2, 3, 4) + (() if replace else (6, 7)):
        batches = product(range(7), repeat=b) if replace else combinations(range(7), b)
        exact = np.mean([np.sum((g[list(B)].mean(0) - G) ** 2) for B in batches])
        theory = minibatch_variance_theory(trace_covariance(torch.as_tensor(g)), 7, b, replace)
        assert theory == pytest.approx(exact, rel=1e-12, abs=1e-15), (b, theory, exact)


def test_theory_is_vectorized():
    b = np.array([1, 2, 10])
    out = minibatch_variance_theory(3.0, 10, b, False)
    assert out.shape == (3,) and np.allclose(out, [minibatch_variance_theory(3.0, 10, int(k), False) for k in b])
    assert out[-1] == 0.0


def test_gradient_noise_summary_matches_the_covariance():
    # Reference independent of per_example_grads and trace_covariance: one backward pass per
    # example, the covariance (divisor N) and its spectrum by numpy, |G|^2 from the full-batch
    # gradient. A 1/(N-1) covariance (2.5 % here), an uncentred one, or the top eigenvalue of
    # the second moment instead of the covariance all fail at these tolerances.
    g = torch.Generator().manual_seed(0)
    m = make_model("mlp", 5, 3, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X, y = torch.randn(40, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (40,), generator=g)
    s = gradient_noise_summary(m, F.cross_entropy, X, y)
    params = list(m.parameters())
    flat = lambda loss: torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params)]).numpy()
    rows = np.stack([flat(F.cross_entropy(m(X[i:i + 1]), y[i:i + 1])) for i in range(40)])
    C = np.cov(rows.T, bias=True)
    lam = np.linalg.eigvalsh(C)
    G = flat(F.cross_entropy(m(X), y))
    assert math.isclose(s["trace_sigma"], float(np.trace(C)), rel_tol=1e-10)
    assert math.isclose(s["grad_sq_norm"], float(G @ G), rel_tol=1e-10)
    assert math.isclose(s["b_simple"], float(np.trace(C)) / float(G @ G), rel_tol=1e-10)
    assert math.isclose(s["top_share"], float(lam[-1] / lam.sum()), rel_tol=1e-8)


def test_minibatch_noise_trace_estimates_trace_sigma():
    # Without interactions between examples, B tr Cov(g_B) (with replacement) = tr Sigma.
    m = make_model("logistic", 4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randint(0, 2, (60,), generator=g)
    tr = gradient_noise_summary(m, F.cross_entropy, X, y)["trace_sigma"]
    K, B = 400, 5
    est, _ = minibatch_noise_trace(m, F.cross_entropy, X, y, B, K, generator=torch.Generator().manual_seed(1))
    # The estimate is a sample variance of K batch means: relative SE about sqrt(2/K) for a
    # near-Gaussian mean of several roughly isotropic coordinates (conservative).
    assert abs(est - tr) < 5 * tr * math.sqrt(2.0 / K)
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 1, K)
    with pytest.raises(ValueError, match="n_batches"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 4, 1)


def test_minibatch_noise_trace_blocks_add_up():
    m = make_model("mlp", 4, 3, hidden=(5,), generator=torch.Generator().manual_seed(0), dtype=torch.float64, batch_norm=True)
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (60,), generator=g)
    full, g2 = minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, generator=torch.Generator().manual_seed(3))
    ps = [p for p in m.parameters() if p.requires_grad]
    parts = [minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, generator=gen(3), params=[p]) for p in ps]
    assert math.isclose(sum(t for t, _ in parts), full, rel_tol=1e-9)
    assert math.isclose(sum(g for _, g in parts), g2, rel_tol=1e-9)
    with pytest.raises(ValueError, match="params"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, params=[])


def test_least_squares_covariance_is_hessian_shaped_at_the_optimum(ls_problem):
    X, y = ls_problem
    Xn, yn = X.numpy(), y.numpy()
    N = len(yn)
    m = np.linalg.lstsq(Xn, yn, rcond=None)[0]                # the least-squares optimum
    Sig = least_squares_gradient_covariance(Xn, yn, m)
    # Exact: at the least-squares optimum the mean gradient is 0, so Sigma = (1/N) sum_i r_i^2 x_i x_i^T,
    # summed here example by example.
    r = yn - Xn @ m
    exact = sum(ri ** 2 * np.outer(xi, xi) for xi, ri in zip(Xn, r)) / N
    np.testing.assert_allclose(Sig, exact, rtol=1e-12, atol=1e-15 * np.abs(exact).max())
    # Away from the optimum the mean gradient G is subtracted: (1/N) sum_i (g_i - G)(g_i - G)^T, by a loop.
    w = m + np.array([0.3, -0.5])
    g = [-xi * (yi - xi @ w) for xi, yi in zip(Xn, yn)]
    G = sum(g) / N
    loop = sum(np.outer(gi - G, gi - G) for gi in g) / N
    np.testing.assert_allclose(least_squares_gradient_covariance(Xn, yn, w), loop, rtol=1e-12, atol=1e-15)
    # "Hessian-shaped": Sigma - s^2 A = (1/N) sum_i (r_i^2 - s^2) x_i x_i^T is a mean of N terms;
    # each entry within 5 of its standard errors (the sample sd of those terms over sqrt N), which
    # is 10-15 % of s^2 A's diagonal here: a Sigma off by a factor 2 (a lost 1/2) would fail.
    s2 = float(np.mean(r ** 2))
    A = Xn.T @ Xn / N
    terms = (r ** 2 - s2)[:, None, None] * Xn[:, :, None] * Xn[:, None, :]
    se = terms.std(0, ddof=1) / np.sqrt(N)
    assert np.all(np.abs(Sig - s2 * A) < 5 * se), (Sig, s2 * A, se)


def test_top_eigenpairs():
    # A matrix built with a known spectrum, S = Q diag(lam) Q^T (Q orthogonal from a QR): the top
    # three must be exactly lam's three largest, in decreasing order, with eigenvectors +-Q's
    # matching columns. Ordering and the eigen-equation alone would let through any three
    # eigenpairs (the bottom three, or the top three in the wrong order re-sorted with other
    # vectors); the eigenvalues straddle zero so that sorting by magnitude also fails.
    gen = torch.Generator().manual_seed(2)
    Q = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64)).Q
    lam = torch.tensor([0.5, -4.0, 3.0, 1.0, -0.2, 2.0], dtype=torch.float64)
    S = Q @ torch.diag(lam) @ Q.T
    vals, vecs = top_eigenpairs(S, 3)
    assert torch.allclose(vals, torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64), rtol=0, atol=1e-12)
    cos = (vecs.T @ Q[:, [2, 5, 3]]).diagonal().abs()
    assert torch.allclose(cos, torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-10), cos
    assert torch.allclose(S @ vecs, vecs * vals, atol=1e-12)
    # and a random Gram matrix against numpy's LAPACK eigvalsh (float32 input is promoted)
    A = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    ref = np.linalg.eigvalsh((A @ A.T).numpy())[::-1][:3]
    assert np.allclose(top_eigenpairs((A @ A.T).float(), 3)[0].numpy(), ref, rtol=1e-6)


def test_trace_from_norms_only_matches_materialized():
    # gradient_moments_of_model never forms the gradients (per-example squared norms); the
    # reference does (vmap), through trace_covariance. float64 rounding only: rel 1e-12.
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(64, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (64,), generator=g)
    m = make_model("mlp", 6, 4, hidden=(10,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    per = per_example_grads(m, F.cross_entropy, X, y, method="vmap")
    ref_tr, ref_g2 = trace_covariance(per), float(per.mean(0).square().sum())
    for chunk_size in (None, 10):
        g2, tr = gradient_moments_of_model(m, F.cross_entropy, X, y, chunk_size=chunk_size)
        assert tr == pytest.approx(ref_tr, rel=1e-12) and g2 == pytest.approx(ref_g2, rel=1e-12)


def test_b_simple_is_the_ratio_and_infinite_at_zero_signal():
    # B_simple = tr Sigma / |G|^2: for g = (1, 0), (3, 0): G = (2, 0), tr Sigma = 1, so 1/4.
    g = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    assert b_simple(trace_covariance(g), float(mean_gradient(g).square().sum())) == 0.25
    assert b_simple(2.0, 0.0) == math.inf
    assert b_simple(np.array([1.0, 3.0]), 2.0).tolist() == [0.5, 1.5]
    with pytest.raises(ValueError, match="grad_sq_norm"):
        b_simple(1.0, -1.0)
    with pytest.raises(ValueError, match="trace_sigma"):
        b_simple(float("nan"), 1.0)


def test_participation_ratio_against_numpy_spectrum(aniso):
    # (tr S)^2 / tr S^2 from numpy's covariance (no eigen-decomposition needed), against the
    # ratio of the Gram-route spectrum: the same number to float64 rounding.
    C = np.cov(aniso.numpy().T, bias=True)
    vals, _ = covariance_top_eigenpairs(aniso, 6)
    assert participation_ratio(vals) == pytest.approx(np.trace(C) ** 2 / np.trace(C @ C), rel=1e-10)
    assert participation_ratio(np.ones(7)) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="eigenvalues"):
        participation_ratio([0.0, 0.0])
    with pytest.raises(ValueError, match="eigenvalues"):
        participation_ratio([1.0, -1.0])


def test_least_squares_covariance_keeps_the_type_of_its_input(ls_problem):
    X, y = ls_problem
    w = torch.tensor([0.2, -0.1], dtype=torch.float64)
    as_tensor = least_squares_gradient_covariance(X, y, w)
    as_array = least_squares_gradient_covariance(X.numpy(), y.numpy(), w.numpy())
    assert isinstance(as_tensor, torch.Tensor) and isinstance(as_array, np.ndarray)
    np.testing.assert_allclose(as_tensor.numpy(), as_array, rtol=1e-14)
    with pytest.raises(ValueError, match=r"^w\b"):
        least_squares_gradient_covariance(np.ones((4, 2)), np.ones(4), np.ones(3))


def test_measured_variance_uses_a_fresh_generator_for_none(aniso):
    # generator=None: fresh OS entropy, never torch's global generator (which must not move).
    state = torch.random.get_rng_state()
    est = measure_minibatch_variance(aniso, 4, 50, True)
    assert torch.equal(state, torch.random.get_rng_state()) and est.value > 0


@pytest.mark.parametrize("call, word", [
    (lambda: covariance_matrix(torch.zeros(3)), "grads"),
    (lambda: covariance_top_eigenpairs(torch.randn(5, 3, generator=gen(0)), 4), "k must be"),
    (lambda: gradient_diversity(torch.tensor([[float("nan")]])), "grads contains NaN"),
    (lambda: minibatch_noise(torch.zeros(3, 2), torch.tensor([[0, 500]])), "indices"),
    (lambda: minibatch_noise(torch.zeros(3, 2), torch.tensor([0, 1])), "indices"),
    (lambda: top_eigenpairs(torch.ones(2, 3), 1), "matrix"),
    (lambda: top_eigenpairs(torch.eye(2), 3), "k must be"),
    (lambda: minibatch_variance_theory(1.0, 10, 0, True), "batch_size"),
    (lambda: minibatch_variance_theory(1.0, 10, 11, False), "batch_size"),
    (lambda: minibatch_variance_theory(-1.0, 10, 2, False), "trace_sigma"),
    (lambda: minibatch_variance_theory(1.0, 10, 2.5, False), "batch_size"),
    (lambda: measure_minibatch_variance(torch.full((5, 2), float("nan")), 2, 10, True), "grads"),
    (lambda: measure_minibatch_variance(torch.ones(5, 2), 2, 10, True, chunk_size=0), "chunk_size"),
    (lambda: trace_covariance(torch.zeros(3)), "grads"),
])
def test_bad_inputs_name_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_augmentation_noise_split_is_the_law_of_total_variance():
    from sgdnoise.covariance import augmentation_noise_split

    g = torch.Generator().manual_seed(0)
    m = make_model("mlp", 4, 3, hidden=(5,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X, y = torch.randn(40, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (40,), generator=g)
    # the same draws computed directly: pooled covariance of all N*M gradients (divisor N*M)
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    s = augmentation_noise_split(m, F.cross_entropy, X, y,
                                 lambda x: x + 0.3 * torch.randn(x.shape, generator=gen_a, dtype=x.dtype), 4)
    G = torch.stack([per_example_grads(m, F.cross_entropy, X + 0.3 * torch.randn(X.shape, generator=gen_b, dtype=X.dtype), y)
                     for _ in range(4)])                                   # (M, N, d)
    pooled = float((G - G.mean((0, 1))).square().sum(-1).mean())
    within = float((G - G.mean(0)).square().sum(-1).sum(0).mean() / 3)
    assert math.isclose(s["total"], pooled, rel_tol=1e-10) and math.isclose(s["within"], within, rel_tol=1e-10)
    assert s["within"] > 0
    # no augmentation: nothing within, and between is the plain tr Sigma
    s0 = augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 2)
    assert abs(s0["within"]) < 1e-12
    assert math.isclose(s0["between"], trace_covariance(per_example_grads(m, F.cross_entropy, X, y)), rel_tol=1e-9)
    with pytest.raises(ValueError, match="draws"):
        augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 1)
