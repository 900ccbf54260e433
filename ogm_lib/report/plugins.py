"""The claims of Tables 3, 4 and 5 (OGM-GE as a plug-in), as functions of their runs (`ogm_lib/recipe/plugins.py`).

As in `chapters.py`, a claim reads "A beats B" in the paper's direction and carries the paper's own A - B
(`paper.TABLE3`, `paper.TABLE4`), in points. One claim per plug-in model ("model + OGM-GE beats model"): the
model with the paper's largest gain is the table's primary claim (`primary_model`), the others the paper's
family; and the reference pair (the book's ResNet-18 concatenation model on the same clips, the book's own
claim), whose paper effect is the paper's concatenation gain on the dataset closest to the table's (Table 2's
Kinetics-Sounds gain for Table 3, Table 1's CREMA-D gain for Table 4; Table 4's is the headline pair itself,
judged in chapter 05). Table 5 (event localisation) has no reference pair.
"""

from __future__ import annotations

import numpy as np

from ..ground.paper import TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, difference
from ..method.results import RunResult
from ..recipe.plugins import AUDIO_ROWS, EVENT_ROWS, PLUS, REFERENCE, VIDEO_ROWS
from .claims import MISSING, Claim
from .reduce import by_seed, final_metric, metric, modulation_window_mean
from .stats import paired_test
from .tables import slug
from .where_judged import judged_where

Runs = dict[str, list[RunResult]]


def primary_model(models, table: dict) -> str:
    """The table's primary claim, fixed by the paper's numbers before ours: the model with the largest gain
    the paper reports (over its datasets; the first such model on a tie)."""
    return max(models, key=lambda m: max(difference(table, m + PLUS, m).values(), default=float("-inf")))


def _claims(
    runs: Runs,
    models,
    table: dict,
    reference_paper: dict[str, float] | None,
    reference_judged_in: tuple[str, str] | None = None,
) -> list[Claim]:
    primary = primary_model(models, table)
    out = [
        Claim(
            f"{slug(label)}_ge",
            f"{label} + OGM-GE beats {label}",
            runs[label + PLUS],
            runs[label],
            paper=difference(table, label + PLUS, label),
            short=f"{label}: + OGM-GE",
            family="primary" if label == primary else "paper",
        )
        for label in models
    ]
    if reference_paper is None:
        return out
    out.append(
        Claim(
            "reference_ge",
            f"{REFERENCE} + OGM-GE beats {REFERENCE} (same clips)",
            runs[REFERENCE + PLUS],
            runs[REFERENCE],
            paper=reference_paper,
            short="ResNet-18 (book's model): + OGM-GE",
            family="book",
            judged_in=reference_judged_in,
        )
    )
    return out


def table3_claims(runs: Runs) -> list[Claim]:
    """Chapter 13: OGM-GE with each video model (paper: Kinetics-Sounds and VGGSound)."""
    return _claims(runs, VIDEO_ROWS, TABLE3, difference(TABLE2, "OGM-GE", "Concatenation", ["Kinetics-Sounds"]))


def table4_claims(runs: Runs) -> list[Claim]:
    """Chapter 14: OGM-GE with each audio encoder (paper: CREMA-D)."""
    gain = difference(TABLE1, "Concatenation+", "Concatenation", ["CREMA-D Acc"])["CREMA-D Acc"]
    # the reference pair is its regime's headline pair on the default clips: judged where that pair is
    reference = judged_where(runs, "05_table1", "concat_ge")
    return _claims(runs, AUDIO_ROWS, TABLE4, {"CREMA-D": gain}, reference)  # Table 4's column


def table5_claims(runs: Runs) -> list[Claim]:
    """Chapter 15: OGM-GE with each event-localisation model (paper: AVE, segment-level accuracy; ours: the
    segment-level accuracy of the event sequences, the runs' `test_acc`)."""
    return _claims(runs, EVENT_ROWS, TABLE5, None)


def gains_table(claims: list[Claim], verdicts: dict) -> "pd.DataFrame":  # noqa: F821
    """One row per model: the paper's gain per dataset beside ours (points, 95% CI) and the verdict."""
    import pandas as pd

    rows = {}
    for c in claims:
        v = verdicts[c.key]
        row = {f"paper: {col}": f"{val:+.1f}" for col, val in c.paper.items()}
        row["ours: gain, 95% CI"] = v.interval_text()
        row["verdict"] = v.label
        rows[c.short.split(":")[0]] = row
    return pd.DataFrame.from_dict(rows, orient="index").fillna("—")


def wall_times(runs: Runs) -> "pd.DataFrame":  # noqa: F821
    """Per row: median wall time of one run over its seeds (s) and, where the table has a reference pair, its
    ratio to the reference row without OGM-GE. The median, because a run's wall time counts the time its process
    was stopped (a training job paused while other work had the machine): one such run would move a mean."""
    import statistics

    import pandas as pd

    median = {label: statistics.median(r.wall_time_s for r in rs) for label, rs in runs.items() if rs}
    base = median.get(REFERENCE)
    rows = {label: {"seconds per run": f"{t:.0f}"} for label, t in median.items()}
    if base:  # Table 5 has no reference row: no ratio column
        for label, t in median.items():
            rows[label]["× the book's model"] = f"{t / base:.2f}"
    return pd.DataFrame.from_dict(rows, orient="index")


#: `inside_table`'s columns: title -> a number of one run (a fraction; shown in points)
INSIDE = {
    "fused test acc": lambda r: metric(r, "test_acc"),
    "visual probe": lambda r: final_metric(r, "probe_visual"),
    "audio probe": lambda r: final_metric(r, "probe_audio"),
    "train acc, last epoch": lambda r: final_metric(r, "train_acc"),
}
#: `inside_table`'s trace columns: title -> (the side: with OGM-GE or not, the per-step trace)
TRACES = {
    "mean ρ^a without": (False, "rho_a"),
    "mean k^a with OGM-GE": (True, "k_a"),
    "mean k^v with OGM-GE": (True, "k_v"),
}


def _pairs(runs: Runs):
    """(label, runs without OGM-GE, runs with it) for every row that has its "+" partner."""
    return [
        (label, rs, runs[label + PLUS])
        for label, rs in runs.items()
        if not label.endswith(PLUS) and label + PLUS in runs
    ]


def _trace_mean(rs: list[RunResult], key: str) -> float:
    """Mean over runs of a per-step trace's mean over the modulated steps (`reduce.modulation_window_mean`)."""
    return float(np.mean([modulation_window_mean(r, key) for r in rs]))


def inside_table(runs: Runs) -> "pd.DataFrame":  # noqa: F821
    """What OGM-GE changes inside each pair's model: the differences chapter 12 reads for the book's model.
    Per pair, OGM-GE minus without, paired by seed (`Claim.pairs`): mean and 95% CI in points
    (`stats.paired_test`) of the fused test accuracy (best-validation epoch), each encoder's last linear probe
    (how much of the class the encoder alone carries) and the training accuracy at the last epoch; then the mean
    discrepancy ratio rho^a over the modulated steps without OGM-GE (Eq. 9: above 1, audio dominates; below 1,
    vision does) and the mean coefficients k^a and k^v over the same steps with it (Eq. 10: the factor on each
    encoder's gradient; 1 leaves it as it is, and only the dominant modality's is below 1 on a step).
    Descriptive, no verdict: it shows where a gain or a loss comes from. "—" where the runs do not record a
    column."""
    import pandas as pd

    rows = {}
    for label, without, with_ge in _pairs(runs):
        row = {}
        for title, fn in INSIDE.items():
            try:
                t = paired_test(*Claim(title, title, by_seed(with_ge, fn), by_seed(without, fn)).pairs()[1:])
            except (KeyError, StopIteration):
                row[title] = MISSING
                continue
            row[title] = f"{100 * t.mean:+.1f} ({100 * t.ci_low:+.1f} to {100 * t.ci_high:+.1f})"
        for title, (side, key) in TRACES.items():
            try:
                row[title] = f"{_trace_mean(with_ge if side else without, key):.2f}"
            except KeyError:
                row[title] = MISSING
        rows[label] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "OGM-GE minus without (95% CI), points"
    return table


def trace_range_text(runs: Runs, key: str = "k_a", with_ge: bool = True) -> str:
    """'0.92 to 0.99': the range over a table's pairs of the mean of a per-step trace over the modulated steps,
    in the runs with OGM-GE (`with_ge`) or without it (as `inside_table`)."""
    means = [_trace_mean(w if with_ge else wo, key) for _, wo, w in _pairs(runs)]
    return f"{min(means):.2f} to {max(means):.2f}"
