"""sgdnoise — tested simulators of gradient noise in stochastic gradient descent.

The library behind the *Noisy Descent* course. One module per idea:

=================  ==============================================================
``device``         :func:`default_device`, :func:`size_profile`, :func:`budget`
``plotting``       the book's figure style (:func:`use_style`), theory vs measurement
``data``           digits (no download) and synthetic problems with known optima
``models``         logistic regression, MLP, flat parameter vectors
``gradients``      full, per-example (torch.func / linear-layer identity), accumulated gradients
                   and per-example squared norms without the gradients
``sampling``       mini-batch samplers and the mini-batch gradient variance
``training``       a plain SGD loop with pluggable sampler, schedule and batch transform
``noise``          statistics of gradient noise: Σ, its spectrum and trace, diversity, ĝ_B − G
``fisher``         empirical and true Fisher, a small dense Hessian, eigenspace overlap
``hessian``        Hessian-vector products, Lanczos top eigenpairs, Hutchinson trace, spectral density
``landscape``      filter-normalized loss slices (1-D, 2-D, interpolation), ReLU layer rescaling
``tails``          the α-stable tail index (Mohammadi et al. 2015), running variance
``clipping``       gradient clipping by norm, per example and per batch
``noise_sources``  label noise, digit augmentation, the finite-precision floor
``morphogen``      noisy readout of morphogen gradients, positional error, counting limit
``vqe``            state-vector VQE for H2 with shot noise, parameter shift and SPSA
=================  ==============================================================
"""

from . import (clipping, data, fisher, gradients, hessian, landscape, models, morphogen, noise, noise_sources, plotting,
               sampling, tails, training, vqe)
from .device import budget, default_device, size_profile
from .plotting import use_style

__version__ = "0.1.0"

__all__ = [
    "budget", "clipping", "data", "default_device", "fisher", "gradients", "hessian", "landscape", "models", "morphogen", "noise",
    "noise_sources", "plotting", "sampling", "size_profile", "tails", "training", "use_style", "vqe", "__version__",
]
