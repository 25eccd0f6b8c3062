import math

import numpy as np
import pytest

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
    with pytest.raises(ValueError, match="eta0"):
        S.constant_lr(0.0)
    with pytest.raises(ValueError, match="t0"):
        S.inverse_sqrt_lr(0.1, t0=-1)
    with pytest.raises(ValueError, match="mu"):
        S.inverse_time_lr(0.0, 1.0)
    with pytest.raises(ValueError, match="factor"):
        S.step_decay_lr(0.1, 2.0, [5])
    with pytest.raises(ValueError, match="milestones"):
        S.step_decay_lr(0.1, 0.5, [5, 5])
    with pytest.raises(ValueError, match="eta_min"):
        S.cosine_lr(0.1, 100, eta_min=0.2)
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
    with pytest.raises(ValueError, match="eta_refine"):
        S.three_phase(0.1, 0.2, 2, 4, 5, 5)
    with pytest.raises(ValueError, match="b_refine"):
        S.three_phase(0.2, 0.1, 8, 4, 5, 5)
