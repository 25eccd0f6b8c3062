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
``data``           digits (no download), synthetic problems with known optima, standardization,
                   augmentation in pixel space, class subsets
``models``         logistic regression, MLP, flat parameter vectors, head replacement, label smoothing
``gradients``      full, per-example (torch.func / linear-layer identity), accumulated gradients
                   and per-example squared norms without the gradients
``sampling``       mini-batch samplers and the mini-batch gradient variance
``training``       a plain SGD loop: rate and batch size as numbers or schedules, sampler, clipping,
                   noise injection, batch transform and callback
``schedules``      learning-rate and batch-size schedules, scaling rules, noise injection, Robbins–Monro
``scaling``        gradient noise scale (per-example and two-batch), scaling rules, critical batch
``leastsquares``   the least-squares problem (optimum, Hessian, per-example gradients), the one
                   vectorized SGD/SGLD engine on it, its exact stationary covariance and moments
``ensemble``       many least-squares SGD runs at once: suboptimality trajectories, steps to target
``noise``          statistics of gradient noise: Σ, its spectrum and trace, diversity, ĝ_B − G
``fisher``         empirical and true Fisher, a small dense Hessian, eigenspace overlap
``hessian``        Hessian-vector products, Lanczos top eigenpairs, Hutchinson trace, spectral density
``landscape``      filter-normalized loss slices (1-D, 2-D, interpolation), ReLU layer rescaling
``tails``          the α-stable tail index (Mohammadi et al. 2015), running variance
``clipping``       gradient clipping by norm, per example and per batch
``noise_sources``  label noise, digit augmentation, the finite-precision floor
``potentials``     loss landscapes for particles: quadratic, double wells, saddle, 2-D
``langevin``       Euler–Maruyama ensembles, first passages, SGD on a potential
``theory``         Gibbs densities, stationary (co)variances, Kramers, first-passage times
``bayes``          constant-LR SGD and SGLD chains vs the posterior of linear regression
``morphogen``      noisy readout of morphogen gradients, positional error, counting limit
``vqe``            state-vector VQE for H2 with shot noise, parameter shift and SPSA
``engineering``    Σ measurements of chapter 7's knobs (to be merged into the covariance module)
``graphs``         neighbour sampling on a graph: sampled mean aggregator and its variance
``games``          gradient descent–ascent on min_x max_y xy, with noise, and its invariants
=================  ==============================================================
"""

from . import provenance as _provenance_module  # first: its clock starts at the import
from . import (animation, bayes, claims, clipping, data, engineering, ensemble, fisher, games, gradients, graphs, hessian, landscape, langevin,
               leastsquares, models, morphogen, noise, noise_sources, plotting, potentials, sampling, scaling, schedules, tails, theory, training, vqe)
from ._progress import progress
from .device import budget, default_device, make_generator, size_profile
from .plotting import use_style
from .provenance import provenance

__version__ = "0.1.0"

__all__ = [
    "animation", "bayes", "budget", "claims", "clipping", "data", "default_device", "make_generator", "engineering", "ensemble", "fisher", "games",
    "gradients", "graphs", "hessian", "landscape", "langevin", "leastsquares", "models", "morphogen", "noise",
    "noise_sources", "plotting", "potentials", "progress", "provenance", "sampling", "scaling", "schedules", "size_profile",
    "tails",
    "theory", "training", "use_style", "vqe", "__version__",
]
