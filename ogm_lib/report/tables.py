"""Tables of numbers: the paper's, ours beside them under both selection protocols, and the headers that
name the data behind our columns.

- `paper_table(table)`: the paper's numbers (`paper.py`) as a DataFrame, "—" where it has none.
- `paper_vs_ours(...)`: the paper's columns, then ours (mean ± std over seeds at the best validation epoch,
  and at the best test epoch as the official code reports), the number of seeds, and the test split's own
  sampling error (`stats.binomial_se` at our mean accuracy), which the spread over seeds does not contain.
- `optimism_table(runs)`: how many points the paper's protocol adds, per row.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from ..method.config import RunConfig
from ..method.results import RunResult
from . import stats
from .claims import MISSING
from .reduce import fmt_pm, mean_std, optimism, values

#: rho^a in table headers and claim texts (plain text: tables are not rendered as math)
RHO = "ρᵃ"


def slug(text: str) -> str:
    """A glue-name-safe form of a label: 'Modality-Drop (audio)' -> 'modality_drop_audio'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower().replace("+", " plus ")).strip("_")


def seed_count_text(runs: dict[str, list[RunResult]]) -> str:
    """'5 seeds' or '5 to 10 seeds' over the rows of a chapter."""
    ns = sorted({len(rs) for rs in runs.values()})
    return f"{ns[0]} seed{'s' if ns[0] != 1 else ''}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]} seeds"


def regime_name(runs: dict[str, list[RunResult]]) -> str | None:
    """The regime of the default data (`regimes.REGIMES`) every run has, if any."""
    from ..recipe.regimes import regime_named

    names = {regime_named(r.config.get("dataset", "avdigits"), r.config) for rs in runs.values() for r in rs}
    return names.pop() if len(names) == 1 else None


def data_text(dataset: str, runs: dict[str, list[RunResult]]) -> str:
    """'avdigits', or 'avdigits, paper-like regime' when every run has a regime's data knobs."""
    regime = regime_name(runs)
    return f"{dataset}, {regime} regime" if regime else dataset


def setting_text(dataset: str, profile: str, runs: dict[str, list[RunResult]]) -> str:
    """'avdigits (cpu profile, 5 to 10 seeds per row)', or 'avdigits, paper-like regime (converged profile, ...)'
    when every run has a regime's data knobs (`data_text`)."""
    return f"{data_text(dataset, runs)} ({profile} profile, {seed_count_text(runs)} per row)"


def test_split_size(config: RunConfig) -> int:
    """The number of test items of `config`'s data (the data is built, or read from its cache)."""
    from ..method.data import build_datasets

    return len(build_datasets(config).test)


def _paper_cell(value) -> str:
    return MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def paper_table(paper: dict[str, dict[str, float]], rows: Sequence[str] | None = None):
    """The paper's numbers (percent, one decimal as printed) as a DataFrame, rows in the paper's order."""
    import pandas as pd

    columns = list(dict.fromkeys(c for row in paper.values() for c in row))
    rows = list(paper) if rows is None else list(rows)
    data = {r: {c: _paper_cell(paper.get(r, {}).get(c)) for c in columns} for r in rows}
    return pd.DataFrame.from_dict(data, orient="index", columns=columns)


def paper_vs_ours(
    paper: dict[str, dict[str, float]],
    ours: dict[str, list[RunResult]],
    dataset: str,
    profile: str,
    metrics: dict[str, str] | None = None,
    paper_rows: dict[str, str | None] | None = None,
    paper_columns: Sequence[str] | None = None,
    test_size: int | None = None,
):
    """The paper's columns, then ours, one row per entry of `ours` (in its order).

    paper: a table of `paper.py`; ours: label -> runs (one per seed); metrics: our column title -> metric
    name (default {"Acc": "test_acc"}); paper_rows: our label -> the paper's row label (default the same;
    None: "—", a row beyond the paper); paper_columns: which of the paper's columns to show (default all);
    test_size: the number of test items, for the binomial standard error of our mean accuracy.
    Our cells are "mean ± std" in percent over seeds, under each selection protocol."""
    import pandas as pd

    metrics = {"Acc": "test_acc"} if metrics is None else metrics
    all_columns = list(dict.fromkeys(c for row in paper.values() for c in row))
    columns = all_columns if paper_columns is None else list(paper_columns)
    paper_rows = {} if paper_rows is None else paper_rows
    where = f"{dataset}, {profile}"
    data = {}
    for label, runs in ours.items():
        prow_name = paper_rows.get(label, label)
        prow = paper.get(prow_name, {}) if prow_name is not None else {}
        row = {f"paper: {c}": _paper_cell(prow.get(c)) for c in columns}
        for title, name in metrics.items():
            have = bool(runs) and all(name in r.epochs[0] for r in runs)
            for protocol, tag in (("val", "best val epoch"), ("test", "best test epoch")):
                row[f"ours {title} ({where}), {tag}"] = fmt_pm(values(runs, name, protocol)) if have else MISSING
        row["seeds"] = len(runs)
        if test_size:
            acc = mean_std(values(runs, "test_acc"))[0]
            row["test-split SE"] = f"{100 * stats.binomial_se(acc, test_size):.1f}"
        data[label] = row
    return pd.DataFrame.from_dict(data, orient="index")


def at(name: str = "test_acc", protocol: str = "val"):
    """A column of `summary`: a metric at the protocol's epoch."""
    from .reduce import metric

    return lambda r: metric(r, name, protocol)


def last(key: str):
    """A column of `summary`: the last recorded value of a per-epoch metric (e.g. a linear probe)."""
    from .reduce import final_metric

    return lambda r: final_metric(r, key)


def summary(
    ours: dict[str, list[RunResult]], columns: dict[str, object], scale: float = 100.0, digits: int = 1, name: str = ""
):
    """One row per entry of `ours`, one column per entry of `columns` (title -> a function of one run, e.g.
    `at("test_acc", "val")`, `last("probe_visual")`): mean ± std over seeds, times `scale`. A column whose
    function fails on a run (a metric the run does not have) shows "—"."""
    import pandas as pd

    data = {}
    for label, runs in ours.items():
        row = {}
        for title, fn in columns.items():
            try:
                row[title] = fmt_pm([fn(r) for r in runs], scale, digits)
            except (KeyError, StopIteration):
                row[title] = MISSING
        data[label] = row
    table = pd.DataFrame.from_dict(data, orient="index")
    table.columns.name = name or None
    return table


def optimism_table(ours: dict[str, list[RunResult]], name: str = "test_acc"):
    """Per row: mean ± std over seeds of (metric at the best test epoch - at the best validation epoch), in
    points, and the share of runs where the two protocols pick different epochs."""
    import pandas as pd

    from .reduce import chosen_epoch

    rows = {}
    for label, runs in ours.items():
        m, s = mean_std(optimism(runs, name))
        differ = sum(chosen_epoch(r, "val") != chosen_epoch(r, "test") for r in runs)
        rows[label] = {
            "paper's protocol adds (points)": f"{100 * m:+.1f} ± {100 * s:.1f}",
            "runs where the epochs differ": f"{differ} of {len(runs)}",
        }
    return pd.DataFrame.from_dict(rows, orient="index")
