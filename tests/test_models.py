from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F

from sgdnoise.models import (MLP, LogisticRegression, count_parameters, get_flat_params, make_model, replace_head,
                             set_flat_params, smoothed_cross_entropy)


def test_parameter_counts():
    assert count_parameters(make_model("logistic", 64, 10, generator=torch.Generator().manual_seed(0))) == 64 * 10 + 10
    assert count_parameters(make_model("mlp", 64, 10, hidden=(32,), generator=torch.Generator().manual_seed(0))) == 64 * 32 + 32 + 32 * 10 + 10
    assert count_parameters(MLP((5, 4, 3, 2))) == 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2


def gen(seed):
    return torch.Generator().manual_seed(seed)


@contextmanager
def local_seed(seed):
    """nn.Dropout and nn.Linear's own init draw from torch's global RNG: seed a forked copy of it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def test_seeded_init_is_reproducible_and_leaves_global_rng():
    state = torch.random.get_rng_state()
    a = get_flat_params(make_model("mlp", 8, 3, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG was not consumed
    assert torch.equal(a, get_flat_params(make_model("mlp", 8, 3, generator=torch.Generator().manual_seed(5))))
    assert not torch.equal(a, get_flat_params(make_model("mlp", 8, 3, generator=torch.Generator().manual_seed(6))))
    # PyTorch's default: uniform on +-1/sqrt(fan_in). The 256 first-layer weights come within 5 %
    # of the bound (all below 0.95 b has probability 0.95^256 = 2e-6) and have variance b^2/3
    # within 5 s.e. (the s.e. of the sample variance of U(-b, b) is b^2 sqrt(4/45/n) = 1.9 % of
    # b^2): all-zero weights, U(-b/2, b/2) or a clipped normal fail.
    b, w = 1 / 8 ** 0.5, a[: 8 * 32].double()
    assert w.abs().max() <= b and w.abs().max() > 0.95 * b
    assert abs(float(w.var(correction=0)) - b ** 2 / 3) < 5 * b ** 2 * (4 / 45 / len(w)) ** 0.5


def test_flat_params_round_trip():
    m = make_model("mlp", 6, 2, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    v = torch.arange(count_parameters(m), dtype=torch.float64)
    set_flat_params(m, v)
    assert torch.equal(get_flat_params(m), v)
    assert torch.equal(m.net[0].weight.reshape(-1), v[:24])
    with pytest.raises(ValueError, match="flat"):
        set_flat_params(m, v[:-1])


def test_forward_shapes_and_dropout():
    x = torch.randn(7, 6, generator=gen(0), dtype=torch.float64)
    with local_seed(0):
        lr = LogisticRegression(6, 3).double()
        m = MLP((6, 50, 3), dropout=0.5).double()
    assert torch.allclose(lr(x), x @ lr.linear.weight.T + lr.linear.bias, atol=1e-14)
    lin1, lin2 = m.net[0], m.net[3]
    h = torch.relu(x @ lin1.weight.T + lin1.bias)                   # the hidden layer, by hand
    m.eval()
    assert torch.allclose(m(x), h @ lin2.weight.T + lin2.bias, atol=1e-14)   # eval: no dropout
    m.train()
    with local_seed(1), torch.no_grad():
        hidden = m.net[:3](x)
        outs = torch.stack([m(x) for _ in range(4000)])
    # inverted dropout: each hidden unit is 0 or 2 h (scaled by 1/(1 - p)), zeroed with probability 1/2
    assert bool(((hidden == 0) | torch.isclose(hidden, 2 * h, rtol=1e-14, atol=0)).all())
    alive = h > 0
    frac = float((hidden[alive] == 0).double().mean())
    assert abs(frac - 0.5) < 5 * (0.25 / int(alive.sum())) ** 0.5, frac
    # and the output's mean over masks is the eval output: within 5 s.e. per entry (a dropout
    # without the 1/(1 - p) rescaling is off by about half the hidden contribution and fails)
    se = outs.std(0) / 4000 ** 0.5
    assert bool(((outs.mean(0) - m.eval()(x)).abs() < 5 * se).all())


@pytest.mark.parametrize("kwargs, word", [
    (dict(sizes=(5,)), "sizes"), (dict(sizes=(5, 0, 2)), "sizes"), (dict(sizes=(5, 2), activation="sigmoidx"), "activation"),
    (dict(sizes=(5, 2), dropout=1.0), "dropout"),
])
def test_mlp_bad_inputs(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MLP(**kwargs)


def test_make_model_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        make_model("cnn", 4, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="n_features"):
        make_model("logistic", 0, 2, generator=torch.Generator().manual_seed(0))


def test_batch_norm_variant_shapes_and_layers():
    from torch import nn as _nn
    m = make_model("mlp", 64, 10, hidden=(32, 16), batch_norm=True, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert sum(isinstance(layer, _nn.BatchNorm1d) for layer in m.modules()) == 2
    plain = make_model("mlp", 64, 10, hidden=(32, 16), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert not any(isinstance(layer, _nn.BatchNorm1d) for layer in plain.modules())
    x = torch.randn(7, 64, generator=gen(0), dtype=torch.float64)
    lins = [layer for layer in m.modules() if isinstance(layer, _nn.Linear)]
    eps = 1e-5

    def by_hand(x, stats):
        # Linear -> BatchNorm (weight 1, bias 0 at init) -> ReLU per hidden layer, then the head;
        # stats(z) gives the mean and variance the normalization uses
        for lin in lins[:-1]:
            z = x @ lin.weight.T + lin.bias
            mu, var = stats(z)
            x = torch.relu((z - mu) / torch.sqrt(var + eps))
        return x @ lins[-1].weight.T + lins[-1].bias

    # train mode: each batch is normalized by its own mean and biased variance
    m.train()
    with torch.no_grad():
        out = m(x)
    assert out.shape == (7, 10)
    assert torch.allclose(out, by_hand(x, lambda z: (z.mean(0), z.var(0, correction=0))), atol=1e-12)
    # ... and that one step moved the running statistics by momentum 0.1 from (0, 1), with the
    # unbiased variance; in eval mode they, not the batch, normalize (a single example works)
    bns = [layer for layer in m.modules() if isinstance(layer, _nn.BatchNorm1d)]
    it = iter(bns)
    expected = []

    def record(z):
        bn = next(it)
        mu, var = 0.1 * z.mean(0), 0.9 + 0.1 * z.var(0, correction=1)
        expected.append((mu, var))
        assert torch.allclose(bn.running_mean, mu, atol=1e-14) and torch.allclose(bn.running_var, var, atol=1e-14)
        return z.mean(0), z.var(0, correction=0)

    by_hand(x, record)
    m.eval()
    running = iter(expected)
    x1 = x[:1]
    assert torch.allclose(m(x1), by_hand(x1, lambda z: next(running)), atol=1e-12)


def test_batch_norm_needs_mlp():
    with pytest.raises(ValueError, match="batch_norm"):
        make_model("logistic", 64, 10, batch_norm=True, generator=torch.Generator().manual_seed(0))


def test_make_model_activation():
    # The default stays ReLU (same weights as before the option existed); tanh swaps only the
    # nonlinearity, so with the same seed the weights are identical and the outputs differ.
    import torch as _torch
    from sgdnoise.models import make_model as _make, get_flat_params as _flat
    relu = _make("mlp", 5, 3, hidden=(4,), generator=_torch.Generator().manual_seed(1))
    tanh = _make("mlp", 5, 3, hidden=(4,), generator=_torch.Generator().manual_seed(1), activation="tanh")
    assert any(isinstance(m, _torch.nn.Tanh) for m in tanh.modules())
    assert not any(isinstance(m, _torch.nn.Tanh) for m in relu.modules())
    assert _torch.equal(_flat(relu), _flat(tanh))
    x = _torch.randn(7, 5, generator=_torch.Generator().manual_seed(0))
    with _torch.no_grad():
        assert _torch.allclose(tanh.net[2](_torch.tanh(tanh.net[0](x))), tanh(x))
    with pytest.raises(ValueError, match="activation"):
        _make("logistic", 5, 3, device="cpu", activation="tanh")
    with pytest.raises(ValueError, match="activation"):
        _make("mlp", 5, 3, device="cpu", activation="sigmoid")


def test_label_smoothing_loss_values():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    eps = 0.2
    logp = torch.log_softmax(logits, 1)
    by_hand = ((1 - eps) * -logp[torch.arange(2), y] + eps * (-logp).mean(1)).mean()
    assert torch.allclose(smoothed_cross_entropy(eps)(logits, y), by_hand, atol=1e-12)
    assert torch.allclose(smoothed_cross_entropy(0.0)(logits, y), F.cross_entropy(logits, y), atol=1e-12)
    # Its minimum over the logits is at p = (1 - eps) e_y + eps / K, not at a one-hot p.
    target = torch.tensor([[1 - eps + eps / 3, eps / 3, eps / 3]], dtype=torch.float64)
    best = smoothed_cross_entropy(eps)(target.log(), torch.tensor([0]))
    entropy = -(target * target.log()).sum()
    assert torch.allclose(best, entropy, atol=1e-12)


@pytest.mark.parametrize("eps", [-0.1, 1.0])
def test_label_smoothing_bad_epsilon(eps):
    with pytest.raises(ValueError, match="epsilon"):
        smoothed_cross_entropy(eps)


def test_replace_head():
    m = make_model("mlp", 64, 5, hidden=(16,), generator=torch.Generator().manual_seed(0))
    body = m.net[0].weight.detach().clone()
    state = torch.random.get_rng_state()
    replace_head(m, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.random.get_rng_state(), state)    # the global RNG is not consumed
    assert torch.equal(m.net[0].weight, body) and tuple(m(torch.zeros(2, 64)).shape) == (2, 3)
    # the head: seeded (same seed, same head; another seed, another) and uniform on +-1/sqrt(16)
    head = m.net[-1].weight.detach().clone()
    assert torch.equal(replace_head(m, 3, generator=torch.Generator().manual_seed(1)).net[-1].weight, head)
    assert not torch.equal(replace_head(m, 3, generator=torch.Generator().manual_seed(2)).net[-1].weight, head)
    assert float(head.abs().max()) <= 0.25 and float(head.abs().max()) > 0.15
    with pytest.raises(ValueError, match="n_classes"):
        replace_head(m, 0)
    with pytest.raises(ValueError, match="model"):
        replace_head(make_model("logistic", 4, 2, generator=torch.Generator().manual_seed(0)), 2)


def test_set_flat_params_copies_the_vector():
    # The model must not share memory with the vector it was set from: training in place after
    # set_flat_params(model, w0) must leave w0 as it was (a restart from w0 sees the same point).
    m = make_model("mlp", 4, 3, hidden=(5,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w0 = get_flat_params(m).clone()
    ref = w0.clone()
    set_flat_params(m, w0)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    assert torch.equal(w0, ref)
    assert torch.equal(get_flat_params(m), ref + 1.0)
