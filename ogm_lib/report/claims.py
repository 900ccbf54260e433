"""A claim of the paper, its verdict by the book's rule (`stats.py`), and the words and tables built from it.

A `Claim` reads "A beats B". Its two sides are the runs of two rows (the claim's metric is read at the epoch
the selection protocol chooses, `reduce.metric`), or per-seed values ({seed: value}), or a function of the
protocol returning such values. Sides are paired on the seeds they share. `judge` labels every claim of one
chapter together (Holm's correction is over the chapter). Every sentence a chapter prints about a result is
made here (`describe`, `count_text`, `plain_summary`) and glued into the page, never typed by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

from ..results import RunResult
from . import stats
from .reduce import PROTOCOLS, by_seed, check_protocol, metric

MISSING = "—"
Side = Union[Sequence[RunResult], dict, Callable[[str], dict]]


@dataclass
class Claim:
    """'A beats B' on paired seeds.

    key: names the claim's glue entries (unique in its chapter); text: the claim as a sentence;
    a, b: the two sides (see the module docstring); paper: the paper's A - B per column of its table, in the
    claim's unit (points for accuracies); ledger: published re-runs' A - B, in points, per source;
    metric: what is compared when a side is runs; unit: "points" (a fraction shown x100) or a plain unit
    such as "" for rho^a; short: a short name for sentences (default: the text)."""
    key: str
    text: str
    a: Side
    b: Side
    paper: dict[str, float] = field(default_factory=dict)
    metric: str = "test_acc"
    unit: str = "points"
    short: str = ""
    ledger: dict[str, float] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return 100.0 if self.unit == "points" else 1.0

    def side(self, side: Side, protocol: str) -> dict[int, float]:
        if callable(side):
            return dict(side(protocol))
        if isinstance(side, dict):
            return {int(k): float(v) for k, v in side.items()}
        return by_seed(side, lambda r: metric(r, self.metric, protocol))

    def pairs(self, protocol: str = "val") -> tuple[list[int], list[float], list[float]]:
        """(seeds, A values, B values) on the seeds both sides have."""
        a, b = self.side(self.a, protocol), self.side(self.b, protocol)
        seeds = sorted(set(a) & set(b))
        if not seeds:
            raise ValueError(f"claim {self.key!r}: its two sides share no seed ({sorted(a)} vs {sorted(b)})")
        return seeds, [a[s] for s in seeds], [b[s] for s in seeds]


@dataclass(frozen=True)
class Verdict:
    """A claim's judgement under one protocol, with the numbers in the claim's display unit."""
    claim: Claim
    judgement: stats.Judgement
    protocol: str

    @property
    def label(self) -> str:
        return self.judgement.label

    @property
    def n(self) -> int:
        return self.judgement.test.n

    @property
    def effect(self) -> float:
        return self.judgement.test.mean * self.claim.scale

    @property
    def ci(self) -> tuple[float, float]:
        t = self.judgement.test
        return t.ci_low * self.claim.scale, t.ci_high * self.claim.scale

    def covers_paper(self) -> dict[str, bool | None]:
        """Per paper column: does the paper's effect lie inside our interval?"""
        t = self.judgement.test
        return {c: stats.covers(t, v / self.claim.scale) for c, v in self.claim.paper.items()}

    def _num(self, x: float) -> str:
        return f"{x:+.1f}" if self.claim.unit == "points" else f"{x:+.2f}"

    def interval_text(self) -> str:
        lo, hi = self.ci
        unit = " points" if self.claim.unit == "points" else (f" {self.claim.unit}" if self.claim.unit else "")
        if lo != lo:   # nan: fewer than two pairs
            return f"{self._num(self.effect)}{unit}, no interval"
        return f"{self._num(self.effect)}{unit}, 95% CI {self._num(lo)} to {self._num(hi)}"

    def p_text(self) -> str:
        """The adjusted p that decides the label: in the paper's direction, or in the opposite direction
        for a contradicted claim."""
        if self.label == "contradicted":
            return f"adjusted p = {self.judgement.p_adjusted_opposite:.2g} in the opposite direction"
        return f"adjusted p = {self.judgement.p_adjusted:.2g}"

    def __str__(self) -> str:
        return f"{self.label} ({self.interval_text()}, n = {self.n}, {self.p_text()})"


def judge(claims: Sequence[Claim], protocol: str = "val", alpha: float = stats.ALPHA) -> dict[str, Verdict]:
    """key -> Verdict for every claim of one chapter, Holm-corrected over them; keys must be unique."""
    check_protocol(protocol)
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be unique, got {keys}")
    tests = [stats.paired_test(*c.pairs(protocol)[1:]) for c in claims]
    return {c.key: Verdict(c, j, protocol) for c, j in zip(claims, stats.judge(tests, alpha))}


def paper_text(claim: Claim) -> str:
    """'CREMA-D Acc +10.2, VGGSound Acc +1.5' (the paper's A - B), '—' if the paper has none."""
    fmt = "{:+.1f}" if claim.unit == "points" else "{:+.2f}"
    return ", ".join(f"{c} {fmt.format(v)}" for c, v in claim.paper.items()) or MISSING


def covers_text(verdict: Verdict) -> str:
    """'yes, no' per paper column: is the paper's effect inside our 95% interval?"""
    cov = verdict.covers_paper()
    return ", ".join({True: "yes", False: "no", None: MISSING}[v] for v in cov.values()) or MISSING


def ledger_text(claim: Claim) -> str:
    return ", ".join(f"{s} {v:+.1f}" for s, v in claim.ledger.items()) or MISSING


def verdict_table(claims: Sequence[Claim], verdicts: dict[str, Verdict],
                  verdicts_paper_protocol: dict[str, Verdict] | None = None):
    """One row per claim: our paired difference and interval, seeds, adjusted p, the verdict; the paper's
    difference and whether our interval holds it; published re-runs (where any claim has them); and the
    verdict under the paper's protocol (best test epoch), when given."""
    import pandas as pd
    rows = {}
    with_ledger = any(c.ledger for c in claims)
    for c in claims:
        v = verdicts[c.key]
        row = {"ours: A − B, 95% CI": v.interval_text(), "seeds": v.n,
               "adjusted p": f"{v.judgement.p_adjusted:.2g}",
               "adjusted p, opposite": f"{v.judgement.p_adjusted_opposite:.2g}", "verdict": v.label,
               "paper: A − B": paper_text(c), "paper inside our CI": covers_text(v)}
        if with_ledger:
            row["re-runs: A − B"] = ledger_text(c)
        if verdicts_paper_protocol is not None:
            row["verdict, paper's protocol"] = verdicts_paper_protocol[c.key].label
        rows[c.text] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "claim (A beats B)"
    return table


def counts(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> dict[str, int]:
    vs = list(verdicts.values()) if isinstance(verdicts, dict) else list(verdicts)
    return {label: sum(v.label == label for v in vs) for label in stats.LABELS}


def count_text(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> str:
    """'2 reproduced, 3 inconclusive, 1 contradicted (of 6 claims)'."""
    n = counts(verdicts)
    total = sum(n.values())
    return (", ".join(f"{n[label]} {label}" for label in stats.LABELS)
            + f" (of {total} claim{'s' if total != 1 else ''})")


def plain_summary(claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> str:
    """Which claims got which label: 'all 4 reproduced' or '2 reproduced (concatenation; summation),
    2 inconclusive (FiLM; gated)'."""
    if not claims:
        return "no claims"
    groups = {label: [c.short or c.text for c in claims if verdicts[c.key].label == label] for label in stats.LABELS}
    for label, members in groups.items():
        if len(members) == len(claims):
            return f"all {len(claims)} {label}" if len(claims) > 1 else label
    return ", ".join(f"{len(m)} {label} ({'; '.join(m)})" for label, m in groups.items() if m)


def direction_text(claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> str:
    """Which way our effects point, whatever their verdicts, and how many of the paper's effects our intervals
    hold: 'our effect is positive for 1 of 5 claims and negative for 4; the paper's effect lies inside our 95%
    interval for 7 of 9 comparisons'."""
    effects = [verdicts[c.key].effect for c in claims]
    pos, neg = sum(e > 0 for e in effects), sum(e < 0 for e in effects)
    text = (f"our effect is positive for {pos} of {len(effects)} claim{'s' if len(effects) != 1 else ''} "
            f"and negative for {neg}")
    covers = [x for c in claims for x in verdicts[c.key].covers_paper().values() if x is not None]
    if covers:
        text += (f"; the paper's effect lies inside our 95% interval for {sum(covers)} of {len(covers)} "
                 f"comparison{'s' if len(covers) != 1 else ''}")
    return text


def by_label(verdict: Verdict, reproduced: str, inconclusive: str, contradicted: str) -> str:
    """The sentence that fits the verdict: a text that depends on a result is chosen by it, never typed
    for one outcome only."""
    return {"reproduced": reproduced, "inconclusive": inconclusive, "contradicted": contradicted}[verdict.label]


def glue_texts(texts: dict[str, str]) -> None:
    """myst_nb.glue(name, text, display=False) for each entry (a no-op without myst_nb)."""
    try:
        from myst_nb import glue
    except ImportError:   # pragma: no cover - myst_nb is a book dependency
        return
    for name, text in texts.items():
        glue(name, text, display=False)


def glue_claims(prefix: str, claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> dict[str, str]:
    """Glue '<prefix>_<key>_verdict' per claim (`str(verdict)`), '<prefix>_summary' (`count_text`) and
    '<prefix>_plain' (`plain_summary`); names must be unique across the book, hence the chapter prefix."""
    out = {f"{prefix}_{c.key}_verdict": str(verdicts[c.key]) for c in claims}
    out[f"{prefix}_summary"] = count_text([verdicts[c.key] for c in claims])
    out[f"{prefix}_plain"] = plain_summary(claims, verdicts)
    glue_texts(out)
    return out


__all__ = ["Claim", "Verdict", "judge", "by_label", "direction_text", "verdict_table", "count_text", "counts", "plain_summary", "glue_claims",
           "glue_texts", "paper_text", "covers_text", "ledger_text", "MISSING", "PROTOCOLS"]
