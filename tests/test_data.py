import math

import numpy as np
import pytest
import torch

from sgdnoise.data import (class_subset, feature_statistics, least_squares_optimum, load_digits,
                           make_linear_regression, standardize_features)
from sgdnoise.leastsquares import condition_number


def test_digits_split_and_standardization():
    d = load_digits(device="cpu")
    assert d.X_train.shape == (1437, 64) and d.X_test.shape == (360, 64)
    assert d.y_train.dtype == torch.int64 and d.n_classes == 10
    assert sorted(d.y_train.unique().tolist()) == list(range(10))
    std = d.X_train.std(0, unbiased=False)
    varying = std > 0
    assert torch.allclose(d.X_train.mean(0), torch.zeros(64), atol=1e-5)
    assert torch.allclose(std[varying], torch.ones(int(varying.sum())), atol=1e-5)
    # stratified: class proportions in train and test agree to within one example per class
    tr = torch.bincount(d.y_train, minlength=10).double() / 1437
    te = torch.bincount(d.y_test, minlength=10).double() / 360
    assert (tr - te).abs().max() < 1 / 360 + 1e-9


def test_digits_split_is_fixed_and_dtype():
    # The split is part of the dataset's definition (no randomness to pass): two loads agree.
    a, b = load_digits(device="cpu", dtype=torch.float64), load_digits(device="cpu", dtype=torch.float64)
    assert a.X_train.dtype == torch.float64 and torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.2])
def test_digits_bad_fraction(frac):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=frac, device="cpu")


def test_linear_regression_optimum_solves_normal_equations():
    p = make_linear_regression(300, 7, noise=0.3, generator=np.random.default_rng(1), device="cpu")
    grad = p.X.T @ (p.X @ p.w_opt - p.y) / 300
    assert grad.abs().max() < 1e-12
    # against numpy's SVD-based solver (another code path)
    ref = np.linalg.lstsq(p.X.numpy(), p.y.numpy(), rcond=None)[0]
    assert np.allclose(least_squares_optimum(p.X, p.y).numpy(), ref, rtol=1e-12, atol=1e-14)
    # the same generator state gives the same problem; a generator is required for that
    again = make_linear_regression(300, 7, noise=0.3, generator=np.random.default_rng(1), device="cpu")
    assert torch.equal(again.X, p.X)
    with pytest.raises(ValueError, match="generator"):
        make_linear_regression(30, 2, generator=torch.Generator(), device="cpu")
    # with no noise the optimum is the generating parameter
    q = make_linear_regression(50, 5, noise=0.0, generator=np.random.default_rng(0), device="cpu")
    assert torch.allclose(q.w_opt, q.w_true, atol=1e-12)


def test_linear_regression_bad_inputs():
    with pytest.raises(ValueError, match="n must be"):
        make_linear_regression(3, 5, device="cpu")
    with pytest.raises(ValueError, match="noise"):
        make_linear_regression(30, 5, noise=-1, device="cpu")
    with pytest.raises(ValueError, match="d must be"):
        make_linear_regression(30, 0, device="cpu")


def test_standardize_features_and_condition_number():
    raw = load_digits(device="cpu", dtype=torch.float64, standardize=False)
    std = load_digits(device="cpu", dtype=torch.float64)
    Xs, Xt = standardize_features(raw.X_train, raw.X_test)
    assert torch.allclose(Xs, std.X_train, atol=1e-10) and torch.allclose(Xt, std.X_test, atol=1e-10)
    assert condition_number(std.X_train) < condition_number(raw.X_train) / 10
    D = torch.diag(torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64))
    X = torch.cat([D, -D])  # M = X^T X / 6 = D^2 / 3: eigenvalues 1, 4, 25 over 3
    assert math.isclose(condition_number(X), 25.0, rel_tol=1e-12)


def test_standardize_and_condition_bad_inputs():
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="X_train"):
        standardize_features(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="X_test"):
        standardize_features(X, X[:2, :2])


def test_feature_statistics_match_numpy_and_standardize_features():
    X = torch.tensor([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [8.0, 5.0, 1.0]], dtype=torch.float64)
    mean, std = feature_statistics(X)
    ref_std = X.numpy().std(axis=0)                     # numpy, ddof = 0
    assert np.allclose(mean.numpy(), X.numpy().mean(0)) and np.allclose(std.numpy(), np.where(ref_std > 0, ref_std, 1))
    assert torch.allclose((X - mean) / std, standardize_features(X)[0])
    with pytest.raises(ValueError, match="X_train"):
        feature_statistics(torch.zeros(1, 3))


def test_class_subset():
    X, y = torch.arange(6.0)[:, None], torch.tensor([0, 5, 6, 5, 9, 1])
    Xs, ys = class_subset(X, y, [5, 6, 7, 8, 9])
    assert Xs[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0] and ys.tolist() == [0, 1, 0, 4]
    with pytest.raises(ValueError, match="classes"):
        class_subset(X, y, [])
