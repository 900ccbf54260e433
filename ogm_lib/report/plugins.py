"""The claims of Tables 3, 4 and 5 (OGM-GE as a plug-in), as functions of their runs (`ogm_lib/plugins.py`).

As in `chapters.py`, a claim reads "A beats B" in the paper's direction and carries the paper's own A - B
(`paper.TABLE3`, `paper.TABLE4`), in points. Each table's claims are judged together (Holm over the table):
one claim per plug-in model ("model + OGM-GE beats model"), and the reference pair (the book's ResNet-18
concatenation model on the same clips), whose paper effect is the paper's concatenation gain on the dataset
closest to the table's (Table 2's Kinetics-Sounds gain for Table 3, Table 1's CREMA-D gain for Table 4).
Table 5 (event localisation) has no reference pair.
"""
from __future__ import annotations

from ..plugins import AUDIO_ROWS, EVENT_ROWS, PLUS, REFERENCE, VIDEO_ROWS
from ..results import RunResult
from .claims import Claim
from .paper import TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, difference
from .tables import slug

Runs = dict[str, list[RunResult]]


def _claims(runs: Runs, models, table: dict, reference_paper: dict[str, float] | None) -> list[Claim]:
    out = [Claim(f"{slug(label)}_ge", f"{label} + OGM-GE beats {label}", runs[label + PLUS], runs[label],
                 paper=difference(table, label + PLUS, label), short=f"{label}: + OGM-GE")
           for label in models]
    if reference_paper is None:
        return out
    out.append(Claim("reference_ge", f"{REFERENCE} + OGM-GE beats {REFERENCE} (same clips)",
                     runs[REFERENCE + PLUS], runs[REFERENCE], paper=reference_paper,
                     short="ResNet-18 (book's model): + OGM-GE"))
    return out


def table3_claims(runs: Runs) -> list[Claim]:
    """Chapter 13: OGM-GE with each video model (paper: Kinetics-Sounds and VGGSound)."""
    return _claims(runs, VIDEO_ROWS, TABLE3, difference(TABLE2, "OGM-GE", "Concatenation", ["Kinetics-Sounds"]))


def table4_claims(runs: Runs) -> list[Claim]:
    """Chapter 14: OGM-GE with each audio encoder (paper: CREMA-D)."""
    gain = difference(TABLE1, "Concatenation+", "Concatenation", ["CREMA-D Acc"])["CREMA-D Acc"]
    return _claims(runs, AUDIO_ROWS, TABLE4, {"CREMA-D": gain})      # Table 4's column name


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
    """Per row: mean wall time of one run (s) and, where the table has a reference pair, its ratio to the
    reference row without OGM-GE."""
    import pandas as pd
    mean = {label: sum(r.wall_time_s for r in rs) / len(rs) for label, rs in runs.items() if rs}
    base = mean.get(REFERENCE)
    rows = {label: {"seconds per run": f"{t:.0f}"} for label, t in mean.items()}
    if base:                      # Table 5 has no reference row: no ratio column
        for label, t in mean.items():
            rows[label]["× the book's model"] = f"{t / base:.2f}"
    return pd.DataFrame.from_dict(rows, orient="index")
