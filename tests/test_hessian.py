import math

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.hessian import (full_hessian, gaussian_density, hutchinson_trace, hvp_operator,
                              lanczos_top_eigenpairs, power_iteration, rademacher, sharpness,
                              spectral_density_slq)
from sgdnoise.models import count_parameters, make_model


@pytest.fixture(scope="module")
def problem():
    # An MLP 20-32-10 (1002 parameters) on 200 random examples, in float64.
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 20, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (200,), generator=g)
    model = make_model("mlp", 20, 10, hidden=(32,), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert count_parameters(model) == 1002
    H = full_hessian(model, F.cross_entropy, X, y, chunk_size=128)
    vals, vecs = torch.linalg.eigh(H)
    return model, X, y, H, vals.flip(0), vecs.flip(1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_full_hessian_matches_torch_func_hessian():
    g = gen(3)
    X = torch.randn(15, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (15,), generator=g)
    model = make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of_flat(w):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = w[i:i + s.numel()].view(s)
            i += s.numel()
        return F.cross_entropy(torch.func.functional_call(model, params, (X,)), y)

    expected = torch.func.hessian(loss_of_flat)(flat0)
    assert torch.allclose(full_hessian(model, F.cross_entropy, X, y, chunk_size=5), expected, atol=1e-13)
    assert torch.allclose(full_hessian(model, F.cross_entropy, X, y), expected, atol=1e-13)


def test_hvp_chunked_batched_and_uncached_agree_with_dense(problem):
    model, X, y, H, _, _ = problem
    V = torch.randn(3, H.shape[0], generator=gen(1), dtype=torch.float64)
    expected = V @ H
    for kw in ({}, {"chunk_size": 64}, {"chunk_size": 37, "cache_graph": False}):
        hvp = hvp_operator(model, F.cross_entropy, X, y, **kw)
        assert torch.allclose(hvp(V), expected, atol=1e-12), kw
        assert torch.allclose(hvp(V[0]), expected[0], atol=1e-12), kw


def test_lanczos_top5_matches_full_hessian(problem):
    model, X, y, H, vals, vecs = problem
    hvp = hvp_operator(model, F.cross_entropy, X, y)
    tol = 1e-8
    res = lanczos_top_eigenpairs(hvp, 5, tol=tol, max_iter=300, generator=gen(0))
    assert res.converged
    # |theta - lambda| <= residual <= tol |theta| for a converged Ritz pair.
    assert torch.allclose(res.eigenvalues, vals[:5], rtol=tol, atol=0)
    cos = (res.eigenvectors.T @ vecs[:, :5]).diagonal().abs()
    assert bool((cos > 1 - 1e-6).all()), cos
    assert res.n_products < 150


def test_lanczos_and_power_iteration_agree_and_lanczos_is_cheaper(problem):
    model, X, y, H, vals, _ = problem
    assert vals[0] > abs(vals[-1])  # the largest-magnitude eigenvalue is lambda_max: power iteration finds it
    hvp = hvp_operator(model, F.cross_entropy, X, y)
    lz = lanczos_top_eigenpairs(hvp, 1, tol=1e-6, generator=gen(0))
    pw = power_iteration(hvp, 1, tol=1e-9, max_iter=5000, generator=gen(0))
    assert pw.converged and lz.converged
    assert math.isclose(float(lz.eigenvalues[0]), float(pw.eigenvalues[0]), rel_tol=1e-6)
    assert math.isclose(float(pw.eigenvalues[0]), float(vals[0]), rel_tol=1e-6)
    assert lz.n_products < pw.n_products
    pw3 = power_iteration(hvp, 3, tol=1e-10, max_iter=5000, generator=gen(0))
    assert torch.allclose(pw3.eigenvalues, vals[:3], rtol=1e-5, atol=0)


def test_sharpness_is_lambda_max(problem):
    model, X, y, _, vals, _ = problem
    assert math.isclose(sharpness(model, F.cross_entropy, X, y, tol=1e-8, max_iter=300), float(vals[0]),
                        rel_tol=1e-8)


def test_hutchinson_within_five_standard_errors_and_its_error_matches_theory(problem):
    model, X, y, H, _, _ = problem
    hvp = hvp_operator(model, F.cross_entropy, X, y)
    M = 400
    est, se = hutchinson_trace(hvp, M, chunk_size=100, generator=gen(2))
    tr = float(H.trace())
    assert abs(est - tr) < 5 * se, (est, tr, se)
    # Var(z^T H z) = 2 sum_{i != j} H_ij^2 for Rademacher z; the sample sd estimates its root with
    # relative sd ~ 1/sqrt(2M) (3.5 %), so 5 of those is 18 %.
    se_theory = math.sqrt(2 * float((H ** 2).sum() - (H.diagonal() ** 2).sum()) / M)
    assert abs(se / se_theory - 1) < 0.18, (se, se_theory)


def test_slq_with_full_krylov_space_recovers_the_spectrum():
    A = torch.diag(torch.linspace(-1.0, 5.0, 30, dtype=torch.float64))
    Q, _ = torch.linalg.qr(torch.randn(30, 30, generator=gen(4), dtype=torch.float64))
    A = Q @ A @ Q.T
    nodes, w = spectral_density_slq(lambda v: A @ v, 3, 30, dim=30, generator=gen(5))
    first = nodes[:30].sort().values
    assert torch.allclose(first, torch.linspace(-1.0, 5.0, 30, dtype=torch.float64), atol=1e-8)
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-12)
    grid = torch.linspace(-5, 9, 1401, dtype=torch.float64)
    assert math.isclose(float(gaussian_density(nodes, w, grid, 0.3).sum() * 0.01), 1.0, rel_tol=1e-4)


def test_rademacher_signs_are_balanced():
    # Values exactly +-1 (all zeros, {0, 1} bits or Gaussians fail); the mean within 5 s.e. of 0
    # (s.e. 1/sqrt(n) = 0.0032: a sign bias P(+1) = 0.51 gives a mean of 0.02 and fails); the
    # variance, E z^2 - (E z)^2, equal to 1 (implied by the values, checked as the sample
    # variance); and neighbouring draws uncorrelated (lag-1 mean product within 5 s.e. of 0), which
    # an alternating or block-repeated sign pattern, balanced but not random, fails.
    n = 100_000
    z = rademacher((n,), generator=gen(0))
    assert z.shape == (n,) and z.dtype == torch.float64
    assert bool(((z == 1) | (z == -1)).all())
    assert abs(float(z.mean())) < 5 / math.sqrt(n)
    assert abs(float(z.var(correction=0)) - 1) < 25 / n     # = 1 - mean^2 <= (5/sqrt n)^2 for +-1 values
    assert abs(float((z[:-1] * z[1:]).mean())) < 5 / math.sqrt(n - 1)
    assert torch.equal(z, rademacher((n,), generator=gen(0))) and not torch.equal(z, rademacher((n,), generator=gen(1)))
    assert tuple(rademacher((3, 4), generator=gen(0)).shape) == (3, 4)


def test_bad_inputs_raise_value_error_naming_the_parameter(problem):
    model, X, y, H, _, _ = problem
    hvp = hvp_operator(model, F.cross_entropy, X, y)
    with pytest.raises(ValueError, match="chunk_size"):
        hvp_operator(model, F.cross_entropy, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="v must"):
        hvp(torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^k must be >= 1 and <= 1002, got 0$"):
        lanczos_top_eigenpairs(hvp, 0)
    with pytest.raises(ValueError, match="tol"):
        lanczos_top_eigenpairs(hvp, 1, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        power_iteration(hvp, 1, max_iter=0)
    with pytest.raises(ValueError, match="dim"):
        lanczos_top_eigenpairs(lambda v: v, 1)
    with pytest.raises(ValueError, match="n_probes"):
        hutchinson_trace(hvp, 1)
    with pytest.raises(ValueError, match="chunk_size"):
        full_hessian(model, F.cross_entropy, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="width"):
        gaussian_density(torch.zeros(1), torch.ones(1), torch.zeros(3), 0.0)
