import numpy as np
import pytest
import torch
from sgdnoise.sampling import epoch_batches, sample_batches


def gen(seed):
    return torch.Generator().manual_seed(seed)


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
    assert torch.equal(sample_batches(50, 5, 3, False, generator=gen(7)),
                       sample_batches(50, 5, 3, False, generator=gen(7)))


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


@pytest.mark.parametrize("call, word", [
    (lambda: sample_batches(10, 0, 5, True), "batch_size"),
    (lambda: sample_batches(10, 11, 5, False), "batch_size"),
    (lambda: sample_batches(0, 1, 5, True), "n must"),
    (lambda: epoch_batches(10, 0), "batch_size"),
    (lambda: epoch_batches(10, 11), "batch_size"),
    (lambda: epoch_batches(10, 2, "random"), "scheme"),
])
def test_bad_inputs_name_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_generator_none_leaves_the_global_generator_alone():
    # generator=None draws from a fresh OS-seeded generator on the default device, so torch's global
    # generator does not move (a sampler using it would change what a later seeded call sees).
    state = torch.random.get_rng_state()
    sample_batches(50, 5, 3, False)
    epoch_batches(50, 5, "shuffle")
    assert torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="generator"):
        sample_batches(50, 5, 3, False, generator=0)
