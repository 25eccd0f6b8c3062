"""Small models for the experiments: multinomial logistic regression and an MLP, and what acts on them.

Both are ordinary :class:`torch.nn.Module` objects, so every tool in the library (per-example
gradients, training loops) works on them and on any model a reader brings. Also here: flat
parameter vectors (:func:`get_flat_params`, :func:`set_flat_params`), model surgery for
fine-tuning (:func:`replace_head`) and the label-smoothed loss (:func:`smoothed_cross_entropy`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parameters_to_vector

from ._validate import check_bool, check_finite, check_positive_int, torch_generator
from .device import default_device


class LogisticRegression(nn.Module):
    r"""Multinomial logistic (softmax) regression: logits ``z = W x + b``.

    With the cross-entropy loss this is a convex model; on the digits (64 features, 10 classes)
    it has 650 parameters.

    Parameters
    ----------
    n_features, n_classes : int
    """

    def __init__(self, n_features: int, n_classes: int):
        super().__init__()
        self.linear = nn.Linear(check_positive_int("n_features", n_features),
                                check_positive_int("n_classes", n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """A fully connected network ``Linear → act → … → Linear``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including input and output, e.g. ``(64, 32, 10)``; at least two entries.
    activation : {"relu", "tanh", "gelu"}
    dropout : float
        Dropout probability after each hidden activation (0 disables it). ``nn.Dropout`` draws its
        masks from torch's global generator — the one place of the library that does; for masks
        from an explicit generator use :class:`sgdnoise.perturbations.GeneratorDropout`.
    batch_norm : bool
        Insert ``nn.BatchNorm1d`` after each hidden linear layer, before the activation
        (Ioffe & Szegedy 2015). In training mode every example's output then depends on the
        other examples of its batch, which changes the gradient noise; per-example gradients
        (:func:`sgdnoise.gradients.per_example_grads`) are only defined in ``eval()`` mode.

    Examples
    --------
    >>> m = MLP((64, 32, 10), batch_norm=True)
    >>> tuple(m(torch.randn(5, 64, generator=torch.Generator().manual_seed(0))).shape)
    (5, 10)
    """

    _ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0,
                 batch_norm: bool = False):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {tuple(sizes)}")
        sizes = [check_positive_int("sizes[i]", s) for s in sizes]
        if activation not in self._ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self._ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(self._ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_model(kind: str, n_features: int, n_classes: int, hidden: Sequence[int] = (32,), *,
               generator: torch.Generator | None = None, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32, batch_norm: bool = False,
               activation: str = "relu") -> nn.Module:
    r"""Build a model: ``"logistic"`` or ``"mlp"`` (``batch_norm=True``: the MLP with batch norm).

    ``activation`` (``"relu"``, ``"tanh"`` or ``"gelu"``) is the MLP's hidden nonlinearity.

    Every linear layer gets PyTorch's default bounds :math:`\pm 1/\sqrt{\text{fan-in}}` for its
    weights and bias, drawn from ``generator`` (the library's randomness rule: the global RNG is
    never used), so the same seeded generator always gives the same weights. The draws are made
    on the generator's device: a CPU generator gives the same weights whatever ``device`` the
    model is then moved to, a CUDA one draws (different numbers) on the GPU.

    Parameters
    ----------
    generator : torch.Generator, optional
        Draws the initialization, e.g. ``sgdnoise.make_generator(seed, device)``. ``None``: a
        fresh generator seeded from the operating system (weights not reproducible).
    device : torch.device or str, optional
        Where the model lives; default the generator's device, else
        :func:`sgdnoise.device.default_device`.

    Examples
    --------
    >>> m = make_model("mlp", 64, 10, hidden=(32,), generator=torch.Generator().manual_seed(0))
    >>> count_parameters(m), next(m.parameters()).device.type
    (2410, 'cpu')
    """
    device = (torch.device(device) if device is not None else
              generator.device if generator is not None else default_device())
    generator = torch_generator(generator, generator.device if generator is not None else device)
    if kind not in ("logistic", "mlp"):
        raise ValueError(f"kind must be 'logistic' or 'mlp', got {kind!r}")
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    hidden = tuple(check_positive_int("hidden[i]", h) for h in hidden)
    batch_norm = check_bool("batch_norm", batch_norm)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if activation != "relu" and kind != "mlp":
        raise ValueError(f"activation={activation!r} needs kind='mlp'")
    if batch_norm and kind != "mlp":
        raise ValueError("batch_norm=True needs kind='mlp'")
    with torch.random.fork_rng(devices=[]):  # the modules' own default init must not move the global RNG
        model = LogisticRegression(n_features, n_classes) if kind == "logistic" else MLP((n_features, *hidden, n_classes),
                                                                                      activation=activation,
                                                                                      batch_norm=batch_norm)
    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            _init_linear(mod, generator)
    return model.to(device=device, dtype=dtype)


def _init_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default (Kaiming-uniform) bounds ``±1/√fan_in`` for weight and bias, drawn with ``generator``."""
    bound = 1.0 / layer.in_features ** 0.5
    dev = generator.device
    with torch.no_grad():
        layer.weight.copy_(torch.empty_like(layer.weight, device=dev).uniform_(-bound, bound, generator=generator))
        layer.bias.copy_(torch.empty_like(layer.bias, device=dev).uniform_(-bound, bound, generator=generator))


def _check_module(model) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def get_flat_params(model: nn.Module) -> torch.Tensor:
    """All trainable parameters concatenated into one detached vector of length d.

    ``torch.nn.utils.parameters_to_vector`` of the parameters that require a gradient.

    Examples
    --------
    >>> get_flat_params(nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    _check_module(model)
    return parameters_to_vector([p for p in model.parameters() if p.requires_grad]).detach()


def set_flat_params(model: nn.Module, flat: torch.Tensor) -> None:
    """Write a vector of length d (as from :func:`get_flat_params`) back into ``model``.

    The parameters are overwritten in place (after checking the length of ``flat`` and that it is
    finite), chunk by chunk in the order of ``torch.nn.utils.vector_to_parameters``: each keeps its
    dtype, device and storage, and later updates of the model never write into ``flat``.

    Examples
    --------
    >>> lin = nn.Linear(2, 1); set_flat_params(lin, torch.tensor([1.0, 2.0, 3.0]))
    >>> lin.weight.tolist(), lin.bias.tolist()
    ([[1.0, 2.0]], [3.0])
    """
    _check_module(model)
    params = [p for p in model.parameters() if p.requires_grad]
    d = sum(p.numel() for p in params)
    if not isinstance(flat, torch.Tensor) or flat.ndim != 1 or flat.numel() != d:
        raise ValueError(f"flat must be a vector of length {d}, got "
                         f"{'shape ' + str(tuple(flat.shape)) if isinstance(flat, torch.Tensor) else type(flat).__name__}")
    check_finite("flat", flat)
    with torch.no_grad():
        for p, v in zip(params, flat.detach().split([p.numel() for p in params])):
            p.copy_(v.view_as(p))   # in place: dtypes, devices and views of the parameters are kept


def replace_head(model: nn.Module, n_classes: int, generator: torch.Generator | None = None) -> nn.Module:
    """Replace the last ``nn.Linear`` of an MLP by a fresh one with ``n_classes`` outputs (in place).

    The new layer has PyTorch's default bounds ``±1/√fan_in``, drawn on the model's device with
    ``generator`` (``None``: a fresh generator seeded from the operating system; torch's global
    generator is never used); the rest of the network (the "pretrained body") is kept.

    Parameters
    ----------
    model : MLP
        An :class:`MLP` (its ``.net`` ends in ``nn.Linear``).
    n_classes : int
        Outputs of the new head, >= 1.
    generator : torch.Generator, optional
        On the model's device.

    Returns
    -------
    nn.Module
        ``model`` itself.

    Examples
    --------
    >>> m = make_model("mlp", 64, 10, hidden=(32,), generator=torch.Generator().manual_seed(0))
    >>> m = replace_head(m, 5, generator=torch.Generator().manual_seed(0))
    >>> tuple(m(torch.zeros(2, 64)).shape)
    (2, 5)
    """
    n_classes = check_positive_int("n_classes", n_classes)
    net = getattr(model, "net", None)
    if not isinstance(net, nn.Sequential) or not isinstance(net[-1], nn.Linear):
        raise ValueError("model must be an sgdnoise MLP (a .net Sequential ending in nn.Linear)")
    old = net[-1]
    generator = torch_generator(generator, old.weight, data="the model")
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own default init must not move the global RNG
        head = nn.Linear(old.in_features, n_classes)
    head = head.to(device=old.weight.device, dtype=old.weight.dtype)
    _init_linear(head, generator)
    net[-1] = head
    return model


def smoothed_cross_entropy(epsilon: float):
    r"""The label-smoothed cross-entropy loss, as a ``loss_fn(logits, labels)``.

    The target is :math:`(1-\varepsilon)\,e_y + \varepsilon/K` instead of the one-hot
    :math:`e_y`, so

    .. math::  \ell_\varepsilon = (1-\varepsilon)\,(-\log p_y) + \frac{\varepsilon}{K}\sum_{k=1}^K(-\log p_k).

    Its gradient with respect to the logits is :math:`p - (1-\varepsilon)e_y - \varepsilon/K`,
    which never vanishes on a confidently classified example: smoothing keeps a floor of
    per-example gradient noise late in training.

    Parameters
    ----------
    epsilon : float
        :math:`\varepsilon \in [0, 1)`; 0 is the ordinary cross-entropy.

    Returns
    -------
    callable
        ``loss_fn(logits (B, K), labels (B,)) -> mean loss``.

    References
    ----------
    Szegedy, Vanhoucke, Ioffe, Shlens & Wojna (2016), "Rethinking the Inception architecture for
    computer vision", CVPR.

    Examples
    --------
    >>> loss = smoothed_cross_entropy(0.1)
    >>> round(float(loss(torch.zeros(1, 4), torch.tensor([2]))), 6)  # uniform p: log K
    1.386294
    """
    if not 0.0 <= float(epsilon) < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    epsilon = float(epsilon)

    def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels, label_smoothing=epsilon)

    return loss_fn
