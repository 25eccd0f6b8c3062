"""sgdnoise — tested simulators of gradient noise in stochastic gradient descent.

The library behind the *Noisy Descent* course: one module per idea, in five layers. A module
imports only from its own layer or from the layers listed before it; the analogies import only
the base, and each analogy stands alone (``lint-imports`` checks these contracts, written in
``pyproject.toml``). Chapters in brackets.

**Base** — where things run, how big, how randomness and checks work; imports nothing above.

================  ===============================================================================
``device``        :func:`default_device`, :func:`size_profile`, :func:`budget`,
                  :func:`make_generator` (one seeded generator per experiment) [all]
``_validate``     input checks and the randomness rule (``generator=None``: a fresh generator
                  seeded from the OS's entropy; the global RNG is never used) [—]
``_progress``     :func:`progress`, the bars of long loops [all]
``_memory``       large result arrays that do not commit memory up front [2, 5]
``claims``        checked claims: :class:`~claims.ClaimLog`, the "Checked on this page" table,
                  :func:`~claims.mean_and_se` (the one standard-error helper of a mean) and
                  the standard errors of other estimators (variance, sd, kurtosis, weighted
                  mean and slope) [all]
``plotting``      the book's figure style (:func:`use_style`), theory vs measurement [all]
``data``          digits (no download), synthetic problems with known optima, standardization
                  (written once), class subsets [1–3, 5–7]
``models``        logistic regression, MLP, flat parameter vectors, head replacement, label
                  smoothing [1, 2, 5–7]
================  ===============================================================================

**Noise core** — gradients of models and the statistics of their noise.

================  ===============================================================================
``gradients``     full, per-example (torch.func / linear-layer identity), accumulated gradients
                  and per-example squared norms without the gradients [1, 2, 6, 7]
``sampling``      mini-batch samplers (with / without replacement, shuffling) [1, 2]
``covariance``    everything about Σ: mean gradient, Σ and its eigenpairs (the one
                  eigen-decomposition step, also used by ``fisher`` and ``hessian``), tr Σ
                  (materialized and norms-only), B_simple, gradient diversity, participation
                  ratio, the mini-batch variance theory and its measurement, Σ of least squares
                  [1–3, 5–7]
``hessian``       Hessian-vector products, Lanczos top eigenpairs, Hutchinson trace, spectral
                  density, sharpness [1, 5, 6]
``fisher``        empirical and true Fisher, eigenspace overlap [2, 5]
``landscape``     filter-normalized loss slices (1-D, 2-D, interpolation), ReLU rescaling [1, 5]
``tails``         the α-stable tail index (Mohammadi et al. 2015), running variance [2, 7]
``perturbations`` noise added on top of sampling: label flips, digit augmentation (also of
                  standardized images), dropout with an explicit generator [2, 7]
``precision``     the finite-precision noise floor of a gradient [2]
================  ===============================================================================

**Dynamics** — what SGD and its continuous limits do with that noise.

================  ===============================================================================
``potentials``    loss landscapes for particles: quadratic, double wells, saddle, 2-D [3, 4]
``langevin``      Euler–Maruyama ensembles, first passages, SGD on a potential [3, 4]
``theory``        Gibbs densities, stationary (co)variances, Kramers, first-passage times [3, 4]
``training``      the SGD loop on a model: schedules or numbers for ``lr`` and ``batch_size``,
                  clipping and injection from their own modules [1, 2, 5–7]
``schedules``     learning-rate and batch-size schedules, scaling rules, noise injection,
                  the Robbins–Monro test [6]
``scaling``       gradient noise scale (per-example and two-batch), critical batch [6]
``leastsquares``  one least-squares problem (:class:`~leastsquares.LeastSquares`: optimum by
                  ``torch.linalg.lstsq``, Hessian, per-example gradients, condition number) and
                  one vectorized SGD/SGLD engine (:func:`~leastsquares.sgd`) with its exact
                  stationary covariance and moments; ``bayes`` and ``ensemble`` run on it [2, 3, 6]
``ensemble``      many least-squares SGD runs at once: rates, steps to target, confusion ball [6]
``clipping``      gradient clipping by norm, per example and per batch [2]
``bayes``         constant-LR SGD and SGLD chains vs the posterior of linear regression [3]
================  ===============================================================================

**Analogies** — the same noise outside deep learning, in NumPy only: importing one of these loads
neither torch nor the noise core (``tests/test_layers.py``).

================  ===============================================================================
``morphogen``     noisy readout of morphogen gradients, positional error, counting limit [8]
``vqe``           state-vector VQE for H2 with shot noise, parameter shift and SPSA [9]
``games``         gradient descent–ascent on min_x max_y xy, with noise, and its invariants [7]
``graphs``        neighbour sampling on a graph: sampled mean aggregator and its variance [7]
================  ===============================================================================

**Book tooling** — how a page shows and records its results.

================  ===============================================================================
``provenance``    :func:`provenance`: when, with what and on which device a page was computed
``animation``     animations and slider sweeps that play in the static site (no kernel)
================  ===============================================================================

Randomness: every random function takes ``generator=`` — a ``torch.Generator`` in torch code
(results on the data's device; with no tensor input, on the generator's device), a
``numpy.random.Generator`` in the analogies. ``generator=None`` draws from a fresh generator
seeded from the operating system's entropy; the global random state is never used.

Submodules are imported on first use (PEP 562): ``import sgdnoise`` loads neither torch nor
matplotlib, and ``sgdnoise.hessian`` or ``sgdnoise.make_generator`` import what they need when
first touched.
"""

from __future__ import annotations

import importlib
import pkgutil

# Imported first, eagerly (it is light, NumPy- and torch-free): its clock starts at the import.
from . import provenance as _provenance_module

__version__ = "0.1.0"

#: Functions exported at the top level, and the module each comes from.
_FUNCTIONS = {
    "budget": "device",
    "default_device": "device",
    "make_generator": "device",
    "size_profile": "device",
    "progress": "_progress",
    "use_style": "plotting",
}

#: Every public submodule, found on disk (no list to keep in sync).
_SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))

# ``sgdnoise.provenance`` is the function (the module stays reachable as ``sgdnoise._provenance_module``
# and in sys.modules).
provenance = _provenance_module.provenance

__all__ = sorted(set(_SUBMODULES) | set(_FUNCTIONS) | {"provenance"}) + ["__version__"]


def __getattr__(name: str):
    """Import a submodule or an exported function on first use (PEP 562)."""
    if name in _FUNCTIONS:
        value = getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
