import math

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.hessian import full_hessian, lanczos_top_eigenpairs, hvp_operator
from sgdnoise.landscape import (filter_normalized_direction, loss_along_direction, loss_interpolation, loss_plane,
                                losses_at, rescale_relu_layers, rescaling_factors)
from sgdnoise.models import MLP, get_flat_params, make_model, set_flat_params


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(100, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (100,), generator=g)
    model = make_model("mlp", 6, 3, hidden=(8, 5), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    return model, X, y


def test_filter_normalization_matches_row_norms_and_zeroes_biases(problem):
    model, _, _ = problem
    delta = filter_normalized_direction(model, generator=torch.Generator().manual_seed(1))
    i = 0
    for p in model.parameters():
        part = delta[i:i + p.numel()].view_as(p)
        if p.ndim == 1:
            assert bool((part == 0).all())
        else:
            assert torch.allclose(part.norm(dim=1), p.detach().norm(dim=1), rtol=1e-12)
        i += p.numel()
    delta_b = filter_normalized_direction(model, generator=torch.Generator().manual_seed(1), zero_bias=False)
    b = model.net[0].bias
    n_w = model.net[0].weight.numel()
    assert math.isclose(float(delta_b[n_w:n_w + b.numel()].norm()), float(b.detach().norm()), rel_tol=1e-12)


def test_losses_at_matches_setting_the_weights(problem):
    model, X, y = problem
    w0 = get_flat_params(model)
    pts = w0 + 0.1 * torch.randn(5, w0.numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = []
    m = make_model("mlp", 6, 3, hidden=(8, 5), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for p in pts:
        set_flat_params(m, p)
        expected.append(float(F.cross_entropy(m(X), y).detach()))
    assert torch.allclose(losses_at(model, F.cross_entropy, X, y, pts, points_per_pass=2),
                          torch.tensor(expected, dtype=torch.float64), atol=1e-13)
    assert torch.equal(get_flat_params(model), w0)


def test_slices_of_a_quadratic_are_exact():
    # L(w) = mean((x.w)^2) / 1 with X = I: L = |w|^2 / d for a bias-free linear model.
    with torch.random.fork_rng(devices=[]):   # its init draws from the global RNG; the origin is set below
        lin = torch.nn.Linear(4, 1, bias=False).double()
    X, t = torch.eye(4, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64)
    w0 = torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64)
    d1 = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    d2 = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    a = torch.linspace(-2, 2, 5, dtype=torch.float64)
    b = torch.linspace(-1, 1, 3, dtype=torch.float64)
    grid = loss_plane(lin, F.mse_loss, X, t, d1, d2, a, b, origin=w0)
    W = w0 + a[:, None, None] * d1 + b[None, :, None] * d2
    assert torch.allclose(grid, (W ** 2).sum(-1) / 4, atol=1e-14)
    line = loss_along_direction(lin, F.mse_loss, X, t, d1, a, origin=w0)
    assert torch.allclose(line, ((w0 + a[:, None] * d1) ** 2).sum(-1) / 4, atol=1e-14)
    interp = loss_interpolation(lin, F.mse_loss, X, t, w0, -w0, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert torch.allclose(interp, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64) * float(w0 @ w0) / 4)


def test_rescaling_keeps_outputs_and_changes_sharpness_as_predicted(problem):
    model, X, y = problem
    H = full_hessian(model, F.cross_entropy, X, y)
    g = torch.Generator().manual_seed(0)
    for alpha in (0.1, 0.5, 4.0):
        new = rescale_relu_layers(model, 1, alpha)
        assert torch.allclose(new(X), model(X), rtol=0, atol=1e-12)
        D = rescaling_factors(model, 1, alpha)
        expected = torch.linalg.eigvalsh(H / D[:, None] / D[None, :])[-1]
        res = lanczos_top_eigenpairs(hvp_operator(new, F.cross_entropy, X, y), 1, tol=1e-10, max_iter=300,
                                     generator=g)
        assert math.isclose(float(res.eigenvalues[0]), float(expected), rel_tol=1e-8), alpha
    # As alpha -> 0, alpha^2 lambda_max -> lambda_max of the first layer's block of H.
    D = rescaling_factors(model, 0, 1e-4)
    block = D == 1e-4  # layer 0, whose curvature is multiplied by 1/alpha^2
    lam_small = float(torch.linalg.eigvalsh(H / D[:, None] / D[None, :])[-1])
    lam_block = float(torch.linalg.eigvalsh(H[block][:, block])[-1])
    assert math.isclose(1e-8 * lam_small, lam_block, rel_tol=1e-5)


def test_bad_inputs_raise_value_error_naming_the_parameter(problem):
    model, X, y = problem
    with pytest.raises(ValueError, match="alpha"):
        rescale_relu_layers(model, 0, -1.0)
    with pytest.raises(ValueError, match="layer"):
        rescale_relu_layers(model, 2, 2.0)
    with pytest.raises(ValueError, match="ReLU"):
        rescale_relu_layers(MLP((3, 4, 2), activation="tanh"), 0, 2.0)
    with pytest.raises(ValueError, match="direction"):
        loss_along_direction(model, F.cross_entropy, X, y, torch.ones(3), torch.zeros(2))
    with pytest.raises(ValueError, match="points"):
        losses_at(model, F.cross_entropy, X, y, torch.ones(2, 3))
    with pytest.raises(ValueError, match="alphas"):
        loss_along_direction(model, F.cross_entropy, X, y, get_flat_params(model), torch.zeros(2, 2))
