import pytest
import torch

from sgdnoise.models import MLP, LogisticRegression, count_parameters, get_flat_params, make_model, set_flat_params


def test_parameter_counts():
    assert count_parameters(make_model("logistic", 64, 10, device="cpu")) == 64 * 10 + 10
    assert count_parameters(make_model("mlp", 64, 10, hidden=(32,), device="cpu")) == 64 * 32 + 32 + 32 * 10 + 10
    assert count_parameters(MLP((5, 4, 3, 2))) == 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2


def test_seeded_init_is_reproducible_and_leaves_global_rng():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a = get_flat_params(make_model("mlp", 8, 3, seed=5, device="cpu"))
    after = torch.rand(1)
    assert torch.equal(before, after)  # the global RNG was not consumed
    assert torch.equal(a, get_flat_params(make_model("mlp", 8, 3, seed=5, device="cpu")))
    assert not torch.equal(a, get_flat_params(make_model("mlp", 8, 3, seed=6, device="cpu")))
    # PyTorch's default bound 1/sqrt(fan_in)
    assert a[: 8 * 32].abs().max() <= 1 / 8 ** 0.5


def test_flat_params_round_trip():
    m = make_model("mlp", 6, 2, hidden=(4,), device="cpu", dtype=torch.float64)
    v = torch.arange(count_parameters(m), dtype=torch.float64)
    set_flat_params(m, v)
    assert torch.equal(get_flat_params(m), v)
    assert torch.equal(m.net[0].weight.reshape(-1), v[:24])
    with pytest.raises(ValueError, match="flat"):
        set_flat_params(m, v[:-1])


def test_forward_shapes_and_dropout():
    x = torch.randn(7, 6)
    assert LogisticRegression(6, 3)(x).shape == (7, 3)
    m = MLP((6, 50, 3), dropout=0.5)
    m.train()
    assert not torch.equal(m(x), m(x))
    m.eval()
    assert torch.equal(m(x), m(x))


@pytest.mark.parametrize("kwargs, word", [
    (dict(sizes=(5,)), "sizes"), (dict(sizes=(5, 0, 2)), "sizes"), (dict(sizes=(5, 2), activation="sigmoidx"), "activation"),
    (dict(sizes=(5, 2), dropout=1.0), "dropout"),
])
def test_mlp_bad_inputs(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MLP(**kwargs)


def test_make_model_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        make_model("cnn", 4, 2, device="cpu")
    with pytest.raises(ValueError, match="n_features"):
        make_model("logistic", 0, 2, device="cpu")


def test_batch_norm_variant_shapes_and_layers():
    from torch import nn as _nn
    m = make_model("mlp", 64, 10, hidden=(32, 16), batch_norm=True, device="cpu")
    assert sum(isinstance(layer, _nn.BatchNorm1d) for layer in m.modules()) == 2
    assert tuple(m(torch.randn(7, 64)).shape) == (7, 10)
    m.eval()
    assert tuple(m(torch.randn(1, 64)).shape) == (1, 10)
    plain = make_model("mlp", 64, 10, hidden=(32, 16), device="cpu")
    assert not any(isinstance(layer, _nn.BatchNorm1d) for layer in plain.modules())


def test_batch_norm_needs_mlp():
    with pytest.raises(ValueError, match="batch_norm"):
        make_model("logistic", 64, 10, batch_norm=True, device="cpu")


def test_make_model_activation():
    # The default stays ReLU (same weights as before the option existed); tanh swaps only the
    # nonlinearity, so with the same seed the weights are identical and the outputs differ.
    import torch as _torch
    from sgdnoise.models import make_model as _make, get_flat_params as _flat
    relu = _make("mlp", 5, 3, hidden=(4,), seed=1, device="cpu")
    tanh = _make("mlp", 5, 3, hidden=(4,), seed=1, device="cpu", activation="tanh")
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
