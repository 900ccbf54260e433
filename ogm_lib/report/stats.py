"""From paired runs to a verdict: the rule of the book's page "How we judge a claim", in one file.

A claim of the paper reads "A beats B" (OGM-GE beats plain concatenation, SGD beats Adam, ...). We run A and B
with the same seeds; a seed fixes the initialisation, the batch order and the data's random draws, so the
two runs of one seed are a *pair*, and the claim is judged on the paired differences d_i = A_i - B_i, with
mean m, standard deviation s and standard error se = s / sqrt(n), against Student's t with n - 1 df:

- **interval** (printed, unadjusted): m +- t_{0.975, n-1} se;
- **four one-sided tests** (`paired_test`, `p_smaller`, `p_equivalent`):
    1. paper's direction   H0: E[d] <= 0       vs H1: E[d] > 0,      p = P(T >= m / se)
       (`scipy.stats.ttest_rel(a, b, alternative="greater")`);
    2. opposite direction  H0: E[d] >= 0       vs H1: E[d] < 0,      p = P(T <= m / se);
    3. smaller than the paper's effect delta (the smallest positive effect the paper reports for the claim)
                           H0: E[d] >= delta   vs H1: E[d] < delta,  p = P(T <= (m - delta) / se);
    4. equivalence to no effect within the margin M (TOST, Schuirmann 1987): both of
                           H0: E[d] <= -M vs H1: E[d] > -M   and   H0: E[d] >= M vs H1: E[d] < M,
       p = max of the two one-sided p (the interval-inclusion form: the (1 - 2 level) interval lies in (-M, M));
- **families** (`judge`): a claim marked "primary" (the paper's headline of a table or figure) is tested
  alone, at the full `ALPHA`; the other claims of a chapter form two families, the paper's claims and the
  book's own added claims, and each of the four tests is Holm-corrected (`holm`) within its family, so that
  for each label the chance of giving it to any claim of a family where it is false stays at most `ALPHA`;
- **labels** (`label_of`), first that applies: *reproduced* (test 1), *contradicted* (test 2), *equivalent
  to no effect* (test 4), *smaller than the paper's* (test 3), else *inconclusive*. With fewer than two
  pairs nothing can be concluded. "Contradicted" is a second one-sided test at the same level: under an exact
  zero effect, the chance of a directional label (reproduced or contradicted) is up to 2 ALPHA, while the
  chance of the wrong direction for a true non-zero effect stays at most ALPHA;
- **minimum detectable effect** (`mde`): the smallest true effect the paper-direction test finds with 80 %
  power at the level it is tested at (ALPHA for a primary claim; Holm's step alpha / (m - r + 1) for the claim
  of rank r in a family of m), from the noncentral t: power(delta) = P(T'_{n-1, delta sqrt(n) / s} > t_{1-level,
  n-1}), with s the observed spread.

Differences with zero spread (every pair differs by the same amount) have no t statistic; we treat every
one-sided hypothesis the constant difference satisfies as certain (p = 0), every other as no evidence (p = 1).
The test split's own sampling error, which the seed spread does not contain (every seed is scored on the same
test clips), is `binomial_se`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _st

#: significance level of every test, after the correction within its family
ALPHA = 0.05
#: confidence of the printed (unadjusted) intervals
CONFIDENCE = 0.95
#: the power at which the minimum detectable effect is computed
POWER = 0.8
REPRODUCED, SMALLER, EQUIVALENT, CONTRADICTED, INCONCLUSIVE = (
    "reproduced",
    "smaller than the paper's",
    "equivalent to no effect",
    "contradicted",
    "inconclusive",
)
LABELS = (REPRODUCED, SMALLER, EQUIVALENT, CONTRADICTED, INCONCLUSIVE)
#: the family of a claim tested alone at the full ALPHA
PRIMARY = "primary"
FAMILIES = (PRIMARY, "paper", "book")


@dataclass(frozen=True)
class PairedTest:
    """The paired differences A - B over seeds and their one-sided t-tests (unadjusted)."""

    diffs: tuple[float, ...]
    mean: float
    std: float  # sample standard deviation (ddof = 1); nan for n < 2
    ci_low: float  # CONFIDENCE interval of the mean difference (t, n - 1 df); nan for n < 2
    ci_high: float
    t: float  # mean / (std / sqrt(n)); +-inf for a constant non-zero difference, nan for n < 2
    p_greater: float  # one-sided p, H1: E[A - B] > 0 (the paper's direction)
    p_less: float  # one-sided p, H1: E[A - B] < 0 (the opposite direction)

    @property
    def n(self) -> int:
        return len(self.diffs)

    def p_below(self, value: float) -> float:
        """One-sided p of H1: E[d] < value (H0: E[d] >= value)."""
        return self._p(value, below=True)

    def p_above(self, value: float) -> float:
        """One-sided p of H1: E[d] > value (H0: E[d] <= value)."""
        return self._p(value, below=False)

    def _p(self, value: float, below: bool) -> float:
        if self.n < 2:
            return 1.0
        if self.std == 0.0:
            return 0.0 if (self.mean < value if below else self.mean > value) else 1.0
        t = (self.mean - value) / (self.std / math.sqrt(self.n))
        return float(_st.t.cdf(t, self.n - 1) if below else _st.t.sf(t, self.n - 1))


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
    return PairedTest(
        tuple(d.tolist()), mean, std, mean - half, mean + half, t, float(_st.t.sf(t, n - 1)), float(_st.t.cdf(t, n - 1))
    )


def p_smaller(test: PairedTest, delta: float | None) -> float:
    """Test 3: p of H1: E[d] < delta, the paper's effect; 1 (no test) without a positive paper effect."""
    return 1.0 if delta is None or not delta > 0 else test.p_below(delta)


def p_equivalent(test: PairedTest, margin: float | None) -> float:
    """Test 4, TOST: max(p of H1: E[d] > -M, p of H1: E[d] < M); 1 (no test) without a margin."""
    if margin is None or not margin > 0:
        return 1.0
    return max(test.p_above(-margin), test.p_below(margin))


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


def holm_levels(pvalues: Sequence[float], alpha: float = ALPHA) -> np.ndarray:
    """The level Holm compares each p with: alpha / (m - r + 1) for the p of rank r (ascending, stable)."""
    p = np.where(np.isnan(np.asarray(pvalues, dtype=float)), 1.0, np.asarray(pvalues, dtype=float))
    m = len(p)
    out = np.empty(m)
    out[np.argsort(p, kind="stable")] = alpha / (m - np.arange(m))
    return out


def mde(n: int, sd: float, level: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable effect of a one-sided paired t-test: the delta with P(T'_{n-1, delta sqrt(n) / sd} >
    t_{1-level, n-1}) = power (scipy's noncentral t); nan for n < 2, 0 for a zero spread."""
    if n < 2 or not math.isfinite(sd):
        return float("nan")
    if sd == 0.0:
        return 0.0
    df = n - 1
    crit = float(_st.t.ppf(1.0 - level, df))
    ncp = _opt.brentq(lambda nc: float(_st.nct.sf(crit, df, nc)) - power, 0.0, 1e3, xtol=1e-10)
    return ncp * sd / math.sqrt(n)


@dataclass(frozen=True)
class Judgement:
    """A claim's test, its adjusted p-values (each within the claim's family), its label and the level its
    paper-direction test is held to (for the minimum detectable effect)."""

    test: PairedTest
    p_adjusted: float  # test 1, paper's direction
    p_adjusted_opposite: float  # test 2, opposite direction
    label: str
    p_adjusted_smaller: float = 1.0  # test 3, below the paper's effect
    p_adjusted_equivalent: float = 1.0  # test 4, TOST within the margin
    family: str = PRIMARY
    family_size: int = 1
    level: float = ALPHA  # ALPHA for a primary claim, Holm's step level in a family

    def mde(self, power: float = POWER) -> float:
        """The minimum detectable effect (units of the differences) at `level` (`mde`)."""
        return mde(self.test.n, self.test.std, self.level, power)


def label_of(
    p_adjusted: float,
    p_adjusted_opposite: float,
    alpha: float = ALPHA,
    p_adjusted_smaller: float = 1.0,
    p_adjusted_equivalent: float = 1.0,
) -> str:
    """The first label whose test rejects at `alpha` (adjusted p below it), in the rule's order."""
    for label, p in (
        (REPRODUCED, p_adjusted),
        (CONTRADICTED, p_adjusted_opposite),
        (EQUIVALENT, p_adjusted_equivalent),
        (SMALLER, p_adjusted_smaller),
    ):
        if p < alpha:
            return label
    return INCONCLUSIVE


def judge(
    tests: Sequence[PairedTest],
    alpha: float = ALPHA,
    paper_effects: Sequence[float | None] | None = None,
    margins: Sequence[float | None] | None = None,
    families: Sequence[str] | None = None,
) -> list[Judgement]:
    """Label every test of one chapter. `paper_effects`: per test, the paper's effect delta (test 3; None: no
    test); `margins`: per test, the equivalence margin M (test 4; None: no test); `families`: per test, its
    family (`FAMILIES`; default: all in one family named "paper"). A "primary" test is a family of its own;
    every other family is Holm-corrected, each of the four tests separately."""
    k = len(tests)
    deltas = [None] * k if paper_effects is None else list(paper_effects)
    margins = [None] * k if margins is None else list(margins)
    families = ["paper"] * k if families is None else list(families)
    if not len(deltas) == len(margins) == len(families) == k:
        raise ValueError("paper_effects, margins and families need one entry per test")
    bad = sorted(set(families) - set(FAMILIES))
    if bad:
        raise ValueError(f"unknown families {bad}; choose from {FAMILIES}")
    groups = [[i] for i, f in enumerate(families) if f == PRIMARY]
    groups += [[i for i, f in enumerate(families) if f == name] for name in FAMILIES[1:]]
    out: list[Judgement | None] = [None] * k
    for idx in (g for g in groups if g):
        ts = [tests[i] for i in idx]
        up, down = holm([t.p_greater for t in ts]), holm([t.p_less for t in ts])
        smaller = holm([p_smaller(t, deltas[i]) for t, i in zip(ts, idx)])
        equiv = holm([p_equivalent(t, margins[i]) for t, i in zip(ts, idx)])
        levels = holm_levels([t.p_greater for t in ts], alpha)
        for j, i in enumerate(idx):
            out[i] = Judgement(
                tests[i],
                float(up[j]),
                float(down[j]),
                label_of(up[j], down[j], alpha, smaller[j], equiv[j]),
                float(smaller[j]),
                float(equiv[j]),
                families[i],
                len(idx),
                float(levels[j]),
            )
    return out


def covers(test: PairedTest, value: float | None) -> bool | None:
    """Whether `value` (the paper's effect, same units as the differences) lies inside our interval;
    None when there is no value or no interval."""
    if value is None or not math.isfinite(test.ci_low):
        return None
    return bool(test.ci_low <= value <= test.ci_high)


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on n independent test items: sqrt(p (1 - p) / n)."""
    return math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / n)
