"""'Findings at a glance': the box at the top of the landing page and of chapter 10, built from the verdicts.

Nothing in it is typed: the data and profile the numbers come from, the headline claim's verdict with its
interval beside the paper's effect and the published re-runs', the count of each label over the book's judged
claims (whatever labels the rule has: `label_counts` takes them from the verdicts, in the rule's order
`stats.LABELS` first), what the testbed lacks (the regime checks of chapter 11 that fail, `testbed_gaps`), and
links to the repository (`book/_config.yml`'s `repository.url`), to chapter 10 and to chapter 12 (why).
Chapter 10 builds it and glues it twice (`fin_box` for its own page, `fin_box_intro` with links relative to
the book's root for `book/intro.md`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Callable, Mapping, Sequence

from . import stats

CONFIG = Path(__file__).resolve().parents[2] / "book" / "_config.yml"
PLACEHOLDER_URL = "https://github.com/ogm-ge-book/ogm-ge-book"


def repository_url(config: Path = CONFIG) -> str:
    """`repository.url` of the book's `_config.yml` (read as text: the key under the `repository:` block)."""
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return PLACEHOLDER_URL
    m = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*['\"]?([^'\"\s#]+)", text, re.M)
    return m.group(1) if m else PLACEHOLDER_URL


def label_counts(verdicts: Sequence, counts: Callable | None = None) -> dict[str, int]:
    """label -> count. `counts`: the book's counting function (`claims.counts`, which may leave out claims judged
    in another chapter); without it, every verdict's label is counted. Labels with a zero count are kept when the
    rule names them (`stats.LABELS`); others appear in the order met."""
    if counts is not None:
        n = dict(counts(list(verdicts)))
    else:
        n = {}
        for v in verdicts:
            n[v.label] = n.get(v.label, 0) + 1
    order = [lab for lab in stats.LABELS if lab in n] + [lab for lab in n if lab not in stats.LABELS]
    return {lab: int(n[lab]) for lab in order}


def testbed_gaps(checks: dict | None) -> list[str]:
    """What the testbed lacks, from `calibration.regime_checks` of the book's regime (the testbed): each failed
    check as a phrase (empty when every check passes)."""
    if not checks:
        return []
    gaps = []
    rho = checks.get("rho_first")
    if rho is not None and min(rho) <= 1:
        gaps.append(
            f"audio does not lead from the first epoch in every seed (joint ρᵃ {min(rho):.2f} to {max(rho):.2f})"
        )
    conv = checks.get("convergence")
    if conv is not None and not conv.get("passes", True):
        gaps.append(
            f"the schedule fails the convergence rule ({round(100 * conv['share'])} % of {conv['runs']} "
            "runs peak before the last 15 % of epochs)"
        )
    late = checks.get("late_gain")
    if late is not None and late[1] > 0:
        gaps.append(
            f"validation accuracy is still rising at the end ({late[0]:+.1f} points over the last 15 % of epochs)"
        )
    return gaps


def _criterion_text(c) -> str:
    """'gain over the best unimodal model +6.0 (needs <= 2)': a criterion's short name, value and threshold."""
    name = c.name.split(" (")[0]
    if c.unit < 1:
        value, need = f"{c.value:.0%}", f"{c.threshold:.0%}"
    else:
        value, need = f"{c.value:+.1f}", f"{c.threshold:+.1f}"
    return f"{name} {value} (needs {'≥' if c.at_least else '≤'} {need})"


def phenomenon_gaps(results_dir=None) -> list[str]:
    """The paper's phenomenon criteria (`phenomenon.py`) that the book's testbed misses, measured by chapter 11's
    rule on its confirmation seeds (plain runs, validation); empty when the search's runs are not in the results
    folder or the chosen design meets every primary criterion."""
    from ..recipe import testbed

    try:
        _, confirmed, chosen = testbed.read_outcome(results_dir)
        row = next(r for r in confirmed if r[0] == chosen)
    except (FileNotFoundError, ValueError, StopIteration):
        return []
    missed = [_criterion_text(c) for c in row[3] if c.weight == 1.0 and not c.met]
    if not missed:
        return []
    return [
        f"the paper's condition in full: of chapter 11's primary criteria, the testbed (\"{chosen}\", "
        f"{row[2]['seeds']} seeds) misses {'; '.join(missed)}"
    ]


def earlier_regime_gaps() -> list[str]:
    """The chapters still on the book's earlier regime (`chapters.ON_EARLIER_REGIME`: their rows' runs are not yet
    trained on the testbed), as one phrase; empty when every chapter has moved."""
    from ..recipe.chapters import EARLIER_REGIME, ON_EARLIER_REGIME

    if not ON_EARLIER_REGIME:
        return []
    names = ", ".join(name[:2] for name in ON_EARLIER_REGIME)
    one = len(ON_EARLIER_REGIME) == 1
    return [
        f"chapter{'' if one else 's'} {names} still run{'s' if one else ''} on the {EARLIER_REGIME} regime, which "
        f"lacks the phenomenon (what {'it needs' if one else 'they need'} is not yet made on the testbed)"
    ]


def leads_text(leads: Mapping[str, int]) -> str:
    """'3 audio leads (tests the paper's claim), 20 vision leads, ...': the judged claims counted by who leads in
    the row they test (chapter 10's columns, `chapters.phenomenon`), the columns with no claim left out."""
    return ", ".join(f"{n} {who}" for who, n in leads.items() if n)


def book_setting_text(dataset: str, profile: str, head_runs: Mapping, seeds=None) -> str:
    """'avdigits, testbed regime (converged profile; 5 seeds per row, 20 for the headline pair)': the data the
    headline pair ran on (`head_runs`, label -> runs) and the book's seed rule (`seeds`: the chapters' count or
    list, None: the book's `SEEDS`; the headline's seeds are the runs'), not one chapter's count of seeds."""
    from ..recipe.book import SEEDS, seed_list
    from .tables import data_text

    per_row = len(seed_list(SEEDS if seeds is None else seeds))
    head = min(len(rs) for rs in head_runs.values())
    return f"{data_text(dataset, head_runs)} ({profile} profile; {per_row} seeds per row, {head} for the headline pair)"


def findings_html(
    setting: str,
    headline,
    counts: dict[str, int],
    gaps: Sequence[str] = (),
    repo_url: str | None = None,
    root: str = "../",
    real_data: bool = False,
    leads: Mapping[str, int] | None = None,
) -> str:
    """The box. `setting`: what data and profile (`tables.setting_text`); `headline`: the headline claim's
    Verdict; `counts`: `label_counts`; `gaps`: `testbed_gaps`; `root`: the relative path from the page to the
    book's root ('../' on chapter 10, '' on the landing page); `real_data`: whether the numbers come from one of
    the paper's datasets; `leads`: the judged claims by who leads in their row (`leads_text`), if given."""
    from .claims import ledger_text, paper_text
    from .table_style import LABEL_COLORS

    repo_url = repo_url or repository_url()
    e = html.escape
    total = sum(counts.values())
    chips = ", ".join(
        f'<span class="ogm-count" data-label="{e(lab)}" data-count="{n}" '
        f'style="background:{LABEL_COLORS.get(lab, ("#ececec",))[0]};padding:0 0.3em;border-radius:0.3em">'
        f"<strong>{n}</strong> {e(lab)}</span>"
        for lab, n in counts.items()
    )
    data_note = (
        ""
        if real_data
        else " These are the book's default data, a stand-in built to show the "
        "imbalance, not CREMA-D or the paper's other datasets: the verdicts say what holds here."
    )
    items = [
        f"<li><strong>Data.</strong> The book's runs: {e(setting)}.{e(data_note)}</li>",
        f"<li><strong>Headline</strong> (concatenation + OGM-GE beats concatenation): {e(str(headline))}. "
        f"The paper: {e(paper_text(headline.claim))} points; published re-runs: {e(ledger_text(headline.claim))}."
        "</li>",
        f'<li><strong>All claims</strong> (<span class="ogm-total" data-count="{total}">{total}</span> judged): '
        f"{chips}.</li>",
    ]
    if leads:
        items.append(
            "<li><strong>Which verdicts test the paper's claim</strong>: only those on a row where audio leads "
            f"(the condition OGM-GE is for); by who leads in the row: {e(leads_text(leads))}.</li>"
        )
    if gaps:
        items.append("<li><strong>What the testbed lacks</strong>: " + e("; ".join(gaps)) + ".</li>")
    else:
        items.append("<li><strong>The testbed</strong> passes every regime check of chapter 11.</li>")
    links = (
        f'<a href="{e(repo_url)}">the repository</a> · '
        f'<a href="{root}notebooks/10_verdicts.html">every verdict (chapter 10)</a> · '
        f'<a href="{root}notebooks/12_when_ogm_ge_helps.html">why (chapter 12)</a> · '
        f'<a href="{root}judging_claims.html">how a claim is judged</a>'
    )
    return (
        '<div class="admonition ogm-findings"><p class="admonition-title">Findings at a glance</p>'
        f"<ul>{''.join(items)}</ul><p>{links}</p></div>"
    )


class Findings:
    """Displays as the box (text/html) and as plain text."""

    def __init__(self, body: str) -> None:
        self.body = body

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:
        return re.sub(r"<[^>]+>", "", self.body)


def glue_findings(
    setting: str,
    headline,
    verdicts: Sequence,
    counts: Callable | None = None,
    checks: dict | None = None,
    real_data: bool = False,
    leads: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Glue 'fin_box' (links relative to a chapter page) and 'fin_box_intro' (relative to the book's root);
    returns the label counts shown. `leads`: the judged claims by who leads in their row (chapter 10's
    `chapters.count_table`, its "all" row)."""
    n = label_counts(verdicts, counts)
    gaps = testbed_gaps(checks) + phenomenon_gaps() + earlier_regime_gaps()
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover
        return n
    glue(
        "fin_box",
        Findings(findings_html(setting, headline, n, gaps, root="../", real_data=real_data, leads=leads)),
        display=False,
    )
    glue(
        "fin_box_intro",
        Findings(findings_html(setting, headline, n, gaps, root="", real_data=real_data, leads=leads)),
        display=False,
    )
    return n


def regime_checks(runs: dict) -> dict:
    """`calibration.regime_checks` of the book's regime's rows: `runs`, row -> its runs, are chapter 11's
    (`recipe.regimes.train_regime(book.REGIME)`, read back when committed)."""
    from .calibration import regime_checks

    return regime_checks(runs)


__all__ = [
    "findings_html",
    "glue_findings",
    "book_setting_text",
    "label_counts",
    "testbed_gaps",
    "repository_url",
    "regime_checks",
    "earlier_regime_gaps",
    "Findings",
]
