"""sgdnoise — tested simulators of gradient noise in stochastic gradient descent.

The library behind the *Noisy Descent* course. One module per idea:

=================  ==============================================================
``device``         :func:`default_device`, :func:`size_profile`, :func:`budget`, :func:`make_generator` (and :func:`progress`,
                   the bars of long loops, from ``_progress``)
``provenance``     :func:`provenance`: when, with what and on which device a page was computed
``claims``         checked claims: :class:`~claims.ClaimLog` records each check, fails loudly,
                   and draws the chapter's "Checked on this page" table
``plotting``       the book's figure style (:func:`use_style`), theory vs measurement
``animation``      animations and slider sweeps that play in the static site (no kernel)
``data``           digits (no download) and synthetic problems with known optima
``models``         logistic regression, MLP, flat parameter vectors
``gradients``      full, per-example (torch.func / linear-layer identity), accumulated gradients
                   and per-example squared norms without the gradients
``sampling``       mini-batch samplers (with and without replacement, epoch orders)
``covariance``     the gradient-noise covariance Σ: mean gradient, Σ and its eigenpairs, tr Σ (also
                   from norms only), B_simple, diversity, participation ratio, mini-batch variance
``training``       a plain SGD loop with pluggable sampler, schedule, batch transform and callback
``schedules``      learning-rate and batch-size schedules, the Robbins–Monro test
``scaling``        noise scale B_simple of a model, two-batch estimates, scaling rules, critical batch
``ensemble``       many least-squares SGD runs at once: rates, steps to target, confusion ball
``fisher``         empirical and true Fisher, eigenspace overlap
``hessian``        Hessian-vector products, Lanczos top eigenpairs, Hutchinson trace, spectral density
``landscape``      filter-normalized loss slices (1-D, 2-D, interpolation), ReLU layer rescaling
``tails``          the α-stable tail index (Mohammadi et al. 2015), running variance
``clipping``       gradient clipping by norm, per example and per batch
``perturbations``  label flips, digit augmentation, dropout with an explicit generator
``precision``      the finite-precision noise floor of a gradient
``potentials``     loss landscapes for particles: quadratic, double wells, saddle, 2-D
``langevin``       Euler–Maruyama ensembles, first passages, SGD on a potential
``theory``         Gibbs densities, stationary (co)variances, Kramers, first-passage times
``bayes``          constant-LR SGD and SGLD chains vs the posterior of linear regression
``morphogen``      noisy readout of morphogen gradients, positional error, counting limit
``vqe``            state-vector VQE for H2 with shot noise, parameter shift and SPSA
``engineering``    noise knobs (injection, smoothing, standardization) and their measurements
``graphs``         neighbour sampling on a graph: sampled mean aggregator and its variance
``games``          gradient descent–ascent on min_x max_y xy, with noise, and its invariants
=================  ==============================================================
"""

from . import provenance as _provenance_module  # first: its clock starts at the import
from . import (animation, bayes, claims, clipping, covariance, data, engineering, ensemble, fisher, games, gradients, graphs, hessian, landscape, langevin,
               models, morphogen, perturbations, plotting, potentials, precision, sampling, scaling, schedules, tails, theory, training, vqe)
from ._progress import progress
from .device import budget, default_device, make_generator, size_profile
from .plotting import use_style
from .provenance import provenance

__version__ = "0.1.0"

__all__ = [
    "animation", "bayes", "budget", "claims", "clipping", "covariance", "data", "default_device", "make_generator", "engineering", "ensemble", "fisher", "games",
    "gradients", "graphs", "hessian", "landscape", "langevin", "models", "morphogen",
    "perturbations", "plotting", "potentials", "precision", "progress", "provenance", "sampling", "scaling", "schedules", "size_profile",
    "tails",
    "theory", "training", "use_style", "vqe", "__version__",
]
