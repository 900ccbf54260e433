"""Runs -> numbers and curves: the metric of a run under a selection protocol, values by seed, curves over
epochs and iterations. Nothing here decides a verdict (`stats.py`, `claims.py` do).

**Two selection protocols, from the same runs.** Every run stores its metrics at every epoch, so the
reported epoch is chosen afterwards:

- `"val"` (ours): the epoch with the best VALIDATION fused accuracy (`RunResult.best_epoch`, the first best);
- `"test"` (the paper's, as the official code does it): the epoch with the best TEST fused accuracy (the
  first best), which lets the test split choose its own epoch and flatters every number (`optimism`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..method.results import RunResult

PROTOCOLS = {"val": "best validation epoch (ours)", "test": "best test epoch (the official code's)"}


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown selection protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")


def chosen_epoch(result: RunResult, protocol: str = "val") -> int:
    """Index of the reported epoch under `protocol`."""
    check_protocol(protocol)
    if protocol == "val":
        return result.best_epoch
    accs = [e["test_acc"] for e in result.epochs]
    return max(range(len(accs)), key=lambda i: (accs[i], -i))


def metric(result: RunResult, name: str = "test_acc", protocol: str = "val") -> float:
    """A metric of one run at the epoch its protocol chooses."""
    return float(result.epochs[chosen_epoch(result, protocol)][name])


def gap(result: RunResult, protocol: str = "val") -> float:
    """The generalisation gap: training-subset accuracy minus test accuracy, at the protocol's epoch."""
    return metric(result, "train_acc", protocol) - metric(result, "test_acc", protocol)


def values(runs: Sequence[RunResult], name: str = "test_acc", protocol: str = "val") -> list[float]:
    return [metric(r, name, protocol) for r in runs]


def seed_of(result: RunResult) -> int:
    return int(result.config["seed"])


def by_seed(runs: Sequence[RunResult], fn: Callable[[RunResult], float]) -> dict[int, float]:
    """{seed: fn(run)}: per-seed values, the form claims pair on."""
    out = {}
    for r in runs:
        if seed_of(r) in out:
            raise ValueError(f"two runs with seed {seed_of(r)} in one row")
        out[seed_of(r)] = float(fn(r))
    return out


def optimism(runs: Sequence[RunResult], name: str = "test_acc") -> list[float]:
    """Per run, how much the paper's protocol flatters `name`: its value at the best test epoch minus at the
    best validation epoch (>= 0 for test_acc by construction)."""
    return [metric(r, name, "test") - metric(r, name, "val") for r in runs]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std (ddof = 1; 0 for a single value)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_pm(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """'61.9 ± 1.2' (percent by default): mean ± sample std."""
    m, s = mean_std(values)
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


# ----------------------------------------------------------------------------------------------------------
# curves over epochs


def epoch_curve(runs: Sequence[RunResult], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, mean, std) over seeds of a per-epoch metric, at the epochs where every run has it."""
    epochs = sorted(set.intersection(*[{e["epoch"] for e in r.epochs if key in e} for r in runs]))
    table = np.array([[next(e[key] for e in r.epochs if e["epoch"] == ep) for ep in epochs] for r in runs])
    std = table.std(0, ddof=1) if len(runs) > 1 else np.zeros(len(epochs))
    return np.array(epochs), table.mean(0), std


def final_metric(run: RunResult, key: str) -> float:
    """The last recorded value of a per-epoch metric (e.g. the last linear probe)."""
    return float(next(e[key] for e in reversed(run.epochs) if key in e))


# ----------------------------------------------------------------------------------------------------------
# per-step traces


def steps_per_epoch(run: RunResult, key: str = "rho_a") -> float:
    return len(run.steps[key]) / max(int(run.config["epochs"]), 1)


def step_mean(run: RunResult, key: str, start: float = 0.0, end: float = 1.0) -> float:
    """Mean of a per-step trace over the fraction [start, end) of the iterations (NaN entries skipped)."""
    x = np.asarray(run.steps[key], dtype=float)
    lo = int(start * len(x))
    return float(np.nanmean(x[lo : max(int(end * len(x)), lo + 1)]))


def modulation_window_steps(run: RunResult, key: str = "rho_a") -> tuple[int, int]:
    """[first, last) iteration of the modulation window (epochs modulation_start..modulation_end,
    inclusive, cut to the run's epochs)."""
    cfg, per = run.config, steps_per_epoch(run, key)
    start = int(cfg["modulation_start"])
    end = min(int(cfg["modulation_end"]), int(cfg["epochs"]) - 1) + 1
    return int(round(start * per)), int(round(end * per))


def modulation_window_mean(run: RunResult, key: str = "rho_a") -> float:
    """Mean of a per-step trace over the iterations of the modulation window."""
    first, last = modulation_window_steps(run, key)
    return float(np.nanmean(np.asarray(run.steps[key], dtype=float)[first : max(last, first + 1)]))


def share_above(run: RunResult, key: str = "rho_a", threshold: float = 1.0) -> float:
    """Fraction of iterations where the trace is above `threshold`."""
    return float(np.mean(np.asarray(run.steps[key], dtype=float) > threshold))


def moving_average(x: Sequence[float], window: int) -> np.ndarray:
    """Centred moving average of the same length as x; near the ends the window shrinks to what exists.
    NaN entries are skipped (a window of only NaN gives NaN). window <= 1 returns x unchanged."""
    x = np.asarray(x, dtype=float)
    if window <= 1 or len(x) == 0:
        return x.copy()
    ok = np.isfinite(x)
    kernel = np.ones(int(window))
    sums = np.convolve(np.where(ok, x, 0.0), kernel, mode="full")
    counts = np.convolve(ok.astype(float), kernel, mode="full")
    start = (int(window) - 1) // 2
    sums, counts = sums[start : start + len(x)], counts[start : start + len(x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def trace_band(runs: Sequence[RunResult], key: str = "rho_a", window: int = 1):
    """Each seed's per-step trace smoothed by `moving_average`, then per iteration across seeds: a
    DataFrame with columns step, mean, std, min, max (traces cut to the shortest seed)."""
    import pandas as pd

    traces = [moving_average(r.steps[key], window) for r in runs]
    n = min(len(t) for t in traces)
    table = np.stack([t[:n] for t in traces])
    std = table.std(0, ddof=1) if len(traces) > 1 else np.zeros(n)
    return pd.DataFrame(
        {"step": np.arange(n), "mean": table.mean(0), "std": std, "min": table.min(0), "max": table.max(0)}
    )


def probe(runs: list[RunResult], modality: str) -> dict[int, float]:
    """{seed: last linear-probe accuracy} of one encoder."""
    return by_seed(runs, lambda r: final_metric(r, f"probe_{modality}"))


def gap_per_seed(runs: list[RunResult]):
    """The generalisation gap (`reduce.gap`) per seed, at the protocol's epoch: a side of a claim."""
    return lambda protocol: by_seed(runs, lambda r: gap(r, protocol))
