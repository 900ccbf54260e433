"""From paired runs to a verdict: the rule of the book's page "How we judge a claim", in one file.

A claim of the paper reads "A beats B" (OGM-GE beats plain concatenation, SGD beats Adam, ...). We run A and B
with the same seeds; a seed fixes the initialisation, the batch order and the data's random draws, so the
two runs of one seed are a *pair*, and the claim is judged on the paired differences d_i = A_i - B_i:

- **interval**: the mean difference and its 95% confidence interval,
  mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)          (Student's t, n - 1 degrees of freedom);
- **test**: a one-sided paired t-test in the paper's direction, H0: E[d] <= 0 against H1: E[d] > 0,
  t = mean(d) / (sd(d) / sqrt(n)),  p = P(T_{n-1} >= t)    (`scipy.stats.ttest_rel(a, b, alternative="greater")`);
- **correction**: Holm's step-down adjustment over the claims of one chapter (`holm`), so that the chance
  of calling any true null claim of a chapter "reproduced" stays at most `ALPHA`;
- **labels** (`judge`): *reproduced* when the Holm-adjusted p in the paper's direction is below `ALPHA`;
  *contradicted* when the same test in the opposite direction (H1: E[d] < 0), Holm-adjusted over the same
  chapter, is below `ALPHA`; *inconclusive* otherwise. With fewer than two pairs nothing can be concluded.

Differences with zero spread (every pair differs by the same amount) have no t statistic; we treat a
positive constant difference as certain (p = 0), a zero difference as no evidence either way (p = 1).

Beside each verdict the book prints our effect and interval with the paper's effect, and whether the
paper's effect lies inside our interval (`covers`). The test split's own sampling error, which the seed
spread does not contain (every seed is scored on the same test clips), is `binomial_se`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _st

#: significance level of every verdict, after Holm's correction within a chapter
ALPHA = 0.05
#: confidence of the intervals
CONFIDENCE = 0.95
LABELS = ("reproduced", "inconclusive", "contradicted")


@dataclass(frozen=True)
class PairedTest:
    """The paired differences A - B over seeds and their one-sided t-tests (unadjusted)."""
    diffs: tuple[float, ...]
    mean: float
    std: float          # sample standard deviation (ddof = 1); nan for n < 2
    ci_low: float       # CONFIDENCE interval of the mean difference (t, n - 1 df); nan for n < 2
    ci_high: float
    t: float            # mean / (std / sqrt(n)); +-inf for a constant non-zero difference, nan for n < 2
    p_greater: float    # one-sided p, H1: E[A - B] > 0 (the paper's direction)
    p_less: float       # one-sided p, H1: E[A - B] < 0 (the opposite direction)

    @property
    def n(self) -> int:
        return len(self.diffs)


def paired_test(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> PairedTest:
    """Paired t-test of A against B (equal-length sequences, pair i = seed i)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired_test needs two equal-length, non-empty 1-D sequences, got {a.shape} and {b.shape}")
    d = a - b
    n, mean = len(d), float(d.mean())
    if n < 2:
        nan = float("nan")
        return PairedTest(tuple(d.tolist()), mean, nan, nan, nan, nan, 1.0, 1.0)
    std = float(d.std(ddof=1))
    if std == 0.0:
        t = math.copysign(math.inf, mean) if mean != 0 else float("nan")
        p_greater = 0.0 if mean > 0 else 1.0
        p_less = 0.0 if mean < 0 else 1.0
        return PairedTest(tuple(d.tolist()), mean, 0.0, mean, mean, t, p_greater, p_less)
    se = std / math.sqrt(n)
    t = mean / se
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return PairedTest(tuple(d.tolist()), mean, std, mean - half, mean + half, t,
                      float(_st.t.sf(t, n - 1)), float(_st.t.cdf(t, n - 1)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order.

    Sort the m p-values ascending, p_(1) <= ... <= p_(m); the adjusted value of p_(j) is
    max_{i <= j} min(1, (m - i + 1) p_(i)). A claim is significant at level alpha after correction iff its
    adjusted p is below alpha; this controls the family-wise error rate at alpha (Holm 1979)."""
    p = np.asarray(pvalues, dtype=float)
    p = np.where(np.isnan(p), 1.0, p)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


@dataclass(frozen=True)
class Judgement:
    """A claim's test, its Holm-adjusted p in both directions, and its label."""
    test: PairedTest
    p_adjusted: float            # paper's direction, Holm-adjusted within the family
    p_adjusted_opposite: float   # opposite direction, Holm-adjusted within the family
    label: str


def label_of(p_adjusted: float, p_adjusted_opposite: float, alpha: float = ALPHA) -> str:
    if p_adjusted < alpha:
        return "reproduced"
    if p_adjusted_opposite < alpha:
        return "contradicted"
    return "inconclusive"


def judge(tests: Sequence[PairedTest], alpha: float = ALPHA) -> list[Judgement]:
    """Label every test of one family (one chapter's claims), Holm-correcting each direction over the family."""
    up = holm([t.p_greater for t in tests])
    down = holm([t.p_less for t in tests])
    return [Judgement(t, float(u), float(d), label_of(u, d, alpha)) for t, u, d in zip(tests, up, down)]


def covers(test: PairedTest, value: float | None) -> bool | None:
    """Whether `value` (the paper's effect, same units as the differences) lies inside our interval;
    None when there is no value or no interval."""
    if value is None or not math.isfinite(test.ci_low):
        return None
    return bool(test.ci_low <= value <= test.ci_high)


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on n independent test items: sqrt(p (1 - p) / n)."""
    return math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / n)
