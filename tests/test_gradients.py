import pytest
import torch
import torch.nn.functional as F

from sgdnoise.gradients import accumulated_gradient, full_gradient, per_example_grads, per_example_sq_norms
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


# --- linear-layer fast path and the norms-only path -------------------------------------------

class _TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.fc = torch.nn.Linear(3 * 16, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x.view(-1, 1, 4, 4))).flatten(1))


class _SharedLinear(torch.nn.Module):
    """A linear layer applied twice: its gradient is a sum of two outer products."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 5)
        self.out = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.lin(torch.tanh(self.lin(x)))))


def test_linear_path_equals_vmap_for_mlp(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7, 4), device="cpu", dtype=torch.float64)
    ref = per_example_grads(m, F.cross_entropy, X, y, method="vmap")
    for chunk in (None, 9):
        assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y, chunk_size=chunk, method="layers"), ref,
                              atol=1e-14)
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y), ref, atol=1e-14)  # auto picks linear


def test_auto_falls_back_to_vmap_when_a_linear_layer_is_shared(problem):
    X, y = problem
    torch.manual_seed(0)
    m = _SharedLinear().double()
    g = per_example_grads(m, F.cross_entropy, X, y)
    for i in (0, 21):
        assert torch.allclose(g[i], full_gradient(m, F.cross_entropy, X[i:i + 1], y[i:i + 1]), atol=1e-14)
    with pytest.raises(ValueError, match="model layer"):
        per_example_grads(m, F.cross_entropy, X, y, method="layers")
    with pytest.raises(ValueError, match="method"):
        per_example_grads(m, F.cross_entropy, X, y, method="loop")


@pytest.mark.parametrize("kind", ["mlp", "cnn", "shared"])
def test_sq_norms_without_gradients_match_materialized(kind):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=g)
    torch.manual_seed(0)
    if kind == "mlp":
        m = make_model("mlp", 16, 3, hidden=(8,), device="cpu", dtype=torch.float64)
    elif kind == "cnn":   # the convolution falls back to vmap(grad), the linear head does not
        m = _TinyCNN().double()
    else:                 # the shared layer falls back, the output layer does not
        m = _SharedLinear().double()
        X = X[:, :5]
    full = per_example_grads(m, F.cross_entropy, X, y, method="vmap")
    for chunk in (None, 7):
        sq, G = per_example_sq_norms(m, F.cross_entropy, X, y, chunk_size=chunk)
        assert torch.allclose(sq, full.square().sum(1), rtol=1e-12, atol=0)
        assert torch.allclose(G, full.mean(0), atol=1e-14)


def test_sq_norms_scale_with_the_per_example_loss_not_the_mean():
    # One example repeated N times: every per-example gradient is the same vector, whatever N.
    m = make_model("logistic", 5, 3, device="cpu", dtype=torch.float64)
    x, t = torch.randn(1, 5, dtype=torch.float64), torch.tensor([2])
    one = per_example_grads(m, F.cross_entropy, x, t, method="vmap").square().sum()
    for n in (1, 10, 100):
        sq, _ = per_example_sq_norms(m, F.cross_entropy, x.repeat(n, 1), t.repeat(n))
        assert torch.allclose(sq, one.repeat(n), rtol=1e-13)


def test_sq_norms_bad_inputs(problem):
    X, y = problem
    m = make_model("logistic", 5, 3, device="cpu", dtype=torch.float64)
    with pytest.raises(ValueError, match="chunk_size"):
        per_example_sq_norms(m, F.cross_entropy, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="same number of rows"):
        per_example_sq_norms(m, F.cross_entropy, X, y[:3])
