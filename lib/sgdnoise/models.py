"""Small models for the experiments: multinomial logistic regression and an MLP.

Both are ordinary :class:`torch.nn.Module` objects, so every tool in the library (per-example
gradients, training loops) works on them and on any model a reader brings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._validate import check_bool, check_finite, check_positive_int
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
        Dropout probability after each hidden activation (0 disables it).
    batch_norm : bool
        Insert ``nn.BatchNorm1d`` after each hidden linear layer, before the activation
        (Ioffe & Szegedy 2015). In training mode every example's output then depends on the
        other examples of its batch, which changes the gradient noise; per-example gradients
        (:func:`sgdnoise.gradients.per_example_grads`) are only defined in ``eval()`` mode.

    Examples
    --------
    >>> m = MLP((64, 32, 10), batch_norm=True)
    >>> tuple(m(torch.randn(5, 64)).shape)
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


def make_model(kind: str, n_features: int, n_classes: int, hidden: Sequence[int] = (32,), seed: int = 0,
               device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
               batch_norm: bool = False, activation: str = "relu") -> nn.Module:
    """Build a seeded model: ``"logistic"`` or ``"mlp"`` (``batch_norm=True``: the MLP with batch norm).

    ``activation`` (``"relu"``, ``"tanh"`` or ``"gelu"``) is the MLP's hidden nonlinearity.

    The initialization is drawn from a private ``torch.Generator`` seeded with ``seed`` (the
    global RNG is left untouched), so the same seed always gives the same weights.

    Examples
    --------
    >>> m = make_model("mlp", 64, 10, hidden=(32,), device="cpu")
    >>> count_parameters(m)
    2410
    """
    device = torch.device(device) if device is not None else default_device()
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
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Linear):  # PyTorch's default (Kaiming-uniform) bounds, seeded
                bound = 1.0 / mod.in_features ** 0.5
                mod.weight.copy_(torch.empty_like(mod.weight).uniform_(-bound, bound, generator=gen))
                mod.bias.copy_(torch.empty_like(mod.bias).uniform_(-bound, bound, generator=gen))
    return model.to(device=device, dtype=dtype)


def _check_module(model) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def get_flat_params(model: nn.Module) -> torch.Tensor:
    """All trainable parameters concatenated into one detached vector of length d."""
    _check_module(model)
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def set_flat_params(model: nn.Module, flat: torch.Tensor) -> None:
    """Write a vector of length d (as from :func:`get_flat_params`) back into ``model``."""
    _check_module(model)
    params = [p for p in model.parameters() if p.requires_grad]
    d = sum(p.numel() for p in params)
    if not isinstance(flat, torch.Tensor) or flat.ndim != 1 or flat.numel() != d:
        raise ValueError(f"flat must be a vector of length {d}, got "
                         f"{'shape ' + str(tuple(flat.shape)) if isinstance(flat, torch.Tensor) else type(flat).__name__}")
    check_finite("flat", flat)
    with torch.no_grad():
        i = 0
        for p in params:
            p.copy_(flat[i:i + p.numel()].view_as(p))
            i += p.numel()
