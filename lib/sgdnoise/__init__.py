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
``potentials``     loss landscapes for particles: quadratic, double wells, saddle, 2-D
``langevin``       Euler–Maruyama ensembles, first passages, SGD on a potential
``theory``         Gibbs densities, stationary (co)variances, Kramers, first-passage times
``bayes``          constant-LR SGD and SGLD chains vs the posterior of linear regression
=================  ==============================================================
"""

from . import bayes, data, gradients, langevin, models, plotting, potentials, sampling, theory, training
from .device import budget, default_device, size_profile
from .plotting import use_style

__version__ = "0.1.0"

__all__ = [
    "bayes", "budget", "data", "default_device", "gradients", "langevin", "models", "plotting", "potentials",
    "sampling", "size_profile", "theory", "training", "use_style", "__version__",
]
