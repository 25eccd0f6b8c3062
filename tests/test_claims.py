"""Tests of sgdnoise.claims: every kind passes a true claim, fails a false one, and says why."""

import json
import math
import re

import numpy as np
import pytest

from sgdnoise.claims import ClaimFailed, ClaimLog, ClaimsTable, mean_and_se, ratio_se


@pytest.fixture
def log():
    return ClaimLog("test", profile="small", device="cpu")


def _sample_mean(generator, n, mu=1.0, sd=2.0):
    x = generator.normal(mu, sd, n)
    return mean_and_se(x)


# ---- each kind: a true claim passes, a deliberately wrong reference fails ------------------------

def test_agree_true_and_wrong_reference(log):
    rng = np.random.default_rng(0)
    m, se = _sample_mean(rng, 10_000)            # true mean 1, se 0.02
    c = log.agree("mean of N(1, 4)", m, 1.0, se, source="closed form")
    assert c.passed and abs(c.score) < 5
    # A 20 % wrong reference is 10 s.e. away: must fail.
    with pytest.raises(ClaimFailed, match=r"mean of N\(1, 4\).*measured.*reference 1\.2.*closed form"):
        log.agree("mean of N(1, 4)", m, 1.2, se, source="closed form")
    assert [c.passed for c in log.claims] == [True, False]      # the failure is recorded too


def test_agree_arrays_every_component_must_agree(log):
    c = log.agree("three means", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.01, 0.01, 0.01], source="s")
    assert c.passed and c.n == 3
    with pytest.raises(ClaimFailed):
        log.agree("three means", [1.0, 2.0, 3.1], [1.0, 2.0, 3.0], 0.01, source="s")
    assert log.claims[-1].measured == 3.1                  # the worst component is reported


def test_agree_detectable_is_tolerance_over_reference(log):
    c = log.agree("x", 10.0, 10.0, 0.1, source="s", n_se=5)
    assert c.detectable == pytest.approx(0.05)
    c = log.agree("x near zero", 0.01, 0.0, 0.1, source="s", scale=2.0)
    assert c.detectable == pytest.approx(0.25)


def test_exact_true_and_wrong(log):
    assert log.exact("1/3 * 3 = 1", (1 / 3) * 3, 1.0, rtol=4 * np.finfo(float).eps, source="arithmetic").passed
    with pytest.raises(ClaimFailed, match="rtol"):
        log.exact("1/3 * 3 = 1.001", (1 / 3) * 3, 1.001, rtol=1e-12, source="arithmetic")


def test_order_true_and_reversed(log):
    assert log.order("2 > 1", 1.0, 2.0, 0.1, source="s").passed
    with pytest.raises(ClaimFailed):
        log.order("1 > 2", 2.0, 1.0, 0.1, source="s")
    with pytest.raises(ClaimFailed):       # right direction but not resolved: 2.5 s.e. < 5 s.e.
        log.order("1.1 > 1", 1.0, 1.1, 0.04, source="s")


def test_paired_true_and_wrong(log):
    rng = np.random.default_rng(1)
    base = 3 + rng.normal(0, 1, 20)                # seed-to-seed spread far larger than the effect
    low, high = base, base + 0.5 + rng.normal(0, 0.05, 20)
    c = log.paired("paired gap", low, high, source="s")
    assert c.passed and c.n == 20
    with pytest.raises(ClaimFailed):
        log.paired("reversed", high, low, source="s")
    with pytest.raises(ClaimFailed):
        log.paired("no real gap", base, base + rng.normal(0, 0.05, 20), source="s")


def test_paired_threshold_is_the_student_t_quantile_and_few_or_identical_pairs_are_refused(log):
    from scipy import stats

    rng = np.random.default_rng(11)
    c = log.paired("gap", np.zeros(10) + 5, 5 + 1 + rng.normal(0, 0.1, 10), source="s")
    assert c.tolerance / c.se == pytest.approx(stats.t.isf(stats.norm.sf(5), 9))   # 12.4, not 5
    with pytest.raises(ValueError, match=">= 5"):
        log.paired("two pairs", [1.0, 5.0], [1.1, 5.1], source="s")
    with pytest.raises(ValueError, match="no spread"):
        log.paired("identical gaps", [1.0, 2, 3, 4, 5], [2.0, 3, 4, 5, 6], source="s")


def test_paired_false_pass_rate_under_no_effect_matches_the_normal_tail():
    # With the t quantile, 5 pairs of pure noise pass as rarely as a 5-sigma test: none in 5 000
    # trials (with the normal threshold 5, about 0.4 %, i.e. ~20 of them, would pass).
    rng = np.random.default_rng(12)
    passes = 0
    for _ in range(5_000):
        try:
            ClaimLog("t", profile="small", device="cpu").paired(
                "noise", np.full(5, 10.0), 10 + rng.normal(0, 1, 5), source="s", why_loose="pure noise")
            passes += 1
        except ClaimFailed:
            pass
    assert passes == 0


def test_slope_true_and_wrong(log):
    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 50)
    y = 3 * x + 1 + rng.normal(0, 0.01, 50)
    assert log.slope("slope 3", x, y, 3.0, source="s", y_se=0.01).passed
    assert log.slope("slope 3, se from residuals", x, y, 3.0, source="s").passed
    with pytest.raises(ClaimFailed):
        log.slope("slope 3.1", x, y, 3.1, source="s", y_se=0.01)


def test_slope_standard_error_matches_the_spread_over_repetitions():
    # The slope's reported s.e. must be the real one: compare with its spread over repetitions.
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 20)
    slopes, ses = [], []
    for _ in range(400):
        y = 2 * x + rng.normal(0, 0.1, 20)
        c = ClaimLog("t", profile="small", device="cpu").slope("s", x, y, 2.0, source="s", y_se=0.1,
                                                               why_loose="a test of the s.e. itself")
        slopes.append(c.measured)
        ses.append(c.se)
    # The reported s.e. equals the closed form 0.1/sqrt(sum (x - xbar)^2); the spread of 400 fitted
    # slopes estimates it to ~3.5 % (1 s.e.), so rel=0.15 is ~4 s.e. of that estimate.
    exact = 0.1 / np.sqrt(((x - x.mean()) ** 2).sum())
    # Birge inflation (chi2/nu > 1 in about half the repetitions) only ever raises the s.e.
    assert np.all(np.array(ses) >= exact * (1 - 1e-12)) and np.median(ses) == pytest.approx(exact, rel=0.1)
    assert np.std(slopes, ddof=1) == pytest.approx(exact, rel=0.15)


def test_distribution_true_and_wrong(log):
    rng = np.random.default_rng(4)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    obs = rng.multinomial(100_000, p)
    assert log.distribution("categorical", obs, 100_000 * p, source="s").passed
    wrong = 100_000 * np.array([0.11, 0.19, 0.3, 0.4])       # 10 % off in two bins
    with pytest.raises(ClaimFailed, match="categorical"):
        log.distribution("categorical", obs, wrong, source="s")


def test_distribution_true_claims_rarely_fail():
    # Under the null the standardized chi-squared (19 d.o.f.) exceeds 5 with probability ~1.4e-4:
    # no more than 3 failures in 300 trials (a false-failure rate of a few % would show).
    rng = np.random.default_rng(5)
    p = np.full(20, 0.05)
    fails = 0
    for _ in range(300):
        try:
            ClaimLog("t", profile="small", device="cpu").distribution("u", rng.multinomial(10_000, p),
                                                                      10_000 * p, source="s")
        except ClaimFailed:
            fails += 1
    assert fails <= 3


def test_bound_upper_and_lower(log):
    assert log.bound("below 2", 1.5, 2.0, source="s", deterministic=True).passed
    assert log.bound("below 2 within noise", 2.3, 2.0, se=0.1, source="s").passed   # 3 s.e. over
    with pytest.raises(ClaimFailed):
        log.bound("below 2", 2.6, 2.0, se=0.1, source="s")                           # 6 s.e. over
    assert log.bound("above 1", 1.5, 1.0, side="lower", source="s", deterministic=True).passed
    with pytest.raises(ClaimFailed):
        log.bound("above 1", 0.9, 1.0, side="lower", source="s", deterministic=True)


def test_magnitude_needs_a_reason_and_fails_outside_the_factor(log):
    c = log.magnitude("about 100", 250.0, 100.0, 3.0, source="s", why_loose="order of magnitude only")
    assert c.passed and c.detectable == pytest.approx(2.0)
    with pytest.raises(ClaimFailed):
        log.magnitude("about 100", 350.0, 100.0, 3.0, source="s", why_loose="order of magnitude only")
    with pytest.raises(ValueError, match="why_loose"):
        log.magnitude("about 100", 250.0, 100.0, 3.0, source="s", why_loose="")


# ---- the 25 % rule, and messages --------------------------------------------------------------

def test_loose_claim_is_refused_without_a_reason(log):
    with pytest.raises(ValueError, match=r"relative error of 0\.5.*why_loose"):
        log.agree("loose", 1.0, 1.0, 0.1, source="s")            # 5 * 0.1 / 1 = 50 %
    c = log.agree("loose", 1.0, 1.0, 0.1, source="s", why_loose="only the sign matters here")
    assert c.passed and c.why_loose
    assert len(log.claims) == 1                                   # the refused one is not recorded


def test_failure_message_states_every_field(log):
    with pytest.raises(ClaimFailed) as info:
        log.agree("the statement", 2.0, 1.0, 0.01, source="the source")
    msg = str(info.value)
    for part in ("the statement", "agree", "measured 2", "reference 1", "the source", "s.e. 0.01",
                 "score +100", "|z| <= 5", "tolerance 0.05", "relative error of 0.05"):
        assert part in msg, part


@pytest.mark.parametrize("call, name", [
    (lambda l: l.agree("", 1, 1, 0.1, source="s"), "statement"),
    (lambda l: l.agree("x", 1, 1, 0.1, source=""), "source"),
    (lambda l: l.agree("x", 1, 1, 0.0, source="s"), "se"),
    (lambda l: l.agree("x", float("nan"), 1, 0.1, source="s"), "measured"),
    (lambda l: l.agree("x", 1, 0.0, 0.1, source="s"), "scale"),
    (lambda l: l.agree("x", 1, 1, 0.1, source="s", n_se=0), "n_se"),
    (lambda l: l.exact("x", 1, 1, source="s", rtol=-1), "rtol"),
    (lambda l: l.order("x", 1, 2, -1, source="s"), "se"),
    (lambda l: l.paired("x", [1], [2], source="s"), "low and high"),
    (lambda l: l.slope("x", [1, 2], [1, 2], 1.0, source="s"), "x and y"),
    (lambda l: l.distribution("x", [1, 2], [1, 2], source="s"), "expected counts"),
    (lambda l: l.bound("x", 1, 2, source="s", side="left", deterministic=True), "side"),
    (lambda l: l.bound("x", 1, 2, source="s", se=0.0), "se"),
    (lambda l: l.agree("x", 1, 1, 0.1, source="s", dof=0), "dof"),
    (lambda l: l.magnitude("x", 1, 2, 0.5, source="s", why_loose="w"), "factor"),
])
def test_bad_inputs_raise_value_errors_naming_the_parameter(log, call, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        call(log)


def test_log_validates_profile_and_chapter():
    with pytest.raises(ValueError, match="profile"):
        ClaimLog("c", profile="huge", device="cpu")
    with pytest.raises(ValueError, match="chapter"):
        ClaimLog("", profile="small", device="cpu")


def test_log_defaults_to_the_library_profile_and_device():
    import sgdnoise as sn

    log = ClaimLog("c")
    assert log.profile == sn.size_profile() and log.device == sn.default_device().type


# ---- the table and its JSON ------------------------------------------------------------------

def test_table_html_carries_every_claim_as_json(log):
    log.agree("a < b & c", 1.0, 1.0, 0.01, source="closed form")
    log.exact("exact </script>", 0.0, 0.0, atol=1e-12, scale=1.0, source="arithmetic")
    table = log.table()
    assert isinstance(table, ClaimsTable)
    html_ = table._repr_html_()
    assert "a &lt; b &amp; c" in html_ and "2 of 2 claims hold" in html_
    payload = re.search(r'<script type="application/json" data-sgdnoise-claims>(.*?)</script>', html_, re.S)
    data = json.loads(payload.group(1).replace("<\\/", "</"))
    assert data["chapter"] == "test" and data["profile"] == "small" and data["device"] == "cpu"
    assert [c["statement"] for c in data["claims"]] == ["a < b & c", "exact </script>"]
    assert "claim | kind" in repr(table)


def test_empty_log_has_no_table(log):
    with pytest.raises(ValueError, match="no claims"):
        log.table()


def test_summary_totals(log):
    log.agree("tight", 1.0, 1.0, 0.001, source="s")
    log.agree("looser", 1.0, 1.0, 0.04, source="s")
    s = log.summary()
    assert s["claims"] == 2 and s["passed"] == 2
    assert s["loosest"] == pytest.approx(0.2) and s["loosest_statement"] == "looser"


# ---- helpers -------------------------------------------------------------------------------

def test_mean_and_se_against_numpy():
    x = np.arange(10.0)
    m, se = mean_and_se(x)
    assert m == 4.5 and se == pytest.approx(np.std(x, ddof=1) / math.sqrt(10))
    with pytest.raises(ValueError, match="two samples"):
        mean_and_se([1.0])


def test_ratio_se_against_monte_carlo():
    # Delta method vs the spread of a/b over independent draws (relative errors ~1 %).
    rng = np.random.default_rng(6)
    a = rng.normal(2.0, 0.02, 200_000)
    b = rng.normal(4.0, 0.04, 200_000)
    assert ratio_se(2.0, 0.02, 4.0, 0.04) == pytest.approx(np.std(a / b), rel=0.01)
    with pytest.raises(ValueError, match="b must be non-zero"):
        ratio_se(1.0, 0.1, 0.0, 0.1)


# ---- the referee's holes, closed ----------------------------------------------------------------

def test_bound_needs_a_standard_error_or_says_why(log):
    with pytest.raises(ValueError, match="no standard error"):
        log.bound("a single run's loss is below 1", 0.5, 1.0, source="s")
    c = log.bound("a single run's loss is below 1", 0.5, 1.0, source="s", why_loose="one seeded run")
    assert not c.error_known and c.passed
    c = log.bound("an identity", 0.5, 1.0, source="s", deterministic=True)
    assert c.error_known and c.detectable == 0
    from sgdnoise.claims import table_rows
    rows = table_rows([vars(x) for x in log.claims])
    assert rows[0][5].startswith("not assessed") and rows[1][5] == "0 (exact)"
    assert log.summary()["not_assessed"] == 1


def test_scale_cannot_make_a_check_look_tighter(log):
    with pytest.raises(ValueError, match="scale"):
        log.agree("1 vs 2", 1.0, 2.0, 1.0, source="s", scale=1e9)
    with pytest.raises(ValueError, match="scale"):
        log.exact("1 vs 2", 1.0, 2.0, atol=5, scale=1e10, source="s")
    with pytest.raises(ValueError, match="scale"):
        log.order("gap", 1.0, 2.0, 0.01, source="s", scale=100.0)
    c = log.agree("zero reference", 0.01, 0.0, 0.01, source="s", scale=1.0)   # allowed where r = 0
    assert c.detectable == pytest.approx(0.05)


def test_slope_of_a_curved_relation_is_not_hidden_by_small_error_bars(log):
    rng = np.random.default_rng(13)
    x = np.linspace(0, 1, 20)
    y = x + 3 * (x - 0.5) ** 2 + rng.normal(0, 0.01, 20)     # the fitted slope is ~1, the line is wrong
    c = log.slope("slope 1 of a parabola", x, y, 1.0, y_se=0.01, source="s", why_loose="misfit inflates the s.e.")
    assert "Birge" in c.rule and c.se > 10 * 0.01 / np.sqrt(((x - x.mean()) ** 2).sum())
    with pytest.raises(ValueError, match="constant"):
        log.slope("no x range", np.ones(5), np.arange(5.0), 1.0, source="s")


def test_distribution_validates_its_inputs(log):
    obs, exp = np.array([30, 30, 40]), np.array([30.0, 30.0, 40.0])
    with pytest.raises(ValueError, match="ddof"):
        log.distribution("x", obs, exp, ddof=-3, source="s")
    with pytest.raises(ValueError, match="integer counts"):
        log.distribution("x", obs + 0.5, exp + 0.5, source="s")
    with pytest.raises(ValueError, match="totals"):
        log.distribution("x", obs, exp * 1.1, source="s")


def test_infinite_values_and_blank_reasons_are_refused(log):
    with pytest.raises(ValueError, match="finite"):
        log.order("x", 1.0, float("inf"), 1.0, source="s")
    with pytest.raises(ValueError, match="why_loose"):
        log.agree("loose", 1.0, 1.0, 0.1, source="s", why_loose="   ")


def test_ledger_warns_on_a_failed_claim(monkeypatch):
    from types import SimpleNamespace

    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    from tooling import load_tool

    claims_ledger = load_tool("claims_ledger")
    log = ClaimLog("x", profile="small", device="cpu")
    with pytest.raises(ClaimFailed):
        log.agree("false", 2.0, 1.0, 0.01, source="s")      # a page that caught the failure
    doc = new_document("page", get_default_settings(Parser))
    doc += nodes.raw("", log.table()._repr_html_(), format="html")
    warnings = []
    monkeypatch.setattr(claims_ledger.LOGGER, "warning", lambda msg, **kw: warnings.append(msg))
    claims_ledger.collect_claims(SimpleNamespace(env=SimpleNamespace(docname="p")), doc)
    assert any("failed" in w for w in warnings)


def test_variance_and_sd_standard_errors_match_their_spread_for_non_gaussian_data():
    # Exponential samples (excess kurtosis 6): the Gaussian formula s^2 sqrt(2/n) would be ~2x too
    # small; the fourth-moment s.e. must match the spread of s^2 over repetitions (400 reps: the
    # spread itself is known to ~4 %, so 15 % is ~4 of its s.e.).
    from sgdnoise.claims import sd_and_se, variance_and_se

    rng = np.random.default_rng(21)
    x = rng.exponential(1.0, (400, 2000))
    v, se_v = variance_and_se(x, axis=1)
    assert np.median(se_v) == pytest.approx(np.std(v, ddof=1), rel=0.15)
    assert np.median(se_v) > 1.7 * np.sqrt(2 / 2000)          # not the Gaussian value
    sd, se_sd = sd_and_se(x, axis=1)
    assert np.median(se_sd) == pytest.approx(np.std(sd, ddof=1), rel=0.15)
    with pytest.raises(ValueError, match="two samples"):
        variance_and_se([1.0])
