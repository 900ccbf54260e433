"""Small sentences made from numbers, for the chapters' glue (ranges, means over seeds, learning rates, how
much the paper's protocol adds, what OGM does inside the modulation window: chapter 02), and the window's
coefficients those sentences and tables read. Each sentence is true for every outcome of its numbers."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def range_text(values: Sequence[float], digits: int = 2) -> str:
    """'0.81 to 1.20': the smallest and the largest value."""
    v = np.asarray(values, dtype=float)
    return f"{v.min():.{digits}f} to {v.max():.{digits}f}"


def mean_range_text(values: Sequence[float], digits: int = 2, what: str = "seeds") -> str:
    """'0.62 (seeds: 0.55 to 0.70)': the mean, then the range over `what`."""
    return f"{float(np.mean(values)):.{digits}f} ({what}: {range_text(values, digits)})"


def grouped_range_text(table, by: str, column: str, digits: int = 2, name: str = "batch") -> str:
    """'0.95 to 1.20 at batch 16, 0.81 to 0.85 at batch 64': the range of `column` within each value of `by`
    (a DataFrame), so that what the grouping varies is not hidden in one overall range."""
    return ", ".join(f"{range_text(g[column], digits)} at {name} {k:g}" for k, g in table.groupby(by))


def optimism_text(gains: Sequence[float]) -> str:
    """'+1.9 points on average over the book's 336 runs' (gains as fractions)."""
    return f"{100 * float(np.mean(gains)):+.1f} points on average over the book's {len(gains)} runs"


def optimiser_lr_text(sgd_lr: float, adam_lr: float, profile: str, chosen: float | None = None) -> str:
    """Chapter 07's two learning rates: SGD's is the profile's; Adam's is Table 6's rule's choice on validation
    (`chosen`, `recipe/adam_lr.py`), or a reader's own, or (no rule run: None) untuned."""
    if chosen is None:
        how = "not tuned for this data"
    elif adam_lr == chosen:
        how = "chosen on validation by Table 6's rule from plain Adam runs"
    else:
        how = f"a reader's choice (Table 6's rule on validation chooses {chosen:g})"
    return f"SGD at lr {sgd_lr:g} (the {profile} profile's, not tuned against Adam's) and Adam at lr {adam_lr:g}, {how}"


def window_k(run, alpha: float, key: str = "rho_a") -> float:
    """The mean audio coefficient over a run's modulated steps at `alpha`, from its logged discrepancy ratio:
    k = 1 - tanh(alpha rho) where rho > 1, else 1 (paper Eq. 10, `modulation.coefficient`). For a run trained
    without OGM the ratio is measured, not applied, so this is the k OGM would have applied at `alpha`."""
    from .reduce import modulation_window_steps

    first, last = modulation_window_steps(run, key)
    rho = np.asarray(run.steps[key][first:last], dtype=float)
    return float(np.nanmean(np.where(rho > 1, 1 - np.tanh(alpha * rho), 1.0)))


def mechanism_text(without, with_ge, alpha: float) -> str:
    """Chapter 02: rho^a over the modulation window without and with OGM-GE, and the k^a OGM-GE applied, mean
    over seeds; whether audio led (rho^a > 1) and whether the ratio is lower with OGM-GE, in numbers."""
    from .reduce import modulation_window_mean

    r0 = float(np.mean([modulation_window_mean(r, "rho_a") for r in without]))
    r1 = float(np.mean([modulation_window_mean(r, "rho_a") for r in with_ge]))
    k = float(np.mean([modulation_window_mean(r, "k_a") for r in with_ge]))
    lead = "audio leads on average" if min(r0, r1) > 1 else "audio does not lead on average"
    return (
        f"inside the modulation window ρᵃ averages {r0:.2f} without OGM-GE and {r1:.2f} with it ({lead}; "
        f"a difference of {r1 - r0:+.2f}), while OGM-GE scales the audio encoder's gradient by kᵃ = {k:.2f} on "
        f"average at alpha {alpha:g}"
    )


def applied_window_k(run, key: str = "k_a") -> float:
    """The mean coefficient a run applied over its modulated steps; a KeyError (a table's "—") for a run
    trained without OGM, which logs k but does not apply it."""
    from .reduce import modulation_window_mean

    if run.config.get("method") == "normal":
        raise KeyError(f"{key} is not applied without OGM")
    return modulation_window_mean(run, key)
