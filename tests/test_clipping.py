import math

import numpy as np
import pytest
import torch

from sgdnoise.clipping import clip_by_norm, clip_per_example


def test_clipping_projects_onto_the_ball():
    g = torch.randn(500, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    c = 2.0
    out = clip_per_example(g, c)
    norms, new = g.norm(dim=1), out.norm(dim=1)
    inside = norms <= c
    assert torch.equal(out[inside], g[inside])                       # untouched inside the ball
    assert torch.allclose(new[~inside], torch.full_like(new[~inside], c))  # on the sphere outside
    cos = (out * g).sum(1) / (new * norms)
    assert torch.allclose(cos, torch.ones_like(cos))                 # direction kept
    assert torch.allclose(clip_by_norm(g[0], c), out[0])


def test_clipped_cauchy_mean_has_the_predicted_finite_variance():
    # X standard Cauchy clipped to [-c, c]: Var = (2/pi)(c - arctan c) + c^2 (1 - (2/pi) arctan c).
    c, n, R = 3.0, 200, 2000
    var_clip = 2 / math.pi * (c - math.atan(c)) + c ** 2 * (1 - 2 / math.pi * math.atan(c))
    x = torch.as_tensor(np.random.default_rng(0).standard_cauchy((R, n)))
    means = clip_per_example(x.reshape(-1, 1), c).reshape(R, n).mean(1)
    measured = float(means.var())
    # sample variance of R (nearly Gaussian) means: relative standard error sqrt(2/(R-1))
    assert abs(measured / (var_clip / n) - 1) < 5 * math.sqrt(2 / (R - 1))


def test_bad_inputs():
    with pytest.raises(ValueError, match="max_norm"):
        clip_per_example(torch.ones(2, 2), 0.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_norm(torch.ones(2), float("inf"))
    with pytest.raises(ValueError, match="grads"):
        clip_per_example(torch.ones(2), 1.0)
    with pytest.raises(ValueError, match="g must"):
        clip_by_norm(torch.ones(2, 2), 1.0)
    with pytest.raises(ValueError, match="grads contains NaN"):
        clip_per_example(torch.tensor([[float("nan")]]), 1.0)
