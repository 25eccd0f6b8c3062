import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.data import load_digits, make_linear_regression
from sgdnoise.models import make_model
from sgdnoise.schedules import injection_variance, step_batch_size
from sgdnoise.training import History, ParameterTrace, accuracy, minimize_full_batch, objective, train_sgd


def half_mse(out, t):
    return 0.5 * ((out.squeeze(1) - t) ** 2).mean()


def linear_model(d, dtype=torch.float64):
    with torch.random.fork_rng(devices=[]):   # nn.Linear's init draws from the global RNG; zeroed below
        m = nn.Linear(d, 1, bias=False).to(dtype)
    with torch.no_grad():
        m.weight.zero_()
    return m


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_full_batch_steps_follow_the_closed_form():
    # Gradient descent on L(w) = |Xw - y|^2 / (2n): w_t - w* = (I - eta H)^t (w_0 - w*), H = X^T X / n.
    p = make_linear_regression(80, 4, generator=np.random.default_rng(3), device="cpu")
    m, eta, t = linear_model(4), 0.3, 25
    h = train_sgd(m, half_mse, p.X, p.y, lr=eta, batch_size=80, epochs=t)
    H = p.X.T @ p.X / 80
    expected = p.w_opt + torch.linalg.matrix_power(torch.eye(4, dtype=torch.float64) - eta * H, t) @ (0 - p.w_opt)
    assert torch.allclose(m.weight.detach().squeeze(0), expected, atol=1e-12)
    assert len(h.step_loss) == t and h.steps_per_epoch == 1
    assert np.all(np.diff(h.eval_loss) < 0)


def test_sgd_with_decaying_steps_converges_to_the_optimum():
    p = make_linear_regression(200, 3, noise=0.5, generator=np.random.default_rng(4), device="cpu")
    m = linear_model(3)
    train_sgd(m, half_mse, p.X, p.y, lr=lambda s: 0.5 / (1 + s / 50), batch_size=4, epochs=200, generator=gen(1))
    assert (m.weight.detach().squeeze(0) - p.w_opt).norm() < 0.02 * p.w_opt.norm()


def test_sum_reduction_with_scaled_lr_reproduces_mean():
    p = make_linear_regression(60, 3, generator=np.random.default_rng(5), device="cpu")
    a, b = linear_model(3), linear_model(3)
    ha = train_sgd(a, half_mse, p.X, p.y, lr=0.1, batch_size=12, epochs=3, generator=gen(2))
    hb = train_sgd(b, half_mse, p.X, p.y, lr=0.1 / 12, batch_size=12, epochs=3, reduction="sum", generator=gen(2))
    assert torch.allclose(a.weight, b.weight, atol=1e-13)
    assert np.allclose(ha.step_loss, hb.step_loss)


def test_history_records_evaluations_and_time():
    data = load_digits(device="cpu")
    m = make_model("logistic", 64, 10, generator=torch.Generator().manual_seed(0))
    h = train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.2, batch_size=100, epochs=2, evals_per_epoch=3,
                  test=(data.X_test, data.y_test), generator=gen(3))
    assert isinstance(h, History)
    assert h.steps_per_epoch == 15 and len(h.step_loss) == 30 and len(h.step_lr) == 30
    assert len(h.step_seconds) == 30 and (h.step_seconds > 0).all()
    assert h.eval_time[-1] == pytest.approx(h.step_seconds.sum())
    assert h.eval_step[0] == 0 and h.eval_step[-1] == 30 and len(h.eval_step) == 7
    assert np.all(np.diff(h.eval_time) >= 0) and h.eval_time[0] == 0
    assert np.allclose(h.eval_epoch, h.eval_step / 15)
    assert h.final_loss == pytest.approx(objective(m, F.cross_entropy, data.X_train, data.y_train))
    assert h.eval_test_accuracy[-1] == pytest.approx(accuracy(m, data.X_test, data.y_test)) and h.eval_test_accuracy[-1] > 0.85


def test_fractional_epochs_and_schedule_values():
    p = make_linear_regression(40, 2, generator=np.random.default_rng(0), device="cpu")
    h = train_sgd(linear_model(2), half_mse, p.X, p.y, lr=lambda s: 0.1 / (s + 1), batch_size=10, epochs=1.5,
                  generator=gen())
    assert len(h.step_loss) == 6
    assert np.allclose(h.step_lr, 0.1 / np.arange(1, 7))


@pytest.mark.parametrize("sampler", ["shuffle", "fixed", "replacement"])
def test_samplers_reproducible(sampler):
    p = make_linear_regression(30, 2, generator=np.random.default_rng(0), device="cpu")
    runs = [train_sgd(linear_model(2), half_mse, p.X, p.y, lr=0.1, batch_size=4, epochs=2, sampler=sampler,
                      generator=gen(9)).step_loss for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


def test_divergence_is_detected_and_recorded():
    p = make_linear_regression(50, 3, generator=np.random.default_rng(0), device="cpu")
    h = train_sgd(linear_model(3), half_mse, p.X, p.y, lr=10.0, batch_size=50, epochs=500)
    assert math.isinf(h.final_loss) and len(h.step_loss) < 500


def test_minimize_full_batch_matches_scipy():
    # L2-regularized logistic regression: L-BFGS in torch against scipy's BFGS on the same objective.
    from scipy.optimize import minimize

    rng = np.random.default_rng(6)
    Xn = rng.standard_normal((300, 4))
    yn = (rng.random(300) < 1 / (1 + np.exp(-Xn @ rng.standard_normal(4)))).astype(float)
    X, y = torch.as_tensor(Xn), torch.as_tensor(yn)
    m = linear_model(4)
    bce = lambda out, t: F.binary_cross_entropy_with_logits(out.squeeze(1), t)  # noqa: E731
    value = minimize_full_batch(m, bce, X, y, l2=0.01)

    def f(v):
        z = Xn @ v
        return np.mean(np.logaddexp(0, z) - yn * z) + 0.005 * v @ v

    ref = minimize(f, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(m.weight.detach().squeeze(0).numpy(), ref, atol=1e-6)
    assert value == pytest.approx(objective(m, bce, X, y, l2=0.01))
    assert value == pytest.approx(f(ref), rel=1e-10)


@pytest.mark.parametrize("kwargs, word", [
    (dict(lr=-0.1), "lr"),
    (dict(lr=lambda s: -1.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=41), "batch_size"),
    (dict(batch_size=lambda t: 0), "batch_size"),
    (dict(epochs=0), "epochs"),
    (dict(reduction="max"), "reduction"),
    (dict(sampler="sorted"), "sampler"),
    (dict(l2=-1.0), "l2"),
    (dict(evals_per_epoch=0), "evals_per_epoch"),
])
def test_bad_arguments_name_the_parameter(kwargs, word):
    p = make_linear_regression(40, 2, generator=np.random.default_rng(0), device="cpu")
    args = dict(lr=0.1, batch_size=4, epochs=1) | kwargs
    with pytest.raises(ValueError, match=word):
        train_sgd(linear_model(2), half_mse, p.X, p.y, **args)


def test_nan_data_rejected():
    p = make_linear_regression(40, 2, generator=np.random.default_rng(0), device="cpu")
    X = p.X.clone()
    X[5, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        train_sgd(linear_model(2), half_mse, X, p.y, lr=0.1, batch_size=4, epochs=1)
    y = p.y.clone()
    y[0] = float("inf")
    with pytest.raises(ValueError, match="y contains NaN"):
        train_sgd(linear_model(2), half_mse, p.X, y, lr=0.1, batch_size=4, epochs=1)


def test_transform_switch_is_applied_to_every_batch():
    import torch.nn.functional as F
    from sgdnoise.data import load_digits
    from sgdnoise.models import make_model
    from sgdnoise.training import train_sgd

    data = load_digits(device="cpu", dtype=torch.float64)
    calls = []

    def identity(xb, yb):
        calls.append(xb.shape[0])
        return xb, yb

    runs = []
    for transform in (None, identity):
        m = make_model("logistic", 64, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        h = train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=100, epochs=1,
                      generator=torch.Generator().manual_seed(0), transform=transform)
        runs.append(h.eval_loss)
    assert len(calls) == -(-data.n_train // 100)
    assert (runs[0] == runs[1]).all()


def test_gradient_noise_injection_variance_matches_schedule():
    # Zero data: the loss gradient vanishes, so w_T = -eta * sum_t sigma_t xi_t exactly and every
    # coordinate has variance eta^2 * sum_t c / (1 + t)^gamma (Neelakantan et al. 2015).
    d, n, eta, c, gamma, steps = 4000, 8, 0.5, 0.3, 0.55, 20
    m = linear_model(d)
    X, y = torch.zeros(n, d, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    train_sgd(m, half_mse, X, y, lr=eta, batch_size=n, epochs=steps, generator=gen(1), grad_noise=c,
              grad_noise_decay=gamma)
    w = m.weight.detach().squeeze(0)
    expected = eta ** 2 * float(np.sum(injection_variance(np.arange(steps), c, gamma)))
    measured = float(w.square().mean())  # the mean is known to be 0
    se = expected * math.sqrt(2.0 / d)
    assert abs(measured - expected) < 5 * se


def test_gradient_noise_off_by_default_and_bad_values():
    p = make_linear_regression(40, 3, generator=np.random.default_rng(0), device="cpu")
    a, b = linear_model(3), linear_model(3)
    train_sgd(a, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=1, generator=gen(0))
    train_sgd(b, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=1, generator=gen(0), grad_noise=0.0)
    assert torch.equal(a.weight, b.weight)
    with pytest.raises(ValueError, match="grad_noise"):
        train_sgd(a, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=1, grad_noise=-1.0)
    with pytest.raises(ValueError, match="grad_noise_decay"):
        train_sgd(a, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=1, grad_noise=1.0, grad_noise_decay=-0.5)
    with pytest.raises(ValueError, match="clip_norm"):
        train_sgd(a, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=1, clip_norm=0.0)


def test_clip_norm_limits_the_step():
    # One full-batch step from w = 0 with a gradient of norm >> c moves w by exactly eta * c along -G.
    p = make_linear_regression(50, 5, generator=np.random.default_rng(2), device="cpu")
    y = p.y * 1e3
    m, eta, c = linear_model(5), 0.1, 0.25
    G = -(p.X.T @ y) / 50
    assert float(G.norm()) > 10 * c
    train_sgd(m, half_mse, p.X, y, lr=eta, batch_size=50, epochs=1, clip_norm=c)
    w = m.weight.detach().squeeze(0)
    assert torch.allclose(w, -eta * c * G / G.norm(), atol=1e-12)


def test_callback_sees_every_batch_before_the_update_and_changes_nothing():
    p = make_linear_regression(40, 3, generator=np.random.default_rng(5), device="cpu")
    seen = []

    def callback(step, model, xb, yb):
        seen.append((step, xb.shape[0], model.weight.detach().clone()))

    m1, m2 = linear_model(3), linear_model(3)
    h1 = train_sgd(m1, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=2, generator=gen(1), callback=callback)
    h2 = train_sgd(m2, half_mse, p.X, p.y, lr=0.1, batch_size=8, epochs=2, generator=gen(1))
    assert np.array_equal(h1.step_loss, h2.step_loss) and torch.equal(m1.weight, m2.weight)
    assert [s for s, _, _ in seen] == list(range(10)) and all(b == 8 for _, b, _ in seen)
    assert torch.equal(seen[0][2], torch.zeros(1, 3, dtype=torch.float64))   # called before the first update


def test_callback_must_be_callable():
    p = make_linear_regression(20, 2, generator=np.random.default_rng(0), device="cpu")
    with pytest.raises(ValueError, match="callback"):
        train_sgd(linear_model(2), half_mse, p.X, p.y, lr=0.1, batch_size=4, epochs=1, callback=3)


def _bn_digits():
    data = load_digits(device="cpu")
    return data, make_model("mlp", 64, 10, hidden=(16,), generator=torch.Generator().manual_seed(0), batch_norm=True)


def test_evaluation_runs_in_eval_mode_for_batch_norm():
    data, m = _bn_digits()
    Xt, yt = data.X_test[:7], data.y_test[:7]
    # A single test example: batch norm in training mode refuses a batch of one; eval mode does not.
    train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=32, epochs=0.5,
              generator=gen(0), test=(Xt[:1], yt[:1]))
    h = train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=32, epochs=0.5,
                  generator=gen(1), test=(Xt, yt))
    assert m.training                                     # the mode is restored after training
    m.eval()                                              # by hand, with the running statistics
    with torch.no_grad():
        out = m(Xt)
    assert h.eval_test_loss[-1] == pytest.approx(float(F.cross_entropy(out, yt)), rel=1e-6)
    assert h.eval_test_accuracy[-1] == float((out.argmax(1) == yt).double().mean())


def test_evaluations_leave_batch_norm_running_statistics_alone():
    # The same updates with 1 or 6 evaluations per epoch: in eval mode the evaluations must not touch
    # the running averages (in training mode each full-data evaluation moves them by 10 %).
    runs = {}
    for k in (1, 6):
        data, m = _bn_digits()
        train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=32, epochs=1,
                  generator=gen(2), evals_per_epoch=k)
        runs[k] = m.net[1].running_mean.clone()
    assert torch.equal(runs[1], runs[6])


def test_eval_mode_false_evaluates_in_training_mode():
    data, m = _bn_digits()
    Xt, yt = data.X_test[:50], data.y_test[:50]
    h = train_sgd(m, F.cross_entropy, data.X_train, data.y_train, lr=0.1, batch_size=32, epochs=0.5,
                  generator=gen(3), test=(Xt, yt), eval_mode=False)
    with torch.no_grad():
        loss_train_mode = float(F.cross_entropy(m.train()(Xt), yt))   # test-set batch statistics
    assert h.eval_test_loss[-1] == pytest.approx(loss_train_mode, rel=1e-6)
    with pytest.raises(ValueError, match="eval_mode"):
        train_sgd(m, F.cross_entropy, Xt, yt, lr=0.1, batch_size=5, epochs=1, eval_mode="yes")


def test_batch_size_schedule_drives_the_loop():
    # Smith et al.'s "grow B": 4 steps of 5 examples, then batches of 20 (the epoch's rest re-cut at
    # the new size). With sampler="fixed" the batches are consecutive rows, so each update is a known
    # gradient step, recomputed here from the closed form on the same rows.
    p = make_linear_regression(40, 3, generator=np.random.default_rng(7), device="cpu")
    m, eta = linear_model(3), 0.1
    h = train_sgd(m, half_mse, p.X, p.y, lr=eta, batch_size=step_batch_size(5, 4, [4]), epochs=2, sampler="fixed")
    assert h.step_batch_size.tolist() == [5, 5, 5, 5, 20, 20, 20]   # epoch 1: 4 x 5 + 20, epoch 2: 2 x 20
    assert h.steps_per_epoch == 8 and h.eval_step.tolist() == [0, 5, 7]
    w = torch.zeros(3, dtype=torch.float64)
    for rows in [range(0, 5), range(5, 10), range(10, 15), range(15, 20), range(20, 40), range(0, 20), range(20, 40)]:
        Xb, yb = p.X[list(rows)], p.y[list(rows)]
        w = w - eta * Xb.T @ (Xb @ w - yb) / len(rows)
    assert torch.allclose(m.weight.detach().squeeze(0), w, atol=1e-13)
    # a constant schedule is the same run as the number
    a, b = linear_model(3), linear_model(3)
    ha = train_sgd(a, half_mse, p.X, p.y, lr=eta, batch_size=6, epochs=2.5, generator=gen(3), evals_per_epoch=3)
    hb = train_sgd(b, half_mse, p.X, p.y, lr=lambda t: eta, batch_size=lambda t: 6, epochs=2.5, generator=gen(3),
                   evals_per_epoch=3)
    assert torch.equal(a.weight, b.weight) and np.array_equal(ha.eval_step, hb.eval_step)
    assert ha.eval_step.tolist() == [0, 2, 5, 7, 9, 12, 14, 16, 18]      # round(2.5 x 7) = 18 steps


def test_parameter_trace_follows_the_updates():
    # Full-batch GD on least squares from 0: the recorded norms and step lengths against the
    # iterates recomputed in closed form (w_{t+1} = w_t - eta X^T (X w_t - y) / n).
    p = make_linear_regression(30, 3, generator=np.random.default_rng(8), device="cpu")
    m, eta = linear_model(3), 0.2
    trace = ParameterTrace(m.weight)
    train_sgd(m, half_mse, p.X, p.y, lr=eta, batch_size=30, epochs=4, callback=trace)
    trace.record()
    ws = [torch.zeros(3, dtype=torch.float64)]
    for _ in range(4):
        ws.append(ws[-1] - eta * p.X.T @ (p.X @ ws[-1] - p.y) / 30)
    assert np.allclose(trace.sq_norms, [float(w @ w) for w in ws], rtol=1e-12)
    assert np.allclose(trace.sq_steps, [float((b - a) @ (b - a)) for a, b in zip(ws, ws[1:])], rtol=1e-10)


def test_a_constant_batch_size_keeps_the_samplers_batches_and_epochs_count_examples():
    # A pluggable sampler's batches are used as returned when the batch size does not change (no
    # re-cut into equal pieces); under a batch-size schedule eval_epoch counts the epoch's steps
    # done, not steps divided by the first epoch's step count.
    X = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (40,), generator=torch.Generator().manual_seed(1))

    def uneven(n, b, generator):   # sizes 6, 2, 6, 2, ... covering all n rows
        cuts = [0]
        while cuts[-1] < n:
            cuts.append(min(n, cuts[-1] + (6 if len(cuts) % 2 else 2)))
        return [torch.arange(a, c) for a, c in zip(cuts, cuts[1:])]

    model = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))
    h = train_sgd(model, F.cross_entropy, X, y, lr=0.1, batch_size=6, epochs=1, sampler=uneven,
                  generator=torch.Generator().manual_seed(2))
    assert h.step_batch_size.tolist() == [6, 2] * 5
    model = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))
    h = train_sgd(model, F.cross_entropy, X, y, lr=0.1, batch_size=step_batch_size(5, 4, [4]), epochs=2,
                  evals_per_epoch=1, generator=torch.Generator().manual_seed(2))
    assert h.eval_epoch.tolist() == [0.0, 1.0, 2.0]
    assert int(h.step_batch_size.sum()) == 80       # two epochs of 40 examples


def test_gradient_noise_injection_is_the_scheduled_draw_at_every_step():
    # Exact, not statistical: with zero data and the fixed full-batch order the generator feeds only
    # the injection, so w_T = -eta * sum_t noise_t with noise_t replayed from a twin generator at
    # variance injection_variance(t). Reading the schedule at t + 1 (a 12 % change of the summed
    # variance, inside the 5 s.e. of the statistical test above) fails here.
    from sgdnoise.schedules import add_gradient_noise

    d, n, eta, c, gamma, steps = 6, 4, 0.5, 0.3, 0.55, 5
    m = linear_model(d)
    X, y = torch.zeros(n, d, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    train_sgd(m, half_mse, X, y, lr=eta, batch_size=n, epochs=steps, sampler="fixed", generator=gen(7),
              grad_noise=c, grad_noise_decay=gamma)
    twin, w = gen(7), torch.zeros(1, d, dtype=torch.float64)
    for t in range(steps):
        (noise,) = add_gradient_noise([torch.zeros(1, d, dtype=torch.float64)],
                                      float(injection_variance(t, c, gamma)), twin)
        w = w - eta * noise
    assert torch.allclose(m.weight.detach(), w, rtol=0, atol=1e-15)
