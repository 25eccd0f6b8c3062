import numpy as np
import pytest
import torch

from sgdnoise.data import load_digits, logistic_regression_optimum, make_linear_regression, make_logistic_regression


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


def test_digits_seed_reproducible_and_dtype():
    a, b = load_digits(seed=3, device="cpu", dtype=torch.float64), load_digits(seed=3, device="cpu", dtype=torch.float64)
    assert a.X_train.dtype == torch.float64 and torch.equal(a.X_train, b.X_train)
    assert not torch.equal(a.X_train, load_digits(seed=4, device="cpu", dtype=torch.float64).X_train)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.2])
def test_digits_bad_fraction(frac):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=frac, device="cpu")


def test_linear_regression_optimum_solves_normal_equations():
    p = make_linear_regression(300, 7, noise=0.3, seed=1, device="cpu")
    grad = p.X.T @ (p.X @ p.w_opt - p.y) / 300
    assert grad.abs().max() < 1e-12
    # with no noise the optimum is the generating parameter
    q = make_linear_regression(50, 5, noise=0.0, device="cpu")
    assert torch.allclose(q.w_opt, q.w_true, atol=1e-12)


def test_linear_regression_bad_inputs():
    with pytest.raises(ValueError, match="n must be"):
        make_linear_regression(3, 5, device="cpu")
    with pytest.raises(ValueError, match="noise"):
        make_linear_regression(30, 5, noise=-1, device="cpu")
    with pytest.raises(ValueError, match="d must be"):
        make_linear_regression(30, 0, device="cpu")


def test_logistic_optimum_is_stationary_and_matches_scipy():
    from scipy.optimize import minimize

    p = make_logistic_regression(400, 5, l2=0.05, seed=2, device="cpu")
    X, y, w = p.X, p.y, p.w_opt
    grad = X.T @ (torch.sigmoid(X @ w) - y) / 400 + 0.05 * w
    assert grad.norm() < 1e-10
    Xn, yn = X.numpy(), y.numpy()

    def f(v):
        z = Xn @ v
        return np.mean(np.logaddexp(0, z) - yn * z) + 0.025 * v @ v

    ref = minimize(f, np.zeros(5), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(ref, w.numpy(), atol=1e-6)


def test_logistic_optimum_bad_inputs():
    X = torch.randn(10, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="l2"):
        logistic_regression_optimum(X, torch.zeros(10, dtype=torch.float64), l2=0)
    with pytest.raises(ValueError, match="y must"):
        logistic_regression_optimum(X, torch.full((10,), 2.0, dtype=torch.float64), l2=1)
    X[0, 0] = float("nan")
    with pytest.raises(ValueError, match="^X contains NaN"):
        logistic_regression_optimum(X, torch.zeros(10, dtype=torch.float64), l2=1)
