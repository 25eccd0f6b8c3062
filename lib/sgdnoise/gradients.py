r"""Gradients of a model's loss: full-batch, per-example, and accumulated over micro-batches.

Notation (see the book's notation page): per-example gradients :math:`g_i(w) = \nabla_w \ell(w; x_i, y_i)`,
the full gradient :math:`G = \frac1N \sum_i g_i`, the per-example covariance
:math:`\Sigma = \frac1N \sum_i (g_i - G)(g_i - G)^\top`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ._validate import check_finite, check_positive_int

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_data(X: torch.Tensor, y: torch.Tensor) -> None:
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("X must contain at least one example")
    check_finite("X", X)
    if y.is_floating_point():
        check_finite("y", y)


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def full_gradient(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The gradient of the mean loss over ``(X, y)``, flattened: :math:`G = \frac1N\sum_i g_i`.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over the batch (as
        ``torch.nn.functional.cross_entropy`` does by default).
    X, y : torch.Tensor
        Inputs ``(N, ...)`` and targets ``(N, ...)``.

    Returns
    -------
    torch.Tensor, shape (d,)
    """
    _check_data(X, y)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads])


def per_example_grads(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                      chunk_size: int | None = None, method: str = "auto") -> torch.Tensor:
    r"""Every example's gradient in one vectorized call: rows :math:`g_i = \nabla_w \ell(w; x_i, y_i)`.

    Uses ``torch.func``: ``vmap(grad(ℓ))`` over the examples with the parameters held fixed
    through ``functional_call``, so it works for any ``nn.Module`` on CPU or GPU. ``chunk_size``
    bounds memory by processing that many examples at a time. Random layers (dropout) draw
    independent masks per example.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss; it is called with a batch of one.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per vectorized chunk (default: all at once).
    method : {"auto", "vmap", "linear"}
        ``"vmap"``: the general ``torch.func`` path above. ``"linear"``: outer products of layer
        inputs and output gradients (:func:`per_example_grads_linear`), faster for models
        made of ``nn.Linear`` layers only (``benchmarks/bench_per_example_grads.py``); its
        ``loss_fn`` must return the batch **mean**. ``"auto"`` (default): ``"linear"`` when every trainable parameter belongs to an
        ``nn.Linear`` applied once to a 2-D batch, else ``"vmap"``.

    Returns
    -------
    torch.Tensor, shape (N, d)
        Row ``i`` is example ``i``'s gradient, flattened in ``model.parameters()`` order.

    References
    ----------
    PyTorch documentation, "Per-sample-gradients" (torch.func tutorial).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, device="cpu")
    >>> per_example_grads(m, F.cross_entropy, torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])).shape
    torch.Size([5, 8])
    """
    _check_data(X, y)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    if method not in ("auto", "vmap", "linear"):
        raise ValueError(f"method must be 'auto', 'vmap' or 'linear', got {method!r}")
    if method == "linear" or (method == "auto" and _linear_only(model)):
        try:
            return per_example_grads_linear(model, loss_fn, X, y, chunk_size)
        except ValueError:
            if method == "linear":
                raise
    params = _trainable(model)
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, x, t):
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return loss_fn(out, t.unsqueeze(0))

    g = vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size, randomness="different")(params, X, y)
    n = X.shape[0]
    return torch.cat([g[k].reshape(n, -1) for k in params], dim=1)


def accumulated_gradient(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         micro_batch_size: int) -> torch.Tensor:
    r"""The gradient of the mean loss over ``(X, y)``, computed by gradient accumulation.

    The batch of size :math:`B` is split into micro-batches :math:`M_k` of at most
    ``micro_batch_size`` examples; each backward pass adds :math:`\frac{|M_k|}{B}\nabla \bar\ell_{M_k}`
    into ``.grad``, so the sum equals the full-batch gradient
    :math:`\frac1B\sum_{i} g_i` exactly in exact arithmetic (with unequal micro-batches the
    weights :math:`|M_k|/B` matter). Only one micro-batch's activations are alive at a time.
    Models whose forward pass couples the examples (batch normalization) break the identity.

    Parameters
    ----------
    micro_batch_size : int
        Examples per backward pass, ``1 <= micro_batch_size``.

    Returns
    -------
    torch.Tensor, shape (d,)
        Flattened accumulated gradient; ``model``'s ``.grad`` fields are left as they were.
    """
    _check_data(X, y)
    micro_batch_size = check_positive_int("micro_batch_size", micro_batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    n = X.shape[0]
    for start in range(0, n, micro_batch_size):
        xb, yb = X[start:start + micro_batch_size], y[start:start + micro_batch_size]
        loss = loss_fn(model(xb), yb) * (xb.shape[0] / n)
        for acc, g in zip(total, torch.autograd.grad(loss, params)):
            acc.add_(g)
    return torch.cat([t.reshape(-1) for t in total])


# --- Linear layers: the activation x output-gradient identity ------------------------------------
#
# For a layer z = W a + b applied once per example, example i's gradient is e_i a_iᵀ for W and e_i
# for b, where a_i is the layer's input and e_i = ∂ℓ_i/∂z_i the gradient of *example i's* loss
# with respect to the layer's output. One forward and one backward pass of the summed loss give
# every a_i and e_i; the per-example gradients are outer products, and their squared norms are
# ‖a_i‖²‖e_i‖² + ‖e_i‖² without forming them (Goodfellow 2015).


class _LinearTape:
    """Records inputs and output gradients of every ``nn.Linear`` during one forward/backward."""

    def __init__(self, model: nn.Module):
        self.linears = {m: name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
        self.inputs: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in self.linears}
        self.out_grads: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in self.linears}
        self.outputs: dict[nn.Module, list[torch.Tensor]] = {}
        self.handles = []

    def __enter__(self):
        for m in self.linears:
            self.handles.append(m.register_forward_hook(self._forward_hook))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def _forward_hook(self, module, inputs, output):
        self.inputs[module].append(inputs[0].detach())
        self.outputs.setdefault(module, []).append(output)
        if output.requires_grad:
            output.register_hook(lambda grad: self.out_grads[module].append(grad.detach()))

    def usable(self, module: nn.Module) -> bool:
        """True when the layer was applied exactly once, to a 2-D batch, and got an output gradient."""
        return (len(self.inputs[module]) == 1 and len(self.out_grads[module]) == 1
                and self.inputs[module][0].ndim == 2)


def _param_owners(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(qualified name, owning module, attribute) for every trainable parameter, in parameters() order."""
    owners = {}
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            owners.setdefault(id(p), (f"{mname}.{pname}" if mname else pname, mod, pname))
    return [owners[id(p)] for p in model.parameters() if p.requires_grad]


def _linear_pass(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                 param_grads: bool = True):
    """One forward/backward of N × mean loss; returns the tape and the mean gradient per parameter.

    With ``param_grads=False`` the backward pass stops at the layer outputs (the weight
    gradients are not formed; only the per-example output gradients are recorded) and the
    second return value is ``None``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    with _LinearTape(model) as tape:
        loss = loss_fn(model(X), y)
        # d(N · mean loss)/dz_i = dℓ_i/dz_i: the per-example output gradients, unscaled.
        if param_grads:
            grads = torch.autograd.grad(loss * X.shape[0], params)
            return tape, [g / X.shape[0] for g in grads]
        outs = [o for v in tape.outputs.values() for o in v if o.requires_grad]
        torch.autograd.grad(loss * X.shape[0], outs)
    return tape, None


def _fallback_grads(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, names: list[str],
                    chunk_size: int | None) -> dict[str, torch.Tensor]:
    """Per-example gradients (vmap(grad)) of the parameters ``names`` only, the others held fixed."""
    trainable = _trainable(model)
    fixed = {k: v for k, v in trainable.items() if k not in names}
    fixed.update({k: v.detach() for k, v in model.named_buffers()})
    chosen = {k: trainable[k] for k in names}

    def loss_one(p, x, t):
        out = functional_call(model, (p, fixed), (x.unsqueeze(0),))
        return loss_fn(out, t.unsqueeze(0))

    return vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size, randomness="different")(chosen, X, y)


def _chunks(n: int, chunk_size: int | None):
    step = n if chunk_size is None else chunk_size
    return [(s, min(n, s + step)) for s in range(0, n, step)]


def per_example_grads_linear(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                             chunk_size: int | None = None) -> torch.Tensor:
    r"""Per-example gradients of a model whose trainable layers are all ``nn.Linear``, by outer products.

    For a layer :math:`z = W a + b` applied once to each example, example :math:`i`'s gradient is

    .. math::  \nabla_W \ell_i = e_i a_i^\top, \qquad \nabla_b \ell_i = e_i,
               \qquad e_i = \partial \ell_i / \partial z_i ,

    so one forward pass (recording :math:`a_i`) and one backward pass of the *summed* loss
    (recording :math:`e_i`) give all of them; they are written straight into one ``(N, d)``
    array. This is the fast path of :func:`per_example_grads` for MLPs and logistic
    regression; the result is identical to ``vmap(grad)`` up to rounding. Models that
    couple examples in the forward pass (batch normalization) are not supported by either path.

    Parameters
    ----------
    model : nn.Module
        Every trainable parameter must belong to an ``nn.Linear`` applied once per forward pass
        to a 2-D batch; otherwise a ``ValueError`` is raised.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over the batch.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per forward/backward pass (default: all).

    Returns
    -------
    torch.Tensor, shape (N, d)
        In ``model.parameters()`` order, like :func:`per_example_grads`.

    References
    ----------
    Goodfellow (2015), "Efficient per-example gradient computations", arXiv:1510.01799.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("mlp", 3, 2, hidden=(4,), device="cpu", dtype=torch.float64)
    >>> X, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0])
    >>> bool(torch.allclose(per_example_grads_linear(m, F.cross_entropy, X, y),
    ...                     per_example_grads(m, F.cross_entropy, X, y, method="vmap")))
    True
    """
    _check_data(X, y)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    owners = _param_owners(model)
    bad = [name for name, mod, _ in owners if not isinstance(mod, nn.Linear)]
    if bad:
        raise ValueError(f"model must have only nn.Linear trainable layers for the linear path, got {bad}")
    n = X.shape[0]
    d = sum(p.numel() for p in model.parameters() if p.requires_grad)
    first = next(p for p in model.parameters() if p.requires_grad)
    out = torch.empty(n, d, dtype=first.dtype, device=first.device)
    for s, t in _chunks(n, chunk_size):
        tape, _ = _linear_pass(model, loss_fn, X[s:t], y[s:t], param_grads=False)
        col = 0
        for name, mod, attr in owners:
            if not tape.usable(mod):
                raise ValueError(f"model layer {name} must be applied once per forward pass to a 2-D batch")
            e = tape.out_grads[mod][0]
            size = getattr(mod, attr).numel()
            block = out[s:t, col:col + size]
            if attr == "weight":
                a = tape.inputs[mod][0]
                # a batched outer product (k = 1 matmul: exact), written in place into the (N, d) array
                torch.bmm(e.unsqueeze(2), a.unsqueeze(1), out=block.view(t - s, *mod.weight.shape))
            else:
                block.copy_(e)
            col += size
    return out


def _linear_only(model: nn.Module) -> bool:
    return all(isinstance(mod, nn.Linear) for _, mod, _ in _param_owners(model))


def per_example_sq_norms(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-example squared gradient norms :math:`\lVert g_i\rVert^2` and the mean gradient, without forming the :math:`g_i`.

    For every ``nn.Linear`` layer applied once per example, with input :math:`a_i` and output
    gradient :math:`e_i = \partial\ell_i/\partial z_i` of example :math:`i`'s own loss,

    .. math::  \lVert \nabla_W \ell_i \rVert^2 = \lVert a_i\rVert^2\,\lVert e_i\rVert^2, \qquad
               \lVert \nabla_b \ell_i \rVert^2 = \lVert e_i\rVert^2,

    both read off one forward and one backward pass of :math:`N` times the mean loss (the factor
    :math:`N` turns the mean's output gradients :math:`e_i/N` back into the per-example ones).
    Parameters of any other layer (convolutions, embeddings, a linear layer used twice) fall back
    to ``vmap(grad)`` restricted to those parameters. The squared norms add over layers. The
    same backward pass gives the mean gradient :math:`G`, so :math:`\operatorname{tr}\Sigma =
    \frac1N\sum_i\lVert g_i\rVert^2 - \lVert G\rVert^2` costs about one full-batch gradient
    (:func:`sgdnoise.noise.trace_sigma`).

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the **mean** loss over the batch.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per pass (default: all).

    Returns
    -------
    sq_norms : torch.Tensor, shape (N,), float64
    mean_grad : torch.Tensor, shape (d,)
        :math:`G`, flattened in ``model.parameters()`` order.

    References
    ----------
    Goodfellow (2015), arXiv:1510.01799; Rochette, Manoel & Tramel (2019), arXiv:1912.06015.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("mlp", 3, 2, hidden=(4,), device="cpu", dtype=torch.float64)
    >>> X, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0])
    >>> sq, G = per_example_sq_norms(m, F.cross_entropy, X, y)
    >>> bool(torch.allclose(sq, per_example_grads(m, F.cross_entropy, X, y).square().sum(1)))
    True
    """
    _check_data(X, y)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    owners = _param_owners(model)
    n = X.shape[0]
    sq = torch.zeros(n, dtype=torch.float64, device=X.device)
    G = None
    for s, t in _chunks(n, chunk_size):
        tape, mean_grads = _linear_pass(model, loss_fn, X[s:t], y[s:t])
        flat = torch.cat([g.reshape(-1) for g in mean_grads]) * (t - s)
        G = flat.double() if G is None else G + flat.double()
        fallback = []
        for name, mod, attr in owners:
            if isinstance(mod, nn.Linear) and tape.usable(mod):
                e2 = tape.out_grads[mod][0].double().square().sum(1)
                if attr == "weight":
                    sq[s:t] += tape.inputs[mod][0].double().square().sum(1) * e2
                else:
                    sq[s:t] += e2
            else:
                fallback.append(name)
        if fallback:
            g = _fallback_grads(model, loss_fn, X[s:t], y[s:t], fallback, chunk_size)
            for v in g.values():
                sq[s:t] += v.reshape(t - s, -1).double().square().sum(1)
    first = next(p for p in model.parameters() if p.requires_grad)
    return sq, (G / n).to(first.dtype)
