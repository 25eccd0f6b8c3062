import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sgdnoise.engineering import gradient_noise_summary, minibatch_noise_trace
from sgdnoise.gradients import per_example_grads
from sgdnoise.models import make_model
from sgdnoise.noise import covariance_matrix


def test_gradient_noise_summary_matches_the_covariance():
    # Reference independent of per_example_grads and trace_covariance: one backward pass per
    # example, the covariance (divisor N) and its spectrum by numpy, |G|^2 from the full-batch
    # gradient. A 1/(N-1) covariance (2.5 % here), an uncentred one, or the top eigenvalue of
    # the second moment instead of the covariance all fail at these tolerances.
    g = torch.Generator().manual_seed(0)
    m = make_model("mlp", 5, 3, hidden=(4,), device="cpu", dtype=torch.float64)
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
    m = make_model("logistic", 4, 2, device="cpu", dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randint(0, 2, (60,), generator=g)
    tr = gradient_noise_summary(m, F.cross_entropy, X, y)["trace_sigma"]
    K, B = 400, 5
    est, _ = minibatch_noise_trace(m, F.cross_entropy, X, y, B, K, torch.Generator().manual_seed(1))
    # The estimate is a sample variance of K batch means: relative SE about sqrt(2/K) for a
    # near-Gaussian mean of several roughly isotropic coordinates (conservative).
    assert abs(est - tr) < 5 * tr * math.sqrt(2.0 / K)
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 1, K)
    with pytest.raises(ValueError, match="n_batches"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 4, 1)


def test_augmentation_noise_split_is_the_law_of_total_variance():
    from sgdnoise.engineering import augmentation_noise_split
    g = torch.Generator().manual_seed(0)
    m = make_model("mlp", 4, 3, hidden=(5,), device="cpu", dtype=torch.float64)
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
    assert math.isclose(s0["between"], gradient_noise_summary(m, F.cross_entropy, X, y)["trace_sigma"], rel_tol=1e-9)
    with pytest.raises(ValueError, match="draws"):
        augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 1)


def test_minibatch_noise_trace_blocks_add_up():
    m = make_model("mlp", 4, 3, hidden=(5,), device="cpu", dtype=torch.float64, batch_norm=True)
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (60,), generator=g)
    full, g2 = minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, torch.Generator().manual_seed(3))
    ps = [p for p in m.parameters() if p.requires_grad]
    parts = [minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, torch.Generator().manual_seed(3), params=[p])
             for p in ps]
    assert math.isclose(sum(t for t, _ in parts), full, rel_tol=1e-9)
    assert math.isclose(sum(g for _, g in parts), g2, rel_tol=1e-9)
    with pytest.raises(ValueError, match="params"):
        minibatch_noise_trace(m, F.cross_entropy, X, y, 8, 20, params=[])
