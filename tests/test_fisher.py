import pytest
import torch
import torch.nn.functional as F

from sgdnoise.covariance import covariance_matrix
from sgdnoise.fisher import empirical_fisher, subspace_overlap, true_fisher
from sgdnoise.gradients import per_example_grads
from sgdnoise.models import make_model
from sgdnoise.hessian import full_hessian


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=g)
    return X, y


def test_true_fisher_of_softmax_regression_closed_form(problem):
    # g(x, c) = A (p - e_c) with A = [kron(I_C, x); I_C] (weights row-major, then bias), so
    # F = (1/N) sum_i A_i (diag p_i - p_i p_i^T) A_i^T.
    X, _ = problem
    m = make_model("logistic", 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    P = torch.softmax(m(X), 1).detach()
    I = torch.eye(3, dtype=torch.float64)
    expected = torch.zeros(15, 15, dtype=torch.float64)
    for x, p in zip(X, P):
        A = torch.cat([torch.kron(I, x[:, None]), I])
        expected += A @ (torch.diag(p) - torch.outer(p, p)) @ A.T / len(X)
    assert torch.allclose(true_fisher(m, X), expected, atol=1e-14)
    assert torch.allclose(true_fisher(m, X, chunk_size=7), expected, atol=1e-14)


def test_softmax_regression_hessian_equals_true_fisher(problem):
    X, y = problem
    m = make_model("logistic", 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(full_hessian(m, F.cross_entropy, X, y, chunk_size=4), true_fisher(m, X), atol=1e-14)


def test_full_hessian_of_least_squares(problem):
    # L = mean (w.x + b - y)^2: H = (2/N) sum [x;1][x;1]^T exactly.
    X, _ = problem
    t = torch.randn(30, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):            # nn.Linear's own init must not move the global RNG
        lin = torch.nn.Linear(4, 1).double()
    with torch.no_grad():                              # the Hessian does not depend on w; set it anyway
        lin.weight.copy_(torch.tensor([[0.3, -0.2, 0.1, 0.5]]))
        lin.bias.fill_(0.1)
    H = full_hessian(lin, F.mse_loss, X, t, chunk_size=3)
    Z = torch.cat([X, torch.ones(30, 1, dtype=torch.float64)], 1)
    assert torch.allclose(H, 2 * Z.T @ Z / 30, atol=1e-13)


def test_empirical_fisher_is_covariance_plus_mean_outer_product(problem):
    X, y = problem
    m = make_model("mlp", 4, 3, hidden=(5,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = per_example_grads(m, F.cross_entropy, X, y)
    G = g.mean(0)
    assert torch.allclose(empirical_fisher(g), covariance_matrix(g) + torch.outer(G, G), atol=1e-14)


def test_subspace_overlap_of_random_subspaces_is_k_over_d():
    d, k, R = 200, 5, 200
    gen = torch.Generator().manual_seed(1)
    U = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=torch.float64)).Q
    vals = torch.tensor([subspace_overlap(U, torch.linalg.qr(torch.randn(d, k, generator=gen,
                                                                          dtype=torch.float64)).Q) for _ in range(R)])
    assert abs(float(vals.mean()) - k / d) < 5 * float(vals.std()) / R ** 0.5
    assert subspace_overlap(U, U) == pytest.approx(1.0)


def test_bad_inputs(problem):
    X, y = problem
    m = make_model("logistic", 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="U and V"):
        subspace_overlap(torch.eye(3)[:, :2], torch.eye(3)[:, :1])
    with pytest.raises(ValueError, match="X contains NaN"):
        true_fisher(m, X * float("nan"))
