"""Claims: the checks a chapter makes, recorded, failing loudly, and shown to the reader.

Every number a chapter states as "theory agrees with simulation" goes through a
:class:`ClaimLog`. Each check records a :class:`Claim` — the statement in words, the measured
value, the reference value and where it comes from, the standard error of the comparison, the
tolerance, and the **smallest relative error the check would detect** at this size — and raises
:class:`ClaimFailed` (an ``AssertionError``) that states all of them when the claim is false, so a
false claim still stops the build. At the end of a chapter :meth:`ClaimLog.table` shows what was
checked ("Checked on this page"); the book's ledger page collects those tables from the executed
chapters (``tools/claims_ledger.py``).

The kinds of comparison
-----------------------
===================  ==========================================================================
:meth:`~ClaimLog.agree`         a measurement and a reference agree within ``n_se`` standard
                                errors (scalars or arrays, every component must agree)
:meth:`~ClaimLog.exact`         a deterministic result equals its reference to a floating-point
                                tolerance
:meth:`~ClaimLog.order`         one quantity is larger than another, resolved by ``n_se`` s.e.
:meth:`~ClaimLog.paired`        the same ordering over paired runs (seeds), from the mean paired
                                difference and its standard error
:meth:`~ClaimLog.slope`         the least-squares slope of ``y`` on ``x`` agrees with a reference
:meth:`~ClaimLog.distribution`  histogram counts follow expected counts (Pearson's chi-squared)
:meth:`~ClaimLog.bound`         a measurement stays below (or above) a bound, up to ``n_se`` s.e.
:meth:`~ClaimLog.magnitude`     an order-of-magnitude statement: within a stated factor
===================  ==========================================================================

What "detectable error" means
-----------------------------
For a comparison with tolerance :math:`\\tau` (in the units of the measurement, e.g. 5 s.e.) and
reference scale :math:`r`, the detectable relative error is :math:`\\tau/|r|`: a true relative
deviation of that size moves the expected difference onto the tolerance, so the check fails at
least half the time, and a larger one fails more often. For an ordering it is the smallest
relative gap the check resolves; for a chi-squared test the root-mean-square relative error per
bin that raises :math:`\\chi^2` by the tolerance. A claim whose detectable error exceeds 25 % is
refused unless it says why in ``why_loose`` (an order-of-magnitude claim says so in words), and so
is a :meth:`~ClaimLog.bound` on a random quantity from a single run, which has no standard error
(its detectable error shows as "not assessed"). ``scale`` may replace a zero reference, never
enlarge the denominator. Where a standard error is estimated from few samples (seeds), pass its
degrees of freedom ``dof``: the threshold becomes the Student-t quantile with the same tail as
``n_se`` normal errors (:meth:`~ClaimLog.paired` always does this).

Examples
--------
>>> log = ClaimLog("demo", profile="small", device="cpu")
>>> c = log.agree("a fair coin lands heads half the time", 0.503, 0.5, se=0.005,
...               source="closed form")
>>> round(c.score, 2), c.passed
(0.6, True)
>>> log.agree("a biased coin", 0.6, 0.5, se=0.005, source="closed form")
Traceback (most recent call last):
...
sgdnoise.claims.ClaimFailed: claim failed: a biased coin ...
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

import numpy as np

__all__ = ["Claim", "ClaimFailed", "ClaimLog", "ClaimsTable", "mean_and_se", "ratio_se", "variance_and_se", "sd_and_se",
           "weighted_mean_and_se", "weighted_slope_and_se", "excess_kurtosis_and_se", "table_rows",
           "format_detectable", "TABLE_HEADER", "LOOSE_LIMIT"]

LOOSE_LIMIT = 0.25
"""Largest detectable relative error a claim may have without saying why (``why_loose``)."""

_JSON_MARK = "data-sgdnoise-claims"


class ClaimFailed(AssertionError):
    """A claim that the computation on the page does not support."""


@dataclass(frozen=True)
class Claim:
    """One checked statement.

    Attributes
    ----------
    statement : str
        The claim in words, as the reader sees it.
    kind : str
        ``agree``, ``exact``, ``order``, ``paired``, ``slope``, ``distribution``, ``bound`` or
        ``magnitude``.
    measured, reference : float
        The measured value and the value it is compared with (for array comparisons, the
        component with the largest standardized difference).
    source : str
        Where the reference comes from ("closed form", "exact integral", "scipy", ...).
    se : float
        Standard error of the comparison (0 for deterministic comparisons).
    tolerance : float
        Allowed difference (or required margin), in the units of ``measured``.
    rule : str
        The tolerance in words, e.g. ``"|z| <= 5"`` or ``"rtol 1e-10"``.
    score : float
        z = difference / s.e. for statistical kinds; the relative difference for deterministic ones.
    detectable : float
        Smallest relative error (or gap) the check would detect at this size.
    passed : bool
    n : int
        Number of components (points, bins, seeds) compared.
    why_loose : str
        Why a detectable error above 25 % is acceptable here (empty otherwise).
    error_known : bool
        False for a random quantity from a single run compared without a standard error: its
        detectable error is not assessed (and ``why_loose`` says so).
    """

    statement: str
    kind: str
    measured: float
    reference: float
    source: str
    se: float
    tolerance: float
    rule: str
    score: float
    detectable: float
    passed: bool
    n: int = 1
    why_loose: str = ""
    error_known: bool = True

    def describe(self) -> str:
        """All fields in one paragraph (the text of a failed claim's ``AssertionError``)."""
        return (f"{self.statement} [{self.kind}]: measured {self.measured:.6g} vs reference "
                f"{self.reference:.6g} ({self.source}); s.e. {self.se:.3g}, score {self.score:+.3g}, "
                f"rule {self.rule}, tolerance {self.tolerance:.3g}; detects a relative error of "
                + (f"{self.detectable:.3g}" if self.error_known else "(not assessed: no standard error)")
                + f"; n = {self.n}")


def _float(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def _array(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _n_se(n_se) -> float:
    n_se = _float("n_se", n_se)
    if not 0 < n_se <= 10:
        raise ValueError(f"n_se must be in (0, 10] standard errors, got {n_se}")
    return n_se


def _why(text: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"why_loose must be a string, got {text!r}")
    return text.strip()


def _threshold(n_se: float, dof: int | None) -> float:
    """The critical value: ``n_se``, or the Student-t quantile with the same one-sided tail."""
    if dof is None:
        return n_se
    if isinstance(dof, bool) or not isinstance(dof, (int, np.integer)) or dof < 1:
        raise ValueError(f"dof must be an integer >= 1, got {dof!r}")
    from scipy import stats

    return float(stats.t.isf(stats.norm.sf(n_se), int(dof)))


def _rule(prefix: str, c: float, n_se: float, dof: int | None) -> str:
    return f"{prefix} {c:.3g}" + (f" (t, {dof} d.o.f., tail of {n_se:g}σ)" if dof is not None else "")


def mean_and_se(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error, s / sqrt(n) with the unbiased s (ddof = 1).

    Parameters
    ----------
    x : array_like
        Samples along ``axis`` (at least two).
    axis : int
        The axis of the samples.

    Returns
    -------
    mean, se : numpy.ndarray (or float for 1-D input)

    Examples
    --------
    >>> m, se = mean_and_se([1.0, 2.0, 3.0, 4.0])
    >>> float(m), round(float(se), 4)
    (2.5, 0.6455)
    """
    arr = _array("x", x)
    if arr.ndim == 0 or arr.shape[axis] < 2:
        raise ValueError(f"x needs at least two samples along axis {axis}, got shape {arr.shape}")
    n = arr.shape[axis]
    mean = arr.mean(axis=axis)
    se = arr.std(axis=axis, ddof=1) / math.sqrt(n)
    return (float(mean), float(se)) if np.ndim(mean) == 0 else (mean, se)


def variance_and_se(x, axis: int | None = 0) -> tuple:
    """Unbiased sample variance and its standard error from the fourth central moment.

    .. math:: \\mathrm{se}(s^2) \\approx \\sqrt{(m_4 - m_2^2)/n}

    with :math:`m_k` the central sample moments; no Gaussian assumption (for Gaussian data it
    reduces to :math:`s^2\\sqrt{2/n}`). Reference: Casella & Berger (2002), exercise 5.8.

    Examples
    --------
    >>> v, se = variance_and_se([1.0, 2.0, 3.0, 4.0])
    >>> round(float(v), 4), round(float(se), 4)
    (1.6667, 0.5)
    """
    arr = _array("x", x)
    if axis is None:  # all samples pooled
        arr, axis = arr.ravel(), 0
    if arr.ndim == 0 or arr.shape[axis] < 2:
        raise ValueError(f"x needs at least two samples along axis {axis}, got shape {arr.shape}")
    n = arr.shape[axis]
    d = arr - arr.mean(axis=axis, keepdims=True)
    m2, m4 = (d**2).mean(axis=axis), (d**4).mean(axis=axis)
    var, se = arr.var(axis=axis, ddof=1), np.sqrt(np.maximum(m4 - m2**2, 0.0) / n)
    return (float(var), float(se)) if np.ndim(var) == 0 else (var, se)


def sd_and_se(x, axis: int | None = 0) -> tuple:
    """Sample standard deviation and its standard error, se(s) = se(s^2)/(2 s) (delta method).

    See :func:`variance_and_se` (``axis=None`` pools all samples); no Gaussian assumption.

    Examples
    --------
    >>> sd, se = sd_and_se([1.0, 2.0, 3.0, 4.0])
    >>> round(float(sd), 4), round(float(se), 4)
    (1.291, 0.1936)
    """
    var, se_var = variance_and_se(x, axis)
    if np.any(np.asarray(var) == 0):
        raise ValueError("x has zero sample variance (constant samples): the standard error of the standard "
                         "deviation, se(s^2)/(2 s), is undefined")
    sd = np.sqrt(var)
    return (float(sd), float(se_var / (2 * sd))) if np.ndim(sd) == 0 else (sd, se_var / (2 * sd))


def weighted_mean_and_se(x, se) -> tuple[float, float]:
    r"""Inverse-variance weighted mean of measurements ``x`` with standard errors ``se``, and its s.e.

    .. math:: \bar x = \frac{\sum_i w_i x_i}{\sum_i w_i}, \qquad w_i = \frac1{s_i^2}, \qquad
              \mathrm{se}(\bar x) = \Big(\sum_i w_i\Big)^{-1/2}

    (independent measurements of one quantity). Reference: Bevington & Robinson (2003), *Data
    Reduction and Error Analysis for the Physical Sciences*, §4.1.

    Parameters
    ----------
    x, se : array_like, shape (n,)
        Measurements and their standard errors (> 0), n >= 1.

    Returns
    -------
    (mean, standard_error) : tuple of float

    Examples
    --------
    >>> weighted_mean_and_se([1.0, 3.0], [1.0, 1.0])
    (2.0, 0.7071067811865475)
    """
    xv, s = _array("x", x).ravel(), _array("se", se).ravel()
    if xv.size < 1 or xv.shape != s.shape:
        raise ValueError(f"x and se must have the same length >= 1, got {xv.size} and {s.size}")
    if np.any(s <= 0):
        raise ValueError("se must be > 0")
    w = 1 / s**2
    return float((w * xv).sum() / w.sum()), float(1 / np.sqrt(w.sum()))


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of y on (1, x): coefficients and their covariance (XᵀWX)⁻¹."""
    X = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    return cov @ (X.T @ (w * y)), cov


def weighted_slope_and_se(x, y, y_se) -> tuple[float, float]:
    r"""Weighted least-squares slope of ``y`` on ``x`` (weights :math:`1/s_i^2`) and its standard error.

    The slope :math:`b` of :math:`y \approx a + b x` minimizing :math:`\sum_i (y_i - a - b x_i)^2/s_i^2`,
    with standard error :math:`\sqrt{[(X^\top W X)^{-1}]_{11}}` (the errors ``y_se`` taken as
    known; :meth:`ClaimLog.slope` adds the Birge ratio). Reference: Bevington & Robinson (2003),
    §6.3.

    Parameters
    ----------
    x, y, y_se : array_like, shape (n,)
        n >= 2 points, ``x`` not constant, ``y_se`` > 0.

    Returns
    -------
    (slope, standard_error) : tuple of float

    Examples
    --------
    >>> weighted_slope_and_se([0.0, 1.0, 2.0], [1.0, 3.0, 5.0], [1.0, 1.0, 1.0])
    (2.0, 0.7071067811865476)
    """
    xv, yv, s = _array("x", x).ravel(), _array("y", y).ravel(), _array("y_se", y_se).ravel()
    if xv.shape != yv.shape or xv.shape != s.shape or xv.size < 2:
        raise ValueError(f"x, y and y_se must have equal length >= 2, got {xv.size}, {yv.size}, {s.size}")
    if np.ptp(xv) == 0:
        raise ValueError("x must not be constant (no slope to fit)")
    if np.any(s <= 0):
        raise ValueError("y_se must be > 0")
    coef, cov = _wls(xv, yv, 1 / s**2)
    return float(coef[1]), float(np.sqrt(cov[1, 1]))


def excess_kurtosis_and_se(x) -> tuple[float, float]:
    r"""Sample excess kurtosis :math:`m_4/m_2^2 - 3` and its standard error (delta method).

    With central sample moments :math:`m_k = \frac1n\sum_i (x_i - \bar x)^k`, the standard
    error is the standard deviation of the influence function
    :math:`\psi_i = (d_i^4 - m_4)/m_2^2 - 2 m_4 (d_i^2 - m_2)/m_2^3` over :math:`\sqrt n`
    (:math:`d_i = x_i - \bar x`); no Gaussian assumption (for Gaussian data it tends to
    :math:`\sqrt{24/n}`). Reference: Serfling (1980), *Approximation Theorems of Mathematical
    Statistics*, §2.2.3 and §6.

    Parameters
    ----------
    x : array_like, shape (n,)
        n >= 4 samples, not all equal.

    Returns
    -------
    (excess_kurtosis, standard_error) : tuple of float

    Examples
    --------
    >>> k, se = excess_kurtosis_and_se(np.random.default_rng(0).standard_normal(200_000))
    >>> bool(abs(k) < 5 * se), round(se / math.sqrt(24 / 200_000), 1)
    (True, 1.0)
    """
    xv = _array("x", x).ravel()
    if xv.size < 4:
        raise ValueError(f"x needs at least 4 samples, got {xv.size}")
    d = xv - xv.mean()
    m2, m4 = (d**2).mean(), (d**4).mean()
    if m2 == 0:
        raise ValueError("x has zero sample variance: the kurtosis is undefined")
    influence = (d**4 - m4) / m2**2 - 2 * m4 * (d**2 - m2) / m2**3
    return float(m4 / m2**2 - 3), float(influence.std() / np.sqrt(xv.size))


def ratio_se(a: float, se_a: float, b: float, se_b: float, cov: float = 0.0) -> float:
    """Standard error of ``a / b`` by the delta method.

    .. math:: \\mathrm{se}(a/b)^2 \\approx \\frac{a^2}{b^2}\\left(\\frac{s_a^2}{a^2}
        + \\frac{s_b^2}{b^2} - \\frac{2\\,c_{ab}}{ab}\\right)

    Valid while the relative errors are small (say below 10 %). Reference: Casella & Berger
    (2002), section 5.5.4.

    Examples
    --------
    >>> round(ratio_se(2.0, 0.02, 4.0, 0.04), 5)
    0.00707
    """
    a, b = _float("a", a), _float("b", b)
    se_a, se_b = _float("se_a", se_a), _float("se_b", se_b)
    if b == 0:
        raise ValueError("b must be non-zero")
    if se_a < 0 or se_b < 0:
        raise ValueError(f"standard errors se_a, se_b must be >= 0, got {se_a}, {se_b}")
    var = (se_a / b) ** 2 + (a * se_b / b**2) ** 2 - 2 * a * _float("cov", cov) / b**3
    return math.sqrt(max(var, 0.0))


@dataclass
class ClaimLog:
    """The claims of one chapter, in the order they were checked.

    Parameters
    ----------
    chapter : str
        The chapter's name (e.g. its notebook's stem).
    profile : str, optional
        Size profile the numbers were computed at; default :func:`sgdnoise.size_profile`.
    device : str, optional
        Device they were computed on; default :func:`sgdnoise.default_device`.

    Every check method records a :class:`Claim`, returns it when it holds and raises
    :class:`ClaimFailed` when it does not. A claim whose detectable relative error exceeds
    :data:`LOOSE_LIMIT` (25 %) is refused with a ``ValueError`` unless ``why_loose`` says why.
    """

    chapter: str
    profile: str | None = None
    device: str | None = None
    claims: list[Claim] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chapter = _text("chapter", self.chapter)
        if self.profile is None or self.device is None:
            from .device import default_device, size_profile  # torch only when asked for

            dev = default_device()
            self.device = self.device or dev.type
            self.profile = self.profile or size_profile(dev)
        if self.profile not in ("small", "large"):
            raise ValueError(f"profile must be 'small' or 'large', got {self.profile!r}")

    # -- recording ------------------------------------------------------------------------
    def _record(self, claim: Claim) -> Claim:
        if not math.isfinite(claim.detectable) or claim.detectable < 0:
            raise ValueError(f"claim {claim.statement!r} has no finite detectable error "
                             f"({claim.detectable}); give a non-zero reference, or more samples")
        loose = claim.detectable > LOOSE_LIMIT or not claim.error_known
        if loose and not claim.why_loose:
            what = (f"would only detect a relative error of {claim.detectable:.3g} (> {LOOSE_LIMIT:.0%})"
                    if claim.error_known else "has no standard error (a single run)")
            raise ValueError(f"claim {claim.statement!r} {what}; tighten it (more samples, a standard "
                             f"error) or say why in why_loose")
        self.claims.append(claim)
        if not claim.passed:
            raise ClaimFailed("claim failed: " + claim.describe())
        return claim

    @staticmethod
    def _scale(reference: np.ndarray, scale) -> np.ndarray:
        """|reference|, or ``scale`` where the reference is zero (or where it is smaller: conservative)."""
        ref = np.abs(reference)
        if scale is None:
            if np.any(ref == 0):
                raise ValueError("reference is zero: pass scale= (the size the error is relative to)")
            return ref
        s = np.broadcast_to(_array("scale", scale), ref.shape)
        if np.any(s <= 0):
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if np.any((ref > 0) & (s > ref)):
            raise ValueError("scale may replace a zero reference, or be smaller than |reference| "
                             "(a stricter reading), never larger: a larger scale would hide a loose check")
        return s

    @staticmethod
    def _gap_scale(low: float, high: float, scale) -> float:
        natural = max(abs(low), abs(high))
        if scale is None:
            if natural == 0:
                raise ValueError("low and high are both zero: pass scale= (what the gap is relative to)")
            return natural
        sc = _float("scale", scale)
        if sc <= 0 or (natural > 0 and sc > natural):
            raise ValueError(f"scale must be > 0 and at most max(|low|, |high|) = {natural:.3g}, got {sc}")
        return sc

    # -- kinds ----------------------------------------------------------------------------
    def agree(self, statement: str, measured, reference, se, *, source: str, n_se: float = 5.0,
              dof: int | None = None, scale=None, why_loose: str = "") -> Claim:
        """Measured and reference agree: :math:`|m - r| \\le c\\,\\mathrm{se}` for every component.

        Parameters
        ----------
        statement, source : str
            The claim in words; where ``reference`` comes from.
        measured, reference, se : float or array_like
            Broadcastable; ``se`` > 0 is the standard error of ``measured - reference``.
        n_se : float
            Tolerance in standard errors, c = n_se (default 5). With a normal error of known
            s.e. a true claim fails with probability 5.7e-7 per component; with heavy-tailed
            samples and an estimated s.e. the rate is higher (use many samples).
        dof : int, optional
            Degrees of freedom of ``se`` when it is estimated from few samples (e.g. seeds - 1):
            c becomes the Student-t quantile with the same tail as ``n_se`` normal errors.
        scale : float or array_like, optional
            What the error is relative to where ``reference`` is 0 (it may not exceed |reference|).
        why_loose : str
            Required when the detectable error exceeds 25 %.
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        m, r, s = np.broadcast_arrays(_array("measured", measured), _array("reference", reference),
                                      _array("se", se))
        if np.any(s <= 0):
            raise ValueError("se must be > 0 (use exact() for deterministic comparisons)")
        c = _threshold(n_se, dof)
        z = (m - r) / s
        k = int(np.argmax(np.abs(z)))
        detect = c * s / self._scale(r, scale)
        return self._record(Claim(statement, "agree", float(m.flat[k]), float(r.flat[k]), source,
                                  float(s.flat[k]), float(c * s.flat[k]), _rule("|z| <=", c, n_se, dof),
                                  float(z.flat[k]), float(detect.max()), bool(np.all(np.abs(z) <= c)),
                                  int(m.size), _why(why_loose)))

    def exact(self, statement: str, measured, reference, *, source: str, rtol: float = 0.0,
              atol: float = 0.0, scale=None, why_loose: str = "") -> Claim:
        """A deterministic result: :math:`|m - r| \\le \\mathrm{atol} + \\mathrm{rtol}\\,|r|` everywhere.

        For results with no randomness at all (arithmetic identities, solvers, one trajectory
        computed two ways). The tolerance should come from floating-point arithmetic (a multiple
        of machine epsilon, a solver's tolerance), not from sampling; a random quantity from one
        seeded run is not exact — use :meth:`bound` or :meth:`agree` with a standard error.
        ``scale`` as in :meth:`agree`.
        """
        statement, source = _text("statement", statement), _text("source", source)
        rtol, atol = _float("rtol", rtol), _float("atol", atol)
        if rtol < 0 or atol < 0:
            raise ValueError(f"rtol and atol must be >= 0, got {rtol}, {atol}")
        m, r = np.broadcast_arrays(_array("measured", measured), _array("reference", reference))
        tol = atol + rtol * np.abs(r)
        sc = self._scale(r, scale)
        rel = np.abs(m - r) / sc
        k = int(np.argmax(rel))
        return self._record(Claim(statement, "exact", float(m.flat[k]), float(r.flat[k]), source, 0.0,
                                  float(tol.flat[k]), f"atol {atol:.1e} + rtol {rtol:.1e}",
                                  float(rel.flat[k]), float((tol / sc).max()),
                                  bool(np.all(np.abs(m - r) <= tol)), int(m.size), _why(why_loose)))

    def order(self, statement: str, low: float, high: float, se: float, *, source: str,
              n_se: float = 5.0, dof: int | None = None, scale: float | None = None,
              why_loose: str = "") -> Claim:
        """``high`` exceeds ``low`` by at least ``c`` standard errors of the difference.

        ``se`` is the standard error of ``high - low`` (add independent variances); ``c`` is
        ``n_se``, or the matching Student-t quantile when ``dof`` is given. Recorded with
        ``measured = low`` and ``reference = high``; the score is z = (high - low)/se and the
        detectable gap ``c * se / max(|low|, |high|)`` (``scale`` may only lower the denominator).
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        low, high, se = _float("low", low), _float("high", high), _float("se", se)
        if se <= 0:
            raise ValueError(f"se must be > 0, got {se}")
        sc = self._gap_scale(low, high, scale)
        c = _threshold(n_se, dof)
        z = (high - low) / se
        return self._record(Claim(statement, "order", low, high, source, se, c * se,
                                  _rule("z >=", c, n_se, dof), z, c * se / sc, bool(z >= c), 1, _why(why_loose)))

    def paired(self, statement: str, low, high, *, source: str, n_se: float = 5.0,
               scale: float | None = None, why_loose: str = "") -> Claim:
        """Over paired runs (same seed, two settings), ``high`` exceeds ``low`` on average.

        With paired differences :math:`d_i = \\mathrm{high}_i - \\mathrm{low}_i` (k >= 5 pairs),
        :math:`t = \\bar d/(s_d/\\sqrt{k})` has a Student-t law with k - 1 degrees of freedom,
        and the check is :math:`t \\ge t_{k-1}`, the quantile with the same one-sided tail as
        ``n_se`` normal errors (for n_se = 5: 56.8 at k = 5, 12.4 at k = 10, 7.4 at k = 20). The
        detectable gap is relative to the larger of the two means in absolute value.
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        lo, hi = _array("low", low).ravel(), _array("high", high).ravel()
        if lo.shape != hi.shape or lo.size < 5:
            raise ValueError(f"low and high must be paired samples of equal length >= 5, got {lo.size}, {hi.size}")
        d_mean, d_se = mean_and_se(hi - lo)
        if d_se == 0:
            raise ValueError("the paired differences have no spread (se = 0): a deterministic "
                             "difference is a job for exact() or bound()")
        ref = float(hi.mean())
        sc = self._gap_scale(float(lo.mean()), ref, scale)
        c = _threshold(n_se, lo.size - 1)
        t = d_mean / d_se
        return self._record(Claim(statement, "paired", float(lo.mean()), ref, source, d_se, c * d_se,
                                  _rule("t >=", c, n_se, lo.size - 1), t, c * d_se / sc, bool(t >= c),
                                  int(lo.size), _why(why_loose)))

    def slope(self, statement: str, x, y, reference: float, *, source: str, y_se=None,
              n_se: float = 5.0, why_loose: str = "") -> Claim:
        """The least-squares slope of ``y`` on ``x`` agrees with ``reference``.

        With ``y_se`` the fit is weighted (weights 1/se²) and the slope's standard error is
        :math:`\\sqrt{[(X^\\top W X)^{-1}]_{11}}`, inflated by the Birge ratio
        :math:`\\sqrt{\\max(1, \\chi^2/(n-2))}` when the line does not describe the points within
        their errors (Birge 1932; the Particle Data Group's scale factor), so a curved relation
        cannot hide behind small error bars. Without ``y_se`` the standard error comes from the
        residuals and the threshold is the Student-t quantile with n - 2 degrees of freedom.
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        xv, yv = _array("x", x).ravel(), _array("y", y).ravel()
        reference = _float("reference", reference)
        if xv.shape != yv.shape or xv.size < 3:
            raise ValueError(f"x and y must have equal length >= 3, got {xv.size}, {yv.size}")
        if np.ptp(xv) == 0:
            raise ValueError("x must not be constant (no slope to fit)")
        if reference == 0:
            raise ValueError("reference slope must be non-zero (the error is relative to it)")
        X = np.column_stack([np.ones_like(xv), xv])
        nu = xv.size - 2
        if y_se is not None:
            s = np.broadcast_to(_array("y_se", y_se), yv.shape)
            if np.any(s <= 0):
                raise ValueError("y_se must be > 0")
            w = 1 / s**2
            coef, cov = _wls(xv, yv, w)
            chi2 = float((w * (yv - X @ coef) ** 2).sum())
            birge = math.sqrt(max(1.0, chi2 / nu)) if nu > 0 else 1.0
            se = float(math.sqrt(cov[1, 1])) * birge
            c, rule = n_se, f"|z| <= {n_se:g}" + (f" (s.e. × Birge ratio {birge:.2g})" if birge > 1 else "")
        else:
            coef, *_ = np.linalg.lstsq(X, yv, rcond=None)
            resid = yv - X @ coef
            cov = np.linalg.inv(X.T @ X) * (resid @ resid) / nu
            se = float(math.sqrt(cov[1, 1]))
            c = _threshold(n_se, nu)
            rule = _rule("|t| <=", c, n_se, nu)
        if se == 0:
            raise ValueError("the slope's standard error is zero (exact data: use exact())")
        b = float(coef[1])
        z = (b - reference) / se
        return self._record(Claim(statement, "slope", b, reference, source, se, c * se, rule, z,
                                  c * se / abs(reference), bool(abs(z) <= c), int(xv.size), _why(why_loose)))

    def distribution(self, statement: str, observed, expected, *, source: str, n_se: float = 5.0,
                     ddof: int = 0, why_loose: str = "") -> Claim:
        """Histogram counts follow expected counts: Pearson's chi-squared, standardized.

        With :math:`k` bins and :math:`\\nu = k - 1 - \\mathrm{ddof}` degrees of freedom,
        :math:`z = (\\chi^2 - \\nu)/\\sqrt{2\\nu}` and the check is :math:`z \\le n_{se}`. A
        relative error :math:`\\delta` in every bin adds about :math:`N\\delta^2` to
        :math:`\\chi^2` (N counts in all), so the detectable error is
        :math:`\\sqrt{n_{se}\\sqrt{2\\nu}/N}` (at that size the check fails about half the time).
        ``observed`` must be counts (integers) of one sample, and ``expected`` must add up to
        the same total (put the tails in end bins). Bins should expect at least 5 counts.
        Reference: Cochran (1952), *Ann. Math. Statist.* 23, 315.
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        o, e = _array("observed", observed).ravel(), _array("expected", expected).ravel()
        if o.shape != e.shape or o.size < 2:
            raise ValueError(f"observed and expected must have equal length >= 2, got {o.size}, {e.size}")
        if np.any(e <= 0) or np.any(o < 0):
            raise ValueError("expected counts must be > 0 and observed counts >= 0")
        if not np.all(o == np.round(o)):
            raise ValueError("observed must be integer counts of one sample (averaged histograms "
                             "understate the noise of chi-squared)")
        if e.min() < 5:
            raise ValueError(f"expected counts must be >= 5 per bin for the chi-squared test, got {e.min():.3g}")
        if abs(o.sum() - e.sum()) > 1e-6 * o.sum():
            raise ValueError(f"observed and expected totals differ ({o.sum():.6g} vs {e.sum():.6g}): "
                             "normalize expected to the observed total, tails included")
        if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
            raise ValueError(f"ddof must be an integer >= 0, got {ddof!r}")
        nu = o.size - 1 - int(ddof)
        if nu < 1:
            raise ValueError(f"ddof leaves {nu} degrees of freedom")
        chi2 = float(((o - e) ** 2 / e).sum())
        se = math.sqrt(2 * nu)
        z = (chi2 - nu) / se
        return self._record(Claim(statement, "distribution", chi2, float(nu), source, se, n_se * se,
                                  f"z <= {n_se:g}", z, math.sqrt(n_se * se / e.sum()), bool(z <= n_se),
                                  int(o.size), _why(why_loose)))

    def bound(self, statement: str, measured: float, bound: float, *, source: str, se: float | None = None,
              side: str = "upper", n_se: float = 5.0, dof: int | None = None, rtol: float = 0.0,
              deterministic: bool = False, why_loose: str = "") -> Claim:
        """``measured`` respects ``bound`` (from above for ``side="upper"``), up to ``c`` s.e.

        The check is :math:`m \\le b + c\\,\\mathrm{se} + \\mathrm{rtol}\\,|b|` (mirrored for
        ``side="lower"``); the detectable violation is the same allowance relative to ``|b|``.
        A bound needs one of: a standard error ``se`` of ``measured - bound``; ``deterministic=True``
        for a quantity with no randomness (then only ``rtol`` is allowed); or, for a random
        quantity from a single run, ``why_loose`` saying so — the table then shows its detectable
        error as "not assessed".
        """
        statement, source, n_se = _text("statement", statement), _text("source", source), _n_se(n_se)
        m, b, rtol = _float("measured", measured), _float("bound", bound), _float("rtol", rtol)
        if se is not None:
            se = _float("se", se)
            if se <= 0:
                raise ValueError(f"se must be > 0, got {se} (use deterministic=True for a quantity without noise)")
            if deterministic:
                raise ValueError("a deterministic bound has no se")
        if rtol < 0:
            raise ValueError(f"rtol must be >= 0, got {rtol}")
        if side not in ("upper", "lower"):
            raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
        if b == 0:
            raise ValueError("bound must be non-zero (the allowance is relative to it)")
        c = _threshold(n_se, dof) if se else 0.0
        allow = c * (se or 0.0) + rtol * abs(b)
        margin = (b - m) if side == "upper" else (m - b)
        score = margin / se if se else margin / abs(b)
        sign = "+" if side == "upper" else "-"
        rule = (f"{'<=' if side == 'upper' else '>='} bound" + (f" {sign} {_rule('', c, n_se, dof).strip()} s.e."
                                                              if se else "")
                + (f" {sign} rtol {rtol:.1e}·|bound|" if rtol else ""))
        known = se is not None or deterministic
        return self._record(Claim(statement, "bound", m, b, source, se or 0.0, allow, rule, score, allow / abs(b),
                                  bool(margin >= -allow), 1, _why(why_loose), known))

    def magnitude(self, statement: str, measured: float, reference: float, factor: float, *,
                  source: str, why_loose: str) -> Claim:
        """An order-of-magnitude claim: :math:`1/f \\le m/r \\le f`.

        Its detectable error is ``factor - 1``, above 25 % for any useful factor, so
        ``why_loose`` is required: say in words why only the magnitude is claimed.
        """
        statement, source = _text("statement", statement), _text("source", source)
        m, r, f = _float("measured", measured), _float("reference", reference), _float("factor", factor)
        if f <= 1:
            raise ValueError(f"factor must be > 1, got {f}")
        if r == 0 or m == 0 or (m > 0) != (r > 0):
            raise ValueError("measured and reference must be non-zero and of the same sign")
        ratio = m / r
        return self._record(Claim(statement, "magnitude", m, r, source, 0.0, f, f"ratio within x{f:g}",
                                  math.log10(ratio), f - 1, bool(1 / f <= ratio <= f), 1,
                                  _text("why_loose", why_loose)))

    # -- reporting ------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Totals: number of claims, how many passed, the loosest detectable error."""
        assessed = [c for c in self.claims if c.error_known]
        loosest = max(assessed, key=lambda c: c.detectable, default=None)
        return {"chapter": self.chapter, "profile": self.profile, "device": self.device,
                "claims": len(self.claims), "passed": sum(c.passed for c in self.claims),
                "not_assessed": len(self.claims) - len(assessed),
                "loosest": None if loosest is None else loosest.detectable,
                "loosest_statement": None if loosest is None else loosest.statement}

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: the chapter, profile, device and every claim's fields."""
        return {"chapter": self.chapter, "profile": self.profile, "device": self.device,
                "claims": [asdict(c) for c in self.claims]}

    def table(self) -> "ClaimsTable":
        """The "Checked on this page" table (HTML in a notebook, text elsewhere)."""
        if not self.claims:
            raise ValueError(f"chapter {self.chapter!r} has recorded no claims")
        return ClaimsTable(self.to_dict())


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    return f"{x:.3g}" if 1e-3 <= a < 1e4 else f"{x:.2e}"


def format_detectable(x: float) -> str:
    """A detectable relative error for a table: a percentage, or 0 for an exact comparison.

    ``x`` is a relative error, finite and >= 0 (as :class:`ClaimLog` records it).

    Examples
    --------
    >>> format_detectable(0.05), format_detectable(0.0)
    ('5 %', '0 (exact)')
    """
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"x must be a number, got {x!r}") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"x (a detectable relative error) must be finite and >= 0, got {x}")
    if x == 0:
        return "0 (exact)"
    return f"{100 * x:.2g} %" if x >= 1e-4 else f"{x:.0e}"


def table_rows(claims: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The table's cells for a list of claims (dicts with :class:`Claim`'s fields, as ``ClaimLog.to_dict()`` has)."""
    _check_claim_dicts(claims)
    rows = []
    for c in claims:
        statement = c["statement"] + (f" (loose: {c['why_loose']})" if c["why_loose"] else "")
        kind, se = c["kind"], c["se"]
        if kind in ("order", "paired"):
            measured = f"{_fmt(c['measured'])} vs {_fmt(c['reference'])} (s.e. of the gap {_fmt(se)})"
            reference = f"the larger value — {c['source']}"
        elif kind == "distribution":
            measured = f"χ² = {_fmt(c['measured'])} on {int(c['reference'])} d.o.f."
            reference = f"χ² ≈ d.o.f. — {c['source']}"
        else:
            measured = _fmt(c["measured"]) + (f" ± {_fmt(se)}" if se else "")
            reference = f"{_fmt(c['reference'])} — {c['source']}"
        if kind == "bound":
            label = "margin/s.e. " if se else "margin/|bound| "
        else:
            label = {"agree": "z = ", "order": "z = ", "paired": "t = ", "slope": "z = ",
                     "distribution": "z = ", "exact": "rel. diff. ", "magnitude": "log₁₀ ratio "}[kind]
        n = f" (n = {c['n']})" if c["n"] > 1 else ""
        detect = format_detectable(c["detectable"]) if c.get("error_known", True) else "not assessed (single run)"
        rows.append([statement, kind + n, measured, reference, label + f"{c['score']:+.2g} ({c['rule']})",
                     detect, "✓" if c["passed"] else "✗"])
    return rows


def _check_claim_dicts(claims) -> None:
    """Raise a ValueError naming ``claims`` unless it is a list of dicts with every field the table needs."""
    if isinstance(claims, (str, bytes, dict)) or not isinstance(claims, Sequence):
        raise ValueError(f"claims must be a list of dicts with Claim's fields, got {type(claims).__name__}")
    needed = {f.name for f in fields(Claim)} - {"error_known"}
    for i, c in enumerate(claims):
        if not isinstance(c, dict):
            raise ValueError(f"claims[{i}] must be a dict with Claim's fields, got {type(c).__name__}")
        missing = sorted(needed - set(c))
        if missing:
            raise ValueError(f"claims[{i}] lacks the fields {missing}")


TABLE_HEADER = ["claim", "kind", "measured ± s.e.", "reference — source", "score (rule)",
                "detects a relative error of", "pass"]


class ClaimsTable:
    """What :meth:`ClaimLog.table` returns: an HTML table carrying its data as JSON.

    The JSON (in a ``<script type="application/json">`` element) is what the book's ledger
    page reads from the executed chapter, so the ledger cannot drift from the chapters.
    """

    def __init__(self, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise ValueError(f"data must be a dict as ClaimLog.to_dict() returns, got {type(data).__name__}")
        missing = sorted({"chapter", "profile", "device", "claims"} - set(data))
        if missing:
            raise ValueError(f"data lacks the keys {missing} (it must be what ClaimLog.to_dict() returns)")
        _check_claim_dicts(data["claims"])
        self.data = data

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in TABLE_HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in table_rows(self.data["claims"]))
        s = ClaimLog.summary(_LogView(self.data))
        caption = (f"{s['passed']} of {s['claims']} claims hold, computed at the "
                   f"<code>{html.escape(str(self.data['profile']))}</code> size on "
                   f"<code>{html.escape(str(self.data['device']))}</code>.")
        payload = json.dumps(self.data, allow_nan=False).replace("</", "<\\/")
        return (f'<div class="sgdnoise-claims"><p>{caption}</p>'
                f'<table class="table sgdnoise-claims-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>"
                f'<script type="application/json" {_JSON_MARK}>{payload}</script></div>')

    def __repr__(self) -> str:
        lines = [" | ".join(TABLE_HEADER)]
        lines += [" | ".join(row) for row in table_rows(self.data["claims"])]
        return "\n".join(lines)


class _LogView:
    """Just enough of a ClaimLog for :meth:`ClaimLog.summary` on plain data."""

    def __init__(self, data: dict[str, Any]):
        self.chapter, self.profile, self.device = data["chapter"], data["profile"], data["device"]
        self.claims = [Claim(**c) for c in data["claims"]]
