"""Property-based tests (hypothesis) of the samplers and the variance estimators.

Each property is checked on many generated inputs against a computation that does not share the
library's code path (an explicit gather, numpy's covariance, a set of indices). Deterministic:
``derandomize=True`` draws the same examples every run, and no example database is written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sgdnoise import claims, clipping, scaling
from sgdnoise._validate import check_bool
from sgdnoise.covariance import (covariance_matrix, measure_minibatch_variance, minibatch_means,
                                 minibatch_variance_theory, trace_covariance)
from sgdnoise.sampling import epoch_batches, sample_batches

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def population_and_batch(draw):
    n = draw(st.integers(1, 60))
    return n, draw(st.integers(1, n)), draw(st.integers(1, 30)), draw(st.integers(0, 2 ** 31 - 1))


@st.composite
def grads_and_indices(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 5))
    g = draw(hnp.arrays(np.float64, (n, d), elements=finite))
    k = draw(st.integers(1, 6))
    b = draw(st.integers(1, 8))
    idx = draw(hnp.arrays(np.int64, (k, b), elements=st.integers(0, n - 1)))
    return g, idx


@FAST
@given(population_and_batch())
def test_without_replacement_no_index_repeats_within_a_batch(args):
    n, b, k, seed = args
    idx = sample_batches(n, b, k, replace=False, generator=torch.Generator().manual_seed(seed))
    assert idx.shape == (k, b) and idx.dtype == torch.int64
    assert all(len(set(row)) == b for row in idx.tolist())      # no repeats within a batch
    assert int(idx.min()) >= 0 and int(idx.max()) < n


@FAST
@given(population_and_batch(), st.integers(1, 3))
def test_with_replacement_indices_in_range(args, factor):
    n, b, k, seed = args
    b = b * factor                                              # with replacement B may exceed N
    idx = sample_batches(n, b, k, replace=True, generator=torch.Generator().manual_seed(seed))
    assert idx.shape == (k, b) and idx.dtype == torch.int64
    assert int(idx.min()) >= 0 and int(idx.max()) < n


@FAST
@given(population_and_batch(), st.booleans())
def test_one_shuffled_epoch_is_a_permutation(args, drop_last):
    n, b, _, seed = args
    batches = epoch_batches(n, b, "shuffle", torch.Generator().manual_seed(seed), drop_last=drop_last)
    sizes = [len(x) for x in batches]
    assert all(s == b for s in sizes[:-1]) and 1 <= sizes[-1] <= b
    flat = torch.cat(batches).tolist()
    assert len(set(flat)) == len(flat)                          # every example at most once per epoch
    if drop_last:
        assert len(flat) == (n // b) * b and set(flat) <= set(range(n))
    else:
        assert sorted(flat) == list(range(n))                   # ... and exactly once without drop_last


@FAST
@given(grads_and_indices())
def test_minibatch_means_equals_gather_and_average(args):
    g, idx = args
    got = minibatch_means(torch.as_tensor(g), torch.as_tensor(idx)).numpy()
    want = np.stack([g[row].mean(0) for row in idx])           # explicit gather, duplicates counted
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 15), st.integers(1, 4)), elements=finite))
def test_trace_covariance_is_non_negative_and_equals_numpy(g):
    tr = trace_covariance(torch.as_tensor(g))
    assert tr >= 0
    ref = float(np.trace(np.atleast_2d(np.cov(g.T, bias=True)))) if g.shape[0] > 1 else 0.0
    assert tr == pytest.approx(ref, rel=1e-9, abs=1e-9 * (1 + float(np.abs(g).max()) ** 2))


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 15), st.integers(1, 4)), elements=finite))
def test_covariance_matrix_is_positive_semidefinite(g):
    cov = covariance_matrix(torch.as_tensor(g)).double()
    eig = torch.linalg.eigvalsh(cov)
    assert float(eig.min()) >= -1e-9 * max(1.0, float(eig.abs().max()))


@FAST
@given(st.floats(0, 1e6), st.integers(2, 500), st.data())
def test_theory_variance_non_negative_decreasing_and_smaller_without_replacement(tr, n, data):
    b = np.arange(1, n + 1)
    with_r = minibatch_variance_theory(tr, n, b, replace=True)
    without = minibatch_variance_theory(tr, n, b, replace=False)
    assert (with_r >= 0).all() and (without >= 0).all()
    assert (np.diff(with_r) <= 1e-12 * max(tr, 1)).all() and (np.diff(without) <= 1e-12 * max(tr, 1)).all()
    assert (without <= with_r * (1 + 1e-12)).all() and without[-1] == 0.0


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 3)), elements=finite),
       st.integers(1, 12), st.booleans(), st.integers(0, 2 ** 31 - 1))
def test_measured_minibatch_variance_is_non_negative(g, b, replace, seed):
    b = min(b, g.shape[0]) if not replace else b
    est = measure_minibatch_variance(torch.as_tensor(g), b, 8, replace, generator=torch.Generator().manual_seed(seed))
    assert est.value >= 0 and est.stderr >= 0


@FAST
@given(hnp.arrays(np.float64, st.integers(2, 40), elements=finite))
def test_sample_variance_and_sd_are_non_negative(x):
    assume(np.ptp(x) > 0)                                       # constant samples: sd_and_se refuses them
    var, se = claims.variance_and_se(x)
    sd, sd_se = claims.sd_and_se(x)
    assert float(var) >= 0 and float(sd) >= 0 and float(se) >= 0 and float(sd_se) >= 0
    # An independent formula: the sample variance is the mean squared pairwise difference over 2.
    pairwise = float(((x[:, None] - x[None, :]) ** 2).sum() / (2 * len(x) * (len(x) - 1)))
    assert float(var) == pytest.approx(pairwise, rel=1e-9, abs=1e-9)


@FAST
@given(st.floats(0, 1e3), st.floats(0, 1e3), st.integers(1, 50), st.integers(1, 50))
def test_two_batch_estimates_invert_the_expected_squared_norms(g2, tr, b_small, extra):
    # Feeding the exact expectations E||g_B||^2 = |G|^2 + tr/B must give back |G|^2 and tr.
    b_big = b_small + extra
    est_g2, est_tr = scaling.two_batch_estimates(g2 + tr / b_small, g2 + tr / b_big, b_small, b_big)
    scale = 1e-9 * (1 + g2 + tr) * b_big
    assert abs(float(est_g2) - g2) <= scale and abs(float(est_tr) - tr) <= scale


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 10), st.integers(1, 4)), elements=finite),
       st.floats(1e-3, 1e3))
def test_clip_per_example_bounds_norms_and_keeps_directions(g, c):
    out = clipping.clip_per_example(torch.as_tensor(g), c).numpy()
    norms = np.linalg.norm(g, axis=1)
    assert (np.linalg.norm(out, axis=1) <= c * (1 + 1e-12)).all()
    # Each row is the original times a factor in [0, 1]: min(1, c/|g|).
    np.testing.assert_allclose(out, g * np.minimum(1.0, c / np.maximum(norms, 1e-300))[:, None], rtol=1e-12,
                               atol=1e-12)


@FAST
@given(st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=True), st.none()))
def test_check_bool_refuses_everything_but_booleans(value):
    with pytest.raises(ValueError, match=r"\bflag\b must be True or False"):
        check_bool("flag", value)
