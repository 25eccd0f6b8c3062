import numpy as np
import pytest
import torch

from sgdnoise.sampling import (epoch_batches, measure_minibatch_variance, minibatch_means, minibatch_variance_theory,
                               sample_batches, trace_covariance)


@pytest.fixture(scope="module")
def grads():
    # Per-example "gradients" with a skewed, anisotropic distribution (not Gaussian).
    rng = np.random.default_rng(0)
    g = rng.exponential(size=(60, 4)) * np.array([3.0, 1.0, 0.5, 0.1]) + rng.standard_normal((60, 4))
    return torch.as_tensor(g)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_trace_covariance_matches_numpy(grads):
    assert trace_covariance(grads) == pytest.approx(np.trace(np.cov(grads.numpy().T, bias=True)), rel=1e-12)


@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("b", [1, 5, 30, 59])
def test_measured_variance_matches_theory(grads, replace, b):
    est = measure_minibatch_variance(grads, b, 20_000, replace, generator=gen(b + 1000 * replace))
    theory = minibatch_variance_theory(trace_covariance(grads), 60, b, replace)
    assert abs(est.value - theory) < 5 * est.stderr, (est, theory)


def test_variance_without_replacement_at_full_batch_is_zero(grads):
    est = measure_minibatch_variance(grads, 60, 100, replace=False, generator=gen(0))
    assert est.value < 1e-25 and minibatch_variance_theory(1.0, 60, 60, replace=False) == 0.0


def test_sample_batches_without_replacement_has_no_duplicates_and_uniform_inclusion():
    idx = sample_batches(20, 6, 5000, replace=False, generator=gen(1))
    assert idx.shape == (5000, 6)
    assert all(len(set(row)) == 6 for row in idx.tolist()[:500])
    counts = torch.bincount(idx.reshape(-1), minlength=20).double()
    p = 6 / 20  # each index is in a batch with probability B/N
    expected, sd = 5000 * p, (5000 * p * (1 - p)) ** 0.5
    assert ((counts - expected).abs() < 5 * sd).all()


def test_sample_batches_with_replacement_can_exceed_n():
    idx = sample_batches(5, 12, 10, replace=True, generator=gen(2))
    assert idx.shape == (10, 12) and idx.min() >= 0 and idx.max() < 5


def test_sample_batches_with_replacement_are_iid_uniform():
    # With replacement the pair (first, second) index of a batch is uniform on all 25 cells,
    # repeats included: a chi-square over the cells (24 degrees of freedom: mean 24, sd 6.9)
    # below 24 + 5 sd. Batches that cycle through a permutation (no repeats: 5 empty diagonal
    # cells) or repeat one index (only the diagonal) give chi-square values in the thousands.
    K = 6000
    idx = sample_batches(5, 12, K, replace=True, generator=gen(3))
    cells = torch.bincount(5 * idx[:, 0] + idx[:, 1], minlength=25).double()
    chi2 = float(((cells - K / 25) ** 2 / (K / 25)).sum())
    assert chi2 < 24 + 5 * (2 * 24) ** 0.5, chi2
    counts = torch.bincount(idx.reshape(-1), minlength=5).double()       # every position, every index
    assert ((counts - K * 12 / 5).abs() < 5 * (K * 12 * 0.2 * 0.8) ** 0.5).all(), counts


def test_seeded_sampling_is_reproducible():
    assert torch.equal(sample_batches(50, 5, 3, False, gen(7)), sample_batches(50, 5, 3, False, gen(7)))


def test_minibatch_means_counts_duplicates():
    g = torch.arange(4.0, dtype=torch.float64)[:, None]
    means = minibatch_means(g, torch.tensor([[0, 0, 3], [1, 2, 3]]))
    assert means.squeeze(1).tolist() == [1.0, 2.0]


def test_epoch_schemes():
    shuffled = epoch_batches(10, 3, "shuffle", gen(0))
    assert [len(b) for b in shuffled] == [3, 3, 3, 1]
    assert sorted(torch.cat(shuffled).tolist()) == list(range(10))
    assert [len(b) for b in epoch_batches(10, 3, "shuffle", gen(0), drop_last=True)] == [3, 3, 3]
    assert torch.cat(epoch_batches(10, 4, "fixed")).tolist() == list(range(10))
    repl = epoch_batches(10, 3, "replacement", gen(0))
    assert len(repl) == 4 and all(len(b) == 3 for b in repl)
    # "replacement" draws i.i.d. uniform indices: over 2000 epochs each index appears 2000*12/10
    # times within 5 binomial sd, and an epoch of 12 draws holds 10 (1 - 0.9^12) = 7.18 distinct
    # indices on average (within 5 s.e.; a shuffle topped up to 12 by wrapping around holds 10)
    g = gen(2)
    epochs = [torch.cat(epoch_batches(10, 3, "replacement", g)) for _ in range(2000)]
    counts = torch.bincount(torch.cat(epochs), minlength=10).double()
    assert ((counts - 2400).abs() < 5 * (24000 * 0.1 * 0.9) ** 0.5).all(), counts
    distinct = np.array([len(set(e.tolist())) for e in epochs], dtype=float)
    assert abs(distinct.mean() - 10 * (1 - 0.9 ** 12)) < 5 * distinct.std(ddof=1) / np.sqrt(2000), distinct.mean()
    assert not torch.equal(torch.cat(epoch_batches(10, 3, "shuffle", gen(1))), torch.cat(shuffled))


@pytest.mark.parametrize("replace", [True, False])
def test_theory_against_enumeration_of_every_batch(replace):
    # E|g_B - G|^2 exactly, by averaging over every batch: all 7^B ordered draws with replacement,
    # all C(7, B) subsets without. No formula shared with the library; a missing or wrong
    # finite-population factor ((N - B)/N instead of (N - B)/(N - 1): 14 % here) fails.
    from itertools import combinations, product
    rng = np.random.default_rng(1)
    g = rng.exponential(size=(7, 3)) + rng.standard_normal((7, 3))
    G = g.mean(0)
    for b in (1, 2, 3, 4) + (() if replace else (6, 7)):
        batches = product(range(7), repeat=b) if replace else combinations(range(7), b)
        exact = np.mean([np.sum((g[list(B)].mean(0) - G) ** 2) for B in batches])
        theory = minibatch_variance_theory(trace_covariance(torch.as_tensor(g)), 7, b, replace)
        assert theory == pytest.approx(exact, rel=1e-12, abs=1e-15), (b, theory, exact)


def test_theory_is_vectorized():
    b = np.array([1, 2, 10])
    out = minibatch_variance_theory(3.0, 10, b, False)
    assert out.shape == (3,) and np.allclose(out, [minibatch_variance_theory(3.0, 10, int(k), False) for k in b])
    assert out[-1] == 0.0


@pytest.mark.parametrize("call, word", [
    (lambda: sample_batches(10, 0, 5, True), "batch_size"),
    (lambda: sample_batches(10, 11, 5, False), "batch_size"),
    (lambda: sample_batches(0, 1, 5, True), "n must"),
    (lambda: epoch_batches(10, 0), "batch_size"),
    (lambda: epoch_batches(10, 11), "batch_size"),
    (lambda: epoch_batches(10, 2, "random"), "scheme"),
    (lambda: minibatch_variance_theory(1.0, 10, 0, True), "batch_size"),
    (lambda: minibatch_variance_theory(1.0, 10, 11, False), "batch_size"),
    (lambda: minibatch_variance_theory(-1.0, 10, 2, False), "trace_sigma"),
    (lambda: minibatch_variance_theory(1.0, 10, 2.5, False), "batch_size"),
    (lambda: measure_minibatch_variance(torch.full((5, 2), float("nan")), 2, 10, True), "grads"),
    (lambda: trace_covariance(torch.zeros(3)), "grads"),
])
def test_bad_inputs_name_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()
