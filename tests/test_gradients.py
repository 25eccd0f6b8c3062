import pytest
import torch
import torch.nn.functional as F

from sgdnoise.gradients import accumulated_gradient, full_gradient, per_example_grads
from sgdnoise.models import make_model


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    return X, y


def test_softmax_per_example_gradient_matches_closed_form(problem):
    # For logits z = W x + b and cross-entropy, the gradient is (softmax(z) - onehot(y)) x^T and
    # (softmax(z) - onehot(y)) for the bias.
    X, y = problem
    m = make_model("logistic", 5, 3, device="cpu", dtype=torch.float64)
    g = per_example_grads(m, F.cross_entropy, X, y)
    r = torch.softmax(m(X), dim=1).detach() - F.one_hot(y, 3).double()
    expected = torch.cat([(r[:, :, None] * X[:, None, :]).reshape(40, -1), r], dim=1)
    assert g.shape == (40, 3 * 5 + 3)
    assert torch.allclose(g, expected, atol=1e-14)


def test_per_example_grads_mean_is_full_gradient_for_mlp(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7,), device="cpu", dtype=torch.float64)
    g = per_example_grads(m, F.cross_entropy, X, y)
    assert torch.allclose(g.mean(0), full_gradient(m, F.cross_entropy, X, y), atol=1e-14)
    # each row equals a separate backward pass on that example
    for i in (0, 17, 39):
        assert torch.allclose(g[i], full_gradient(m, F.cross_entropy, X[i:i + 1], y[i:i + 1]), atol=1e-14)


def test_chunking_does_not_change_the_result(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, device="cpu", dtype=torch.float64)
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y),
                          per_example_grads(m, F.cross_entropy, X, y, chunk_size=7), atol=1e-15)


@pytest.mark.parametrize("micro", [1, 7, 13, 40, 100])
def test_accumulation_equals_full_batch(problem, micro):
    X, y = problem
    m = make_model("mlp", 5, 3, device="cpu", dtype=torch.float64)
    assert torch.allclose(accumulated_gradient(m, F.cross_entropy, X, y, micro),
                          full_gradient(m, F.cross_entropy, X, y), rtol=0, atol=1e-14)
    assert all(p.grad is None for p in m.parameters())


def test_bad_inputs(problem):
    X, y = problem
    m = make_model("logistic", 5, 3, device="cpu", dtype=torch.float64)
    bad = X.clone()
    bad[3, 1] = float("nan")
    for fn in (full_gradient, per_example_grads):
        with pytest.raises(ValueError, match="X contains NaN"):
            fn(m, F.cross_entropy, bad, y)
        with pytest.raises(ValueError, match="same number of rows"):
            fn(m, F.cross_entropy, X, y[:-1])
    with pytest.raises(ValueError, match="micro_batch_size"):
        accumulated_gradient(m, F.cross_entropy, X, y, 0)
    with pytest.raises(ValueError, match="chunk_size"):
        per_example_grads(m, F.cross_entropy, X, y, chunk_size=0)
