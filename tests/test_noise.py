import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sgdnoise.gradients import per_example_grads
from sgdnoise.models import make_model
from sgdnoise.noise import (covariance_matrix, covariance_top_eigenpairs, gradient_diversity, mean_gradient,
                            minibatch_noise, trace_sigma)
from sgdnoise.sampling import sample_batches, trace_covariance


@pytest.fixture
def grads():
    g = torch.Generator().manual_seed(0)
    # anisotropic: coordinate scales 3, 2, 1, 0.5, ... plus a mean
    scales = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.25, 0.1], dtype=torch.float64)
    return torch.randn(200, 6, generator=g, dtype=torch.float64) * scales + 0.3


def test_covariance_matches_numpy(grads):
    S = covariance_matrix(grads)
    assert torch.allclose(S, torch.as_tensor(np.cov(grads.numpy().T, bias=True)), atol=1e-13)
    assert torch.allclose(mean_gradient(grads), grads.mean(0))
    assert abs(float(torch.trace(S)) - trace_covariance(grads)) < 1e-12


@pytest.mark.parametrize("k", [1, 3, 6])
def test_gram_eigenpairs_equal_those_of_the_full_covariance(grads, k):
    vals, vecs = covariance_top_eigenpairs(grads, k)
    ref_vals, ref_vecs = torch.linalg.eigh(covariance_matrix(grads))
    assert torch.allclose(vals, ref_vals.flip(0)[:k], rtol=1e-10)
    # same vectors up to sign, and they are eigenvectors
    S = covariance_matrix(grads)
    assert torch.allclose(S @ vecs, vecs * vals, atol=1e-10)
    assert torch.allclose(vecs.T @ vecs, torch.eye(k, dtype=torch.float64), atol=1e-10)


def test_gram_eigenpairs_when_d_exceeds_n():
    g = torch.randn(10, 500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    vals, vecs = covariance_top_eigenpairs(g, 9)
    S = covariance_matrix(g)
    assert torch.allclose(S @ vecs, vecs * vals, atol=1e-10)
    assert abs(float(vals.sum()) - float(torch.trace(S))) < 1e-10   # rank N - 1 = 9: all the trace


def test_gradient_diversity_identity(grads):
    # Delta = (1 + tr Sigma / |G|^2) / N  (Yin et al. 2018, by expanding sum |g_i|^2)
    n = grads.shape[0]
    G2 = float(grads.mean(0).square().sum())
    assert gradient_diversity(grads) == pytest.approx((1 + trace_covariance(grads) / G2) / n, rel=1e-12)
    assert gradient_diversity(torch.ones(5, 2)) == pytest.approx(1 / 5)
    assert gradient_diversity(torch.tensor([[1.0], [-1.0]])) == float("inf")


def test_minibatch_noise_mean_zero_and_variance_trace_over_b(grads):
    B, K = 8, 4000
    idx = sample_batches(grads.shape[0], B, K, replace=True, generator=torch.Generator().manual_seed(2))
    noise = minibatch_noise(grads, idx)
    sq = noise.square().sum(1)
    # E|noise|^2 = tr Sigma / B, to 5 standard errors of the mean of K squared norms
    assert abs(float(sq.mean()) - trace_covariance(grads) / B) < 5 * float(sq.std()) / K ** 0.5
    # each coordinate of the mean noise is within 5 standard errors of zero
    se = noise.std(0) / K ** 0.5
    assert bool((noise.mean(0).abs() < 5 * se).all())


def test_trace_sigma_without_gradients_matches_materialized():
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(64, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (64,), generator=g)
    m = make_model("mlp", 6, 4, hidden=(10,), device="cpu", dtype=torch.float64)
    ref = trace_covariance(per_example_grads(m, F.cross_entropy, X, y, method="vmap"))
    assert trace_sigma(m, F.cross_entropy, X, y) == pytest.approx(ref, rel=1e-12)
    assert trace_sigma(m, F.cross_entropy, X, y, chunk_size=10) == pytest.approx(ref, rel=1e-12)


def test_bad_inputs(grads):
    with pytest.raises(ValueError, match="grads"):
        covariance_matrix(grads[0])
    with pytest.raises(ValueError, match="k must be"):
        covariance_top_eigenpairs(grads, 7)
    with pytest.raises(ValueError, match="grads contains NaN"):
        gradient_diversity(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="indices"):
        minibatch_noise(grads, torch.tensor([[0, 500]]))
    with pytest.raises(ValueError, match="indices"):
        minibatch_noise(grads, torch.tensor([0, 1]))
