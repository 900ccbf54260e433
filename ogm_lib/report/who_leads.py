"""# Does a plug-in row's baseline have the condition OGM-GE is for?

OGM-GE slows the modality that dominates joint training (paper Sec. 3.2): where audio does not lead, the
paper's claim "OGM-GE recovers what the dominant modality took" has nothing to act on, and a null there says
nothing about the claim. Each plug-in row (Tables 3-5, chapters 13-15) is therefore labelled from its
baseline's runs (the model WITHOUT OGM-GE, every seed) by the rule of the phenomenon's criterion 4
(`recipe/phenomenon.py`, written before the runs were judged):

- **audio leads**: the mean discrepancy ratio rho^a (Eq. 9) over the first epoch is above 1 in every seed,
  and rho^a > 1 on at least `WINDOW_SHARE_MIN` (90 %) of the modulation window's steps (mean over seeds);
- **vision leads**: the mirror image: rho^a below 1 over the first epoch in every seed and on at least 90 % of
  the window's steps;
- **neither leads**: anything else (the lead changes hands, or the two are level).

Only "audio leads" rows test the paper's claim. The other half of the condition, headroom (what the product of
separately trained unimodal models gains over joint training), needs unimodal runs of each plug-in encoder,
which the plug-in tables do not train: it is reported as not measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..method.results import RunResult
from ..recipe.phenomenon import WINDOW_SHARE_MIN, first_epoch_rho, window_share_above_one

AUDIO, VISION, NEITHER = "audio leads", "vision leads", "neither leads"


@dataclass(frozen=True)
class Condition:
    """A baseline's lead, from its runs without OGM-GE."""

    first_epoch_rho: tuple[float, ...]  # per seed: mean rho^a over the first epoch
    window_share: float  # mean over seeds: share of the window's steps with rho^a > 1

    @property
    def leader(self) -> str:
        if min(self.first_epoch_rho) > 1 and self.window_share >= WINDOW_SHARE_MIN:
            return AUDIO
        if max(self.first_epoch_rho) < 1 and self.window_share <= 1 - WINDOW_SHARE_MIN:
            return VISION
        return NEITHER

    @property
    def tests_claim(self) -> bool:
        """Whether the row has the condition the paper's claim is about (audio leads)."""
        return self.leader == AUDIO


def condition(baseline: list[RunResult]) -> Condition:
    """The lead of a baseline from its runs (each a joint model without OGM-GE, with a per-step rho^a trace)."""
    if not baseline:
        raise ValueError("no baseline runs")
    return Condition(
        tuple(first_epoch_rho(r) for r in baseline), float(np.mean([window_share_above_one(r) for r in baseline]))
    )


def conditions(runs: dict[str, list[RunResult]], plus: str = "+") -> dict[str, Condition]:
    """label -> its baseline's condition, for every row that has its OGM-GE partner (`label + plus`)."""
    return {label: condition(rs) for label, rs in runs.items() if not label.endswith(plus) and label + plus in runs}


def condition_table(runs: dict[str, list[RunResult]], plus: str = "+") -> "pd.DataFrame":  # noqa: F821
    """One line per plug-in row: the baseline's first-epoch rho^a (lowest and highest seed), its share of the
    window's steps with rho^a > 1, who leads, and whether the row tests the paper's claim."""
    import pandas as pd

    rows = {
        label: {
            "first-epoch ρ^a (seeds' range)": f"{min(c.first_epoch_rho):.2f} to {max(c.first_epoch_rho):.2f}",
            "steps with ρ^a > 1": f"{100 * c.window_share:.0f} %",
            "who leads": c.leader,
            "tests the paper's claim": "yes" if c.tests_claim else "no",
        }
        for label, c in conditions(runs, plus).items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "baseline (without OGM-GE)"
    return table


def condition_text(conds: dict[str, Condition]) -> str:
    """One sentence, true for every outcome: how many rows' baselines have audio leading, and what the others
    can and cannot say about the paper's claim."""
    n = len(conds)
    counts = {who: sum(c.leader == who for c in conds.values()) for who in (AUDIO, VISION, NEITHER)}
    testing = [label for label, c in conds.items() if c.tests_claim]
    parts = ", ".join(f"{who} in {k}" for who, k in counts.items() if k)
    if not testing:
        return (
            f"no row's baseline has audio leading ({parts}, of {n}): no row of this table tests the paper's "
            "claim on this data, and a null here says nothing about it"
        )
    if len(testing) == n:
        return f"audio leads in every row's baseline ({n} of {n}): every row tests the paper's claim"
    return (
        f"{len(testing)} of {n} rows' baselines have audio leading ({parts}): only "
        f"{', '.join(testing)} test{'s' if len(testing) == 1 else ''} the paper's claim; the other rows' "
        "verdicts say nothing about it"
    )
