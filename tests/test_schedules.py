import math

import numpy as np
import pytest
import torch

from sgdnoise import schedules as S


def test_schedule_values():
    assert S.constant_lr(0.3)(10 ** 6) == 0.3
    assert S.inverse_sqrt_lr(0.2, t0=4)(12) == pytest.approx(0.1)
    f = S.inverse_time_lr(mu=0.5, t0=10)
    assert f(0) == pytest.approx(0.2) and f(30) == pytest.approx(1 / (0.5 * 40))
    f = S.step_decay_lr(1.0, 0.5, [5, 10])
    assert [f(t) for t in (0, 4, 5, 9, 10, 100)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    f = S.cosine_lr(2.0, 10)
    assert f(0) == 2.0 and f(5) == pytest.approx(1.0) and f(10) == pytest.approx(0.0, abs=1e-15)
    f = S.warmup_lr(S.inverse_sqrt_lr(1.0, t0=1), 10)
    assert f(0) == pytest.approx(0.1) and f(20) == pytest.approx(1 / math.sqrt(21))
    b = S.step_batch_size(4, 2, [3, 6], maximum=10)
    assert [b(t) for t in (0, 3, 6, 50)] == [4, 8, 10, 10]


def test_three_phase_schedule():
    lr, bs = S.three_phase(1.0, 0.1, 2, 32, explore_steps=5, converge_steps=10)
    assert [lr(t) for t in range(6)] == [1.0] * 6
    assert lr(10) == pytest.approx(0.55) and lr(15) == pytest.approx(0.1) and lr(99) == pytest.approx(0.1)
    assert [bs(t) for t in (0, 14, 15, 99)] == [2, 2, 32, 32]
    temps = [lr(t) / bs(t) for t in range(30)]
    assert all(b <= a + 1e-15 for a, b in zip(temps, temps[1:]))     # the temperature never rises


@pytest.mark.parametrize("schedule, diverges, squares_converge", [
    (S.constant_lr(0.1), True, False),
    (S.inverse_sqrt_lr(0.1), True, False),
    (S.inverse_time_lr(1.0, 5.0), True, True),
    (lambda t: (t + 1) ** -0.75, True, True),
    (lambda t: (t + 1) ** -1.5, False, True),
    (lambda t: 0.5 ** (t // 1000), False, True),          # step decay repeated forever: geometric
    (S.step_decay_lr(0.1, 0.1, [10, 20]), True, False),   # finitely many drops: eventually constant
    (S.cosine_lr(0.1, 1000), False, True),                 # reaches 0
])
def test_robbins_monro_verdicts(schedule, diverges, squares_converge):
    v = S.robbins_monro(schedule)
    assert v.sum_diverges is diverges and v.sum_squares_converges is squares_converge
    assert v.satisfied is (diverges and squares_converge)


def test_robbins_monro_exponent_of_a_power_law():
    for p in (0.3, 0.6, 0.9):
        assert S.robbins_monro(lambda t: (t + 1.0) ** -p).exponent == pytest.approx(p, abs=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="lr"):
        S.constant_lr(0.0)
    with pytest.raises(ValueError, match="t0"):
        S.inverse_sqrt_lr(0.1, t0=-1)
    with pytest.raises(ValueError, match="mu"):
        S.inverse_time_lr(0.0, 1.0)
    with pytest.raises(ValueError, match="factor"):
        S.step_decay_lr(0.1, 2.0, [5])
    with pytest.raises(ValueError, match="milestones"):
        S.step_decay_lr(0.1, 0.5, [5, 5])
    with pytest.raises(ValueError, match="lr_min"):
        S.cosine_lr(0.1, 100, lr_min=0.2)
    with pytest.raises(ValueError, match="total_steps"):
        S.cosine_lr(0.1, 0)
    with pytest.raises(ValueError, match="warmup_steps"):
        S.warmup_lr(S.constant_lr(0.1), 0)
    with pytest.raises(ValueError, match="schedule"):
        S.warmup_lr(0.1, 5)
    with pytest.raises(ValueError, match="maximum"):
        S.step_batch_size(8, 2, [5], maximum=4)
    with pytest.raises(ValueError, match="horizon"):
        S.robbins_monro(S.constant_lr(0.1), horizon=10)
    with pytest.raises(ValueError, match="tol"):
        S.robbins_monro(S.constant_lr(0.1), tol=0.5)
    with pytest.raises(ValueError, match="schedule"):
        S.robbins_monro(lambda t: -1.0)
    with pytest.raises(ValueError, match="lr_refine"):
        S.three_phase(0.1, 0.2, 2, 4, 5, 5)
    with pytest.raises(ValueError, match="batch_size_refine"):
        S.three_phase(0.2, 0.1, 8, 4, 5, 5)


def test_injection_schedule_values():
    # Worked by hand, not the formula retyped: gamma = 1/2 at t = 0, 1, 3, 8, 15 divides c by
    # sqrt(1 + t) = 1, sqrt 2, 2, 3, 4 (t counted from 0: a schedule in t instead of 1 + t fails,
    # and so does c / (1 + t)^(2 gamma) or sqrt(c / (1 + t)^gamma), the standard deviation).
    t = np.array([0, 1, 3, 8, 15])
    assert np.allclose(S.injection_variance(t, 0.3, 0.5), [0.3, 0.3 * 0.7071067811865476, 0.15, 0.1, 0.075],
                       rtol=1e-14, atol=0)
    # Neelakantan et al.'s default gamma = 0.55: each doubling of 1 + t multiplies the variance
    # by 2^(-0.55) = 0.6830 (a power law in 1 + t, whatever the scale)
    v = S.injection_variance(np.array([0, 1, 3, 7, 15]), 0.3)
    assert np.allclose(v[1:] / v[:-1], 0.6830201284, rtol=1e-9, atol=0) and v[0] == 0.3
    assert S.injection_variance(0, 1.0) == 1.0
    assert S.injection_variance(3, 2.0, 0.0) == 2.0
    assert math.isclose(S.injection_variance(15, 1.0, 0.5), 0.25)


@pytest.mark.parametrize("kwargs,word", [(dict(step=-1, scale=1.0), "step"), (dict(step=1.5, scale=1.0), "step"),
                                         (dict(step=1, scale=-1.0), "scale"),
                                         (dict(step=1, scale=1.0, decay=-1.0), "decay")])
def test_injection_bad_inputs(kwargs, word):
    with pytest.raises(ValueError, match=word):
        S.injection_variance(**kwargs)


def test_scaling_rules():
    assert S.linear_scaling_lr(0.1, 8, 64) == pytest.approx(0.8)
    assert S.sqrt_scaling_lr(0.1, 8, 32) == pytest.approx(0.2)
    eta = S.linear_scaling_lr(0.1, 8, np.array([8, 16]))
    assert np.allclose(eta / np.array([8, 16]), 0.1 / 8)                       # eta / B fixed
    eta = S.sqrt_scaling_lr(0.1, 8, np.array([8, 32]))
    assert np.allclose(eta ** 2 / np.array([8, 32]), 0.01 / 8)                 # eta^2 / B fixed
    with pytest.raises(ValueError, match="lr"):
        S.linear_scaling_lr(-1.0, 8, 16)
    with pytest.raises(ValueError, match="base_batch_size"):
        S.sqrt_scaling_lr(0.1, 0, 16)
    with pytest.raises(ValueError, match="batch_size"):
        S.sqrt_scaling_lr(0.1, 8, 0)


def test_as_schedule():
    assert S.as_schedule(0.2)(7) == 0.2 and S.as_schedule(16, "batch_size")(3) == 16
    f = S.inverse_time_lr(1.0, 2.0)
    assert S.as_schedule(f) is f
    with pytest.raises(ValueError, match="batch_size"):
        S.as_schedule(2.5, "batch_size")
    with pytest.raises(ValueError, match="lr"):
        S.as_schedule(-1.0)


def test_add_gradient_noise_draws_the_variance_per_tensor():
    # Each coordinate gets N(0, sigma^2): the sample variance of 40 000 draws, within 5 s.e. (3.5 %).
    g = S.add_gradient_noise([torch.zeros(20_000, dtype=torch.float64), torch.ones(2, 10_000, dtype=torch.float64)],
                             0.25, torch.Generator().manual_seed(0))
    z = torch.cat([g[0], (g[1] - 1).reshape(-1)])
    assert g[1].shape == (2, 10_000) and abs(float(z.var()) / 0.25 - 1) < 5 * math.sqrt(2 / z.numel())
    assert torch.equal(S.add_gradient_noise([torch.ones(3)], 0.0)[0], torch.ones(3))
    with pytest.raises(ValueError, match="variance"):
        S.add_gradient_noise([torch.zeros(3)], -1.0)
    with pytest.raises(ValueError, match="grads"):
        S.add_gradient_noise([], 1.0)
