"""A claim of the paper, its verdict by the book's rule (`stats.py`), and the words and tables built from it.

A `Claim` reads "A beats B". Its two sides are the runs of two rows (the claim's metric is read at the epoch
the selection protocol chooses, `reduce.metric`), or per-seed values ({seed: value}), or a function of the
protocol returning such values. Sides are paired on the seeds they share. `judge` labels every claim of one
chapter together: a primary claim alone at the full alpha, the paper's other claims and the book's own claims
each Holm-corrected in their own family (`stats.judge`); a comparison that another chapter judges
(`Claim.judged_in`) only refers to it, so that each comparison has one verdict in the book. Every sentence a
chapter prints about a result is made here (`Verdict.__str__`, `count_text`, `plain_summary`, `by_label`) or in
the chapter's own module of `ogm_lib/report`, and glued into the page, never typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

from ..method.results import RunResult
from . import stats
from .reduce import PROTOCOLS, by_seed, check_protocol, metric

MISSING = "—"
Side = Union[Sequence[RunResult], dict, Callable[[str], dict]]


#: the equivalence margin M of test 4 (`stats.p_equivalent`), in points, for every claim in points: the smallest
#: gain of OGM-GE over plain training that a published re-run on CREMA-D reports (BalanceBenchmark, 65.50 ->
#: 67.76, entry "balancebench2025-cremad" of `ledger.json`; the official checkpoints give 4.30, PMR 4.50).
#: Fixed on the rule page before the verdicts; claims in other units (rho^a) have no margin and no test 4.
EQUIVALENCE_MARGIN = 2.26


@dataclass
class Claim:
    """'A beats B' on paired seeds.

    key: names the claim's glue entries (unique in its chapter); text: the claim as a sentence;
    a, b: the two sides (see the module docstring); paper: the paper's A - B per column of its table, in the
    claim's unit (points for accuracies); ledger: published re-runs' A - B, in points, per source;
    metric: what is compared when a side is runs; unit: "points" (a fraction shown x100) or a plain unit
    such as "" for rho^a; short: a short name for sentences (default: the text);
    family: "primary" (the paper's headline of a table or figure, tested alone at the full alpha), "paper"
    (the paper's other claims of the chapter) or "book" (claims the book adds), `stats.FAMILIES`;
    judged_in: (chapter, key) of the one claim of the book that judges this same comparison (the chapter with
    more seeds, or the chapter of the paper's table), when it is not this one: this claim then only refers."""

    key: str
    text: str
    a: Side
    b: Side
    paper: dict[str, float] = field(default_factory=dict)
    metric: str = "test_acc"
    unit: str = "points"
    short: str = ""
    ledger: dict[str, float] = field(default_factory=dict)
    family: str = "paper"
    judged_in: tuple[str, str] | None = None

    @property
    def scale(self) -> float:
        return 100.0 if self.unit == "points" else 1.0

    @property
    def paper_effect(self) -> float | None:
        """The paper's effect the claim is held to (test 3 and the MDE comparison), in the claim's unit: the
        smallest A - B the paper reports for it, if every one it reports is in the claim's direction; else None."""
        values = list(self.paper.values())
        return min(values) if values and min(values) > 0 else None

    @property
    def margin(self) -> float | None:
        """The equivalence margin (claim's unit): `EQUIVALENCE_MARGIN` for claims in points, else None."""
        return EQUIVALENCE_MARGIN if self.unit == "points" else None

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


def chapter_name(chapter: str) -> str:
    """'chapter 05 (Table 1: fusions)' for a notebook name such as '05_table1'."""
    from ..recipe.chapters import TITLES

    title = TITLES.get(chapter)
    return f"chapter {chapter[:2]}" + (f" ({title})" if title else "")


@dataclass(frozen=True)
class Verdict:
    """A claim's judgement under one protocol, with the numbers in the claim's display unit."""

    claim: Claim
    judgement: stats.Judgement
    protocol: str

    @property
    def referred(self) -> bool:
        """Whether another chapter judges this comparison (`Claim.judged_in`): no label here."""
        return self.claim.judged_in is not None

    @property
    def label(self) -> str:
        if self.referred:
            return f"judged in {chapter_name(self.claim.judged_in[0])}"
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

    @property
    def mde(self) -> float:
        """Minimum detectable effect (claim's unit), 80 % power, at the level the claim is tested at."""
        return self.judgement.mde() * self.claim.scale

    def covers_paper(self) -> dict[str, bool | None]:
        """Per paper column: does the paper's effect lie inside our interval?"""
        t = self.judgement.test
        return {c: stats.covers(t, v / self.claim.scale) for c, v in self.claim.paper.items()}

    def undetectable(self) -> dict[str, float]:
        """The paper's columns whose positive effect is below our MDE (the paper's effect these seeds cannot
        detect at the claim's level with 80 % power)."""
        m = self.mde
        return {c: v for c, v in self.claim.paper.items() if v > 0 and m == m and m > v}

    def _num(self, x: float) -> str:
        return f"{x:+.1f}" if self.claim.unit == "points" else f"{x:+.2f}"

    def _unit(self) -> str:
        return " points" if self.claim.unit == "points" else (f" {self.claim.unit}" if self.claim.unit else "")

    def interval_text(self) -> str:
        lo, hi = self.ci
        if lo != lo:  # nan: fewer than two pairs
            return f"{self._num(self.effect)}{self._unit()}, no interval"
        return f"{self._num(self.effect)}{self._unit()}, unadjusted 95% CI {self._num(lo)} to {self._num(hi)}"

    def level_text(self) -> str:
        """'alone at alpha 0.05' or 'Holm step alpha 0.0125 of a paper family of 4'."""
        j = self.judgement
        if j.family == stats.PRIMARY or j.family_size == 1:
            return f"alone at alpha {j.level:.2g}"
        return f"Holm step alpha {j.level:.2g} in the {j.family}'s family of {j.family_size}"

    def mde_text(self) -> str:
        """'MDE 8.4 points (80% power, alone at alpha 0.05)', and what the seeds cannot detect."""
        m = self.mde
        if m != m:
            return "no MDE (fewer than two pairs)"
        text = f"MDE {abs(m):.1f}{self._unit()}" if self.claim.unit == "points" else f"MDE {abs(m):.2f}{self._unit()}"
        text += f" (80% power, {self.level_text()})"
        miss = self.undetectable()
        if miss and len(miss) == len([v for v in self.claim.paper.values() if v > 0]):
            text += ": cannot detect the paper's effect with these seeds"
        elif miss:
            text += (
                ": cannot detect the paper's "
                + ", ".join(f"{c} effect ({self._num(v)})" for c, v in miss.items())
                + " with these seeds"
            )
        return text

    def p_text(self) -> str:
        """The adjusted p that decides the label (for an inconclusive claim: the paper's direction)."""
        j = self.judgement
        if j.label == stats.CONTRADICTED:
            return f"adjusted p = {j.p_adjusted_opposite:.2g} in the opposite direction"
        if j.label == stats.EQUIVALENT:
            return f"equivalence (TOST, margin ±{self.claim.margin:g}) adjusted p = {j.p_adjusted_equivalent:.2g}"
        if j.label == stats.SMALLER:
            return (
                f"adjusted p = {j.p_adjusted_smaller:.2g} that it is below the paper's "
                f"{self._num(self.claim.paper_effect)}"
            )
        return f"adjusted p = {j.p_adjusted:.2g}"

    def __str__(self) -> str:
        if self.referred:
            return f"{self.label}; here {self.interval_text()}, n = {self.n}"
        return f"{self.label} ({self.interval_text()}, n = {self.n}, {self.p_text()}; {self.mde_text()})"


def judge(claims: Sequence[Claim], protocol: str = "val", alpha: float = stats.ALPHA) -> dict[str, Verdict]:
    """key -> Verdict for every claim of one chapter; keys must be unique. The claims this chapter judges are
    corrected within their families (`stats.judge`); a claim another chapter judges (`Claim.judged_in`) is
    left out of them and only carries its numbers here."""
    check_protocol(protocol)
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be unique, got {keys}")
    tests = {c.key: stats.paired_test(*c.pairs(protocol)[1:]) for c in claims}
    own = [c for c in claims if c.judged_in is None]
    judged = stats.judge(
        [tests[c.key] for c in own],
        alpha,
        [_raw(c, c.paper_effect) for c in own],
        [_raw(c, c.margin) for c in own],
        [c.family for c in own],
    )
    out = {c.key: Verdict(c, j, protocol) for c, j in zip(own, judged)}
    for c in claims:
        if c.judged_in is not None:
            out[c.key] = Verdict(c, stats.judge([tests[c.key]], alpha, families=[stats.PRIMARY])[0], protocol)
    return {k: out[k] for k in keys}


def _raw(claim: Claim, value: float | None) -> float | None:
    """A value in the claim's display unit -> the unit of its differences (points -> fractions)."""
    return None if value is None else value / claim.scale


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


def verdict_table(
    claims: Sequence[Claim], verdicts: dict[str, Verdict], verdicts_paper_protocol: dict[str, Verdict] | None = None
):
    """One row per claim: the verdict, our paired difference with its (unadjusted) interval, the seeds, the
    minimum detectable effect at the claim's level, the paper's difference and whether our interval holds
    it, the family and the adjusted p of each test; published re-runs (where any claim has them); and the
    verdict under the paper's protocol (best test epoch), when given."""
    import pandas as pd

    rows = {}
    with_ledger = any(c.ledger for c in claims)
    for c in claims:
        v = verdicts[c.key]
        j = v.judgement
        row = {
            "verdict": v.label,
            "ours: A − B, 95% CI (unadjusted)": v.interval_text(),
            "seeds": v.n,
            "MDE (80% power, at the claim's level)": MISSING if v.referred else v.mde_text().removeprefix("MDE "),
            "paper: A − B": paper_text(c),
            "paper inside our CI": covers_text(v),
            "family": MISSING if v.referred else f"{c.family} ({j.family_size})",
            "adjusted p: paper's direction, opposite, below the paper's, equivalent": MISSING
            if v.referred
            else ", ".join(
                f"{p:.2g}" for p in (j.p_adjusted, j.p_adjusted_opposite, j.p_adjusted_smaller, j.p_adjusted_equivalent)
            ),
        }
        if with_ledger:
            row["re-runs: A − B"] = ledger_text(c)
        if verdicts_paper_protocol is not None:
            row["verdict, paper's protocol"] = verdicts_paper_protocol[c.key].label
        rows[c.text] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "claim (A beats B)"
    return table


def judged(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> list[Verdict]:
    """The verdicts of the claims judged where they are (not referred to another chapter)."""
    vs = list(verdicts.values()) if isinstance(verdicts, dict) else list(verdicts)
    return [v for v in vs if not v.referred]


def counts(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> dict[str, int]:
    """label -> how many judged claims have it (claims judged in another chapter are not counted)."""
    vs = judged(verdicts)
    return {label: sum(v.label == label for v in vs) for label in stats.LABELS}


def count_text(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> str:
    """'2 reproduced, 0 smaller than the paper's, ..., 3 inconclusive (of 6 claims judged here; 2 more are
    judged in other chapters)'."""
    n = counts(verdicts)
    total = sum(n.values())
    vs = list(verdicts.values()) if isinstance(verdicts, dict) else list(verdicts)
    elsewhere = len(vs) - total
    return (
        ", ".join(f"{n[label]} {label}" for label in stats.LABELS)
        + f" (of {total} claim{'s' if total != 1 else ''}"
        + (
            f" judged here; {elsewhere} more {'is' if elsewhere == 1 else 'are'} judged in other chapters)"
            if elsewhere
            else ")"
        )
    )


def undetectable_text(verdicts: Sequence[Verdict]) -> str:
    """'41 of 62 judged claims cannot detect the paper's effect with their seeds (MDE above every effect the paper
    reports for them), 9 more cannot detect its smallest one; 12 have no paper effect'."""
    vs = judged(verdicts)
    with_paper = [v for v in vs if any(x > 0 for x in v.claim.paper.values())]
    full = sum(len(v.undetectable()) == sum(x > 0 for x in v.claim.paper.values()) for v in with_paper)
    some = sum(0 < len(v.undetectable()) < sum(x > 0 for x in v.claim.paper.values()) for v in with_paper)
    return (
        f"{full} of {len(vs)} judged claims cannot detect the paper's effect with their seeds (MDE at 80% power "
        f"above every positive effect the paper reports for them), {some} more cannot detect its smallest one; "
        f"{len(vs) - len(with_paper)} have no positive paper effect to detect"
    )


def plain_summary(claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> str:
    """Which claims got which label: 'all 4 reproduced' or '2 reproduced (concatenation; summation),
    2 inconclusive (FiLM; gated)'; claims judged in another chapter are named as such."""
    if not claims:
        return "no claims"

    def name(v: Verdict) -> str:
        return f"judged in chapter {v.claim.judged_in[0][:2]}" if v.referred else v.label

    groups = {
        label: [c.short or c.text for c in claims if name(verdicts[c.key]) == label]
        for label in dict.fromkeys(name(verdicts[c.key]) for c in claims)
    }
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
    text = (
        f"our effect is positive for {pos} of {len(effects)} claim{'s' if len(effects) != 1 else ''} "
        f"and negative for {neg}"
    )
    covers = [x for c in claims for x in verdicts[c.key].covers_paper().values() if x is not None]
    if covers:
        text += (
            f"; the paper's effect lies inside our 95% interval for {sum(covers)} of {len(covers)} "
            f"comparison{'s' if len(covers) != 1 else ''}"
        )
    return text


def by_label(verdict: Verdict, **texts: str) -> str:
    """The sentence that fits the verdict: a text that depends on a result is chosen by it, never typed
    for one outcome only. `texts` has one sentence per label, keyed by `label_key` (reproduced, smaller,
    equivalent, contradicted, inconclusive); a claim judged in another chapter gets `texts["referred"]` if
    given, else a sentence naming where it is judged."""
    need = set(LABEL_KEYS.values())
    if not need <= set(texts):
        raise ValueError(f"by_label needs a sentence for every label, missing {sorted(need - set(texts))}")
    if verdict.referred:
        return texts.get("referred") or f"That comparison is judged in {chapter_name(verdict.claim.judged_in[0])}."
    return texts[LABEL_KEYS[verdict.label]]


#: label -> the keyword `by_label` takes for it
LABEL_KEYS = {
    stats.REPRODUCED: "reproduced",
    stats.SMALLER: "smaller",
    stats.EQUIVALENT: "equivalent",
    stats.CONTRADICTED: "contradicted",
    stats.INCONCLUSIVE: "inconclusive",
}


def glue_texts(texts: dict[str, str]) -> None:
    """myst_nb.glue(name, text, display=False) for each entry (a no-op without myst_nb)."""
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover - myst_nb is a book dependency
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


__all__ = [
    "Claim",
    "Verdict",
    "judge",
    "judged",
    "by_label",
    "chapter_name",
    "EQUIVALENCE_MARGIN",
    "direction_text",
    "verdict_table",
    "count_text",
    "counts",
    "plain_summary",
    "glue_claims",
    "glue_texts",
    "paper_text",
    "covers_text",
    "ledger_text",
    "MISSING",
    "PROTOCOLS",
]


def rerun_gains(fusion: str = "concat") -> dict[str, float]:
    """Published re-runs' OGM-GE gains over plain training (points), '<entry id>, <dataset>' -> gain, for
    `fusion` and for entries whose fusion the source does not state; the paper's own entries are left out
    (they are the claim's paper column)."""
    from ..ground.ledger import load_ledger

    out = {}
    for e in load_ledger()["entries"]:
        if e["fusion"] in (fusion, "not stated") and e["cite"] != "peng2022balanced":
            out[f"{e['id']}, {e['dataset']}"] = round(e["ogm_ge"] - e["baseline"], 2)
    return out
