r"""Neighbour sampling on a graph: the mini-batch idea applied to a node's neighbourhood.

A mean-aggregating graph layer (GraphSAGE, Hamilton, Ying & Leskovec 2017) replaces the features of
node :math:`i` by the mean of its neighbours' features,
:math:`h_i = \frac1{d_i}\sum_{j\in\mathcal N(i)} x_j` (:func:`mean_aggregate`). To bound the cost it
averages only :math:`k` sampled neighbours instead (:func:`sampled_mean_aggregate`). That is a
mini-batch of size :math:`k` from a population of :math:`d_i`, so its variance is chapter 1's
formula (:func:`sgdnoise.covariance.minibatch_variance_theory`) with
:math:`\operatorname{tr}\Sigma \to \sigma^2_{\mathcal N(i)}`, the population variance of the
neighbour features (:func:`sampled_mean_variance`):

.. math::  \mathbb E\lVert\hat h_i - h_i\rVert^2 = \frac{\sigma^2_{\mathcal N(i)}}{k}
           \quad\text{(with replacement)},\qquad
           \frac{\sigma^2_{\mathcal N(i)}}{k}\,\frac{d_i - k}{d_i - 1}\quad\text{(without)}.

Graphs are dense boolean adjacency matrices in numpy (a few hundred nodes); the test graph is a
stochastic block model (:func:`stochastic_block_model`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validate import check_bool, check_finite, check_positive_int, numpy_generator


def stochastic_block_model(sizes: Sequence[int], p_in: float, p_out: float, *,
                           generator: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""A random graph whose nodes fall in blocks, linked with probability ``p_in`` inside a block and ``p_out`` across.

    Each unordered pair :math:`\{i, j\}`, :math:`i \ne j`, is an edge independently with
    probability :math:`p_{\rm in}` if both nodes are in the same block, :math:`p_{\rm out}`
    otherwise; no self-loops.

    Parameters
    ----------
    sizes : sequence of int
        Block sizes, each >= 1.
    p_in, p_out : float
        Probabilities in [0, 1].
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    adjacency : numpy.ndarray, shape (N, N), bool
        Symmetric, zero diagonal.
    blocks : numpy.ndarray, shape (N,), int
        The block of each node.

    References
    ----------
    Holland, Laskey & Leinhardt (1983), "Stochastic blockmodels: first steps", Social Networks.

    Examples
    --------
    >>> A, b = stochastic_block_model([3, 2], 1.0, 0.0)
    >>> A.sum(1).tolist(), b.tolist()
    ([2, 2, 2, 1, 1], [0, 0, 0, 1, 1])
    """
    sizes = [check_positive_int("sizes[i]", s) for s in sizes]
    if not sizes:
        raise ValueError("sizes must list at least one block")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {p}")
    rng = numpy_generator(generator)
    blocks = np.repeat(np.arange(len(sizes)), sizes)
    prob = np.where(blocks[:, None] == blocks[None, :], float(p_in), float(p_out))
    upper = np.triu(rng.random(prob.shape) < prob, k=1)
    return upper | upper.T, blocks


def _check_graph(adjacency: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(adjacency)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"adjacency must be a square (N, N) matrix, got shape {A.shape}")
    A = A.astype(bool)
    if (A.sum(1) == 0).any():
        raise ValueError("adjacency has an isolated node (degree 0): its neighbour mean is undefined")
    X = np.asarray(features, dtype=float)
    if X.ndim != 2 or X.shape[0] != A.shape[0]:
        raise ValueError(f"features must have shape (N, F) with N = {A.shape[0]}, got {X.shape}")
    check_finite("features", X)
    return A, X


def mean_aggregate(adjacency: np.ndarray, features: np.ndarray) -> np.ndarray:
    r"""The exact mean of every node's neighbour features, :math:`h_i = \frac1{d_i}\sum_{j\in\mathcal N(i)} x_j`.

    Parameters
    ----------
    adjacency : numpy.ndarray, shape (N, N)
        Boolean (or 0/1); row :math:`i` marks the neighbours of :math:`i`. No isolated nodes.
    features : numpy.ndarray, shape (N, F)

    Returns
    -------
    numpy.ndarray, shape (N, F)

    Examples
    --------
    >>> A = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    >>> mean_aggregate(A, np.array([[0.0], [2.0], [4.0]])).ravel().tolist()
    [3.0, 0.0, 0.0]
    """
    A, X = _check_graph(adjacency, features)
    return (A @ X) / A.sum(1, keepdims=True)


def sampled_mean_aggregate(adjacency: np.ndarray, features: np.ndarray, k: int, replace: bool,
                           n_samples: int = 1, *, generator: np.random.Generator | None = None) -> np.ndarray:
    r"""Mean of the features of :math:`k` sampled neighbours of every node, for many independent draws.

    With replacement, :math:`k` neighbours are drawn uniformly and independently; without, a
    uniformly random :math:`k`-subset is taken (all :math:`d_i` neighbours when :math:`d_i \le k`,
    so that node's mean is exact). Vectorized over nodes and draws: without replacement the
    neighbours with the :math:`k` smallest of i.i.d. uniform keys are kept.

    Parameters
    ----------
    adjacency : numpy.ndarray, shape (N, N)
    features : numpy.ndarray, shape (N, F)
    k : int
        Sampled neighbours per node, >= 1.
    replace : bool
    n_samples : int
        Independent draws S >= 1.
    generator : numpy.random.Generator, optional
        The randomness; ``None`` draws from a fresh generator seeded from the OS's entropy.

    Returns
    -------
    numpy.ndarray, shape (S, N, F)

    References
    ----------
    Hamilton, Ying & Leskovec (2017), "Inductive representation learning on large graphs", NeurIPS.

    Examples
    --------
    >>> A = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    >>> X = np.array([[0.0], [2.0], [4.0]])
    >>> h = sampled_mean_aggregate(A, X, 2, False, generator=np.random.default_rng(0))
    >>> bool(np.allclose(h[0], mean_aggregate(A, X)))  # k = degree: exact
    True
    """
    A, X = _check_graph(adjacency, features)
    k = check_positive_int("k", k)
    n_samples = check_positive_int("n_samples", n_samples)
    replace = check_bool("replace", replace)
    rng = numpy_generator(generator)
    n = A.shape[0]
    deg = A.sum(1)
    # Neighbour lists in CSR form: node i's neighbours are nbr[start[i]:start[i]+deg[i]].
    nbr = np.nonzero(A)[1]
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    if replace:
        pick = np.floor(rng.random((n_samples, n, k)) * deg[None, :, None]).astype(np.int64)
        j = nbr[start[None, :, None] + pick]
        return X[j].mean(axis=2)
    # Neighbour lists padded to the largest degree; padding gets the key +inf and is never chosen
    # before a real neighbour.
    dmax = int(deg.max())
    slot = np.arange(dmax)
    real = slot[None, :] < deg[:, None]                                   # (N, dmax)
    padded = nbr[np.minimum(start[:, None] + slot[None, :], nbr.size - 1)]  # (N, dmax)
    keys = rng.random((n_samples, n, dmax))
    keys[:, ~real] = np.inf
    kk = min(k, dmax)
    chosen = np.argpartition(keys, kk - 1, axis=2)[:, :, :kk] if kk < dmax else np.broadcast_to(slot, keys.shape)
    valid = np.take_along_axis(keys, chosen, axis=2) < np.inf  # fewer than k neighbours: only the real ones
    j = padded[np.arange(n)[None, :, None], chosen]
    summed = (X[j] * valid[..., None]).sum(axis=2)
    return summed / valid.sum(axis=2, keepdims=True)


def neighbour_variance(adjacency: np.ndarray, features: np.ndarray) -> np.ndarray:
    r"""Population variance of each node's neighbour features, :math:`\sigma^2_{\mathcal N(i)} = \frac1{d_i}\sum_{j}\lVert x_j - h_i\rVert^2`.

    Summed over the :math:`F` feature dimensions (a trace, like tr Σ).

    Returns
    -------
    numpy.ndarray, shape (N,)

    Examples
    --------
    >>> A = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    >>> neighbour_variance(A, np.array([[0.0], [2.0], [4.0]])).tolist()
    [1.0, 0.0, 0.0]
    """
    A, X = _check_graph(adjacency, features)
    deg = A.sum(1)
    h = (A @ X) / deg[:, None]
    second = (A @ np.square(X).sum(1)) / deg
    return np.maximum(second - np.square(h).sum(1), 0.0)


def sampled_mean_variance(adjacency: np.ndarray, features: np.ndarray, k: int, replace: bool) -> np.ndarray:
    r"""The variance :math:`\mathbb E\lVert\hat h_i - h_i\rVert^2` of the sampled mean aggregator, node by node.

    :math:`\sigma^2_{\mathcal N(i)}/k` with replacement; times :math:`(d_i - k)/(d_i - 1)` without
    (0 when :math:`d_i \le k`): chapter 1's mini-batch formula
    with the neighbourhood as the population (as :func:`sgdnoise.covariance.minibatch_variance_theory`),
    computed here in NumPy for every node at once (the analogies do not import the torch-based noise core).

    Parameters
    ----------
    adjacency : numpy.ndarray, shape (N, N)
    features : numpy.ndarray, shape (N, F)
    k : int
    replace : bool

    Returns
    -------
    numpy.ndarray, shape (N,)

    Examples
    --------
    >>> A = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    >>> X = np.array([[0.0], [2.0], [4.0]])
    >>> sampled_mean_variance(A, X, 1, True).tolist(), sampled_mean_variance(A, X, 2, False).tolist()
    ([1.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    """
    A, X = _check_graph(adjacency, features)
    k = check_positive_int("k", k)
    replace = check_bool("replace", replace)
    sigma2 = neighbour_variance(A, X)
    if replace:
        return sigma2 / k
    deg = A.sum(1).astype(float)
    # Finite-population correction (d - k)/(d - 1), 0 when all d <= k neighbours are taken.
    fpc = np.where(deg > k, (deg - k) / np.maximum(deg - 1, 1), 0.0)
    return sigma2 / k * fpc
