import numpy as np
import pytest

from sgdnoise.graphs import (mean_aggregate, neighbour_variance, sampled_mean_aggregate, sampled_mean_variance,
                             stochastic_block_model)


def graph():
    A, blocks = stochastic_block_model([25, 25], 0.4, 0.08, generator=np.random.default_rng(3))
    X = np.random.default_rng(0).normal(size=(50, 3)) + 2.0 * blocks[:, None]
    return A, X


def test_sbm_is_symmetric_without_self_loops_and_has_the_right_density():
    A, blocks = stochastic_block_model([150, 150], 0.3, 0.05, generator=np.random.default_rng(0))
    assert (A == A.T).all() and not A.diagonal().any()
    same = blocks[:, None] == blocks[None, :]
    n_in = same.sum() - 300  # ordered pairs inside blocks, diagonal excluded
    n_out = (~same).sum()
    for mask, count, p in ((same, n_in, 0.3), (~same, n_out, 0.05)):
        pairs = count / 2  # each unordered pair counted twice
        hat = A[mask].sum() / 2 / pairs
        assert abs(hat - p) < 5 * np.sqrt(p * (1 - p) / pairs)


def test_mean_aggregate_and_neighbour_variance_by_hand():
    A, X = graph()
    i = 7
    nb = X[A[i]]
    assert np.allclose(mean_aggregate(A, X)[i], nb.mean(0))
    assert np.isclose(neighbour_variance(A, X)[i], nb.var(0).sum())


@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_sampled_mean_is_unbiased_and_its_variance_matches_the_formula(replace, k):
    A, X = graph()
    S = 3000
    h = mean_aggregate(A, X)
    s = sampled_mean_aggregate(A, X, k, replace, S, generator=np.random.default_rng(k + 10 * replace))
    err2 = np.square(s - h).sum(2)                     # (S, N)
    theory = sampled_mean_variance(A, X, k, replace)   # (N,)
    # Pooled over nodes: sum_i err2 has mean sum_i theory; the S draws are independent.
    total = err2.sum(1)
    se = total.std(ddof=1) / np.sqrt(S)
    assert abs(total.mean() - theory.sum()) < 5 * se
    # Unbiased: every node's and feature's mean error within 5 standard errors of zero.
    sd = (s - h).std(0, ddof=1)
    ok = sd > 0                                        # nodes whose mean is exact have sd = 0
    z = (s - h).mean(0)[ok] / (sd[ok] / np.sqrt(S))
    assert np.abs(z).max() < 5
    assert np.allclose((s - h)[:, ~ok], 0.0)


def test_without_replacement_at_full_degree_is_exact():
    A, X = graph()
    k = int(A.sum(1).max())
    s = sampled_mean_aggregate(A, X, k, False, 3, generator=np.random.default_rng(0))
    assert np.allclose(s, mean_aggregate(A, X)[None])
    assert np.all(sampled_mean_variance(A, X, k, False) == 0)


def test_bad_inputs():
    A, X = graph()
    with pytest.raises(ValueError, match="^k must be >= 1"):
        sampled_mean_aggregate(A, X, 0, True, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_samples"):
        sampled_mean_aggregate(A, X, 1, True, 0, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="features"):
        mean_aggregate(A, X[:10])
    with pytest.raises(ValueError, match="adjacency"):
        mean_aggregate(np.zeros((3, 3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="p_in"):
        stochastic_block_model([3], 1.5, 0.0)
    with pytest.raises(ValueError, match="sizes"):
        stochastic_block_model([3, 0], 0.5, 0.0)
