"""Every public function and class of sgdnoise refuses bad input with a ValueError that names the parameter.

``test_every_public_callable_has_a_bad_input_case`` walks every public module of the package and
fails when a public function or class (no leading underscore, defined in that module) is neither
in ``CASES`` nor in ``EXEMPT``: a new function without validation tests fails the suite.
``test_bad_input_raises_value_error`` runs every case: it must raise ``ValueError`` (a
``TypeError``, torch's ``RuntimeError`` or an ``AttributeError`` fails), and the message must match
a pattern that names the parameter itself (``r"\\bbatch_size\\b"``, not a letter that occurs in any
sentence).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sgdnoise
from sgdnoise import (animation, bayes, claims, clipping, covariance, data, device, ensemble, fisher, games, gradients,
                      graphs, hessian, landscape, langevin, leastsquares, models, morphogen, perturbations, plotting,
                      potentials, precision, sampling, scaling, schedules, tails, theory, training, vqe)

NAN = float("nan")


# --- small inputs shared by the cases (built once, on the CPU) -------------------------------------

@functools.cache
def model64():
    return models.make_model("logistic", 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@functools.cache
def Xy():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=g, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])


def X():
    return Xy()[0]


def y():
    return Xy()[1]


def grads(n=10, d=4):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@functools.cache
def problem():
    p = data.make_linear_regression(20, 3, generator=np.random.default_rng(0), device="cpu")
    return leastsquares.LeastSquares(p.X, p.y)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def rng(seed=0):
    return np.random.default_rng(seed)


def with_nan(t, i=0):
    t = t.clone()
    t.view(-1)[i] = NAN
    return t


class NotAGenerator:
    """Something that is not a torch.Generator."""


def hvp_diag(d=4):
    A = torch.diag(torch.arange(1.0, d + 1, dtype=torch.float64))
    return lambda V: V @ A


H2 = vqe.h2_hamiltonian()
LINE = np.linspace(0.0, 1.0, 11)


# --- the table: module.function -> bad-input cases (call, pattern the message must match) -----------
# The pattern names the parameter: r"\bname\b", or r"^name\b" where the name is a single letter.

CASES: dict[str, list] = {
    # bayes
    "bayes.linear_regression_posterior": [
        (lambda: bayes.linear_regression_posterior(problem(), -1.0), r"\bnoise_var\b"),
        (lambda: bayes.linear_regression_posterior(X(), 1.0), r"\bproblem\b"),
    ],
    "bayes.mandt_learning_rate": [
        (lambda: bayes.mandt_learning_rate(np.eye(2), 100, 0), r"\bbatch_size\b"),
        (lambda: bayes.mandt_learning_rate(np.eye(2), 100, 10, temperature=-1.0), r"\btemperature\b"),
    ],
    "bayes.sgld_chains": [
        (lambda: bayes.sgld_chains(problem(), lr=-0.1, noise_var=1.0, batch_size=2, n_chains=3, n_steps=5,
                                   w0=torch.zeros(3)), r"\blr\b"),
        (lambda: bayes.sgld_chains(problem(), lr=0.1, noise_var=0.0, batch_size=2, n_chains=3, n_steps=5,
                                   w0=torch.zeros(3)), r"\bnoise_var\b"),
    ],
    # claims
    "claims.mean_and_se": [(lambda: claims.mean_and_se([1.0]), r"\bx\b")],
    "claims.variance_and_se": [(lambda: claims.variance_and_se([1.0, NAN, 2.0, 3.0]), r"\bx\b")],
    "claims.sd_and_se": [(lambda: claims.sd_and_se([1.0, NAN, 2.0, 3.0]), r"\bx\b"),
                         (lambda: claims.sd_and_se([2.0, 2.0, 2.0]), r"^x\b.*\bzero sample variance\b")],
    "claims.weighted_mean_and_se": [(lambda: claims.weighted_mean_and_se([1.0, 2.0], [1.0, 0.0]), r"^se\b"),
                                    (lambda: claims.weighted_mean_and_se([1.0, 2.0], [1.0]), r"\bx and se\b")],
    "claims.weighted_slope_and_se": [
        (lambda: claims.weighted_slope_and_se([1.0, 1.0], [1.0, 2.0], [1.0, 1.0]), r"^x\b.*\bconstant\b"),
        (lambda: claims.weighted_slope_and_se([1.0, 2.0], [1.0, 2.0], [1.0, -1.0]), r"^y_se\b")],
    "claims.excess_kurtosis_and_se": [(lambda: claims.excess_kurtosis_and_se([1.0, 2.0, 3.0]), r"^x\b"),
                                      (lambda: claims.excess_kurtosis_and_se([2.0] * 5), r"^x\b.*\bzero\b")],
    "claims.ratio_se": [(lambda: claims.ratio_se(1.0, 0.1, 0.0, 0.1), r"\bb\b"),
                        (lambda: claims.ratio_se(1.0, -0.1, 2.0, 0.1), r"\bse_a\b")],
    "claims.ClaimLog": [(lambda: claims.ClaimLog(""), r"\bchapter\b")],
    "claims.format_detectable": [(lambda: claims.format_detectable(NAN), r"\bx\b")],
    "claims.table_rows": [(lambda: claims.table_rows([{"statement": "s"}]), r"\bclaims\b")],
    "claims.ClaimsTable": [(lambda: claims.ClaimsTable({"chapter": "x"}), r"\bdata\b")],
    # clipping
    "clipping.clip_by_norm": [(lambda: clipping.clip_by_norm(torch.ones(3), 0.0), r"\bmax_norm\b"),
                              (lambda: clipping.clip_by_norm(with_nan(torch.ones(3)), 1.0), r"\bg\b")],
    "clipping.clip_per_example": [(lambda: clipping.clip_per_example(torch.ones(3), 1.0), r"\bgrads\b"),
                                  (lambda: clipping.clip_per_example(torch.ones(3, 2), -1.0), r"\bmax_norm\b")],
    # data
    "data.load_digits": [(lambda: data.load_digits(test_fraction=1.5, device="cpu"), r"\btest_fraction\b")],
    "data.make_linear_regression": [(lambda: data.make_linear_regression(0, 3, device="cpu"), r"^n\b"),
                                    (lambda: data.make_linear_regression(10, 3, noise=-1.0, device="cpu"),
                                     r"\bnoise\b"),
                                    (lambda: data.make_linear_regression(10, 3, generator=gen(), device="cpu"),
                                     r"\bgenerator\b")],
    "data.least_squares_optimum": [(lambda: data.least_squares_optimum(X(), with_nan(X()[:, 0])), r"^y\b"),
                                   (lambda: data.least_squares_optimum(X(), X()[:3, 0]), r"^X\b")],
    "data.standardize_features": [
        (lambda: data.standardize_features(with_nan(X())), r"\bX_train\b"),
        (lambda: data.standardize_features(X(), torch.ones(2, 5, dtype=torch.float64)), r"\bX_test\b"),
    ],
    "data.feature_statistics": [(lambda: data.feature_statistics(torch.ones(3)), r"\bX_train\b")],
    "perturbations.augment_standardized": [
        (lambda: perturbations.augment_standardized(torch.zeros(2, 64), torch.zeros(64), torch.ones(64), side=0),
         r"\bside\b"),
        (lambda: perturbations.augment_standardized(torch.zeros(2, 64), torch.zeros(64), -torch.ones(64)), r"\bstd\b"),
    ],
    "data.class_subset": [(lambda: data.class_subset(X(), y(), []), r"\bclasses\b")],
    # device
    "device.size_profile": [(lambda: device.size_profile("tpu9"), r"\bdevice\b")],
    "device.budget": [(lambda: device.budget({"n": 1}, {"m": 2}, device="cpu"), r"\blarge\b")],
    "device.make_generator": [(lambda: device.make_generator(-1, "cpu"), r"\bseed\b"),
                              (lambda: device.make_generator(1.5, "cpu"), r"\bseed\b"),
                              (lambda: device.make_generator(0, "tpu9"), r"\bdevice\b")],
    "covariance.augmentation_noise_split": [
        (lambda: covariance.augmentation_noise_split(model64(), F.cross_entropy, X(), y(), lambda x: x, 0),
         r"\bdraws\b"),
    ],
    "ensemble.excess_trajectories": [
        (lambda: ensemble.excess_trajectories((X(), y()), lr=0.1, batch_size=2, n_steps=3, n_runs=2), r"\bproblem\b"),
        (lambda: ensemble.excess_trajectories(problem(), lr=-0.1, batch_size=2, n_steps=3, n_runs=2), r"\blr\b"),
        (lambda: ensemble.excess_trajectories(problem(), lr=0.1, batch_size=2, n_steps=3, n_runs=2, generator="seed"),
         r"\bgenerator\b"),
    ],
    "ensemble.steps_to_target": [
        (lambda: ensemble.steps_to_target(problem(), lrs=[0.1], batch_size=2, target=0.0, n_seeds=2, max_steps=5),
         r"\btarget\b"),
    ],
    # leastsquares
    "leastsquares.LeastSquares": [(lambda: leastsquares.LeastSquares(X(), with_nan(X()[:, 0])), r"^y\b"),
                                  (lambda: leastsquares.LeastSquares(X()[:, 0], X()[:, 0]), r"^X\b")],
    "leastsquares.SGDRuns": [(lambda: leastsquares.SGDRuns(problem(), 0), r"\bn_runs\b"),
                             (lambda: leastsquares.SGDRuns(problem(), 2, chunk_size=0), r"\bchunk_size\b"),
                             (lambda: leastsquares.SGDRuns(problem(), 2, torch.zeros(5)), r"\bw0\b")],
    "leastsquares.sgd": [
        (lambda: leastsquares.sgd(problem(), lr=0.1, batch_size=0, n_steps=3, n_runs=2), r"\bbatch_size\b"),
        (lambda: leastsquares.sgd(problem(), lr=0.1, batch_size=2, n_steps=3, n_runs=2, inject_var=-1.0),
         r"\binject_var\b"),
        (lambda: leastsquares.sgd(problem(), lr=0.1, batch_size=2, n_steps=3, n_runs=2, generator=1), r"\bgenerator\b"),
    ],
    "leastsquares.stationary_covariance": [
        (lambda: leastsquares.stationary_covariance(problem(), -0.1, 2), r"\blr\b"),
        (lambda: leastsquares.stationary_covariance(problem(), 0.1, 2, inject_var=-1.0), r"\binject_var\b"),
    ],
    "leastsquares.stationary_excess": [(lambda: leastsquares.stationary_excess(problem(), 0.1, 0), r"\bbatch_size\b")],
    "leastsquares.expected_excess": [
        (lambda: leastsquares.expected_excess(problem(), lr=0.1, batch_size=2, n_steps=0), r"\bn_steps\b"),
    ],
    "leastsquares.condition_number": [(lambda: leastsquares.condition_number(X(), rtol=-1.0), r"\brtol\b")],
    # fisher
    "fisher.empirical_fisher": [(lambda: fisher.empirical_fisher(torch.ones(3)), r"\bgrads\b")],
    "fisher.true_fisher": [(lambda: fisher.true_fisher(model64(), X(), chunk_size=0), r"\bchunk_size\b")],
    "fisher.subspace_overlap": [(lambda: fisher.subspace_overlap(torch.ones(3, 2), torch.ones(4, 2)), r"\bV\b")],
    # games
    "games.gda_bilinear": [(lambda: games.gda_bilinear(1.0, 1.0, -0.1, 10, True), r"\blr\b"),
                           (lambda: games.gda_bilinear(1.0, 1.0, 0.1, 10, True, sigma=0.1, generator=0),
                            r"\bgenerator\b"),
                           (lambda: games.gda_bilinear(1.0, 1.0, 0.1, 10, "no"), r"\balternating\b")],
    "games.simultaneous_radius_factor": [(lambda: games.simultaneous_radius_factor(NAN), r"\blr\b")],
    "games.alternating_invariant": [(lambda: games.alternating_invariant(1.0, 1.0, 0.0), r"\blr\b"),
                              (lambda: games.alternating_invariant(NAN, 1.0, 0.5), r"^x\b")],
    "games.expected_sq_radius_simultaneous": [
        (lambda: games.expected_sq_radius_simultaneous(1.0, 0.1, -1.0, 10), r"\bsigma\b"),
    ],
    "games.expected_invariant_alternating": [
        (lambda: games.expected_invariant_alternating(1.0, 0.1, 0.1, -1), r"\bn_steps\b"),
    ],
    # gradients
    "gradients.full_gradient": [(lambda: gradients.full_gradient(model64(), F.cross_entropy, X(), y()[:3]), r"\by\b")],
    "gradients.per_example_grads": [
        (lambda: gradients.per_example_grads(model64(), F.cross_entropy, X().float(), y()), r"\bX\b.*\bdtype\b"),
        (lambda: gradients.per_example_grads(model64(), F.cross_entropy, torch.ones(8, 5, dtype=torch.float64), y()),
         r"\bX\b.*\bfeatures\b"),
        (lambda: gradients.per_example_grads(model64(), F.cross_entropy, X(), y(), method="fast"), r"\bmethod\b"),
    ],
    "gradients.accumulated_gradient": [
        (lambda: gradients.accumulated_gradient(model64(), F.cross_entropy, X(), y(), 0), r"\bmicro_batch_size\b"),
    ],
    "gradients.per_example_grads_layers": [
        (lambda: gradients.per_example_grads_layers(model64(), F.cross_entropy, X(), y(), chunk_size=-1),
         r"\bchunk_size\b"),
    ],
    "gradients.per_example_sq_norms": [
        (lambda: gradients.per_example_sq_norms(model64(), F.cross_entropy, with_nan(X()), y()), r"\bX\b"),
    ],
    # graphs
    "graphs.stochastic_block_model": [(lambda: graphs.stochastic_block_model([5, 5], 1.5, 0.1), r"\bp_in\b"),
                                      (lambda: graphs.stochastic_block_model([5, 5], 0.5, 0.1, generator=0),
                                       r"\bgenerator\b")],
    "graphs.mean_aggregate": [(lambda: graphs.mean_aggregate(np.ones((3, 3)), np.ones((4, 2))), r"\bfeatures\b")],
    "graphs.sampled_mean_aggregate": [
        (lambda: graphs.sampled_mean_aggregate(np.ones((3, 3)), np.ones((3, 2)), 0, True, generator=rng()), r"\bk\b"),
        (lambda: graphs.sampled_mean_aggregate(np.ones((3, 3)), np.ones((3, 2)), 1, True, generator=0),
         r"\bgenerator\b"),
        (lambda: graphs.sampled_mean_aggregate(np.ones((3, 3)), np.ones((3, 2)), 1, "no", generator=rng()),
         r"\breplace\b"),
    ],
    "graphs.neighbour_variance": [(lambda: graphs.neighbour_variance(np.ones((3, 2)), np.ones((3, 2))),
                                   r"\badjacency\b")],
    "graphs.sampled_mean_variance": [
        (lambda: graphs.sampled_mean_variance(np.ones((3, 3)), np.ones((3, 2)), -1, True), r"\bk\b"),
    ],
    # hessian
    "hessian.hvp_operator": [(lambda: hessian.hvp_operator(model64(), F.cross_entropy, X(), y(), chunk_size=0),
                              r"\bchunk_size\b"),
                             (lambda: hessian.hvp_operator(model64(), F.cross_entropy, X().float(), y()),
                              r"\bX\b")],
    "hessian.full_hessian": [(lambda: hessian.full_hessian(model64(), F.cross_entropy, X(), y(), chunk_size=0),
                              r"\bchunk_size\b")],
    "hessian.lanczos_top_eigenpairs": [(lambda: hessian.lanczos_top_eigenpairs(hvp_diag(), 5, dim=4), r"\bk\b"),
                                       (lambda: hessian.lanczos_top_eigenpairs(hvp_diag(), 1, dim=6), r"\bdim\b")],
    "hessian.power_iteration": [(lambda: hessian.power_iteration(hvp_diag(), 1, dim=4, tol=0.0), r"\btol\b"),
                                (lambda: hessian.power_iteration(hvp_diag(), 1, dim=3), r"\bdim\b")],
    "hessian.rademacher": [(lambda: hessian.rademacher((3,), generator=42), r"\bgenerator\b"),
                           (lambda: hessian.rademacher((-3,)), r"\bshape\b")],
    "hessian.hutchinson_trace": [(lambda: hessian.hutchinson_trace(hvp_diag(), 1, dim=4), r"\bn_probes\b"),
                                 (lambda: hessian.hutchinson_trace(hvp_diag(), 4, dim=5), r"\bdim\b")],
    "hessian.spectral_density_slq": [(lambda: hessian.spectral_density_slq(hvp_diag(), 0, dim=4), r"\bn_probes\b"),
                                     (lambda: hessian.spectral_density_slq(hvp_diag(), 1, 3, dim=2), r"\bdim\b")],
    "hessian.gaussian_density": [(lambda: hessian.gaussian_density(torch.zeros(1), torch.ones(1), torch.zeros(3), 0.0),
                                  r"\bwidth\b"),
                                 (lambda: hessian.gaussian_density(torch.zeros(2), torch.ones(1), torch.zeros(3), 1.0),
                                  r"\bweights\b")],
    "hessian.sharpness": [(lambda: hessian.sharpness(model64(), F.cross_entropy, X(), y(), tol=-1.0), r"\btol\b")],
    # landscape
    "landscape.filter_normalized_direction": [
        (lambda: landscape.filter_normalized_direction(model64(), generator="seed"), r"\bgenerator\b"),
    ],
    "landscape.losses_at": [(lambda: landscape.losses_at(model64(), F.cross_entropy, X(), y(),
                                                         torch.zeros(2, 5, dtype=torch.float64)), r"\bpoints\b")],
    "landscape.loss_along_direction": [
        (lambda: landscape.loss_along_direction(model64(), F.cross_entropy, X(), y(), torch.zeros(5, dtype=torch.float64),
                                                torch.linspace(-1, 1, 3)), r"\bdirection\b"),
    ],
    "landscape.loss_interpolation": [
        (lambda: landscape.loss_interpolation(model64(), F.cross_entropy, X(), y(), torch.zeros(8, dtype=torch.float64),
                                              torch.zeros(7, dtype=torch.float64), torch.linspace(0, 1, 3)),
         r"\bw_b\b"),
    ],
    "landscape.loss_plane": [
        (lambda: landscape.loss_plane(model64(), F.cross_entropy, X(), y(), torch.zeros(8, dtype=torch.float64),
                                      torch.zeros(8, dtype=torch.float64), torch.linspace(0, 1, 3),
                                      torch.full((2,), NAN)), r"\bbetas\b"),
    ],
    "landscape.rescale_relu_layers": [
        (lambda: landscape.rescale_relu_layers(models.make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0)), 0, -2.0),
         r"\balpha\b"),
    ],
    "landscape.rescaling_factors": [
        (lambda: landscape.rescaling_factors(models.make_model("mlp", 3, 2, hidden=(4,), generator=torch.Generator().manual_seed(0)), 5, 2.0),
         r"\blayer\b"),
    ],
    # langevin
    "langevin.crossing": [(lambda: langevin.crossing(NAN), r"\bthreshold\b"),
                          (lambda: langevin.crossing(1.0, axis=0.5), r"\baxis\b")],
    "langevin.euler_maruyama": [
        (lambda: langevin.euler_maruyama(potentials.DoubleWell(), torch.zeros(4, 1), -0.1, 10, 1.0), r"\bdt\b"),
        (lambda: langevin.euler_maruyama(potentials.DoubleWell(), torch.zeros(4, 1), 0.1, 10, 1.0, generator=3),
         r"\bgenerator\b"),
    ],
    "langevin.sgd_on_potential": [
        (lambda: langevin.sgd_on_potential(potentials.DoubleWell(), torch.zeros(4, 1), 0.1, 10, batch_size=0),
         r"\bbatch_size\b"),
    ],
    # models
    "models.LogisticRegression": [(lambda: models.LogisticRegression(0, 2), r"\bn_features\b")],
    "models.MLP": [(lambda: models.MLP((3, 2), dropout=1.0), r"\bdropout\b")],
    "models.make_model": [(lambda: models.make_model("cnn", 3, 2, generator=torch.Generator().manual_seed(0)), r"\bkind\b"),
                          (lambda: models.make_model("mlp", 3, 2, hidden=(0,), generator=torch.Generator().manual_seed(0)), r"\bhidden\b"),
                          (lambda: models.make_model("mlp", 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.int64), r"\bdtype\b")],
    "models.count_parameters": [(lambda: models.count_parameters("model"), r"\bmodel\b")],
    "models.get_flat_params": [(lambda: models.get_flat_params(None), r"\bmodel\b")],
    "models.replace_head": [(lambda: models.replace_head(model64(), 0), r"\bn_classes\b"),
                            (lambda: models.replace_head(models.make_model("mlp", 3, 2, generator=torch.Generator().manual_seed(0)), 2,
                                                         generator=3), r"\bgenerator\b")],
    "models.smoothed_cross_entropy": [(lambda: models.smoothed_cross_entropy(1.5), r"\bepsilon\b")],
    "models.set_flat_params": [(lambda: models.set_flat_params(model64(), torch.zeros(3, dtype=torch.float64)),
                                r"\bflat\b"),
                               (lambda: models.set_flat_params(model64(), torch.full((8,), NAN, dtype=torch.float64)),
                                r"\bflat\b")],
    # morphogen
    "morphogen.exponential_profile": [(lambda: morphogen.exponential_profile(LINE, decay_length=0.0),
                                       r"\bdecay_length\b")],
    "morphogen.exponential_slope": [(lambda: morphogen.exponential_slope(LINE, c0=-1.0), r"\bc0\b")],
    "morphogen.exponential_position": [(lambda: morphogen.exponential_position(-0.5), r"^c\b")],
    "morphogen.power_law_profile": [(lambda: morphogen.power_law_profile(LINE, exponent=0.0), r"\bexponent\b")],
    "morphogen.power_law_slope": [(lambda: morphogen.power_law_slope(LINE, decay_length=-1.0), r"\bdecay_length\b")],
    "morphogen.power_law_position": [(lambda: morphogen.power_law_position(-0.5), r"^c\b")],
    "morphogen.positional_error": [(lambda: morphogen.positional_error(-0.1, 1.0), r"\bsigma_c\b")],
    "morphogen.positional_error_exponential": [
        (lambda: morphogen.positional_error_exponential(-0.1, 0.2), r"\brelative_noise\b"),
    ],
    "morphogen.exponential_decoding_moments": [
        (lambda: morphogen.exponential_decoding_moments(0.1, n_samples=0), r"\bn_samples\b"),
    ],
    "morphogen.samples_needed": [(lambda: morphogen.samples_needed(0.1, 0.0), r"\btarget_error\b")],
    "morphogen.read_multiplicative": [(lambda: morphogen.read_multiplicative(LINE, 0.1, generator=0), r"\bgenerator\b"),
                                      (lambda: morphogen.read_multiplicative(LINE, -0.1, generator=rng()),
                                       r"\brelative_noise\b")],
    "morphogen.read_poisson": [(lambda: morphogen.read_poisson(LINE, 0.0, generator=rng()), r"\bcounts_per_unit\b"),
                               (lambda: morphogen.read_poisson(LINE, 10.0, generator=0), r"\bgenerator\b")],
    "morphogen.poisson_relative_error": [(lambda: morphogen.poisson_relative_error(LINE, -1.0),
                                          r"\bcounts_per_unit\b")],
    "morphogen.boundary_position": [(lambda: morphogen.boundary_position(LINE, LINE[:5], 0.5), r"\breadout\b")],
    "morphogen.threshold_boundary_moments": [
        (lambda: morphogen.threshold_boundary_moments(LINE, np.exp(-LINE), 0.5, 0.1, rows=0), r"\brows\b"),
    ],
    "morphogen.threshold_boundary_sd_first_order": [
        (lambda: morphogen.threshold_boundary_sd_first_order(0.01, -0.1), r"\bspacing\b"),
    ],
    "morphogen.decoded_position_error": [(lambda: morphogen.decoded_position_error(LINE, np.ones(3)), r"\bdecoded\b")],
    "morphogen.nanomolar_to_per_cubic_micron": [(lambda: morphogen.nanomolar_to_per_cubic_micron(-1.0),
                                                 r"\bc_nanomolar\b")],
    "morphogen.berg_purcell_relative_error": [(lambda: morphogen.berg_purcell_relative_error(-1.0, 1.0, 1.0, 1.0),
                                               r"\bdiffusion\b")],
    "morphogen.berg_purcell_time": [(lambda: morphogen.berg_purcell_time(1.0, 1.0, 1.0, 0.0), r"\brelative_error\b")],
    # covariance
    "covariance.mean_gradient": [(lambda: covariance.mean_gradient(torch.ones(3)), r"\bgrads\b")],
    "covariance.covariance_matrix": [(lambda: covariance.covariance_matrix(with_nan(grads())), r"\bgrads\b")],
    "covariance.top_eigenpairs": [(lambda: covariance.top_eigenpairs(torch.eye(3), 4), r"\bk\b"),
                                  (lambda: covariance.top_eigenpairs(torch.ones(2, 3), 1), r"\bmatrix\b")],
    "covariance.covariance_top_eigenpairs": [(lambda: covariance.covariance_top_eigenpairs(grads(), 0), r"\bk\b")],
    "covariance.trace_covariance": [(lambda: covariance.trace_covariance(torch.ones(3)), r"\bgrads\b")],
    "covariance.gradient_moments_of_model": [
        (lambda: covariance.gradient_moments_of_model(model64(), F.cross_entropy, X(), y(), chunk_size=0),
         r"\bchunk_size\b"),
    ],
    "covariance.b_simple": [(lambda: covariance.b_simple(-1.0, 1.0), r"\btrace_sigma\b"),
                            (lambda: covariance.b_simple(1.0, NAN), r"\bgrad_sq_norm\b")],
    "covariance.gradient_diversity": [(lambda: covariance.gradient_diversity(torch.zeros(0, 3)), r"\bgrads\b")],
    "covariance.participation_ratio": [(lambda: covariance.participation_ratio([1.0, -1.0]), r"\beigenvalues\b")],
    "covariance.minibatch_variance_theory": [
        (lambda: covariance.minibatch_variance_theory(1.0, 10, 3, replace="no"), r"\breplace\b"),
        (lambda: covariance.minibatch_variance_theory(-1.0, 10, 3, True), r"\btrace_sigma\b"),
    ],
    "covariance.minibatch_means": [
        (lambda: covariance.minibatch_means(grads(), torch.tensor([[0, 12]])), r"\bindices\b"),
        (lambda: covariance.minibatch_means(grads(), torch.tensor([[0, -1]])), r"\bindices\b"),
        (lambda: covariance.minibatch_means(grads()[:, 0], torch.tensor([[0, 1]])), r"\bgrads\b"),
        (lambda: covariance.minibatch_means(grads(), torch.tensor([[0.0, 1.0]])), r"\bindices\b"),
    ],
    "covariance.minibatch_noise": [(lambda: covariance.minibatch_noise(grads(), torch.tensor([[0, 12]])),
                                    r"\bindices\b")],
    "covariance.measure_minibatch_variance": [
        (lambda: covariance.measure_minibatch_variance(grads(), 3, 1, True), r"\bn_batches\b"),
        (lambda: covariance.measure_minibatch_variance(grads(), 3, 5, "no"), r"\breplace\b"),
        (lambda: covariance.measure_minibatch_variance(grads(), 3, 5, True, generator=0), r"\bgenerator\b"),
    ],
    "covariance.minibatch_noise_trace": [
        (lambda: covariance.minibatch_noise_trace(model64(), F.cross_entropy, X(), y(), 0, 5), r"\bbatch_size\b"),
        (lambda: covariance.minibatch_noise_trace(model64(), F.cross_entropy, X(), y(), 2, 1), r"\bn_batches\b"),
    ],
    "covariance.gradient_noise_summary": [
        (lambda: covariance.gradient_noise_summary(model64(), F.cross_entropy, X(), y(), chunk_size=0),
         r"\bchunk_size\b"),
    ],
    "covariance.least_squares_gradient_covariance": [
        (lambda: covariance.least_squares_gradient_covariance(np.ones((4, 2)), np.ones(4), np.ones(3)), r"^w\b"),
    ],
    # perturbations
    "perturbations.flip_labels": [(lambda: perturbations.flip_labels(y(), 1.5, 2), r"\bfraction\b"),
                                  (lambda: perturbations.flip_labels(y(), 0.5, 1), r"\bn_classes\b")],
    "perturbations.augment_digits": [(lambda: perturbations.augment_digits(torch.zeros(2, 64), max_shift=-1.0),
                                      r"\bmax_shift\b"),
                                     (lambda: perturbations.augment_digits(torch.zeros(2, 64), padding="wrap"),
                                      r"\bpadding\b")],
    "perturbations.GeneratorDropout": [
        (lambda: perturbations.GeneratorDropout(1.0, generator=gen()), r"\bprobability p\b"),
        (lambda: perturbations.GeneratorDropout(0.5, generator=None), r"\bgenerator\b"),
    ],
    # precision
    "precision.precision_floor": [(lambda: precision.precision_floor(problem(), torch.int32), r"\bdtype\b")],
    "precision.input_rounding_floor": [
        (lambda: precision.input_rounding_floor(problem(), torch.float32, 0), r"\bn_draws\b"),
    ],
    # plotting
    "plotting.color": [(lambda: plotting.color(1.5), r"^i\b")],
    # potentials
    "potentials.Quadratic": [(lambda: potentials.Quadratic(NAN), r"\bhessian\b"),
                             (lambda: potentials.Quadratic([[1.0, 0.0], [0.0, 2.0]], center=[0.0]), r"\bcenter\b")],
    "potentials.DoubleWell": [(lambda: potentials.DoubleWell(height=0.0), r"\bheight\b")],
    "potentials.SharpFlatWells": [(lambda: potentials.SharpFlatWells(curvature_left=-1.0), r"\bcurvature_left\b")],
    "potentials.StrictSaddle": [(lambda: potentials.StrictSaddle(gamma=0.0), r"\bgamma\b")],
    "potentials.CurvedDoubleWell": [(lambda: potentials.CurvedDoubleWell(kappa=-1.0), r"\bkappa\b")],
    # sampling
    "sampling.sample_batches": [(lambda: sampling.sample_batches(10, 11, 2, replace=False), r"\bbatch_size\b"),
                                (lambda: sampling.sample_batches(10, 3, 2, replace="no"), r"\breplace\b"),
                                (lambda: sampling.sample_batches(10, 3, 2, True, generator=0), r"\bgenerator\b")],
    "sampling.epoch_batches": [(lambda: sampling.epoch_batches(10, 3, scheme="random"), r"\bscheme\b"),
                               (lambda: sampling.epoch_batches(10, 3, drop_last="yes"), r"\bdrop_last\b")],
    # scaling
    "scaling.noise_scale": [(lambda: scaling.noise_scale(torch.ones(3)), r"\bgrads\b")],
    "scaling.noise_scale_hessian": [(lambda: scaling.noise_scale_hessian(grads(), torch.eye(3, dtype=torch.float64)),
                                     r"\bhessian\b")],
    "scaling.noise_scale_of_model": [(lambda: scaling.noise_scale_of_model(model64(), F.cross_entropy, X(), y(),
                                                                           chunk_size=0), r"\bchunk_size\b")],
    "scaling.two_batch_estimates": [(lambda: scaling.two_batch_estimates(-1.0, 0.5, 2, 8), r"\bsq_norm_small\b"),
                                    (lambda: scaling.two_batch_estimates(1.0, -0.5, 2, 8), r"\bsq_norm_big\b"),
                                    (lambda: scaling.two_batch_estimates(1.0, 0.5, 8, 8), r"\bb_big\b")],
    "scaling.ema": [(lambda: scaling.ema([1.0, 2.0], 1.0), r"\bbeta\b")],
    "scaling.ema_weights": [(lambda: scaling.ema_weights(0, 0.9), r"\blength\b")],
    "scaling.NoiseScaleLogger": [(lambda: scaling.NoiseScaleLogger(F.cross_entropy, 0), r"\bb_small\b"),
                                 (lambda: scaling.NoiseScaleLogger(F.cross_entropy, 2, exact_every=-1),
                                  r"\bexact_every\b")],
    "scaling.fit_critical_batch": [(lambda: scaling.fit_critical_batch([1, 2], [10.0, 5.0, 3.0]), r"\bsteps\b")],
    "scaling.best_steps": [(lambda: scaling.best_steps(np.array([[-1.0, 2.0]])), r"\bsteps\b")],
    "scaling.bootstrap_critical_batch": [
        (lambda: scaling.bootstrap_critical_batch([1, 2, 4], np.ones((3, 2, 2)) * [[[10.0]], [[6.0]], [[4.0]]],
                                                  n_boot=0), r"\bn_boot\b"),
        (lambda: scaling.bootstrap_critical_batch([1, 2, 4], np.ones((3, 2, 2)) * [[[10.0]], [[6.0]], [[4.0]]],
                                                  generator=gen()), r"\bgenerator\b"),
    ],
    # schedules
    "schedules.constant_lr": [(lambda: schedules.constant_lr(0.0), r"\blr\b")],
    "schedules.as_schedule": [(lambda: schedules.as_schedule(2.5, "batch_size"), r"\bbatch_size\b")],
    "schedules.linear_scaling_lr": [(lambda: schedules.linear_scaling_lr(-0.1, 32, 64), r"\blr\b")],
    "schedules.sqrt_scaling_lr": [(lambda: schedules.sqrt_scaling_lr(0.1, 0, 64), r"\bbase_batch_size\b")],
    "schedules.injection_variance": [(lambda: schedules.injection_variance(1, -1.0), r"\bscale\b"),
                                     (lambda: schedules.injection_variance(-1, 1.0), r"\bstep\b")],
    "schedules.add_gradient_noise": [(lambda: schedules.add_gradient_noise([torch.ones(2)], -1.0), r"\bvariance\b"),
                                     (lambda: schedules.add_gradient_noise([torch.ones(2)], 1.0, 3), r"\bgenerator\b")],
    "schedules.inverse_sqrt_lr": [(lambda: schedules.inverse_sqrt_lr(0.1, t0=-1.0), r"\bt0\b")],
    "schedules.inverse_time_lr": [(lambda: schedules.inverse_time_lr(-1.0, 1.0), r"\bmu\b")],
    "schedules.step_decay_lr": [(lambda: schedules.step_decay_lr(0.1, 1.5, [10]), r"\bfactor\b"),
                                (lambda: schedules.step_decay_lr(0.1, 0.5, [10, 5]), r"\bmilestones\b")],
    "schedules.cosine_lr": [(lambda: schedules.cosine_lr(0.1, 0), r"\btotal_steps\b")],
    "schedules.warmup_lr": [(lambda: schedules.warmup_lr(schedules.constant_lr(0.1), -1), r"\bwarmup_steps\b"),
                            (lambda: schedules.warmup_lr(0.1, 10), r"\bschedule\b")],
    "schedules.step_batch_size": [(lambda: schedules.step_batch_size(8, 0, [10]), r"\bfactor\b")],
    "schedules.robbins_monro": [(lambda: schedules.robbins_monro(schedules.constant_lr(0.1), horizon=1),
                                 r"\bhorizon\b")],
    "schedules.three_phase": [(lambda: schedules.three_phase(0.1, 0.2, 8, 32, 10, 10), r"\blr_refine\b")],
    # tails
    "tails.inverse_tail_index": [(lambda: tails.inverse_tail_index(np.ones(100), block_size=1), r"\bblock_size\b")],
    "tails.tail_index": [(lambda: tails.tail_index(np.full(100, NAN)), r"\bsamples\b")],
    "tails.sample_symmetric_stable": [(lambda: tails.sample_symmetric_stable(2.5, 10, generator=rng()), r"\balpha\b"),
                                      (lambda: tails.sample_symmetric_stable(1.5, 10, generator=0), r"\bgenerator\b")],
    "tails.running_variance": [(lambda: tails.running_variance(np.ones((2, 3)), axis=5), r"\baxis\b")],
    # theory
    "theory.gibbs_density_1d": [(lambda: theory.gibbs_density_1d(potentials.DoubleWell(), LINE, 0.0),
                                 r"\btemperature\b")],
    "theory.gibbs_density_2d": [(lambda: theory.gibbs_density_2d(potentials.StrictSaddle(), LINE, LINE, -1.0),
                                 r"\btemperature\b")],
    "theory.stationary_variance_discrete": [(lambda: theory.stationary_variance_discrete(3.0, 1.0, 1.0),
                                             r"\blr\b")],
    "theory.stationary_variance_langevin": [(lambda: theory.stationary_variance_langevin(0.1, -1.0, 1.0),
                                             r"\bcurvature\b")],
    "theory.lyapunov_covariance_discrete": [(lambda: theory.lyapunov_covariance_discrete(0.1, np.eye(2), np.eye(3)),
                                             r"\bnoise_cov\b")],
    "theory.lyapunov_covariance_continuous": [
        (lambda: theory.lyapunov_covariance_continuous(0.1, np.eye(2), np.eye(2), batch_size=0), r"\bbatch_size\b"),
    ],
    "theory.kramers_rate": [(lambda: theory.kramers_rate(1.0, 1.0, -1.0, 0.5), r"\bbarrier\b")],
    "theory.mean_first_passage_time": [
        (lambda: theory.mean_first_passage_time(potentials.DoubleWell(), -1.0, 1.0, 0.5, n_grid=2), r"\bn_grid\b"),
    ],
    "theory.discrete_monitoring_shift": [(lambda: theory.discrete_monitoring_shift(0.5, 0.0), r"\bdt\b")],
    "theory.saddle_escape_steps": [(lambda: theory.saddle_escape_steps(0.1, 0.1, -1.0), r"\bgamma\b")],
    "theory.stationary_variance_after": [(lambda: theory.stationary_variance_after(-1, 0.1, 1.0, 1.0),
                                          r"\bn_steps\b")],
    "theory.stationary_density_1d": [(lambda: theory.stationary_density_1d(potentials.DoubleWell(), LINE, 0.5),
                                      r"\bdiffusion\b")],
    "theory.euler_maruyama_law_1d": [(lambda: theory.euler_maruyama_law_1d(potentials.DoubleWell(), LINE, -0.1, 0.5),
                                      r"\bdt\b")],
    "theory.stationary_excess_kurtosis_discrete": [
        (lambda: theory.stationary_excess_kurtosis_discrete(0.1, 1.0, -3.0), r"\bnoise_excess_kurtosis\b"),
    ],
    "theory.variance_under_schedule": [(lambda: theory.variance_under_schedule([0.1, -0.1], 1.0, 1.0), r"\blrs\b")],
    # training
    "training.objective": [(lambda: training.objective(model64(), F.cross_entropy, X(), y(), chunk_size=0),
                            r"\bchunk_size\b"),
                           (lambda: training.objective(model64(), F.cross_entropy, X().float(), y()), r"\bX\b")],
    "training.ParameterTrace": [(lambda: training.ParameterTrace([1.0, 2.0]), r"\bparam\b")],
    "training.accuracy": [(lambda: training.accuracy(model64(), X(), y()[:4]), r"\by\b")],
    "training.train_sgd": [
        (lambda: training.train_sgd(model64(), F.cross_entropy, X().float(), y(), lr=0.1, batch_size=2, epochs=1),
         r"\bX\b.*\bdtype\b"),
        (lambda: training.train_sgd(model64(), F.cross_entropy, torch.ones(8, 5, dtype=torch.float64), y(), lr=0.1,
                                    batch_size=2, epochs=1), r"\bX\b.*\bfeatures\b"),
        (lambda: training.train_sgd(model64(), F.cross_entropy, X(), y(), lr=0.1, batch_size=2, epochs=1,
                                    divergence_threshold=NAN), r"\bdivergence_threshold\b"),
        (lambda: training.train_sgd(model64(), F.cross_entropy, X(), y(), lr=0.1, batch_size=2, epochs=1,
                                    divergence_threshold=-1.0), r"\bdivergence_threshold\b"),
        (lambda: training.train_sgd(model64(), F.cross_entropy, X(), y(), lr=0.1, batch_size=2, epochs=1,
                                    grad_noise=0.1, generator="seed"), r"\bgenerator\b"),
    ],
    "training.minimize_full_batch": [(lambda: training.minimize_full_batch(model64(), F.cross_entropy, X(), y(),
                                                                           tol=0.0), r"\btol\b")],
    # vqe
    "vqe.pauli_matrix": [(lambda: vqe.pauli_matrix("XA"), r"\blabel\b")],
    "vqe.PauliHamiltonian": [(lambda: vqe.PauliHamiltonian({}), r"\bterms\b"),
                             (lambda: vqe.PauliHamiltonian({"XX": NAN}), r"\bterms\b")],
    "vqe.h2_bond_length_to_nuclear_repulsion": [(lambda: vqe.h2_bond_length_to_nuclear_repulsion(0.0),
                                                 r"\bbond_length_angstrom\b")],
    "vqe.h2_sto3g_fci_energy": [(lambda: vqe.h2_sto3g_fci_energy(-0.7), r"\bbond_length_angstrom\b")],
    "vqe.h2_fci_energy": [(lambda: vqe.h2_fci_energy(0.7, basis="6-31G**"), r"\bbasis\b")],
    "vqe.exact_ground_energy": [(lambda: vqe.exact_ground_energy({"ZZ": 1.0}), r"\bhamiltonian\b")],
    "vqe.basis_state": [(lambda: vqe.basis_state(4, 2), r"\bindex\b")],
    "vqe.ry_matrix": [(lambda: vqe.ry_matrix(NAN), r"\btheta\b")],
    "vqe.apply_single_qubit_gate": [(lambda: vqe.apply_single_qubit_gate(vqe.basis_state(0, 2), np.eye(3), 0),
                                     r"\bgate\b"),
                                    (lambda: vqe.apply_single_qubit_gate(vqe.basis_state(0, 2), np.eye(2), 2),
                                     r"\bqubit\b")],
    "vqe.apply_cnot": [(lambda: vqe.apply_cnot(vqe.basis_state(0, 2), 1, 1), r"\bcontrol\b")],
    "vqe.pauli_expectations": [(lambda: vqe.pauli_expectations(vqe.basis_state(0, 2), ["XXX"]), r"\blabel\b"),
                               (lambda: vqe.pauli_expectations(np.ones(3), ["XX"]), r"\bstate\b")],
    "vqe.energy": [(lambda: vqe.energy(vqe.basis_state(0, 3), H2), r"\bstate\b")],
    "vqe.one_parameter_state": [(lambda: vqe.one_parameter_state(NAN), r"\btheta\b")],
    "vqe.hardware_efficient_n_params": [(lambda: vqe.hardware_efficient_n_params(2, -1), r"\bn_layers\b")],
    "vqe.hardware_efficient_state": [(lambda: vqe.hardware_efficient_state(np.zeros(3), 2), r"\bparams\b")],
    "vqe.sample_pauli_estimates": [(lambda: vqe.sample_pauli_estimates([0.5], 0, generator=rng()), r"\bshots\b"),
                                   (lambda: vqe.sample_pauli_estimates([0.5], 10, generator=0), r"\bgenerator\b")],
    "vqe.pauli_estimate_variance": [(lambda: vqe.pauli_estimate_variance([1.5], 10), r"\bexpectations\b")],
    "vqe.sample_energy": [(lambda: vqe.sample_energy(vqe.basis_state(1, 2), H2, 100, generator=0), r"\bgenerator\b"),
                          (lambda: vqe.sample_energy(vqe.basis_state(1, 2), H2, 0, generator=rng()), r"\bshots_per_term\b")],
    "vqe.energy_estimator_variance": [(lambda: vqe.energy_estimator_variance(vqe.basis_state(1, 2), H2, 0),
                                       r"\bshots_per_term\b")],
    "vqe.shots_per_energy": [(lambda: vqe.shots_per_energy(H2, -5), r"\bshots_per_term\b")],
    "vqe.energy_function": [(lambda: vqe.energy_function(vqe.one_parameter_state, H2, 100, generator=0), r"\bgenerator\b"),
                            (lambda: vqe.energy_function("state", H2), r"\bstate_fn\b")],
    "vqe.parameter_shift_gradient": [
        (lambda: vqe.parameter_shift_gradient(vqe.energy_function(vqe.one_parameter_state, H2), np.zeros(1), 0.0),
         r"\bshift\b"),
    ],
    "vqe.spsa_gains": [(lambda: vqe.spsa_gains(1, 0.5, 0.0), r"^c\b")],
    "vqe.spsa_gradient": [
        (lambda: vqe.spsa_gradient(vqe.energy_function(vqe.one_parameter_state, H2), np.zeros(1), 0.1, generator=0),
         r"\bgenerator\b"),
    ],
    "vqe.parameter_shift_variance": [
        (lambda: vqe.parameter_shift_variance(vqe.one_parameter_state, H2, np.zeros(1), 0), r"\bshots_per_term\b"),
    ],
    "vqe.spsa_mean_squared_error": [
        (lambda: vqe.spsa_mean_squared_error(vqe.one_parameter_state, H2, np.zeros(1), -0.1, 100), r"^c\b"),
    ],
    "vqe.optimize_with_shot_budget": [
        (lambda: vqe.optimize_with_shot_budget(vqe.one_parameter_state, H2, np.zeros(1), 10_000, 100, generator=0),
         r"\bgenerator\b"),
        (lambda: vqe.optimize_with_shot_budget(vqe.one_parameter_state, H2, np.zeros(1), 10_000, 100,
                                               method="adam", generator=rng()), r"\bmethod\b"),
    ],
}

CASES["sgdnoise.progress"] = [
    (lambda: sgdnoise.progress(range(3), desc=""), r"\bdesc\b"),
    (lambda: sgdnoise.progress(range(3), desc="x", delay=-1.0), r"\bdelay\b"),
    (lambda: sgdnoise.progress(range(3), desc="x", total=-1), r"\btotal\b"),
    (lambda: sgdnoise.progress(range(3), desc="x", leave="no"), r"\bleave\b"),
]

# Public names that take nothing to validate, each with the reason.
def _figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    return fig


CASES.update({
    # animation (the figure is closed by the call or left to the garbage collector)
    "animation.animate_frames": [(lambda: animation.animate_frames(_figure(), lambda i: None, 1, alt="a dot moving right"),
                                  r"\bn_frames\b"),
                                 (lambda: animation.animate_frames(_figure(), lambda i: None, 3, alt=""), r"\balt\b")],
    "animation.slider_sweep": [(lambda: animation.slider_sweep(_figure(), lambda i: None, [1.0], knob="k",
                                                               alt="a dot moving right"), r"\bvalues\b"),
                               (lambda: animation.slider_sweep(_figure(), lambda i: None, [1.0, 2.0], knob="",
                                                               alt="a dot moving right"), r"\bknob\b")],
    "animation.render_frame": [(lambda: animation.render_frame(_figure(), colors=1), r"\bcolors\b"),
                               (lambda: animation.render_frame(_figure(), dpi=0), r"\bdpi\b")],
    # provenance
    "provenance.provenance": [(lambda: sgdnoise.provenance("not-a-device"), r"\bdevice\b")],
})

EXEMPT: dict[str, str] = {
    # Result containers: plain dataclasses that the library fills in and returns.
    "claims.Claim": "result record built by ClaimLog",
    "animation.FramePlayer": "result container returned by animate_frames and slider_sweep",
    "provenance.Provenance": "result container returned by provenance()",
    "provenance.git_commit": "takes no arguments",
    "data.Dataset": "result container returned by load_digits",
    "data.RegressionProblem": "result container returned by make_linear_regression",
    "ensemble.EnsembleTrace": "result container returned by excess_trajectories",
    "hessian.EigenResult": "result container returned by the eigensolvers",
    "langevin.Ensemble": "result container returned by euler_maruyama",
    "covariance.VarianceEstimate": "result container returned by measure_minibatch_variance",
    "scaling.CriticalBatch": "result container returned by fit_critical_batch",
    "schedules.RobbinsMonro": "result container returned by robbins_monro",
    "training.History": "result container returned by train_sgd",
    "vqe.VQEHistory": "result container returned by optimize_with_shot_budget",
    # No arguments.
    "claims.ClaimFailed": "an exception class",
    "potentials.Potential": "abstract base class, no constructor arguments",
    "device.default_device": "takes no arguments",
    "plotting.use_style": "takes no arguments",
    "vqe.h2_hamiltonian": "takes no arguments",
    "vqe.h2_omalley2016_hamiltonian": "takes no arguments",
    # Pure plotting helpers: draw on a matplotlib Axes, which validates its own arguments.
    "plotting.plot_theory": "pure plotting helper on an Axes",
    "plotting.plot_measured": "pure plotting helper on an Axes",
    "plotting.plot_band": "pure plotting helper on an Axes",
}


def public_modules():
    """Every public module of the package (no leading underscore)."""
    names = sorted(m.name for m in pkgutil.iter_modules(sgdnoise.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"sgdnoise.{name}") for name in names]


def public_callables():
    """``module.name`` of every public function and class defined in a public module (not re-exported)."""
    found = set()
    for mod in public_modules():
        short = mod.__name__.rsplit(".", 1)[1]
        for name, obj in vars(mod).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if obj.__module__ == mod.__name__:
                found.add(f"{short}.{name}")
    # Functions that the package exports from a private module (e.g. sgdnoise.progress from _progress).
    for name in sgdnoise.__all__:
        obj = getattr(sgdnoise, name, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.rsplit(".", 1)[1].startswith("_"):
            found.add(f"sgdnoise.{name}")
    return found


def test_every_public_module_is_walked():
    # The walk must see the modules sgdnoise exports (a walk over nothing would pass trivially).
    walked = {m.__name__.rsplit(".", 1)[1] for m in public_modules()}
    exported = {n for n in sgdnoise.__all__ if inspect.ismodule(getattr(sgdnoise, n, None))}
    assert exported <= walked and len(walked) >= 25


def test_every_public_callable_has_a_bad_input_case():
    public = public_callables()
    missing = sorted(public - set(CASES) - set(EXEMPT))
    assert not missing, f"public functions without a bad-input case in CASES (or a reason in EXEMPT): {missing}"


def test_table_names_only_existing_functions():
    public = public_callables()
    stale = sorted((set(CASES) | set(EXEMPT)) - public)
    assert not stale, f"CASES/EXEMPT name functions that no longer exist: {stale}"
    both = sorted(set(CASES) & set(EXEMPT))
    assert not both, f"in both CASES and EXEMPT: {both}"
    assert all(CASES[name] for name in CASES), "every CASES entry needs at least one case"


def _params():
    for name in sorted(CASES):
        for i, (call, pattern) in enumerate(CASES[name]):
            yield pytest.param(call, pattern, id=f"{name}[{i}]")


@pytest.mark.parametrize("call, pattern", list(_params()))
def test_bad_input_raises_value_error(call, pattern):
    try:
        call()
    except ValueError as err:
        assert re.search(pattern, str(err)), f"message {str(err)!r} does not name the parameter ({pattern})"
    except Exception as err:  # noqa: BLE001 - the point: anything but a ValueError fails
        pytest.fail(f"raised {type(err).__name__} instead of ValueError: {err}")
    else:
        pytest.fail("no exception raised")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: a CPU generator with CUDA data")
def test_cpu_generator_with_cuda_data_is_a_value_error():
    Xc, yc = X().cuda(), X()[:, 0].cuda()
    with pytest.raises(ValueError, match=r"\bgenerator\b.*\bcpu\b"):
        leastsquares.sgd(leastsquares.LeastSquares(Xc, yc), lr=0.1, batch_size=2, n_steps=5, n_runs=3,
                         generator=gen())
    p = problem()
    cuda = leastsquares.LeastSquares(p.X.cuda(), p.y.cuda())
    with pytest.raises(ValueError, match=r"\bgenerator\b.*\bcpu\b"):
        ensemble.excess_trajectories(cuda, lr=0.1, batch_size=2, n_steps=3, n_runs=2, generator=gen())


def test_generator_device_check_compares_devices():
    # Without a GPU the comparison itself is checked: a CPU generator passes for CPU data, and a
    # generator claimed to be on another device is refused with a message naming both devices.
    from sgdnoise._validate import check_generator

    g = gen()
    assert check_generator(g, torch.zeros(2)) is g and check_generator(None, "cuda") is None
    with pytest.raises(ValueError, match=r"\bgenerator\b is on cpu but the data is on meta"):
        check_generator(g, torch.empty(2, device="meta"), data="the data")
    with pytest.raises(ValueError, match=r"\bgenerator\b must be a torch.Generator"):
        check_generator(NotAGenerator(), "cpu")
