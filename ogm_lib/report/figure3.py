"""Figure 3, the discrepancy ratio rho^a over training: its summary table, its claims and its plot."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ground.paper import FIGURE3, FIGURE3_LATE
from ..method.results import RunResult
from .claims import MISSING, Claim
from .plots import color_of
from .reduce import (
    by_seed,
    mean_std,
    modulation_window_mean,
    modulation_window_steps,
    share_above,
    step_mean,
    trace_band,
)
from .tables import RHO


def rho_summary(
    runs: dict[str, list[RunResult]],
    paper_rows: dict[str, str] | None = None,
    fraction: float = 0.1,
    key: str = "rho_a",
    dataset: str = "",
    profile: str = "",
):
    """One row per method: mean ± std over seeds of rho^a over the first and last `fraction` of the
    iterations and over the modulation window, the share of iterations with rho^a > 1, and the paper's
    description (FIGURE3[paper_rows[label]])."""
    import pandas as pd

    paper_rows = paper_rows or {}
    pct = f"{fraction * 100:g}%"
    ours = f"ours ({dataset}, {profile})" if dataset or profile else "ours"

    def pm(v):
        m, s = mean_std(v)
        return f"{m:.2f} ± {s:.2f}"

    rows = {}
    for label, rs in runs.items():
        rows[label] = {
            f"{ours}: {RHO}, first {pct} of iterations": pm([step_mean(r, key, 0.0, fraction) for r in rs]),
            f"{ours}: {RHO}, last {pct}": pm([step_mean(r, key, 1.0 - fraction, 1.0) for r in rs]),
            f"{ours}: {RHO}, modulation window": pm([modulation_window_mean(r, key) for r in rs]),
            f"{ours}: iterations with {RHO} > 1": f"{np.mean([share_above(r, key) for r in rs]) * 100:.0f}%",
            "paper (VGGSound, Figure 3)": FIGURE3.get(paper_rows.get(label, label), MISSING),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def rho_claims(
    without: Sequence[RunResult], with_: Sequence[RunResult], fraction: float = 0.1, key: str = "rho_a"
) -> list[Claim]:
    """Figure 3's claims on per-seed means of rho^a over the last `fraction` of the iterations (and, for
    the effect of OGM-GE, also over the modulation window): rho^a stays above 1 with and without OGM-GE
    (audio dominant), and OGM-GE lowers it. Keys: normal_above_1, ogmge_above_1, ogmge_lowers,
    ogmge_lowers_window. The paper's effects are read from its figure (`paper.FIGURE3_LATE`). The primary claim
    is the figure's own reading, OGM-GE lowers rho^a late in training (the paper's numbers are read there); the
    comparison over the modulation window, where OGM-GE acts, is the direct test of the mechanism, in the
    paper's family with the two claims that rho^a stays above 1."""

    def late(runs):
        return by_seed(runs, lambda r: step_mean(r, key, 1.0 - fraction, 1.0))

    def window(runs):
        return by_seed(runs, lambda r: modulation_window_mean(r, key))

    def ones(runs):
        return by_seed(runs, lambda r: 1.0)

    last = f"last {fraction * 100:g}% of iterations"
    fig = "VGGSound, read from Fig. 3"
    p_without, p_with = FIGURE3_LATE["without OGM-GE"], FIGURE3_LATE["with OGM-GE"]
    return [
        Claim(
            "normal_above_1",
            f"without OGM-GE, {RHO} > 1 ({last}): audio dominant",
            late(without),
            ones(without),
            paper={fig: p_without - 1},
            unit="",
            short=f"{RHO} > 1 without OGM-GE",
        ),
        Claim(
            "ogmge_above_1",
            f"with OGM-GE, {RHO} > 1 ({last}): audio still dominant",
            late(with_),
            ones(with_),
            paper={fig: p_with - 1},
            unit="",
            short=f"{RHO} > 1 with OGM-GE",
        ),
        Claim(
            "ogmge_lowers",
            f"OGM-GE lowers {RHO} ({last})",
            late(without),
            late(with_),
            paper={fig: p_without - p_with},
            unit="",
            short=f"OGM-GE lowers {RHO} late in training",
            family="primary",
        ),
        Claim(
            "ogmge_lowers_window",
            f"OGM-GE lowers {RHO} (over the modulation window)",
            window(without),
            window(with_),
            unit="",
            short=f"OGM-GE lowers {RHO} while it modulates",
        ),
    ]


def plot_rho(
    ax,
    runs: dict[str, list[RunResult]],
    window: int = 1,
    key: str = "rho_a",
    title: str = "",
    modulation_end: bool = True,
) -> None:
    """rho^a against iteration: per method the mean over seeds of the smoothed traces and the band from
    the lowest to the highest seed, a line at rho = 1 and, if asked, a dotted line where the modulation
    window ends."""
    for label, rs in runs.items():
        b = trace_band(rs, key, window)
        c = color_of(label)
        ax.plot(b["step"], b["mean"], color=c, label=label)
        ax.fill_between(b["step"], b["min"], b["max"], color=c, alpha=0.2)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label=r"$\rho = 1$ (balanced)")
    if modulation_end:
        ends = {modulation_window_steps(r, key)[1] for rs in runs.values() for r in rs}
        n = min(len(r.steps[key]) for rs in runs.values() for r in rs)
        for i, end in enumerate(sorted(e for e in ends if 0 < e < n)):
            ax.axvline(
                end, color="grey", linewidth=1, linestyle=":", label="end of the modulation window" if i == 0 else None
            )
    ax.set_xlabel("training iteration")
    ax.set_ylabel(r"$\rho^a$" + (f" (moving average, {window} iterations)" if window > 1 else ""))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
