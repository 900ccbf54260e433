"""Table 6's Adam learning-rate rule as the chapter shows it: the validation mean of each rate and the choice.

The rule and its runs are the recipe's (`recipe/adam_lr.py`: plain Adam concatenation at each rate of its grid,
no OGM-GE, the highest mean validation accuracy, ties to the smaller rate); this reads what it chose.
"""

from __future__ import annotations

from typing import Mapping


def rule_table(means: Mapping[float, float], chosen: float):
    """lr -> mean best validation accuracy (%) as a DataFrame, the chosen rate marked."""
    import pandas as pd

    return pd.DataFrame(
        {
            "validation accuracy (%)": {f"{lr:g}": round(m, 1) for lr, m in sorted(means.items())},
            "chosen": {f"{lr:g}": "✓" if lr == chosen else "" for lr in sorted(means)},
        }
    ).rename_axis("Adam lr")


def rule_text(chosen: float, used: float, means: Mapping[float, float], seeds: int) -> str:
    """One sentence: what the rule chose, on how many seeds, and whether the table's Adam rows use it."""
    ranked = sorted(means.items(), key=lambda kv: -kv[1])
    runner = next(((lr, m) for lr, m in ranked if lr != chosen), None)
    gap = f", {means[chosen] - runner[1]:.1f} points above the next ({runner[0]:g})" if runner else ""
    uses = (
        "the table's Adam rows use it"
        if used == chosen
        else f"the table's Adam rows use {used:g}, not the rule's choice (a reader's parameter)"
    )
    mean = f"mean validation accuracy {means[chosen]:.1f} % over {seeds} seeds{gap}"
    edge = ""
    if len(means) > 1 and chosen in (min(means), max(means)):
        side = "largest" if chosen == max(means) else "smallest"
        edge = (
            f"; it is the {side} rate of the grid, so a rate beyond it might do better: the rule, fixed before "
            "its runs, does not look there"
        )
    return f"the rule chooses {chosen:g} ({mean}){edge}; {uses}"


__all__ = ["rule_table", "rule_text"]
