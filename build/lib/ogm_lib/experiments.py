"""Running groups of runs over seeds and turning them into the book's tables and verdicts.

The notebooks stay thin: they name configurations, call `run_grid`, and hand the results to `summary_table`
and `paired_verdict`. Everything that decides a number or a verdict lives here, where tests reach it.

- `run_grid(configs, workers)`: train (or read from the cache) many configs; with `workers > 1` they run in
  parallel processes of one thread each, which on a small CPU beats one process with many threads.
- `mean_std` / `fmt_pm`: mean +- std over seeds (sample std, ddof = 1).
- `paired_verdict(a, b)`: is method A better than method B on our data? Runs are paired by seed (same
  initialisation and batch order), and the verdict comes from the paired differences:
  *reproduced* if the mean difference is positive and at least two standard errors above zero,
  *partly* if it is positive but within that noise, *not reproduced* if it is zero or negative (a mean
  difference below `NO_DIFFERENCE` counts as zero: accuracies over a few hundred test samples move in
  steps of a few tenths of a percent, so anything smaller is floating-point residue).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .config import RunConfig
from .results import RunResult

VERDICTS = ("reproduced", "partly", "not reproduced")
NO_DIFFERENCE = 1e-6


def _fit_one(args):
    config, results_dir, threads = args
    import torch
    torch.set_num_threads(threads)
    from .train import fit
    return fit(config, results_dir)


def default_workers() -> int:
    """`$OGM_WORKERS` if set, else one process per core (at most 4)."""
    return int(os.environ.get("OGM_WORKERS", min(4, os.cpu_count() or 1)))


def run_grid(configs: Sequence[RunConfig], results_dir=None, workers: int | None = None) -> list[RunResult]:
    """fit() every config (cached ones are read back), in `workers` processes; results in input order."""
    from .train import fit
    configs = list(configs)
    workers = default_workers() if workers is None else workers
    cuda = any(str(c.device).startswith("cuda") for c in configs)
    if workers <= 1 or len(configs) <= 1 or cuda:    # one GPU: run one after another
        return [fit(c, results_dir) for c in configs]
    import torch.multiprocessing as mp
    # identical configs are trained once; the others are shared out
    unique = list({c.key(): c for c in configs}.values())
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(unique))) as pool:
        done = pool.map(_fit_one, [(c.replace(quiet=True), results_dir, 1) for c in unique], chunksize=1)
    by_key = {r.key: r for r in done}
    return [by_key[c.key()] for c in configs]


def seeds_of(config: RunConfig, seeds: Iterable[int]) -> list[RunConfig]:
    return [config.replace(seed=s) for s in seeds]


def metric(result: RunResult, name: str = "test_acc", epoch: str = "best") -> float:
    """A metric of one run at its validation-chosen epoch ("best") or its last ("final")."""
    return float((result.best if epoch == "best" else result.final)[name])


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_pm(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """'61.9 ± 1.2' (percent by default)."""
    m, s = mean_std(values)
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


@dataclass
class Verdict:
    mean_diff: float      # mean over seeds of (A - B)
    std_diff: float       # sample std of the paired differences
    n: int
    verdict: str

    @property
    def stderr(self) -> float:
        return self.std_diff / math.sqrt(self.n) if self.n > 1 else float("inf")

    def __str__(self) -> str:
        return f"{self.verdict} ({self.mean_diff * 100:+.1f} ± {self.std_diff * 100:.1f} points, n={self.n})"


def paired_verdict(a: Sequence[float], b: Sequence[float]) -> Verdict:
    """Does A beat B? From paired (same-seed) values; see the module docstring for the rule."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"paired_verdict needs two equal-length, non-empty lists, got {len(a)} and {len(b)}")
    d = np.asarray(a, float) - np.asarray(b, float)
    m, s = mean_std(d)
    se = s / math.sqrt(len(d)) if len(d) > 1 else float("inf")
    if m <= NO_DIFFERENCE:
        verdict = "not reproduced"
    elif len(d) > 1 and m >= 2 * se:
        verdict = "reproduced"
    else:
        verdict = "partly"
    return Verdict(m, s, len(d), verdict)


def summary_table(rows: dict[str, list[RunResult]], metrics: dict[str, str], epoch: str = "best"):
    """A pandas DataFrame: one row per entry of `rows`, one 'mean ± std' column per metric.

    rows: label -> the runs (one per seed); metrics: column title -> metric name (e.g. "test_acc").
    """
    import pandas as pd
    data = {label: {title: fmt_pm([metric(r, name, epoch) for r in runs]) for title, name in metrics.items()}
            for label, runs in rows.items()}
    return pd.DataFrame.from_dict(data, orient="index")


def values(runs: Sequence[RunResult], name: str = "test_acc", epoch: str = "best") -> list[float]:
    return [metric(r, name, epoch) for r in runs]
