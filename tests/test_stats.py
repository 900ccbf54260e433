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
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])            # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])                      # one claim: no correction
    assert holm([float("nan"), 0.01]) == pytest.approx([1.0, 0.02])  # no test counts as p = 1


def test_labels_in_both_directions_and_degenerate_cases():
    up, down, flat = (paired_test(np.add(B, 0.05), B), paired_test(np.subtract(B, 0.05), B),
                      paired_test(B, B))
    assert [j.label for j in judge([up])] == ["reproduced"]          # constant positive difference
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
        a = b + rng.normal(0.0, 0.02, (claims, n))      # pairs share a seed effect; difference mean 0
        labels = [j.label for j in judge([paired_test(a[c], b[c]) for c in range(claims)])]
        hits_up += "reproduced" in labels
        hits_down += "contradicted" in labels
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert hits_up / reps <= ALPHA + 3 * se
    assert hits_down / reps <= ALPHA + 3 * se
    assert hits_up / reps > 0.01                         # and the test is not vacuous


def test_power_against_a_real_effect():
    rng = np.random.default_rng(2)
    wins = sum(judge([paired_test(b + 0.03 + rng.normal(0, 0.01, 10), b)])[0].label == "reproduced"
               for b in rng.normal(0.6, 0.03, (200, 10)))
    assert wins / 200 > 0.95


def test_covers_and_binomial_se():
    t = paired_test(A, B)
    assert covers(t, t.mean) is True and covers(t, t.ci_high + 0.01) is False
    assert covers(t, None) is None and covers(paired_test([0.7], [0.5]), 0.2) is None
    assert binomial_se(0.5, 300) == pytest.approx(math.sqrt(0.25 / 300))
    assert binomial_se(1.0, 300) == 0.0
