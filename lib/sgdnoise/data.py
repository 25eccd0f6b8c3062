"""Datasets that need no download.

* :func:`load_digits` — scikit-learn's 8×8 handwritten digits (1797 images, shipped inside the
  scikit-learn package), split, standardized with the training statistics, as torch tensors.
* :func:`make_linear_regression` — Gaussian design with a known least-squares optimum.
* :func:`make_logistic_regression` — a binary classification problem drawn from a known
  logistic model; :func:`logistic_regression_optimum` gives the exact regularized optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_finite, check_positive_float, check_positive_int
from .device import default_device


@dataclass(frozen=True)
class Dataset:
    """A supervised dataset split into train and test tensors (on one device).

    Attributes
    ----------
    X_train, y_train, X_test, y_test : torch.Tensor
        Features ``(n, d)`` and targets ``(n,)`` (class indices, or real values for regression).
    n_classes : int
        Number of classes (0 for regression).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def n_train(self) -> int:
        return self.X_train.shape[0]

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load_digits(test_fraction: float = 0.2, seed: int = 0, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32, standardize: bool = True) -> Dataset:
    """scikit-learn's handwritten digits as standardized torch tensors.

    1797 grey-scale 8×8 images of the digits 0–9 (UCI ML hand-written digits; the copy that
    ships with scikit-learn, so nothing is downloaded). The split is stratified by class; each
    pixel is standardized ``x ← (x − mean) / std`` with the *training* mean and standard
    deviation (pixels that are constant in training, e.g. always-blank corners, are left at 0).

    Parameters
    ----------
    test_fraction : float
        Fraction held out for testing, in (0, 1). Default 0.2 (1437 train, 360 test).
    seed : int
        Seed of the split.
    device : torch.device or str, optional
        Default :func:`sgdnoise.default_device`.
    dtype : torch.dtype
        Floating type of the features; labels are ``int64``.
    standardize : bool
        ``False`` keeps the raw pixel intensities (integers 0–16), e.g. to measure what
        standardization does (:func:`sgdnoise.engineering.standardize_features`).

    Returns
    -------
    Dataset
        64 features, 10 classes.

    Examples
    --------
    >>> data = load_digits(device="cpu")
    >>> data.X_train.shape, data.n_classes
    (torch.Size([1437, 64]), 10)
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    device = torch.device(device) if device is not None else default_device()
    X, y = _sk_load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    if standardize:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std

    def t(a, dt):
        return torch.as_tensor(a, dtype=dt, device=device)

    return Dataset(t(X_tr, dtype), t(y_tr, torch.int64), t(X_te, dtype), t(y_te, torch.int64), 10)


@dataclass(frozen=True)
class RegressionProblem:
    """A synthetic problem with a known optimum.

    Attributes
    ----------
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,)
    w_true : torch.Tensor, shape (d,)
        The parameter the data were generated from.
    w_opt : torch.Tensor, shape (d,)
        The exact minimizer of the training objective (least squares: the normal-equations
        solution; logistic: the regularized optimum by Newton's method).
    """

    X: torch.Tensor
    y: torch.Tensor
    w_true: torch.Tensor
    w_opt: torch.Tensor


def make_linear_regression(n: int, d: int, noise: float = 0.5, seed: int = 0,
                           device: torch.device | str | None = None,
                           dtype: torch.dtype = torch.float64) -> RegressionProblem:
    r"""Linear regression ``y = X w_true + noise·ε`` with its exact least-squares optimum.

    Rows of ``X`` are standard Gaussian, ``w_true ~ N(0, I/d)``, ``ε ~ N(0, 1)``. The optimum of
    :math:`L(w) = \frac{1}{2n}\lVert Xw - y\rVert^2` is ``w_opt = (XᵀX)⁻¹ Xᵀy``, solved in float64.

    Parameters
    ----------
    n, d : int
        Number of examples (``n >= d``, so the optimum is unique) and of features.
    noise : float
        Standard deviation of the label noise (>= 0).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Examples
    --------
    >>> p = make_linear_regression(200, 5, device="cpu")
    >>> p.X.shape, p.w_opt.shape
    (torch.Size([200, 5]), torch.Size([5]))
    """
    d = check_positive_int("d", d)
    n = check_positive_int("n", n, minimum=d)
    noise = check_positive_float("noise", noise, allow_zero=True)
    device = torch.device(device) if device is not None else default_device()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = X @ w_true + noise * rng.standard_normal(n)
    w_opt = np.linalg.solve(X.T @ X, X.T @ y)

    def t(a):
        return torch.as_tensor(a, dtype=dtype, device=device)

    return RegressionProblem(t(X), t(y), t(w_true), t(w_opt))


def logistic_regression_optimum(X: torch.Tensor, y: torch.Tensor, l2: float, tol: float = 1e-12,
                                max_iter: int = 100) -> torch.Tensor:
    r"""Exact minimizer of L2-regularized binary logistic regression, by Newton's method.

    Minimizes :math:`L(w) = \frac1n\sum_i \log(1 + e^{-s_i x_i^\top w}) + \frac{\lambda}{2}\lVert w\rVert^2`
    with labels :math:`y_i \in \{0, 1\}` and :math:`s_i = 2y_i - 1`. ``L`` is ``λ``-strongly convex,
    so Newton's method converges quadratically from ``w = 0`` (computed in float64).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,), values in {0, 1}
    l2 : float
        Regularization strength λ > 0.
    tol : float
        Stop when the gradient norm falls below ``tol``.

    Returns
    -------
    torch.Tensor, shape (d,)
        The optimum, in ``X``'s dtype and device.
    """
    l2 = check_positive_float("l2", l2)
    check_finite("X", X)
    Xd, yd = X.double(), y.double()
    if not bool(((yd == 0) | (yd == 1)).all()):
        raise ValueError("y must contain only 0 and 1 for binary logistic regression")
    n, d = Xd.shape
    w = torch.zeros(d, dtype=torch.float64, device=X.device)
    for _ in range(max_iter):
        p = torch.sigmoid(Xd @ w)
        grad = Xd.T @ (p - yd) / n + l2 * w
        if float(grad.norm()) < tol:
            break
        hess = (Xd.T * (p * (1 - p))) @ Xd / n + l2 * torch.eye(d, dtype=torch.float64, device=X.device)
        w = w - torch.linalg.solve(hess, grad)
    return w.to(X.dtype)


def make_logistic_regression(n: int, d: int, l2: float = 1e-2, seed: int = 0,
                             device: torch.device | str | None = None,
                             dtype: torch.dtype = torch.float64) -> RegressionProblem:
    r"""Binary classification drawn from a logistic model, with its exact regularized optimum.

    ``x ~ N(0, I)``, ``w_true ~ N(0, 4I/d)``, ``P(y = 1 | x) = σ(xᵀ w_true)``. ``w_opt`` minimizes
    the L2-regularized logistic loss (see :func:`logistic_regression_optimum`) with strength ``l2``.

    Examples
    --------
    >>> p = make_logistic_regression(500, 4, device="cpu")
    >>> sorted(p.y.unique().tolist())
    [0.0, 1.0]
    """
    n = check_positive_int("n", n)
    d = check_positive_int("d", d)
    device = torch.device(device) if device is not None else default_device()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = 2 * rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=dtype, device=device)
    w_opt = logistic_regression_optimum(Xt, yt, l2)
    return RegressionProblem(Xt, yt, torch.as_tensor(w_true, dtype=dtype, device=device), w_opt)
