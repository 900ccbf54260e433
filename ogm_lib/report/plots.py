"""The book's plots: one colour per condition across every figure, forest plots of paired differences,
and curves over epochs with the paper's values overlaid where it gives them.

Sizes are for the book's text column (about 7 inches wide): figures are at most `WIDTH` wide, so a
browser shows them at full size with legible legends.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..results import RunResult
from .claims import Verdict
from .reduce import epoch_curve

WIDTH = 7.0

#: one colour per condition, everywhere in the book (matplotlib's tab10 hues)
CONDITION_COLORS = {
    "audio-only": "#1f77b4",      # blue
    "visual-only": "#2ca02c",     # green
    "joint": "#4d4d4d",           # dark grey: plain joint training (any fusion, SGD)
    "ogm-ge": "#d62728",          # red: with OGM-GE
    "ogm": "#ff7f0e",             # orange: OGM alone
    "ge": "#9467bd",              # purple: GE alone
    "mdrop": "#8c564b",           # brown: modality dropout
    "grad-blend": "#e377c2",      # pink: gradient blending
    "opm": "#17becf",             # cyan: OPM
    "adam": "#7f7f7f",            # grey: Adam without OGM-GE
}


def condition_of(label: str) -> str:
    """The condition a row label stands for ('Concatenation+' -> 'ogm-ge', 'SGD' -> 'joint', ...)."""
    low = label.lower()
    if "audio-only" in low:
        return "audio-only"
    if "visual-only" in low:
        return "visual-only"
    if "ogm-ge" in low or low.rstrip().endswith("+"):
        return "ogm-ge"
    if "ge only" in low:
        return "ge"
    if "ogm" in low:
        return "ogm"
    for key, cond in (("modality-drop", "mdrop"), ("grad-blend", "grad-blend"), ("opm", "opm"), ("adam", "adam")):
        if key in low:
            return cond
    return "joint"


def color_of(label: str) -> str:
    return CONDITION_COLORS[condition_of(label)]


def forest(ax, verdicts: Sequence[Verdict], title: str = "", xlabel: str | None = None,
           labels: Sequence[str] | None = None) -> None:
    """One row per claim, top to bottom: our mean paired difference A - B with its 95% interval (black),
    the paper's difference(s) (hollow red markers, one shape per paper column), published re-runs (grey
    triangles), a line at zero, and the verdict at the right. `labels`: the rows' names (default: each
    claim's short name)."""
    n = len(verdicts)
    y = np.arange(n)[::-1]
    shapes = ["D", "s", "^", "o", "P", "X", "h", "*"]
    seen_paper: dict[str, str] = {}
    for yi, v in zip(y, verdicts):
        lo, hi = v.ci
        if lo == lo:
            ax.plot([lo, hi], [yi, yi], color="black", lw=1.6)
        ax.plot(v.effect, yi, "o", color="black", ms=5, label="ours: mean, 95% CI" if yi == y[0] else None)
        for col, val in v.claim.paper.items():
            marker = seen_paper.setdefault(col, shapes[len(seen_paper) % len(shapes)])
            ax.plot(val, yi, marker, mfc="none", mec="#d62728", ms=7, mew=1.4)
        for val in v.claim.ledger.values():
            ax.plot(val, yi, "v", color="#999999", ms=5)
    if any(v.claim.ledger for v in verdicts):
        ax.plot([], [], "v", color="#999999", ms=5, label="published re-runs")
    for col, marker in seen_paper.items():
        ax.plot([], [], marker, mfc="none", mec="#d62728", ms=7, mew=1.4, label=f"paper: {col}")
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    labels = [v.claim.short or v.claim.text for v in verdicts] if labels is None else list(labels)
    ax.set_yticks(y, labels, fontsize=8 if n < 20 else 7)
    ax.set_ylim(-0.7, n - 0.3)
    right = ax.secondary_yaxis("right")
    right.set_yticks(y, [v.label for v in verdicts], fontsize=8 if n < 20 else 7)
    right.tick_params(length=0)
    unit = verdicts[0].claim.unit if verdicts else "points"
    ax.set_xlabel(xlabel or ("A − B, points" if unit == "points" else f"A − B{', ' + unit if unit else ''}"))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")


def forest_figure(verdicts: Sequence[Verdict], title: str = ""):
    """A figure sized for the page holding `forest` of the given verdicts."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * len(verdicts) + 1.3))
    forest(ax, verdicts, title)
    fig.tight_layout()
    return fig


def epoch_curves(ax, runs: dict[str, Sequence[RunResult]], key: str, labels: Sequence[str],
                 paper: dict[str, tuple[float, float]] | None = None, paper_labels: dict[str, str] | None = None,
                 title: str = "", ylabel: str = "accuracy") -> None:
    """Mean ± std over seeds of a per-epoch metric, one colour per condition; where the paper describes a
    curve by its start and end (`paper`: its curve name -> (start, end)), hollow markers at our first and
    last measured epoch show them (`paper_labels`: our label -> the paper's curve name)."""
    paper, paper_labels = paper or {}, paper_labels or {}
    for label in labels:
        ep, mean, std = epoch_curve(runs[label], key)
        c = color_of(label)
        ax.plot(ep + 1, mean, marker="o", ms=3, color=c, label=label)
        ax.fill_between(ep + 1, mean - std, mean + std, color=c, alpha=0.2)
        name = paper_labels.get(label)
        if name in paper:
            ax.plot([ep[0] + 1, ep[-1] + 1], paper[name], "D", mfc="none", mec=c, ms=7, mew=1.4)
    if any(paper_labels.get(label) in paper for label in labels):
        ax.plot([], [], "D", mfc="none", mec="black", label="paper (VGGSound): start, end")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
