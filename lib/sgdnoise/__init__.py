"""sgdnoise — tested simulators of gradient noise in stochastic gradient descent.

The library behind the *Noisy Descent* course. One module per idea:

=================  ==============================================================
``device``         :func:`default_device`, :func:`size_profile`, :func:`budget`
``plotting``       the book's figure style (:func:`use_style`), theory vs measurement
``data``           digits (no download) and synthetic problems with known optima
``models``         logistic regression, MLP, flat parameter vectors
``gradients``      full, per-example (torch.func) and accumulated gradients
``sampling``       mini-batch samplers and the mini-batch gradient variance
``training``       a plain SGD loop with pluggable sampler and schedule
``morphogen``      noisy readout of morphogen gradients, positional error, counting limit
``vqe``            state-vector VQE for H2 with shot noise, parameter shift and SPSA
=================  ==============================================================
"""

from . import data, gradients, models, morphogen, plotting, sampling, training, vqe
from .device import budget, default_device, size_profile
from .plotting import use_style

__version__ = "0.1.0"

__all__ = [
    "budget", "data", "default_device", "gradients", "models", "morphogen", "plotting", "sampling",
    "size_profile", "training", "use_style", "vqe", "__version__",
]
