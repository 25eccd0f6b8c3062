"""Datasets that need no download.

* :func:`load_digits` — scikit-learn's 8×8 handwritten digits (1797 images, shipped inside the
  scikit-learn package), split, standardized with the training statistics, as torch tensors.
* :func:`make_linear_regression` — Gaussian design with a known least-squares optimum
  (:func:`least_squares_optimum`, ``torch.linalg.lstsq``).

Preprocessing, written once: :func:`feature_statistics` and :func:`standardize_features` (which
:func:`load_digits` uses) and :func:`class_subset` (a subset of the classes, relabelled).
Augmentation of standardized images is :func:`sgdnoise.perturbations.augment_standardized`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_finite, check_positive_float, check_positive_int, numpy_generator
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


def load_digits(test_fraction: float = 0.2, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32, standardize: bool = True) -> Dataset:
    """scikit-learn's handwritten digits as standardized torch tensors.

    1797 grey-scale 8×8 images of the digits 0–9 (UCI ML hand-written digits; the copy that
    ships with scikit-learn, so nothing is downloaded). The split is stratified by class; each
    pixel is standardized ``x ← (x − mean) / std`` with the *training* mean and standard
    deviation (:func:`standardize_features`; pixels that are constant in training, e.g.
    always-blank corners, are left at 0). The split is fixed (scikit-learn's
    ``train_test_split`` with ``random_state=0``): part of the dataset's definition, like
    MNIST's train/test split, so there is no randomness to pass.

    Parameters
    ----------
    test_fraction : float
        Fraction held out for testing, in (0, 1). Default 0.2 (1437 train, 360 test).
    device : torch.device or str, optional
        Where the tensors are put (a data constructor: nothing else says it); default
        :func:`sgdnoise.default_device`.
    dtype : torch.dtype
        Floating type of the features; labels are ``int64``.
    standardize : bool
        ``False`` keeps the raw pixel intensities (integers 0–16), e.g. to measure what
        standardization does (:func:`standardize_features`).

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
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, random_state=0, stratify=y)
    X_tr, X_te = torch.as_tensor(X_tr, dtype=torch.float64), torch.as_tensor(X_te, dtype=torch.float64)
    if standardize:
        X_tr, X_te = standardize_features(X_tr, X_te)

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
        The exact minimizer of the training objective (:func:`least_squares_optimum`).
    """

    X: torch.Tensor
    y: torch.Tensor
    w_true: torch.Tensor
    w_opt: torch.Tensor


def make_linear_regression(n: int, d: int, noise: float = 0.5, generator: np.random.Generator | None = None,
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
    generator : numpy.random.Generator, optional
        The data are drawn in NumPy, in float64, so that the same generator gives the same
        problem on every device; ``None``: a fresh generator seeded from the operating system.
    device : torch.device or str, optional
        Where the tensors are put (a data constructor: nothing else says it); default
        :func:`sgdnoise.default_device`.
    dtype : torch.dtype
        Of the returned tensors.

    Examples
    --------
    >>> p = make_linear_regression(200, 5, generator=np.random.default_rng(0), device="cpu")
    >>> p.X.shape, p.w_opt.shape
    (torch.Size([200, 5]), torch.Size([5]))
    """
    d = check_positive_int("d", d)
    n = check_positive_int("n", n, minimum=d)
    noise = check_positive_float("noise", noise, allow_zero=True)
    device = torch.device(device) if device is not None else default_device()
    rng = numpy_generator(generator)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = X @ w_true + noise * rng.standard_normal(n)

    def t(a):
        return torch.as_tensor(a, dtype=dtype, device=device)

    return RegressionProblem(t(X), t(y), t(w_true), t(least_squares_optimum(torch.as_tensor(X), torch.as_tensor(y))))


def least_squares_optimum(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The minimizer :math:`w^\star = \arg\min_w \lVert Xw - y\rVert^2`, by ``torch.linalg.lstsq`` in float64.

    Solved from ``X`` itself (QR-based ``gelsd`` on the CPU), not from the normal equations, whose
    condition number is the square of ``X``'s.

    Parameters
    ----------
    X : torch.Tensor, shape (N, d), N >= d, full column rank
    y : torch.Tensor, shape (N,)

    Returns
    -------
    torch.Tensor, shape (d,)
        In ``X``'s dtype and on its device.

    Examples
    --------
    >>> X = torch.tensor([[1.0], [1.0], [1.0]]); y = torch.tensor([1.0, 2.0, 6.0])
    >>> least_squares_optimum(X, y).tolist()
    [3.0]
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],):
        raise ValueError("X must be a tensor of shape (N, d) and y of shape (N,)")
    check_finite("X", X)
    check_finite("y", y)
    Xd, yd = X.detach().double().cpu(), y.detach().double().cpu()
    w = torch.linalg.lstsq(Xd, yd[:, None], driver="gelsd").solution[:, 0]
    return w.to(dtype=X.dtype, device=X.device)


def feature_statistics(X_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The per-feature training mean and standard deviation used by :func:`standardize_features`.

    :math:`\mu_j` and :math:`s_j = \sqrt{\frac1N\sum_i (x_{ij}-\mu_j)^2}`, with :math:`s_j`
    replaced by 1 for features constant in training, so that :math:`(x - \mu)/s` is the
    standardization and :math:`x = s\,z + \mu` its exact inverse.

    Examples
    --------
    >>> mean, std = feature_statistics(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
    >>> mean.tolist(), std.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    if not isinstance(X_train, torch.Tensor) or X_train.ndim != 2 or X_train.shape[0] < 2:
        raise ValueError("X_train must be a tensor of shape (N, d) with N >= 2")
    check_finite("X_train", X_train)
    std = X_train.std(0, unbiased=False)
    return X_train.mean(0), torch.where(std > 0, std, torch.ones_like(std))


def standardize_features(X_train: torch.Tensor, X_test: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""Centre and scale every feature with the training mean and standard deviation.

    :math:`x_j \leftarrow (x_j - \mu_j)/s_j` with the statistics of :func:`feature_statistics`;
    features constant in training (:math:`s_j = 0`) are only centred, to 0.

    Parameters
    ----------
    X_train : torch.Tensor, shape (N, d)
    X_test : torch.Tensor, shape (M, d), optional
        Transformed with the *training* statistics.

    Returns
    -------
    (torch.Tensor, torch.Tensor or None)

    References
    ----------
    LeCun, Bottou, Orr & Müller (1998), "Efficient BackProp", §4.3.

    Examples
    --------
    >>> Xs, _ = standardize_features(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
    >>> Xs.tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    mean, std = feature_statistics(X_train)
    out_test = None
    if X_test is not None:
        if not isinstance(X_test, torch.Tensor) or X_test.ndim != 2 or X_test.shape[1] != X_train.shape[1]:
            raise ValueError(f"X_test must be a tensor of shape (M, {X_train.shape[1]})")
        out_test = (X_test - mean) / std
    return (X_train - mean) / std, out_test


def class_subset(X: torch.Tensor, y: torch.Tensor, classes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows whose label is in ``classes``, relabelled ``0 … len(classes)-1`` in the given order.

    Examples
    --------
    >>> Xs, ys = class_subset(torch.arange(4.0)[:, None], torch.tensor([5, 1, 7, 5]), [5, 7])
    >>> Xs[:, 0].tolist(), ys.tolist()
    ([0.0, 2.0, 3.0], [0, 1, 0])
    """
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    lookup = torch.full((int(max(int(y.max()), max(classes))) + 1,), -1, dtype=torch.int64, device=y.device)
    lookup[torch.tensor(classes, device=y.device)] = torch.arange(len(classes), device=y.device)
    new = lookup[y]
    keep = new >= 0
    return X[keep], new[keep]
