r"""A plain SGD training loop with a pluggable sampler and learning-rate and batch-size schedules.

Each step draws a mini-batch :math:`\mathcal B_t` of :math:`B_t` examples, evaluates the mini-batch
loss and updates

.. math::  w_{t+1} = w_t - \eta_t \nabla_w \Big[\tfrac{1}{|\mathcal B_t|}\sum_{i\in\mathcal B_t}\ell(w_t; x_i, y_i) + \tfrac{\lambda}{2}\lVert w_t\rVert^2\Big]

(or with the *sum* of the losses, ``reduction="sum"``; the regularizer is never summed), after
the optional clipping (:func:`sgdnoise.clipping.clip_by_norm`) and noise injection
(:func:`sgdnoise.schedules.add_gradient_noise`) of the gradient. :math:`\eta_t` and :math:`B_t`
are numbers or schedules (:mod:`sgdnoise.schedules`). The
history records the mini-batch loss at every step, the full training objective several times
per epoch, and the wall-clock seconds spent in updates (evaluation time excluded), so loss
can be plotted against steps, epochs or seconds. Robbins & Monro (1951); Bottou, Curtis &
Nocedal (2018), Algorithm 4.1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from torch.nn.utils import parameters_to_vector, vector_to_parameters

from ._validate import check_bool, check_generator, check_positive_float, check_positive_int, torch_generator
from .clipping import clip_by_norm
from .gradients import LossFn, _check_data
from .sampling import SCHEMES, Sampler, epoch_batches
from .schedules import Schedule, add_gradient_noise, as_schedule, injection_variance


@dataclass
class History:
    """What :func:`train_sgd` recorded.

    Attributes
    ----------
    step_loss : numpy.ndarray, shape (n_steps,)
        Mini-batch loss (mean over the batch, with the regularizer) before each update.
    step_lr, step_batch_size : numpy.ndarray, shape (n_steps,)
        The learning rate and the batch size of each update.
    step_seconds : numpy.ndarray, shape (n_steps,)
        Wall-clock duration of each update: the batch gather, the ``transform``, the gradient
        and the update, not the callback (its median is robust to a busy machine).
    eval_step, eval_epoch, eval_time, eval_loss : numpy.ndarray
        Full training objective ``eval_loss`` after ``eval_step`` updates (``eval_epoch`` in
        epochs: completed epochs plus the fraction of the current one's steps, also under a
        batch-size schedule; ``eval_time`` training seconds so far). The first entry is the
        initial point.
    eval_test_loss, eval_test_accuracy : numpy.ndarray
        The same on the test set when one was given (else empty).
    steps_per_epoch : int
        Updates in one epoch (of the first epoch, under a batch-size schedule).
    """

    step_loss: np.ndarray
    step_lr: np.ndarray
    step_seconds: np.ndarray
    eval_step: np.ndarray
    eval_epoch: np.ndarray
    eval_time: np.ndarray
    eval_loss: np.ndarray
    eval_test_loss: np.ndarray = field(default_factory=lambda: np.array([]))
    eval_test_accuracy: np.ndarray = field(default_factory=lambda: np.array([]))
    steps_per_epoch: int = 0
    step_batch_size: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))

    @property
    def final_loss(self) -> float:
        """The full training objective at the end of training."""
        return float(self.eval_loss[-1])


def objective(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, l2: float = 0.0,
              chunk_size: int = 8192) -> float:
    r"""The full training objective :math:`\frac1N\sum_i \ell(w; x_i, y_i) + \frac\lambda2\lVert w\rVert^2`.

    Evaluated without gradients, in chunks of ``chunk_size`` examples, accumulated in float64.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)``, the mean loss over a batch.
    X, y : torch.Tensor
        ``(N, ...)`` inputs (same dtype and device as the model) and targets.
    l2 : float
        λ >= 0.
    chunk_size : int
        Examples per forward pass, >= 1.

    Returns
    -------
    float

    Examples
    --------
    >>> lin = nn.Linear(1, 1, bias=False).double(); _ = lin.weight.data.fill_(2.0)
    >>> objective(lin, torch.nn.functional.mse_loss, torch.ones(3, 1).double(), torch.zeros(3, 1).double())
    4.0
    """
    _check_data(X, y, model)
    l2 = check_positive_float("l2", l2, allow_zero=True)
    chunk = check_positive_int("chunk_size", chunk_size)
    with torch.no_grad():
        total = 0.0
        for s in range(0, X.shape[0], chunk):
            xb, yb = X[s:s + chunk], y[s:s + chunk]
            total += float(loss_fn(model(xb), yb).double()) * xb.shape[0]
        reg = 0.5 * l2 * sum(float((p.double() ** 2).sum()) for p in model.parameters()) if l2 else 0.0
    return total / X.shape[0] + reg


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max output equals the integer label.

    ``X`` is ``(N, ...)`` (the model's dtype and device), ``y`` the ``(N,)`` integer labels.

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False); _ = lin.weight.data.copy_(torch.eye(2))
    >>> accuracy(lin, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
    0.5
    """
    _check_data(X, y, model)
    if y.is_floating_point() or y.ndim != 1:
        raise ValueError(f"y must be a 1-D tensor of integer labels, got shape {tuple(y.shape)}, dtype {y.dtype}")
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).double().mean())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(sampler: Sampler, n: int, batch_size_of: Schedule, generator, first_step: int):
    """The mini-batches of one epoch, cut at the scheduled batch sizes (internal).

    The epoch is the sampler's batches at the size of its first step; when the schedule asks for
    another size, the rest of the epoch's indices is re-cut at it. Yields ``(indices, n_planned)``,
    ``n_planned`` the epoch's number of steps as planned at that point.
    """
    step, done = first_step, 0
    previous = check_positive_int("batch_size", batch_size_of(step), maximum=n)
    queue = list(sampler(n, previous, generator))
    while queue:
        b = check_positive_int("batch_size", batch_size_of(step), maximum=n)
        if b != previous:   # only a change of the scheduled size re-cuts the sampler's batches
            queue, previous = list(torch.cat(queue).split(b)), b
        yield queue.pop(0), done + 1 + len(queue)
        step, done = step + 1, done + 1


def _check_options(model, X, y, *, epochs, evals_per_epoch, l2, grad_noise, grad_noise_decay, clip_norm, callback,
                   eval_mode, divergence_threshold, transform, test, generator, reduction, sampler) -> Sampler:
    """Validate train_sgd's options; return the sampler as a function (internal)."""
    _check_data(X, y, model)
    check_positive_float("epochs", epochs)
    check_positive_int("evals_per_epoch", evals_per_epoch)
    check_positive_float("l2", l2, allow_zero=True)
    check_positive_float("grad_noise", grad_noise, allow_zero=True)
    check_positive_float("grad_noise_decay", grad_noise_decay, allow_zero=True)
    if clip_norm is not None:
        check_positive_float("clip_norm", clip_norm)
    for name, f in (("callback", callback), ("transform", transform)):
        if f is not None and not callable(f):
            raise ValueError(f"{name} must be callable, got {type(f).__name__}")
    check_bool("eval_mode", eval_mode)
    check_positive_float("divergence_threshold", divergence_threshold)
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) != 2:
            raise ValueError("test must be a pair (X_test, y_test)")
        _check_data(test[0], test[1], model)
    # The sampler draws indices on the generator's device (they move to X's); the gradient noise is
    # drawn on the parameters' device, so there the generator must live.
    check_generator(generator, X if grad_noise > 0 else None, data="X (grad_noise > 0 draws there)")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if isinstance(sampler, str):
        if sampler not in SCHEMES:
            raise ValueError(f"sampler must be one of {SCHEMES} or a callable, got {sampler!r}")
        return lambda n_, b_, g_: epoch_batches(n_, b_, sampler, g_)
    if not callable(sampler):
        raise ValueError(f"sampler must be one of {SCHEMES} or a callable, got {type(sampler).__name__}")
    return sampler


def train_sgd(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, *,
              lr: float | Schedule, batch_size: int | Schedule, epochs: float,
              sampler: str | Sampler = "shuffle",
              generator: torch.Generator | None = None, reduction: str = "mean", l2: float = 0.0,
              evals_per_epoch: int = 1, test: tuple[torch.Tensor, torch.Tensor] | None = None,
              divergence_threshold: float = 1e6,
              transform: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
              grad_noise: float = 0.0, grad_noise_decay: float = 0.55, clip_norm: float | None = None,
              callback: Callable[[int, nn.Module, torch.Tensor, torch.Tensor], None] | None = None,
              eval_mode: bool = True,
              ) -> History:
    r"""Train ``model`` in place with plain mini-batch SGD and return its :class:`History`.

    Parameters
    ----------
    model : nn.Module
        Trained in place.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over a batch.
    X, y : torch.Tensor
        Training data on the model's device.
    lr : float or callable
        Learning rate η > 0, or a schedule ``step -> η_step`` (steps counted from 0;
        :mod:`sgdnoise.schedules`).
    batch_size : int or callable
        B in ``[1, N]``, or a schedule ``step -> B_step`` (e.g.
        :func:`sgdnoise.schedules.step_batch_size`). Each epoch is cut into the sampler's batches;
        when the schedule changes the size mid-epoch, the rest of the epoch is re-cut at the new
        size (so every example is still used once per epoch with ``"shuffle"``).
    epochs : float
        Number of passes over the data (> 0); a fraction stops mid-epoch.
    sampler : {"shuffle", "fixed", "replacement"} or callable
        How each epoch is cut into batches (:func:`sgdnoise.sampling.epoch_batches`), or a
        function ``sampler(n, batch_size, generator) -> list of index tensors``.
    generator : torch.Generator, optional
        Randomness of the sampler (on the data's device), for reproducible runs.
    reduction : {"mean", "sum"}
        Differentiate the mean of the batch losses (the usual) or their sum (B times larger
        gradients: the same η then takes B times larger steps).
    l2 : float
        Weight λ >= 0 of the regularizer λ/2‖w‖².
    evals_per_epoch : int
        How many times per epoch the full objective is evaluated (>= 1).
    test : (X_test, y_test), optional
        Also record test loss and accuracy at each evaluation.
    divergence_threshold : float
        Stop early (recording ``inf``) once the mini-batch loss exceeds this or is not finite.
    transform : callable, optional
        ``transform(xb, yb) -> (xb, yb)`` applied to every mini-batch before the step, e.g. data
        augmentation (:func:`sgdnoise.perturbations.augment_standardized`) — a source of noise switched on
        in the same loop. Evaluations use the untransformed data.
    grad_noise : float
        Annealed gradient-noise injection (Neelakantan et al. 2015): Gaussian noise
        :math:`\mathcal N(0, \sigma_t^2 I)` with :math:`\sigma_t^2 = c/(1+t)^\gamma`
        (:func:`sgdnoise.schedules.injection_variance`) is added to the gradient before step
        :math:`t` (:func:`sgdnoise.schedules.add_gradient_noise`); ``grad_noise`` is
        :math:`c \ge 0` (0, the default, switches it off). Drawn with ``generator``.
    grad_noise_decay : float
        :math:`\gamma \ge 0` (0.55 in the paper).
    clip_norm : float, optional
        Clip the (mini-batch, regularized, noise-free) gradient to this Euclidean norm before the
        step (:func:`sgdnoise.clipping.clip_by_norm`), as ``torch.nn.utils.clip_grad_norm_`` does.
    callback : callable, optional
        ``callback(step, model, xb, yb)`` called before each update with the (transformed)
        mini-batch, e.g. :class:`sgdnoise.scaling.NoiseScaleLogger`; its time is not counted in
        ``step_seconds``. It must not change the model.
    eval_mode : bool
        Evaluate (training objective, test loss and accuracy) with the model in ``eval()`` mode,
        the default: batch norm then uses its running statistics and leaves them unchanged, and
        dropout is off, so the numbers do not depend on which examples are evaluated together.
        Updates always run in ``train()`` mode. ``False`` evaluates in training mode (batch norm
        normalizes with the statistics of the evaluated set and updates its running averages).
        Models without such layers give the same numbers either way.

    Returns
    -------
    History

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.data import load_digits
    >>> from sgdnoise.models import make_model
    >>> from sgdnoise.schedules import step_batch_size
    >>> data = load_digits(device="cpu")
    >>> model = make_model("logistic", 64, 10, generator=torch.Generator().manual_seed(0))
    >>> h = train_sgd(model, F.cross_entropy, data.X_train, data.y_train, lr=0.1,
    ...               batch_size=step_batch_size(32, 4, [20]), epochs=1, generator=torch.Generator().manual_seed(0))
    >>> bool(h.eval_loss[-1] < h.eval_loss[0]), h.step_batch_size[[0, 19, 20]].tolist()
    (True, [32, 32, 128])
    """
    sampler = _check_options(model, X, y, epochs=epochs, evals_per_epoch=evals_per_epoch, l2=l2, grad_noise=grad_noise,
                             grad_noise_decay=grad_noise_decay, clip_norm=clip_norm, callback=callback,
                             eval_mode=eval_mode, divergence_threshold=divergence_threshold, transform=transform,
                             test=test, generator=generator, reduction=reduction, sampler=sampler)
    if generator is None:   # the randomness rule: a fresh OS-seeded generator, on the data's device
        generator = torch_generator(None, X)
    n, schedule, b_of = X.shape[0], as_schedule(lr, "lr"), as_schedule(batch_size, "batch_size")
    params = [p for p in model.parameters() if p.requires_grad]
    last_epoch = math.ceil(epochs) - 1
    rec = {k: [] for k in ("loss", "lr", "b", "sec", "ev_step", "ev_epoch", "ev_time", "ev_loss", "ev_test",
                           "ev_acc")}

    def evaluate(step: int, position: float, seconds: float, diverged: bool = False) -> None:
        if rec["ev_step"] and rec["ev_step"][-1] == step:
            return
        model.train(not eval_mode)
        rec["ev_step"].append(step)
        rec["ev_epoch"].append(position)
        rec["ev_time"].append(seconds)
        rec["ev_loss"].append(math.inf if diverged else objective(model, loss_fn, X, y, l2))
        if test is not None:
            rec["ev_test"].append(math.inf if diverged else objective(model, loss_fn, *test))
            rec["ev_acc"].append(float("nan") if diverged else accuracy(model, *test))
        model.train()

    was_training = model.training
    model.train()
    evaluate(0, 0.0, 0.0)
    seconds, step, steps_per_epoch, epoch, position = 0.0, 0, 0, 0, 0.0
    stop = False
    while not stop:
        k_next, done = 0, 0
        for idx, planned in _batches(sampler, n, b_of, generator, step):
            steps_per_epoch = steps_per_epoch or planned
            if epoch == last_epoch and done >= max(1 if step == 0 else 0, round((epochs - last_epoch) * planned)):
                break
            eta = float(schedule(step))
            if not math.isfinite(eta) or eta <= 0:
                raise ValueError(f"learning rate (lr) must be finite and > 0, got {eta} at step {step}")
            _sync(X.device)
            t0 = time.perf_counter()   # the step's time: gather, transform, gradient and update
            xb, yb = X[idx], y[idx]
            if transform is not None:
                xb, yb = transform(xb, yb)
            if callback is not None:   # the callback's own time is not the step's
                _sync(X.device)
                t_callback = time.perf_counter()
                callback(step, model, xb, yb)
                _sync(X.device)
                t0 += time.perf_counter() - t_callback
            loss = loss_fn(model(xb), yb)
            reg = 0.5 * l2 * sum((p ** 2).sum() for p in params) if l2 else 0.0
            grads = torch.autograd.grad(loss * (xb.shape[0] if reduction == "sum" else 1.0) + reg, params)
            with torch.no_grad():
                if clip_norm is not None:
                    flat = clip_by_norm(parameters_to_vector(grads), clip_norm)
                    grads = [torch.empty_like(g) for g in grads]
                    vector_to_parameters(flat, grads)
                if grad_noise > 0:
                    grads = add_gradient_noise(grads, injection_variance(step, grad_noise, grad_noise_decay),
                                               generator)
                for p, g in zip(params, grads):
                    p.sub_(eta * g)
            _sync(X.device)
            dt = time.perf_counter() - t0
            seconds += dt
            value = float(loss.detach()) + (float(reg.detach()) if l2 else 0.0)
            for key, v in (("sec", dt), ("loss", value), ("lr", eta), ("b", int(idx.numel()))):
                rec[key].append(v)
            step, done = step + 1, done + 1
            position = epoch + done / planned
            if not math.isfinite(value) or value > divergence_threshold:
                evaluate(step, position, seconds, diverged=True)
                stop = True
                break
            while k_next < evals_per_epoch and done >= round(planned * (k_next + 1) / evals_per_epoch):
                evaluate(step, position, seconds)
                k_next += 1
        stop = stop or epoch >= last_epoch
        epoch += 1
    evaluate(step, position, seconds)
    model.train(was_training)
    ev_step = np.asarray(rec["ev_step"])
    return History(
        step_loss=np.asarray(rec["loss"]), step_lr=np.asarray(rec["lr"]), step_seconds=np.asarray(rec["sec"]),
        eval_step=ev_step, eval_epoch=np.asarray(rec["ev_epoch"]), eval_time=np.asarray(rec["ev_time"]),
        eval_loss=np.asarray(rec["ev_loss"]), eval_test_loss=np.asarray(rec["ev_test"]),
        eval_test_accuracy=np.asarray(rec["ev_acc"]), steps_per_epoch=steps_per_epoch,
        step_batch_size=np.asarray(rec["b"], dtype=int),
    )


class ParameterTrace:
    r"""A :func:`train_sgd` callback that follows one parameter tensor: its squared norm and steps.

    Called before every update, it records :math:`\lVert p_t\rVert^2` and, from the second call
    on, the squared length of the last update, :math:`\lVert p_t - p_{t-1}\rVert^2` (in float64).
    Call :meth:`record` once more after training to include the final point. For a weight
    followed by batch norm the gradient is orthogonal to the weight, so
    :math:`\lVert p_{t+1}\rVert^2 - \lVert p_t\rVert^2 = \lVert p_{t+1} - p_t\rVert^2`
    (van Laarhoven 2017): the norm only grows under plain SGD.

    Parameters
    ----------
    param : torch.Tensor
        The parameter (updated in place by the training loop), e.g. ``model.net[0].weight``.

    Attributes
    ----------
    sq_norms : numpy.ndarray
        :math:`\lVert p\rVert^2` at every call.
    sq_steps : numpy.ndarray
        :math:`\lVert\Delta p\rVert^2` between consecutive calls (one fewer entry).

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    >>> trace = ParameterTrace(p)
    >>> trace(0, None, None, None); _ = p.data.mul_(2.0); trace.record()
    >>> trace.sq_norms.tolist(), trace.sq_steps.tolist()
    ([25.0, 100.0], [25.0])
    """

    def __init__(self, param: torch.Tensor):
        if not isinstance(param, torch.Tensor):
            raise ValueError(f"param must be a torch.Tensor (a model parameter), got {type(param).__name__}")
        self.param = param
        self._prev: torch.Tensor | None = None
        self._norms: list[float] = []
        self._steps: list[float] = []

    def __call__(self, step, model, xb, yb) -> None:
        self.record()

    def record(self) -> None:
        """Record the parameter now."""
        w = self.param.detach().double().clone()
        if self._prev is not None:
            self._steps.append(float((w - self._prev).square().sum()))
        self._prev = w
        self._norms.append(float(w.square().sum()))

    @property
    def sq_norms(self) -> np.ndarray:
        return np.asarray(self._norms)

    @property
    def sq_steps(self) -> np.ndarray:
        return np.asarray(self._steps)


def minimize_full_batch(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, l2: float = 0.0,
                        tol: float = 1e-8, max_rounds: int = 20) -> float:
    r"""Minimize the full training objective deterministically with L-BFGS; return its minimum.

    Used to get the optimal value :math:`F^\star` of a convex objective (e.g. L2-regularized
    logistic regression) so that SGD's suboptimality :math:`F(w_t) - F^\star` can be plotted.
    The model is optimized in place, in its own dtype (use float64 for a reference value);
    rounds of ``torch.optim.LBFGS`` with a strong-Wolfe line search run until the gradient norm
    is below ``tol`` or ``max_rounds`` rounds of 500 iterations are spent.

    Parameters
    ----------
    l2 : float
        Weight λ >= 0 of the regularizer λ/2‖w‖².
    tol : float
        Target gradient norm.

    Returns
    -------
    float
        The objective at the end, :func:`objective`.

    Raises
    ------
    RuntimeError
        If the gradient norm is still above ``tol`` (e.g. a non-convex model or too-tight ``tol``).
    """
    _check_data(X, y, model)
    l2 = check_positive_float("l2", l2, allow_zero=True)
    tol = check_positive_float("tol", tol)
    max_rounds = check_positive_int("max_rounds", max_rounds)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=500, tolerance_grad=tol / 10, tolerance_change=0.0,
                            history_size=50, line_search_fn="strong_wolfe")

    def full_objective():
        reg = 0.5 * l2 * sum((p ** 2).sum() for p in params) if l2 else 0.0
        return loss_fn(model(X), y) + reg

    def closure():
        opt.zero_grad()
        value = full_objective()
        value.backward()
        return value

    gnorm = math.inf
    for _ in range(max_rounds):
        opt.step(closure)
        grads = torch.autograd.grad(full_objective(), params)
        gnorm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        if gnorm < tol:
            break
    for p in params:
        p.grad = None
    if gnorm >= tol:
        raise RuntimeError(f"L-BFGS stopped with gradient norm {gnorm:.3g} > tol = {tol:.3g}")
    return objective(model, loss_fn, X, y, l2)
