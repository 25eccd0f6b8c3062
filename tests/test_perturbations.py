"""Label flips, digit augmentation and generator-driven dropout (sgdnoise.perturbations)."""

import math

import pytest
import torch
from sgdnoise.data import feature_statistics, load_digits
from sgdnoise.perturbations import augment_digits, augment_standardized, flip_labels


def test_flip_labels_changes_exactly_the_fraction_to_other_classes():
    y = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(0))
    out = flip_labels(y, 0.2, 10, generator=torch.Generator().manual_seed(1))
    changed = out != y
    assert int(changed.sum()) == 200
    assert int(out.min()) >= 0 and int(out.max()) < 10
    # the new class is uniform over the 9 others: shift (out - y) mod 10 uniform on 1..9
    shift = (out[changed] - y[changed]) % 10
    counts = torch.bincount(shift, minlength=10)[1:].double()
    expected = 200 / 9
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 8 + 5 * math.sqrt(2 * 8)   # 8 degrees of freedom: mean 8, sd 4
    assert torch.equal(flip_labels(y, 0.0, 10), y)


def test_augment_shift_moves_the_centre_of_mass_uniformly():
    # One bright pixel in the middle of a blank image, no rotation: bilinear sampling moves its
    # centre of mass by the (sub-pixel) shift itself, uniform on [-s, s] per axis.
    n, s = 4000, 1.0
    X = torch.zeros(n, 64, dtype=torch.float64)
    X[:, 3 * 8 + 3] = 1.0
    out = augment_digits(X, max_shift=s, max_rotation=0.0, generator=torch.Generator().manual_seed(0)).view(n, 8, 8)
    grid = torch.arange(8, dtype=torch.float64)
    mass = out.sum((1, 2))
    assert torch.allclose(mass, torch.ones(n, dtype=torch.float64), atol=1e-12)
    cx = (out.sum(1) * grid).sum(1) - 3
    assert float(cx.abs().max()) <= s + 1e-12
    var = float(cx.var())   # uniform on [-1, 1]: 1/3, with sd of the estimate sqrt((1/5 - 1/9)/n)
    assert abs(var - 1 / 3) < 5 * math.sqrt((1 / 5 - 1 / 9) / n)
    assert abs(float(cx.mean())) < 5 * math.sqrt(1 / 3 / n)


def test_augment_identity_range_and_seed():
    X = torch.randn(5, 64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(augment_digits(X, 0.0, 0.0), X, atol=1e-5)
    out = augment_digits(X, 0.5, 20.0, generator=torch.Generator().manual_seed(2))
    assert out.shape == X.shape and not torch.allclose(out, X)
    assert float(out.max()) <= float(X.max()) + 1e-5   # bilinear interpolation stays within the range
    a = augment_digits(X, 0.5, 20.0, generator=torch.Generator().manual_seed(3))
    b = augment_digits(X, 0.5, 20.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_inputs():
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="fraction"):
        flip_labels(y, 1.5, 10)
    with pytest.raises(ValueError, match="n_classes"):
        flip_labels(y, 0.5, 1)
    with pytest.raises(ValueError, match="y must lie"):
        flip_labels(y + 10, 0.5, 10)
    with pytest.raises(ValueError, match="X must have shape"):
        augment_digits(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="max_shift"):
        augment_digits(torch.zeros(3, 64), max_shift=-1.0)


def test_generator_dropout_keeps_a_fraction_and_rescales():
    from sgdnoise.perturbations import GeneratorDropout
    n, p = 100_000, 0.3
    out = GeneratorDropout(p, generator=torch.Generator().manual_seed(0))(torch.ones(n, dtype=torch.float64))
    kept = float((out > 0).double().mean())
    assert abs(kept - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)   # binomial, 5 s.e. (~0.7 % relative)
    assert torch.allclose(out[out > 0], torch.full_like(out[out > 0], 1 / (1 - p)))
    a = GeneratorDropout(p, generator=torch.Generator().manual_seed(3))(torch.ones(50))
    b = GeneratorDropout(p, generator=torch.Generator().manual_seed(3))(torch.ones(50))
    assert torch.equal(a, b)
    assert torch.equal(GeneratorDropout(p, generator=torch.Generator()).eval()(torch.ones(5)), torch.ones(5))
    with pytest.raises(ValueError, match="p must be"):
        GeneratorDropout(1.0, generator=torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        GeneratorDropout(0.1, generator=None)


def test_augment_zero_padding_loses_exactly_the_shifted_out_mass():
    # An all-ones image shifted by (sx, sy) pixels, |s| <= 1, no rotation: with zeros outside, bilinear
    # sampling keeps the overlap of two 8x8 squares, (8 - |sx|)(8 - |sy|); with border padding all 64.
    n = 200
    X = torch.ones(n, 64, dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    u = torch.rand(n, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1  # the draws used
    out = augment_digits(X, max_shift=1.0, max_rotation=0.0, generator=g, padding="zeros")
    expected = (8 - u[:, 1].abs()) * (8 - u[:, 2].abs())
    assert torch.allclose(out.sum(1), expected, atol=1e-10)
    kept = augment_digits(X, max_shift=1.0, max_rotation=0.0, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(kept, X, atol=1e-12)


def test_augment_bad_padding():
    with pytest.raises(ValueError, match="padding"):
        augment_digits(torch.zeros(3, 64), padding="reflect")


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
