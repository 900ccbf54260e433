"""The book's plots: one colour per condition across every figure, forest plots of paired differences,
and curves over epochs with the paper's values overlaid where it gives them.

Sizes are for the book's text column (about 7 inches wide): figures are `WIDTH` wide, so a browser shows
them at full size with legible legends (`figure_style`: 200 dpi PNGs, shown at 100 CSS pixels per inch). Legends
sit outside the data; the paper's values are marked with one marker per dataset (`figure_style.marker_of`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..method.results import RunResult
from .claims import Verdict
from .figure_style import legend_outside, marker_of
from .reduce import epoch_curve

WIDTH = 7.0

#: one colour per condition, everywhere in the book (matplotlib's tab10 hues)
CONDITION_COLORS = {
    "audio-only": "#1f77b4",  # blue
    "visual-only": "#2ca02c",  # green
    "joint": "#4d4d4d",  # dark grey: plain joint training (any fusion, SGD)
    "ogm-ge": "#d62728",  # red: with OGM-GE
    "ogm": "#ff7f0e",  # orange: OGM alone
    "ge": "#9467bd",  # purple: GE alone
    "mdrop": "#8c564b",  # brown: modality dropout
    "grad-blend": "#e377c2",  # pink: gradient blending
    "opm": "#17becf",  # cyan: OPM
    "adam": "#7f7f7f",  # grey: Adam without OGM-GE
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


def forest(
    ax, verdicts: Sequence[Verdict], title: str = "", xlabel: str | None = None, labels: Sequence[str] | None = None
) -> None:
    """One row per claim, top to bottom: our mean paired difference A - B with its 95% interval (black),
    the paper's difference(s) (hollow red markers, one shape per dataset: a paper column 'CREMA-D Acc' is
    marked as CREMA-D everywhere), published re-runs (grey triangles), a line at zero, and the verdict at the
    right; the legend below the axes. `labels`: the rows' names (default: each claim's short name)."""
    n = len(verdicts)
    y = np.arange(n)[::-1]
    seen_paper: dict[str, str] = {}
    for yi, v in zip(y, verdicts):
        lo, hi = v.ci
        if lo == lo:
            ax.plot([lo, hi], [yi, yi], color="black", lw=1.6)
        ax.plot(v.effect, yi, "o", color="black", ms=5, label="ours: mean, 95% CI" if yi == y[0] else None)
        for col, val in v.claim.paper.items():
            marker = seen_paper.setdefault(_dataset_of(col), marker_of(col))
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
    legend_outside(ax, "below", ncol=3)


def _dataset_of(column: str) -> str:
    """'CREMA-D Acc' -> 'CREMA-D': a paper column's dataset (its name before the metric)."""
    for suffix in (" Acc", " mAP", " acc", " MAP"):
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def forest_figure(verdicts: Sequence[Verdict], title: str = ""):
    """A figure sized for the page holding `forest` of the given verdicts."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * len(verdicts) + 1.7))
    forest(ax, verdicts, title)
    fig.tight_layout()
    return fig


def epoch_curves(
    ax,
    runs: dict[str, Sequence[RunResult]],
    key: str,
    labels: Sequence[str],
    paper: dict[str, tuple[float, float]] | None = None,
    paper_labels: dict[str, str] | None = None,
    title: str = "",
    ylabel: str = "accuracy",
    legend: bool = True,
) -> None:
    """Mean ± std over seeds of a per-epoch metric, one colour per condition; where the paper describes a
    curve by its start and end (`paper`: its curve name -> (start, end)), hollow markers at our first and
    last measured epoch show them (`paper_labels`: our label -> the paper's curve name). `legend`: a legend
    to the right of the axes (False: the caller draws one for the figure, `figure1`)."""
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
    if legend:
        legend_outside(ax)


#: Figure 1's panels: metric, the paper's panel (`paper.FIGURE1`), title, rows
FIGURE1_PANELS = [
    ("probe_audio", "audio", "(a) audio encoder, linear probe", ["Audio-only", "Joint", "Joint + OGM-GE"]),
    ("probe_visual", "visual", "(b) visual encoder, linear probe", ["Visual-only", "Joint", "Joint + OGM-GE"]),
    ("test_acc", "fused", "(c) fused model, test accuracy", ["Joint", "Joint + OGM-GE"]),
]
FIGURE1_PAPER_NAMES = {
    "Audio-only": "audio-only",
    "Visual-only": "visual-only",
    "Joint": "joint",
    "Joint + OGM-GE": "joint + OGM-GE",
}


def figure1(runs: dict[str, Sequence[RunResult]], paper: dict, title: str = ""):
    """The paper's Figure 1 on our runs: three panels side by side (no empty fourth one), one legend for the
    figure below them (each condition once, and the paper's markers)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.3), sharex=True)
    for ax, (key, panel, name, labels) in zip(axes, FIGURE1_PANELS):
        epoch_curves(
            ax,
            runs,
            key,
            labels,
            paper=paper[panel],
            paper_labels=FIGURE1_PAPER_NAMES,
            title=name,
            ylabel="accuracy" if ax is axes[0] else "",
            legend=False,
        )
    handles: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncol=min(5, len(handles)),
        bbox_to_anchor=(0.5, -0.02),
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
