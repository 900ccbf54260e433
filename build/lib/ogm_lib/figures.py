"""Small reductions the method chapters (notebooks 01-04) plot: curves over epochs, means over seeds."""
from __future__ import annotations

import numpy as np

from .results import RunResult


def epoch_curve(runs: list[RunResult], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, mean, std) over seeds of a per-epoch metric, at the epochs where every run has it."""
    epochs = sorted(set.intersection(*[{e["epoch"] for e in r.epochs if key in e} for r in runs]))
    table = np.array([[next(e[key] for e in r.epochs if e["epoch"] == ep) for ep in epochs] for r in runs])
    std = table.std(0, ddof=1) if len(runs) > 1 else np.zeros(len(epochs))
    return np.array(epochs), table.mean(0), std


def final_metric(runs: list[RunResult], key: str) -> list[float]:
    """The last recorded value of a per-epoch metric in each run (e.g. the last linear probe)."""
    return [next(e[key] for e in reversed(r.epochs) if key in e) for r in runs]


def step_mean(runs: list[RunResult], key: str, start: float = 0.0, end: float = 1.0) -> list[float]:
    """Per run, the mean of a per-step trace over a fraction [start, end) of the iterations."""
    out = []
    for r in runs:
        x = np.asarray(r.steps[key], dtype=float)
        out.append(float(x[int(start * len(x)):max(int(end * len(x)), int(start * len(x)) + 1)].mean()))
    return out
