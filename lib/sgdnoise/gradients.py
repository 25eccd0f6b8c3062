r"""Gradients of a model's loss: full-batch, per-example, and accumulated over micro-batches.

Notation (see the book's notation page): per-example gradients :math:`g_i(w) = \nabla_w \ell(w; x_i, y_i)`,
the full gradient :math:`G = \frac1N \sum_i g_i`, the per-example covariance
:math:`\Sigma = \frac1N \sum_i (g_i - G)(g_i - G)^\top`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from ._memory import empty_rows
from ._validate import check_finite, check_positive_int

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _first_linear(model: nn.Module) -> nn.Linear | None:
    """The input layer of a model whose input layer is known: a bare ``nn.Linear``, an ``nn.Sequential``
    starting with one, or the library's models (whose first registered layer is the input layer)."""
    if isinstance(model, nn.Linear):
        return model
    if not isinstance(model, nn.Sequential) and type(model).__module__ != "sgdnoise.models":
        return None
    for mod in model.modules():
        if any(True for _ in mod.parameters(recurse=False)):
            return mod if isinstance(mod, nn.Linear) else None
    return None


def _check_model_input(model: nn.Module, X: torch.Tensor, name: str = "X") -> None:
    """Raise a ``ValueError`` naming ``X`` when its dtype, device or width cannot go into ``model``.

    torch would raise a ``RuntimeError`` deep inside the forward pass ("mat1 and mat2 must have the
    same dtype", "mat1 and mat2 shapes cannot be multiplied").
    """
    if not isinstance(X, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(X).__name__}")
    p0 = next(iter(model.parameters()), None)
    if p0 is None:
        return
    if X.device != p0.device:
        raise ValueError(f"{name} is on {X.device} but the model's parameters are on {p0.device}: move one "
                         f"({name}.to({str(p0.device)!r}) or model.to(...))")
    if X.is_floating_point() and p0.is_floating_point() and X.dtype != p0.dtype:
        raise ValueError(f"{name} has dtype {X.dtype} but the model's parameters are {p0.dtype}: convert one "
                         f"({name}.to({p0.dtype}) or model.to({X.dtype}))")
    first = _first_linear(model)
    if first is not None and X.ndim >= 1 and X.shape[-1] != first.in_features:
        raise ValueError(f"{name} must have {first.in_features} features in its last dimension (the model's "
                         f"input layer), got shape {tuple(X.shape)}")


def _check_data(X: torch.Tensor, y: torch.Tensor, model: nn.Module | None = None) -> None:
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"X and y must be torch.Tensors, got {type(X).__name__} and {type(y).__name__}")
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have a leading example dimension, got shapes {tuple(X.shape)} and "
                         f"{tuple(y.shape)}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("X must contain at least one example")
    check_finite("X", X)
    if y.is_floating_point():
        check_finite("y", y)
    if y.device != X.device:
        raise ValueError(f"y is on {y.device} but X is on {X.device}")
    if model is not None:
        _check_model_input(model, X)


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
    _check_data(X, y, model)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in grads])


def per_example_grads(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                      chunk_size: int | None = None, method: str = "auto",
                      out: torch.Tensor | None = None) -> torch.Tensor:
    r"""Every example's gradient in one vectorized call: rows :math:`g_i = \nabla_w \ell(w; x_i, y_i)`.

    The general path uses ``torch.func``: ``vmap(grad(ℓ))`` over the examples with the
    parameters held fixed through ``functional_call``, so it works for any ``nn.Module`` on CPU
    or GPU. Models made of linear and convolutional layers take a faster path by default
    (:func:`per_example_grads_layers`). ``chunk_size`` bounds memory by processing that many
    examples at a time. Random layers (dropout) draw independent masks per example.

    On a CPU the rows of the result start on 64-byte cache lines, so when :math:`d` is not a
    multiple of 16 (float32) the result is a view of a slightly wider array and
    ``is_contiguous()`` is false; ``.contiguous()`` makes a packed copy.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss; it is called with a batch of one.
    X, y : torch.Tensor
        ``(N, ...)`` inputs and targets.
    chunk_size : int, optional
        Examples per vectorized chunk (default: all at once).
    method : {"auto", "vmap", "layers"}
        ``"vmap"``: the general ``torch.func`` path above. ``"layers"``: products of layer
        inputs and output gradients (:func:`per_example_grads_layers`), faster for models made
        of ``nn.Linear`` and ``nn.Conv2d`` layers (``benchmarks/bench_per_example_grads.py``);
        its ``loss_fn`` must return the batch **mean**. ``"auto"`` (default): ``"layers"``
        when every trainable parameter belongs to such a layer applied once per forward pass,
        else ``"vmap"``.
    out : torch.Tensor, optional
        An ``(N, d)`` array of the parameters' dtype and device (columns contiguous) to write
        the result into, e.g. the result of an earlier call: repeated calls then skip
        allocating, and on a CPU faulting in, a fresh array, which at :math:`N` = 256 and
        :math:`d` = 85,002 costs as much as computing the gradients
        (``benchmarks/bench_per_example_grads.py``).

    Returns
    -------
    torch.Tensor, shape (N, d)
        Row ``i`` is example ``i``'s gradient, flattened in ``model.parameters()`` order
        (``out`` itself when given).

    References
    ----------
    PyTorch documentation, "Per-sample-gradients" (torch.func tutorial).

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0))
    >>> X = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    >>> per_example_grads(m, F.cross_entropy, X, torch.tensor([0, 1, 0, 1, 1])).shape
    torch.Size([5, 8])
    """
    _check_data(X, y, model)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    if method not in ("auto", "vmap", "layers"):
        raise ValueError(f"method must be 'auto', 'vmap' or 'layers', got {method!r}")
    owners = _param_owners(model)
    out = _result_array(owners, X.shape[0], out)
    if method == "layers" or (method == "auto" and owners and all(_supported(mod) for _, mod, _ in owners)):
        try:
            return _layers_grads(model, loss_fn, X, y, chunk_size, owners, out)
        except ValueError:
            if method == "layers":
                raise
    params = _trainable(model)
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, x, t):
        res = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        return loss_fn(res, t.unsqueeze(0))

    g = vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size, randomness="different")(params, X, y)
    col = 0
    for k in params:
        size = params[k].numel()
        out[:, col:col + size].copy_(g[k].reshape(out.shape[0], size))
        col += size
    return out


def _result_array(owners, n: int, out: torch.Tensor | None) -> torch.Tensor:
    """The ``(n, d)`` result: ``out`` after checking it, or a new array with cache-line-aligned rows."""
    if not owners:
        raise ValueError("model has no trainable parameters")
    first = getattr(owners[0][1], owners[0][2])
    d = sum(getattr(mod, attr).numel() for _, mod, attr in owners)
    if out is None:
        return empty_rows((n, d), first.dtype, first.device)
    if (not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, d) or out.dtype != first.dtype
            or out.device != first.device or (n > 0 and d > 1 and out.stride(1) != 1)):
        got = (f"shape {tuple(out.shape)}, {out.dtype}, {out.device}, strides {out.stride()}"
               if isinstance(out, torch.Tensor) else type(out).__name__)
        raise ValueError(f"out must be a ({n}, {d}) {first.dtype} tensor on {first.device} with contiguous rows, "
                         f"got {got}")
    return out


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
    _check_data(X, y, model)
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


# --- Linear and convolutional layers: the input x output-gradient identity ------------------------
#
# For a layer z = W a + b applied once per example, example i's gradient is e_i a_iᵀ for W and e_i
# for b, where a_i is the layer's input and e_i = ∂ℓ_i/∂z_i the gradient of *example i's* loss
# with respect to the layer's output. A convolution is the same product summed over output
# positions p once its input is unfolded into patches u_{i,p}: ∇_W ℓ_i = Σ_p e_{i,p} u_{i,p}ᵀ.
# One forward and one backward pass of the summed loss give every a_i and e_i (Goodfellow 2015;
# Rochette, Manoel & Tramel 2019 for convolutions).


def _supported(mod: nn.Module) -> bool:
    """Layers whose per-example gradients come from their input and output gradient."""
    if isinstance(mod, nn.Conv2d):
        return mod.groups == 1 and mod.padding_mode == "zeros" and not isinstance(mod.padding, str)
    return isinstance(mod, nn.Linear)


class _LayerTape:
    """Records the input and output of every supported layer during one forward pass.

    Nothing recorded points back at the tape (no tensor hooks), so every array is freed as soon
    as the caller drops the tape. (An earlier version kept output gradients through tensor hooks
    whose closures referred to the tape: a reference cycle, freed only by the garbage collector,
    that fragmented the heap so that every call faulted in a fresh (N, d) array, 5 ms at N = 64.)
    """

    def __init__(self, model: nn.Module):
        self.layers = [m for m in model.modules() if _supported(m)]
        self.inputs: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in self.layers}
        self.outputs: dict[nn.Module, list[torch.Tensor]] = {m: [] for m in self.layers}
        self.out_grads: dict[nn.Module, torch.Tensor] = {}
        self.handles = []

    def __enter__(self):
        self.handles = [m.register_forward_hook(self._forward_hook) for m in self.layers]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles = []

    def _forward_hook(self, module, inputs, output):
        self.inputs[module].append(inputs[0].detach())
        self.outputs[module].append(output)

    def tracked(self) -> list[nn.Module]:
        """Layers applied exactly once, to a batch, whose output depends on the parameters."""
        return [m for m in self.layers if len(self.inputs[m]) == 1 and self.outputs[m][0].requires_grad
                and self.inputs[m][0].ndim == (4 if isinstance(m, nn.Conv2d) else 2)]

    def usable(self, module: nn.Module) -> bool:
        """True when the layer's per-example output gradient was recorded."""
        return module in self.out_grads


def _param_owners(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(qualified name, owning module, attribute) for every trainable parameter, in parameters() order."""
    owners = {}
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            owners.setdefault(id(p), (f"{mname}.{pname}" if mname else pname, mod, pname))
    return [owners[id(p)] for p in model.parameters() if p.requires_grad]


def _layer_pass(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, owners=None):
    r"""One forward/backward of N × mean loss; returns the tape and some parameters' gradients of that sum.

    The backward pass returns :math:`\partial (N\bar\ell)/\partial z_i = \partial\ell_i/\partial z_i`
    for every tracked layer output (``tape.out_grads``: the per-example output gradients,
    unscaled). With ``owners`` (from :func:`_param_owners`) it also returns, as ``{index:
    gradient}``, the summed loss's gradient for the parameters whose layer is *not* tracked;
    the others follow from ``tape`` (and forming them here would cost a second weight-gradient
    pass, for a convolution the most expensive part of its backward pass). Without, ``None``.
    """
    with torch.enable_grad(), _LayerTape(model) as tape:
        loss = loss_fn(model(X), y) * X.shape[0]
    layers = tape.tracked()
    tracked = set(layers)
    others = [] if owners is None else [i for i, (_, mod, _) in enumerate(owners) if mod not in tracked]
    wrt = [tape.outputs[m][0] for m in layers] + [getattr(owners[i][1], owners[i][2]) for i in others]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True) if wrt else ()
    for m, g in zip(layers, grads):
        tape.out_grads[m] = torch.zeros_like(tape.outputs[m][0]) if g is None else g
    tape.outputs.clear()                     # the graph is no longer needed
    if owners is None:
        return tape, None
    return tape, {i: torch.zeros_like(wrt[len(layers) + k]) if g is None else g
                  for k, (i, g) in enumerate(zip(others, grads[len(layers):]))}


def _conv_patches(mod: nn.Conv2d, a: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Input patches ``(B, C_in k_h k_w, P)`` (``F.unfold``'s layout) and output gradients ``(B, C_out, P)``.

    The patches are gathered with one strided slice per kernel offset, stacked: the same array
    as ``F.unfold`` at 2–3× less cost on a CPU, whose ``im2col`` loops over the examples.
    """
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = mod.kernel_size, mod.stride, mod.dilation, mod.padding
    if ph or pw:
        a = F.pad(a, (pw, pw, ph, ph))
    ho, wo = e.shape[2], e.shape[3]
    cols = [a[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
            for i in range(kh) for j in range(kw)]
    b, c = a.shape[:2]
    return torch.stack(cols, 2).reshape(b, c * kh * kw, ho * wo), e.reshape(b, e.shape[1], ho * wo)


_PATCH_BYTES = 4 << 20   # input patches formed at a time: cache-sized, and reused by the allocator


def _conv_weight_grads(mod: nn.Conv2d, a: torch.Tensor, e: torch.Tensor):
    """Yield ``(start, stop, g)``: examples ``start:stop``'s weight gradients ``g``, ``(stop - start, C_out, K)``.

    The examples are taken in blocks whose patches fill at most ``_PATCH_BYTES``, so that the
    temporaries stay in cache and are reused from one block to the next instead of being faulted
    in afresh (at B = 1024 the patches of the benchmark's second convolution take 38 MB).
    """
    b = a.shape[0]
    per_example = a.element_size() * mod.in_channels * math.prod(mod.kernel_size) * math.prod(e.shape[2:])
    step = max(1, _PATCH_BYTES // per_example)
    for s in range(0, b, step):
        u, ep = _conv_patches(mod, a[s:s + step], e[s:s + step])
        yield s, min(b, s + step), torch.bmm(ep, u.transpose(1, 2))


def _write_layer_grad(mod: nn.Module, attr: str, a: torch.Tensor, e: torch.Tensor, block: torch.Tensor) -> None:
    """Write every example's gradient of ``mod.<attr>`` into the rows of ``block`` (B, size)."""
    b = e.shape[0]
    if isinstance(mod, nn.Linear):
        if attr == "weight":
            # the outer products e_i a_iᵀ as one broadcast product (exact), written in place; bmm
            # with this strided ``out`` would loop over the examples
            torch.mul(e.unsqueeze(2), a.unsqueeze(1), out=block.view(b, *mod.weight.shape))
        else:
            block.copy_(e)
    elif attr == "weight":
        for s, t, g in _conv_weight_grads(mod, a, e):
            block[s:t].copy_(g.reshape(t - s, -1))
    else:
        torch.sum(e.flatten(2), 2, out=block)


def _sq_rows(x: torch.Tensor) -> torch.Tensor:
    """Squared norm of every row (every example), accumulated in float64."""
    return x.double().square().flatten(1).sum(1)


def _module_stats(mod: nn.Module, attrs: list[str], a: torch.Tensor,
                  e: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Squared per-example gradient norms summed over ``mod``'s parameters ``attrs`` ((B,), float64),
    and the gradient of the summed loss for each of them."""
    sums = {}
    if isinstance(mod, nn.Linear):
        e2 = _sq_rows(e)
        if "weight" in attrs:
            sums["weight"] = e.T @ a
        if "bias" in attrs:
            sums["bias"] = e.sum(0)
        return e2 * sum(_sq_rows(a) if attr == "weight" else 1.0 for attr in attrs), sums
    total = torch.zeros(e.shape[0], dtype=torch.float64, device=e.device)
    if "weight" in attrs:
        w = torch.zeros(mod.weight.shape[0], mod.weight[0].numel(), dtype=e.dtype, device=e.device)
        for s, t, g in _conv_weight_grads(mod, a, e):
            total[s:t] += _sq_rows(g)
            w += g.sum(0)
        sums["weight"] = w.view(mod.weight.shape)
    if "bias" in attrs:
        eb = e.flatten(2).sum(2)
        total += _sq_rows(eb)
        sums["bias"] = eb.sum(0)
    return total, sums


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


def per_example_grads_layers(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                             chunk_size: int | None = None) -> torch.Tensor:
    r"""Per-example gradients of a model made of linear and convolutional layers, by outer products.

    For a layer :math:`z = W a + b` applied once to each example, example :math:`i`'s gradient is

    .. math::  \nabla_W \ell_i = e_i a_i^\top, \qquad \nabla_b \ell_i = e_i,
               \qquad e_i = \partial \ell_i / \partial z_i ,

    and for a 2-D convolution the same products summed over the output positions :math:`p`, with
    the input unfolded into patches :math:`u_{i,p}`:
    :math:`\nabla_W \ell_i = \sum_p e_{i,p} u_{i,p}^\top`, :math:`\nabla_b \ell_i = \sum_p e_{i,p}`.
    One forward pass (recording :math:`a_i`) and one backward pass of the *summed* loss
    (recording :math:`e_i`) give all of them; they are written straight into one ``(N, d)``
    array. This is the fast path of :func:`per_example_grads` for MLPs, CNNs and logistic
    regression; the result equals ``vmap(grad)`` up to rounding. Models that couple examples
    in the forward pass (batch normalization in training mode) are not supported by either path.

    On a Linux CPU an array of 32 MiB or more is allocated on transparent huge pages
    (``sgdnoise._memory``): filling a fresh array otherwise costs one page fault per 4 KiB,
    which on the benchmark machine took longer than the arithmetic.

    Parameters
    ----------
    model : nn.Module
        Every trainable parameter must belong to an ``nn.Linear`` applied once per forward pass
        to a 2-D batch, or to an ``nn.Conv2d`` (``groups=1``, zero padding given as numbers)
        applied once to a 4-D batch; otherwise a ``ValueError`` is raised.
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
    Goodfellow (2015), "Efficient per-example gradient computations", arXiv:1510.01799;
    Rochette, Manoel & Tramel (2019), "Efficient per-example gradient computations in
    convolutional neural networks", arXiv:1912.06015.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> from sgdnoise.models import make_model
    >>> m = make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> X, y = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0])
    >>> bool(torch.allclose(per_example_grads_layers(m, F.cross_entropy, X, y),
    ...                     per_example_grads(m, F.cross_entropy, X, y, method="vmap")))
    True
    """
    _check_data(X, y, model)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    owners = _param_owners(model)
    return _layers_grads(model, loss_fn, X, y, chunk_size, owners, _result_array(owners, X.shape[0], None))


def _layers_grads(model, loss_fn, X, y, chunk_size, owners, out: torch.Tensor) -> torch.Tensor:
    bad = [name for name, mod, _ in owners if not _supported(mod)]
    if bad:
        raise ValueError("model must have only nn.Linear and nn.Conv2d (groups=1, numeric zero padding) "
                         f"trainable layers for the layers path, got {bad}")
    n = X.shape[0]
    for s, t in _chunks(n, chunk_size):
        tape, _ = _layer_pass(model, loss_fn, X[s:t], y[s:t])
        col = 0
        for name, mod, attr in owners:
            if not tape.usable(mod):
                raise ValueError(f"model layer {name} must be applied once per forward pass to a batch")
            size = getattr(mod, attr).numel()
            _write_layer_grad(mod, attr, tape.inputs[mod][0], tape.out_grads[mod], out[s:t, col:col + size])
            col += size
    return out


def per_example_sq_norms(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                         chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-example squared gradient norms :math:`\lVert g_i\rVert^2` and the mean gradient, without forming the :math:`g_i`.

    For every ``nn.Linear`` layer applied once per example, with input :math:`a_i` and output
    gradient :math:`e_i = \partial\ell_i/\partial z_i` of example :math:`i`'s own loss,

    .. math::  \lVert \nabla_W \ell_i \rVert^2 = \lVert a_i\rVert^2\,\lVert e_i\rVert^2, \qquad
               \lVert \nabla_b \ell_i \rVert^2 = \lVert e_i\rVert^2,

    both read off one forward and one backward pass of :math:`N` times the mean loss (the factor
    :math:`N` turns the mean's output gradients :math:`e_i/N` back into the per-example ones).
    A 2-D convolution's per-example weight gradient :math:`\sum_p e_{i,p}u_{i,p}^\top` is formed one
    layer (and one block of examples) at a time from the same pass, squared and summed into
    :math:`G`, so the backward pass never forms the convolution's weight gradient itself.
    Parameters of any other layer (embeddings, normalization, a layer used twice) fall back
    to ``vmap(grad)`` restricted to those parameters. The squared norms add over layers. The
    same backward pass gives the mean gradient :math:`G`, so :math:`\operatorname{tr}\Sigma =
    \frac1N\sum_i\lVert g_i\rVert^2 - \lVert G\rVert^2` costs about one full-batch gradient
    (:func:`sgdnoise.covariance.gradient_moments_of_model`).

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
    >>> m = make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> X, y = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0])
    >>> sq, G = per_example_sq_norms(m, F.cross_entropy, X, y)
    >>> bool(torch.allclose(sq, per_example_grads(m, F.cross_entropy, X, y).square().sum(1)))
    True
    """
    _check_data(X, y, model)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    owners = _param_owners(model)
    if not owners:
        raise ValueError("model has no trainable parameters")
    n = X.shape[0]
    sq_chunks, G = [], None
    for s, t in _chunks(n, chunk_size):
        tape, sums = _layer_pass(model, loss_fn, X[s:t], y[s:t], owners)
        by_module: dict[nn.Module, list[int]] = {}
        fallback = []
        for i, (name, mod, _) in enumerate(owners):
            if tape.usable(mod):
                by_module.setdefault(mod, []).append(i)
            else:
                fallback.append(name)
        parts = []
        for mod, idx in by_module.items():
            sq, grads = _module_stats(mod, [owners[i][2] for i in idx], tape.inputs[mod][0], tape.out_grads[mod])
            parts.append(sq)
            sums.update({i: grads[owners[i][2]] for i in idx})
        if fallback:
            g = _fallback_grads(model, loss_fn, X[s:t], y[s:t], fallback, chunk_size)
            parts += [_sq_rows(v.reshape(t - s, -1)) for v in g.values()]
        sq_chunks.append(torch.stack(parts).sum(0))
        flat = torch.cat([sums[i].reshape(-1) for i in range(len(owners))]).double()   # the chunk's summed loss
        G = flat if G is None else G.add_(flat)
    first = getattr(owners[0][1], owners[0][2])
    return torch.cat(sq_chunks), G.div_(n).to(first.dtype)
