import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sgdnoise.data import load_digits
from sgdnoise.engineering import (augment_standardized, class_subset, feature_statistics,
                                  injection_variance, replace_head,
                                  second_moment_condition_number, smoothed_cross_entropy, standardize_features)
from sgdnoise.perturbations import augment_digits
from sgdnoise.gradients import per_example_grads
from sgdnoise.models import make_model
from sgdnoise.covariance import covariance_matrix, trace_covariance


def test_injection_schedule_values():
    # Worked by hand, not the formula retyped: gamma = 1/2 at t = 0, 1, 3, 8, 15 divides c by
    # sqrt(1 + t) = 1, sqrt 2, 2, 3, 4 (t counted from 0: a schedule in t instead of 1 + t fails,
    # and so does c / (1 + t)^(2 gamma) or sqrt(c / (1 + t)^gamma), the standard deviation).
    t = np.array([0, 1, 3, 8, 15])
    assert np.allclose(injection_variance(t, 0.3, 0.5), [0.3, 0.3 * 0.7071067811865476, 0.15, 0.1, 0.075],
                       rtol=1e-14, atol=0)
    # Neelakantan et al.'s default gamma = 0.55: each doubling of 1 + t multiplies the variance
    # by 2^(-0.55) = 0.6830 (a power law in 1 + t, whatever the scale)
    v = injection_variance(np.array([0, 1, 3, 7, 15]), 0.3)
    assert np.allclose(v[1:] / v[:-1], 0.6830201284, rtol=1e-9, atol=0) and v[0] == 0.3
    assert injection_variance(0, 1.0) == 1.0
    assert injection_variance(3, 2.0, 0.0) == 2.0
    assert math.isclose(injection_variance(15, 1.0, 0.5), 0.25)


@pytest.mark.parametrize("kwargs,word", [(dict(step=-1, scale=1.0), "step"), (dict(step=1.5, scale=1.0), "step"),
                                         (dict(step=1, scale=-1.0), "scale"),
                                         (dict(step=1, scale=1.0, decay=-1.0), "decay")])
def test_injection_bad_inputs(kwargs, word):
    with pytest.raises(ValueError, match=word):
        injection_variance(**kwargs)


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


def test_standardize_features_and_condition_number():
    raw = load_digits(device="cpu", dtype=torch.float64, standardize=False)
    std = load_digits(device="cpu", dtype=torch.float64)
    Xs, Xt = standardize_features(raw.X_train, raw.X_test)
    assert torch.allclose(Xs, std.X_train, atol=1e-10) and torch.allclose(Xt, std.X_test, atol=1e-10)
    assert second_moment_condition_number(std.X_train) < second_moment_condition_number(raw.X_train) / 10
    D = torch.diag(torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64))
    X = torch.cat([D, -D])  # M = X^T X / 6 = D^2 / 3: eigenvalues 1, 4, 25 over 3
    assert math.isclose(second_moment_condition_number(X), 25.0, rel_tol=1e-12)


def test_standardize_and_condition_bad_inputs():
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="X_train"):
        standardize_features(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="X_test"):
        standardize_features(X, X[:2, :2])
    with pytest.raises(ValueError, match="rtol"):
        second_moment_condition_number(X, rtol=0.0)


def test_class_subset_and_replace_head():
    X, y = torch.arange(6.0)[:, None], torch.tensor([0, 5, 6, 5, 9, 1])
    Xs, ys = class_subset(X, y, [5, 6, 7, 8, 9])
    assert Xs[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0] and ys.tolist() == [0, 1, 0, 4]
    with pytest.raises(ValueError, match="classes"):
        class_subset(X, y, [])
    m = make_model("mlp", 64, 5, hidden=(16,), device="cpu")
    body = m.net[0].weight.detach().clone()
    state = torch.random.get_rng_state()
    replace_head(m, 3, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)    # the global RNG is not consumed
    assert torch.equal(m.net[0].weight, body) and tuple(m(torch.zeros(2, 64)).shape) == (2, 3)
    # the head: seeded (same seed, same head; another seed, another) and uniform on +-1/sqrt(16)
    head = m.net[-1].weight.detach().clone()
    assert torch.equal(replace_head(m, 3, seed=1).net[-1].weight, head)
    assert not torch.equal(replace_head(m, 3, seed=2).net[-1].weight, head)
    assert float(head.abs().max()) <= 0.25 and float(head.abs().max()) > 0.15
    with pytest.raises(ValueError, match="n_classes"):
        replace_head(m, 0)
    with pytest.raises(ValueError, match="model"):
        replace_head(make_model("logistic", 4, 2, device="cpu"), 2)


def test_feature_statistics_match_numpy_and_standardize_features():
    X = torch.tensor([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [8.0, 5.0, 1.0]], dtype=torch.float64)
    mean, std = feature_statistics(X)
    ref_std = X.numpy().std(axis=0)                     # numpy, ddof = 0
    assert np.allclose(mean.numpy(), X.numpy().mean(0)) and np.allclose(std.numpy(), np.where(ref_std > 0, ref_std, 1))
    assert torch.allclose((X - mean) / std, standardize_features(X)[0])
    with pytest.raises(ValueError, match="X_train"):
        feature_statistics(torch.zeros(1, 3))


def test_augment_standardized_acts_on_the_raw_pixels():
    raw = load_digits(device="cpu", standardize=False).X_train[:50].double()
    mean, std = feature_statistics(raw)
    z = (raw - mean) / std
    # identity without shift or rotation
    assert torch.allclose(augment_standardized(z, mean, std, None, 0.0, 0.0), z, atol=1e-10)
    # the same as augmenting the raw pixels with zero padding, then standardizing
    a = augment_standardized(z, mean, std, torch.Generator().manual_seed(5))
    b = (augment_digits(raw, generator=torch.Generator().manual_seed(5), padding="zeros") - mean) / std
    assert torch.allclose(a, b, atol=1e-10)
    # a blank image stays blank: its standardized value -mean/std at every pixel, whatever the draw
    blank = ((torch.zeros(3, 64, dtype=torch.float64) - mean) / std)
    assert torch.allclose(augment_standardized(blank, mean, std, torch.Generator().manual_seed(6)), blank, atol=1e-10)
    # ... which augmenting the standardized pixels directly (border padding) does not keep
    assert not torch.allclose(augment_digits(blank, generator=torch.Generator().manual_seed(6)), blank, atol=1e-3)
    with pytest.raises(ValueError, match="mean and std"):
        augment_standardized(z, mean[:10], std)
    with pytest.raises(ValueError, match="std"):
        augment_standardized(z, mean, torch.zeros(64, dtype=torch.float64))


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
    assert math.isclose(s0["between"], trace_covariance(per_example_grads(m, F.cross_entropy, X, y)), rel_tol=1e-9)
    with pytest.raises(ValueError, match="draws"):
        augmentation_noise_split(m, F.cross_entropy, X, y, lambda x: x, 1)


