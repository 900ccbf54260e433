"""The verdict rule (ogm_lib/report/stats.py): against scipy, Holm on a worked example, and its error rate
under a true null effect."""

import math

import numpy as np
import pytest
from scipy import stats as st

from ogm_lib.report.stats import ALPHA, binomial_se, covers, holm, judge, paired_test

A = [0.61, 0.58, 0.64, 0.60, 0.63, 0.59, 0.62]
B = [0.55, 0.57, 0.60, 0.61, 0.58, 0.56, 0.60]


def test_paired_test_equals_scipy_ttest_rel():
    t = paired_test(A, B)
    ref = st.ttest_rel(A, B, alternative="greater")
    assert t.t == pytest.approx(ref.statistic, rel=1e-12)
    assert t.p_greater == pytest.approx(ref.pvalue, rel=1e-12)
    assert t.p_less == pytest.approx(st.ttest_rel(A, B, alternative="less").pvalue, rel=1e-12)
    ci = st.ttest_rel(A, B).confidence_interval(0.95)
    assert (t.ci_low, t.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert t.n == 7 and t.mean == pytest.approx(np.mean(np.subtract(A, B)))


def test_holm_worked_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])  # one claim: no correction
    assert holm([float("nan"), 0.01]) == pytest.approx([1.0, 0.02])  # no test counts as p = 1


def test_labels_in_both_directions_and_degenerate_cases():
    up, down, flat = (paired_test(np.add(B, 0.05), B), paired_test(np.subtract(B, 0.05), B), paired_test(B, B))
    assert [j.label for j in judge([up])] == ["reproduced"]  # constant positive difference
    assert [j.label for j in judge([down])] == ["contradicted"]
    assert [j.label for j in judge([flat])] == ["inconclusive"]
    assert [j.label for j in judge([paired_test([0.7], [0.5])])] == ["inconclusive"]  # one pair: no test
    noisy = paired_test([0.60, 0.50, 0.70], [0.55, 0.56, 0.58])
    assert judge([noisy])[0].label == "inconclusive"


def test_holm_can_turn_a_marginal_claim_inconclusive():
    rng = np.random.default_rng(1)
    b = rng.normal(0.5, 0.02, 5)
    marginal = paired_test(b + np.array([0.02, 0.01, 0.03, 0.00, 0.02]), b)
    assert 0.01 < marginal.p_greater < ALPHA
    alone = judge([marginal])[0]
    crowded = judge([marginal] + [paired_test(b, b)] * 4)[0]
    assert alone.label == "reproduced" and crowded.label == "inconclusive"
    assert crowded.p_adjusted == pytest.approx(min(1.0, 5 * marginal.p_greater))


def test_null_simulation_reproduced_at_most_alpha():
    """Zero true difference: 'reproduced' in at most 5% of the families, within its Monte-Carlo error;
    the same for 'contradicted'."""
    rng = np.random.default_rng(0)
    reps, n, claims = 4000, 5, 3
    hits_up = hits_down = 0
    for _ in range(reps):
        b = rng.normal(0.6, 0.03, (claims, n))
        a = b + rng.normal(0.0, 0.02, (claims, n))  # pairs share a seed effect; difference mean 0
        labels = [j.label for j in judge([paired_test(a[c], b[c]) for c in range(claims)])]
        hits_up += "reproduced" in labels
        hits_down += "contradicted" in labels
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert hits_up / reps <= ALPHA + 3 * se
    assert hits_down / reps <= ALPHA + 3 * se
    assert hits_up / reps > 0.01  # and the test is not vacuous


def test_power_against_a_real_effect():
    rng = np.random.default_rng(2)
    wins = sum(
        judge([paired_test(b + 0.03 + rng.normal(0, 0.01, 10), b)])[0].label == "reproduced"
        for b in rng.normal(0.6, 0.03, (200, 10))
    )
    assert wins / 200 > 0.95


def test_covers_and_binomial_se():
    t = paired_test(A, B)
    assert covers(t, t.mean) is True and covers(t, t.ci_high + 0.01) is False
    assert covers(t, None) is None and covers(paired_test([0.7], [0.5]), 0.2) is None
    assert binomial_se(0.5, 300) == pytest.approx(math.sqrt(0.25 / 300))
    assert binomial_se(1.0, 300) == 0.0


# ---------------------------------------------------------------------------------------------------------
# The five labels, the families and the minimum detectable effect (the rule page's error rates, simulated)

from statsmodels.stats.multitest import multipletests  # test-only cross-check (the dev extra)

from ogm_lib.report import stats as S


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(5)
    for m in (1, 2, 4, 9):
        for _ in range(20):
            p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 2)
            ref = multipletests(p, alpha=ALPHA, method="holm")
            assert holm(p) == pytest.approx(ref[1], rel=1e-12, abs=1e-15)
            assert list(holm(p) < ALPHA) == list(ref[0])


def _judgements(true_mean, reps=3000, n=5, sd=1.0, seed=0, **kw):
    """`reps` claims, each judged alone (a primary claim): n paired differences N(true_mean, sd)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(true_mean, sd, (reps, n))
    return [S.judge([paired_test(row, np.zeros(n))], families=["primary"], **kw)[0] for row in d]


def _sim(true_mean, reps=3000, n=5, sd=1.0, seed=0, **kw):
    return [j.label for j in _judgements(true_mean, reps, n, sd, seed, **kw)]


def _rate(labels, label):
    return sum(x == label for x in labels) / len(labels)


TOL = 3 * math.sqrt(ALPHA * (1 - ALPHA) / 3000)


def test_reproduced_and_contradicted_at_most_alpha_each_under_the_null():
    """Zero true effect: each directional label at most alpha; together up to 2 alpha (the rule page says so)."""
    labels = _sim(0.0, paper_effects=[2.0], margins=[0.5])
    up, down = _rate(labels, S.REPRODUCED), _rate(labels, S.CONTRADICTED)
    assert up <= ALPHA + TOL and down <= ALPHA + TOL
    assert up + down > ALPHA + TOL  # the two one-sided tests add up: more than alpha in all
    assert up > 0.02 and down > 0.02


def test_smaller_than_the_papers_at_most_alpha_at_the_papers_effect():
    """True effect = the paper's: its test rejects (so the label can be given) at most alpha, and the test has
    power when the true effect is zero."""
    js = _judgements(2.0, paper_effects=[2.0], seed=1)
    rate = np.mean([j.p_adjusted_smaller < ALPHA for j in js])
    assert rate <= ALPHA + TOL and rate > 0.01
    assert _rate([j.label for j in js], S.SMALLER) <= rate
    assert _rate(_sim(0.0, reps=500, n=10, paper_effects=[2.0], seed=11), S.SMALLER) > 0.8


def test_equivalent_at_most_alpha_at_the_margin():
    """True effect at the margin (either side): 'equivalent to no effect' at most alpha. With n = 20 and sd 1
    the test has power against a true zero, so the simulation is not vacuous."""
    for edge, seed in ((1.0, 2), (-1.0, 3)):
        labels = _sim(edge, n=20, margins=[1.0], seed=seed)
        assert _rate(labels, S.EQUIVALENT) <= ALPHA + TOL
    assert _rate(_sim(0.0, reps=500, n=20, margins=[1.0], seed=4), S.EQUIVALENT) > 0.5


def test_wrong_direction_at_most_alpha_for_a_true_effect():
    labels = _sim(0.3, paper_effects=[1.0], seed=6)
    assert _rate(labels, S.CONTRADICTED) <= ALPHA + TOL


def test_mde_has_the_stated_power():
    """At the true effect = MDE (the spread known), the paper-direction test rejects in about 80 % of draws, at
    the full alpha and at a Holm step level."""
    for n, level, seed in ((5, ALPHA, 7), (10, ALPHA / 4, 8)):
        delta = S.mde(n, 1.0, level)
        rng = np.random.default_rng(seed)
        d = rng.normal(delta, 1.0, (4000, n))
        t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
        power = np.mean(st.t.sf(t, n - 1) < level)
        assert power == pytest.approx(S.POWER, abs=0.03)
    assert S.mde(5, 1.0) > S.mde(10, 1.0) > S.mde(10, 0.5)
    assert S.mde(5, 1.0, ALPHA / 4) > S.mde(5, 1.0, ALPHA)
    assert math.isnan(S.mde(1, 1.0)) and S.mde(5, 0.0) == 0.0


def test_families_primary_alone_and_holm_within_each_family():
    rng = np.random.default_rng(9)
    b = rng.normal(0.5, 0.02, 5)
    marginal = paired_test(b + np.array([0.02, 0.01, 0.03, 0.00, 0.02]), b)
    flat = paired_test(b, b)
    js = S.judge([marginal, flat, flat, marginal, flat], families=["primary", "paper", "paper", "book", "book"])
    assert js[0].label == S.REPRODUCED and js[0].family_size == 1 and js[0].level == ALPHA
    assert js[3].p_adjusted == pytest.approx(min(1, 2 * marginal.p_greater))  # Holm over the book's 2
    assert js[1].family_size == 2 and js[3].family_size == 2
    assert js[3].level == pytest.approx(ALPHA / 2) and js[4].level == pytest.approx(ALPHA)
    with pytest.raises(ValueError):
        S.judge([flat], families=["mine"])


def test_label_precedence_and_tests_without_a_paper_effect_or_margin():
    assert S.label_of(0.01, 0.01) == S.REPRODUCED
    assert S.label_of(0.2, 0.01, p_adjusted_equivalent=0.01) == S.CONTRADICTED
    assert S.label_of(0.2, 0.2, p_adjusted_smaller=0.01, p_adjusted_equivalent=0.01) == S.EQUIVALENT
    assert S.label_of(0.2, 0.2, p_adjusted_smaller=0.01) == S.SMALLER
    assert S.label_of(0.2, 0.2, 0.05, 0.5, 0.5) == S.INCONCLUSIVE
    t = paired_test(np.array(A) - 0.04, B)
    assert S.p_smaller(t, None) == 1.0 and S.p_smaller(t, -1.0) == 1.0 and S.p_equivalent(t, None) == 1.0
    assert S.p_smaller(t, 0.5) == pytest.approx(st.ttest_1samp(np.subtract(t.diffs, 0.5), 0, alternative="less").pvalue)
    tost = max(
        st.ttest_1samp(np.add(t.diffs, 0.1), 0, alternative="greater").pvalue,
        st.ttest_1samp(np.subtract(t.diffs, 0.1), 0, alternative="less").pvalue,
    )
    assert S.p_equivalent(t, 0.1) == pytest.approx(tost)
