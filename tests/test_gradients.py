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
    m = make_model("logistic", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = per_example_grads(m, F.cross_entropy, X, y)
    r = torch.softmax(m(X), dim=1).detach() - F.one_hot(y, 3).double()
    expected = torch.cat([(r[:, :, None] * X[:, None, :]).reshape(40, -1), r], dim=1)
    assert g.shape == (40, 3 * 5 + 3)
    assert torch.allclose(g, expected, atol=1e-14)


def test_per_example_grads_mean_is_full_gradient_for_mlp(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = per_example_grads(m, F.cross_entropy, X, y)
    assert torch.allclose(g.mean(0), full_gradient(m, F.cross_entropy, X, y), atol=1e-14)
    # each row equals a separate backward pass on that example
    for i in (0, 17, 39):
        assert torch.allclose(g[i], full_gradient(m, F.cross_entropy, X[i:i + 1], y[i:i + 1]), atol=1e-14)


def test_chunking_does_not_change_the_result(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y),
                          per_example_grads(m, F.cross_entropy, X, y, chunk_size=7), atol=1e-15)


@pytest.mark.parametrize("micro", [1, 7, 13, 40, 100])
def test_accumulation_equals_full_batch(problem, micro):
    X, y = problem
    m = make_model("mlp", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(accumulated_gradient(m, F.cross_entropy, X, y, micro),
                          full_gradient(m, F.cross_entropy, X, y), rtol=0, atol=1e-14)
    assert all(p.grad is None for p in m.parameters())


def test_bad_inputs(problem):
    X, y = problem
    m = make_model("logistic", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
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
    def __init__(self, groups=1):
        super().__init__()
        self.conv0 = torch.nn.Conv2d(1, 3, 1)
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1, groups=groups)
        self.fc = torch.nn.Linear(3 * 16, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(self.conv0(x.view(-1, 1, 4, 4)))).flatten(1))


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
    m = make_model("mlp", 5, 3, hidden=(7, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = per_example_grads(m, F.cross_entropy, X, y, method="vmap")
    for chunk in (None, 9):
        assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y, chunk_size=chunk, method="layers"), ref,
                              atol=1e-14)
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y), ref, atol=1e-14)  # auto picks linear


def _seeded(module_cls, *args, seed=0, **kwargs):
    """Build a test module without touching torch's global RNG, then draw its weights from an
    explicit generator (PyTorch's default bounds +-1/sqrt(fan_in)), like make_model."""
    with torch.random.fork_rng(devices=[]):
        m = module_cls(*args, **kwargs)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)):
                bound = 1.0 / mod.weight[0].numel() ** 0.5
                mod.weight.uniform_(-bound, bound, generator=g)
                if mod.bias is not None:
                    mod.bias.uniform_(-bound, bound, generator=g)
    return m


def _loop_reference(m, X, y):
    """Every example's gradient from its own backward pass: independent of both vectorized paths."""
    return torch.stack([full_gradient(m, F.cross_entropy, X[i:i + 1], y[i:i + 1]) for i in range(X.shape[0])])


class _ConvNet(torch.nn.Module):
    """Two convolutions (the second configurable) and a linear head on 2-channel 7×6 images."""

    def __init__(self, **conv):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.c2 = torch.nn.Conv2d(4, 3, **conv)
        with torch.no_grad():
            n = self.c2(self.c1(torch.zeros(1, 2, 7, 6))).numel()
        self.fc = torch.nn.Linear(n, 3)

    def forward(self, x):
        return self.fc(torch.tanh(self.c2(torch.tanh(self.c1(x.view(-1, 2, 7, 6))))).flatten(1))


@pytest.mark.parametrize("conv", [dict(kernel_size=3, padding=1), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
                                  dict(kernel_size=3, dilation=2, padding=2, stride=2), dict(kernel_size=1),
                                  dict(kernel_size=2, bias=False)], ids=["same", "rect-stride", "dilated", "1x1", "nobias"])
def test_layer_path_matches_per_example_backward_passes_for_convolutions(conv):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(13, 84, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (13,), generator=g)
    m = _seeded(_ConvNet, **conv).double()
    ref = _loop_reference(m, X, y)
    for chunk in (None, 5):
        got = per_example_grads(m, F.cross_entropy, X, y, chunk_size=chunk, method="layers")
        assert got.shape == ref.shape
        assert torch.allclose(got, ref, rtol=0, atol=1e-14)
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y), ref, rtol=0, atol=1e-14)   # auto
    sq, G = per_example_sq_norms(m, F.cross_entropy, X, y)
    assert torch.allclose(sq, ref.square().sum(1), rtol=1e-12, atol=0)
    assert torch.allclose(G, ref.mean(0), rtol=0, atol=1e-14)    # summed from the per-example blocks


def test_layer_path_in_float32_agrees_with_float64():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(64, 84, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    m = _seeded(_ConvNet, kernel_size=3, padding=1)
    got = per_example_grads(m, F.cross_entropy, X, y)
    ref = per_example_grads(m.double(), F.cross_entropy, X.double(), y)
    assert got.dtype == torch.float32
    assert float((got.double() - ref).abs().max() / ref.abs().max()) < 1e-6   # measured 1.4e-7 to 1.8e-7 over 5 seeds


def test_result_rows_are_cache_line_aligned_and_correct(problem):
    # d = 5·7 + 7 + 7·3 + 3 = 66 is not a multiple of 16: rows are padded, the result is a view.
    X, y = problem
    for dtype, per_line in ((torch.float32, 16), (torch.float64, 8)):
        m = make_model("mlp", 5, 3, hidden=(7,), generator=torch.Generator().manual_seed(0), dtype=dtype)
        got = per_example_grads(m, F.cross_entropy, X.to(dtype), y)
        assert got.shape == (40, 66) and got.data_ptr() % 64 == 0 and got.stride(0) % per_line == 0
        assert torch.allclose(got.double(), _loop_reference(m.double(), X, y), atol=1e-6 if dtype == torch.float32 else 1e-14)


def test_layer_tape_is_freed_without_the_garbage_collector(problem):
    # A reference cycle through the recorded tensors would keep them (and the heap) alive until gc runs.
    import gc
    import weakref

    from sgdnoise.gradients import _layer_pass
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gc.disable()
    try:
        tape, _ = _layer_pass(m, F.cross_entropy, X, y)
        refs = [weakref.ref(tape)] + [weakref.ref(g) for g in tape.out_grads.values()]
        assert len(refs) == 3
        del tape
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_unsupported_convolutions_fall_back_or_raise():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(6, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (6,), generator=g)
    m = _seeded(_TinyCNN, groups=3).double()
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y), _loop_reference(m, X, y), atol=1e-14)
    with pytest.raises(ValueError, match="nn.Conv2d"):
        per_example_grads(m, F.cross_entropy, X, y, method="layers")


def test_auto_falls_back_to_vmap_when_a_linear_layer_is_shared(problem):
    X, y = problem
    m = _seeded(_SharedLinear).double()
    g = per_example_grads(m, F.cross_entropy, X, y)
    for i in (0, 21):
        assert torch.allclose(g[i], full_gradient(m, F.cross_entropy, X[i:i + 1], y[i:i + 1]), atol=1e-14)
    with pytest.raises(ValueError, match="model layer"):
        per_example_grads(m, F.cross_entropy, X, y, method="layers")
    with pytest.raises(ValueError, match="method"):
        per_example_grads(m, F.cross_entropy, X, y, method="loop")


@pytest.mark.parametrize("kind", ["mlp", "cnn", "grouped", "shared"])
def test_sq_norms_without_gradients_match_materialized(kind):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, 16, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=g)
    if kind == "mlp":
        m = make_model("mlp", 16, 3, hidden=(8,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    elif kind == "cnn":   # convolution and linear head both on the layer path
        m = _seeded(_TinyCNN).double()
    elif kind == "grouped":   # a grouped convolution falls back to vmap(grad), the linear head does not
        m = _seeded(_TinyCNN, groups=3).double()
    else:                 # the shared layer falls back, the output layer does not
        m = _seeded(_SharedLinear).double()
        X = X[:, :5]
    full = per_example_grads(m, F.cross_entropy, X, y, method="vmap")
    for chunk in (None, 7):
        sq, G = per_example_sq_norms(m, F.cross_entropy, X, y, chunk_size=chunk)
        assert torch.allclose(sq, full.square().sum(1), rtol=1e-12, atol=0)
        assert torch.allclose(G, full.mean(0), atol=1e-14)


def test_sq_norms_scale_with_the_per_example_loss_not_the_mean():
    # One example repeated N times: every per-example gradient is the same vector, whatever N.
    m = make_model("logistic", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x, t = torch.randn(1, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64), torch.tensor([2])
    one = per_example_grads(m, F.cross_entropy, x, t, method="vmap").square().sum()
    for n in (1, 10, 100):
        sq, _ = per_example_sq_norms(m, F.cross_entropy, x.repeat(n, 1), t.repeat(n))
        assert torch.allclose(sq, one.repeat(n), rtol=1e-13)


def test_sq_norms_bad_inputs(problem):
    X, y = problem
    m = make_model("logistic", 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="chunk_size"):
        per_example_sq_norms(m, F.cross_entropy, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="same number of rows"):
        per_example_sq_norms(m, F.cross_entropy, X, y[:3])


@pytest.mark.parametrize("method", ["layers", "vmap"])
def test_out_array_is_filled_and_returned(problem, method):
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = _loop_reference(m, X, y)
    buf = torch.full((40, 66), float("nan"), dtype=torch.float64)
    got = per_example_grads(m, F.cross_entropy, X, y, method=method, out=buf)
    assert got is buf and torch.allclose(buf, ref, atol=1e-14)
    wide = torch.full((40, 70), float("nan"), dtype=torch.float64)[:, :66]      # strided rows are fine
    assert torch.allclose(per_example_grads(m, F.cross_entropy, X, y, method=method, out=wide), ref, atol=1e-14)


def test_out_array_is_checked(problem):
    X, y = problem
    m = make_model("mlp", 5, 3, hidden=(7,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for bad in (torch.empty(40, 65, dtype=torch.float64), torch.empty(40, 66), torch.empty(66, 40, dtype=torch.float64).T,
                [[0.0] * 66] * 40):
        with pytest.raises(ValueError, match=r"out must be a \(40, 66\)"):
            per_example_grads(m, F.cross_entropy, X, y, out=bad)
