"""# Two regimes of the default data, and the rule that calibrates the paper-like one

On the default data as first built ("easy audio": `audio_snr_db = 0`, `visual_noise = 0.8`) the audio-only
model is 36 points better than the visual-only one; on CREMA-D, the paper's Table 1 puts them 10.6 points
apart (audio 52.5, visual 41.9). Whether OGM-GE helps may depend on that gap, so the book runs a second,
**paper-like** regime whose difficulty knobs are chosen by a rule written down here before any run that
involves OGM-GE, from unimodal runs only (they cannot be tuned toward OGM-GE's result: they do not use it):

1. **Schedule** (`config.PROFILES["converged"]`): as many optimiser steps per epoch as the paper's CREMA-D
   runs (6,698 training clips at batch 64: 105 steps; ours: 2,430 clips at batch 24: 102 steps), at least
   1,000 modulated steps (modulation in epochs 0..9: 1,020 steps), and the paper's proportions: modulation
   over the first half, the learning-rate drop at 70 % (epoch 14 of 20).
2. **Grid**: audio-only models at each audio SNR of `AUDIO_SNR_GRID`, visual-only models at each pixel-noise
   std of `VISUAL_NOISE_GRID`, `CALIBRATION_SEEDS` seeds each, on the schedule above.
3. **Choice** (`choose`): for each modality, the grid value whose mean VALIDATION accuracy (at each run's
   best validation epoch) is closest to the paper's CREMA-D unimodal accuracy (`PAPER_UNIMODAL`); the choice
   is accepted when it lies within `TOLERANCE` points of it. If no grid value does, the grid is refined
   (`refine`): `REFINE_STEPS - 1` values evenly between the two neighbouring grid values whose means bracket
   the target, the same seeds, and the rule is applied to the union. The test split plays no part.
4. **Alpha** (`choose_alpha`), per regime and after its knobs are fixed: concatenation + OGM-GE at each
   alpha of `ALPHA_GRID`, `ALPHA_SEEDS` seeds each; the alpha with the highest mean validation fused
   accuracy (at each run's best validation epoch; ties: the smaller alpha). The test split plays no part.
5. **Checks, after the choice** (`report/explain.py`, `converged_share` here): audio must stay the faster learner
in joint training
   (the plain concatenation model's mean rho^a over its first epoch above 1, in every seed), and the schedule
   must converge (the best validation epoch before the last 15 % of epochs in at least 80 % of the regime's
   runs). The book reports both, whichever way they fall.

`REGIMES` holds the knobs of each regime. The paper-like values are the rule's output on the committed
calibration runs; `tests/test_regimes.py` recomputes the choice from those runs and fails if the values here
disagree with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..method.config import RunConfig, check_choice, make_config
from .grid import train_grid

#: the paper's Table 1, CREMA-D: audio-only and visual-only accuracy (%)
PAPER_UNIMODAL = {"audio": 52.5, "visual": 41.9}
#: how far (points) the chosen regime's validation accuracy may sit from the paper's
TOLERANCE = 3.0
#: the knob grids (audio SNR in dB: lower is harder; pixel-noise std: higher is harder)
AUDIO_SNR_GRID = (-6.0, -9.0, -12.0, -15.0)
VISUAL_NOISE_GRID = (0.8, 1.0, 1.2, 1.4)
CALIBRATION_SEEDS = (0, 1)
#: a refinement splits the bracketing interval into this many equal steps
REFINE_STEPS = 4
#: the profile the regimes are calibrated and run on
PROFILE = "converged"
#: the convergence rule: best validation epoch before the last `LATE_SHARE` of epochs in >= `CONVERGED_SHARE` of runs
LATE_SHARE = 0.15
CONVERGED_SHARE = 0.8

#: OGM's strength: the grid and the seeds of its validation sweep (per regime)
ALPHA_GRID = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
ALPHA_SEEDS = (0, 1)
#: seeds of each regime's headline rows (audio-only, visual-only, concatenation, concatenation + OGM-GE)
REGIME_SEEDS = 10

#: each regime's data knobs (`RunConfig` fields)
REGIMES: dict[str, dict[str, float | str]] = {
    "easy audio": dict(audio_snr_db=0.0, visual_noise=0.8),
    "paper-like": dict(audio_snr_db=-9.0, visual_noise=0.85),
    # the testbed: the design `testbed.py`'s rule chose by the phenomenon's criteria (chapter 11)
    "testbed": dict(split="speaker", audio_snr_db=100.0, visual_noise=0.85),
}
#: a regime's own schedule and records, where it is not the profile's (`testbed.SCHEDULES`: 40 epochs,
#: modulation over the first half, the lr drop at 70 %; validation predictions kept for its criteria)
SCHEDULE: dict[str, dict] = {
    "testbed": dict(epochs=40, modulation_start=0, modulation_end=19, lr_step=28, probe_every=4, record_val=True),
}
#: the values a refinement added to each modality's grid (`refine`, applied to the committed first grid)
REFINED: dict[str, tuple[float, ...]] = {"visual": (0.85, 0.9, 0.95)}
#: each regime's alpha, chosen by `choose_alpha` on its committed sweep
ALPHA: dict[str, float] = {"paper-like": 0.6, "easy audio": 0.1, "testbed": 1.0}
#: probes every n epochs, per profile
PROBE_EVERY = {"paper": 10, "cpu": 6, "converged": 2, "smoke": 1}


def book_config(
    dataset: str = "avdigits", profile: str = PROFILE, device: str = "cpu", regime: str | None = None, **changes
) -> RunConfig:
    """The config of one book row: the profile, the book's measurements, the regime's data knobs (the default
    data only: `REGIMES`, and the regime's own schedule, `SCHEDULE`; `None` keeps the data's own defaults),
    then the row's own changes."""
    base = dict(dataset=dataset, device=device, quiet=True, eval_train=True, probe_every=PROBE_EVERY.get(profile, 5))
    if regime is not None:
        check_choice("regime", regime, tuple(REGIMES))
        if dataset == "avdigits":
            base.update(REGIMES[regime])
            base.update(SCHEDULE.get(regime, {}))
    base.update(changes)
    return make_config(profile, **base)


def regime_named(dataset: str, values: Mapping[str, float]) -> str | None:
    """The regime (`REGIMES`) whose data knobs `values` (a config's fields) has, for the default data; else None."""
    if dataset != "avdigits":
        return None
    return next((name for name, knobs in REGIMES.items() if all(values.get(k) == v for k, v in knobs.items())), None)


#: the knob each modality's calibration moves
KNOB = {"audio": "audio_snr_db", "visual": "visual_noise"}
GRID = {"audio": AUDIO_SNR_GRID, "visual": VISUAL_NOISE_GRID}


def calibration_rows(dataset: str = "avdigits", profile: str = PROFILE, device: str = "cpu") -> dict[str, RunConfig]:
    """The calibration grid: `"audio, audio_snr_db=-9"` -> the audio-only config at that SNR, and so on.
    Unimodal runs only: nothing here trains OGM-GE."""
    rows = {}
    for modality in ("audio", "visual"):
        for value in GRID[modality]:
            rows[f"{modality}, {KNOB[modality]}={value:g}"] = book_config(
                dataset, profile, device, modalities=modality, **{KNOB[modality]: value}
            )
    return rows


def calibration_values(runs: dict[str, list]) -> dict[str, dict[float, list[float]]]:
    """modality -> {grid value: the seeds' best validation accuracies (%)}, from `calibration_rows`' runs."""
    out: dict[str, dict[float, list[float]]] = {"audio": {}, "visual": {}}
    for label, rs in runs.items():
        modality, setting = label.split(", ")
        value = float(setting.split("=")[1])
        out[modality][value] = [100 * r.best["val_acc"] for r in rs]
    return out


@dataclass
class Choice:
    """The rule's output for one modality."""

    modality: str
    knob: str
    value: float
    mean: float  # mean validation accuracy (%) at `value`
    target: float
    within: bool  # |mean - target| <= TOLERANCE
    table: dict  # grid value -> mean validation accuracy (%)


def choose(
    modality: str, val_acc: Mapping[float, Sequence[float]], target: float | None = None, tolerance: float = TOLERANCE
) -> Choice:
    """The grid value whose mean validation accuracy (%) is closest to `target` (ties: the easier value,
    i.e. the first in grid order). `val_acc`: grid value -> the seeds' validation accuracies (%)."""
    target = PAPER_UNIMODAL[modality] if target is None else target
    if not val_acc:
        raise ValueError(f"no calibration runs for {modality}")
    table = {float(v): float(np.mean(a)) for v, a in val_acc.items()}
    order = [v for v in GRID[modality] if v in table] + [v for v in table if v not in GRID[modality]]
    best = min(order, key=lambda v: abs(table[v] - target))
    return Choice(modality, KNOB[modality], best, table[best], target, abs(table[best] - target) <= tolerance, table)


def refine(
    modality: str, val_acc: Mapping[float, Sequence[float]], target: float | None = None, steps: int = REFINE_STEPS
) -> list[float]:
    """New knob values when no grid value is within the tolerance: evenly spaced strictly between the two
    neighbouring values (in knob order) whose mean validation accuracies lie on either side of the target;
    [] when the choice is within the tolerance or no neighbouring pair brackets the target."""
    target = PAPER_UNIMODAL[modality] if target is None else target
    if choose(modality, val_acc, target).within:
        return []
    means = sorted((float(v), float(np.mean(a))) for v, a in val_acc.items())
    for (v0, m0), (v1, m1) in zip(means, means[1:]):
        if (m0 - target) * (m1 - target) < 0:
            return [round(v0 + (v1 - v0) * i / steps, 6) for i in range(1, steps)]
    return []


def late_epoch(best_epoch: int, epochs: int, late_share: float = LATE_SHARE) -> bool:
    """Whether a run's best validation epoch (0-indexed) falls in the last `late_share` of its epochs."""
    return best_epoch >= epochs - int(np.ceil(late_share * epochs))


def converged_share(best_epochs: Iterable[int], epochs: int, late_share: float = LATE_SHARE) -> float:
    """The share of runs whose best validation epoch is NOT in the last `late_share` of epochs."""
    best_epochs = list(best_epochs)
    if not best_epochs:
        raise ValueError("no runs")
    return float(np.mean([not late_epoch(b, epochs, late_share) for b in best_epochs]))


def highest_mean(values: Mapping[float, Sequence[float]], what: str) -> tuple[float, dict]:
    """The setting (a number: alpha, a learning rate) with the highest mean of its seeds' values (ties: the
    smaller setting), and the table setting -> mean. `what` names the runs in the error when there are none."""
    if not values:
        raise ValueError(f"no {what} runs")
    table = {float(a): float(np.mean(v)) for a, v in sorted(values.items())}
    best = max(table, key=lambda a: (table[a], -a))
    return best, table


def choose_alpha(val_acc: Mapping[float, Sequence[float]]) -> tuple[float, dict]:
    """The alpha with the highest mean validation fused accuracy (ties: the smaller alpha), and the table
    alpha -> mean. `val_acc`: alpha -> the seeds' validation accuracies."""
    return highest_mean(val_acc, "alpha-sweep")


# ---------------------------------------------------------------------------------------------------------
# The runs of each regime


def regime_config(
    regime: str, dataset: str = "avdigits", profile: str = PROFILE, device: str = "cpu", **changes
) -> RunConfig:
    """A book row with `regime`'s data knobs (`REGIMES`), on `profile`."""
    return book_config(dataset, profile, device, regime, **changes)


def alpha_rows(
    regime: str,
    dataset: str = "avdigits",
    profile: str = PROFILE,
    device: str = "cpu",
    alphas: Sequence[float] = ALPHA_GRID,
) -> dict[str, RunConfig]:
    """The alpha sweep of a regime: concatenation + OGM-GE at each alpha, `"alpha=0.4"` -> config."""
    return {
        f"alpha={a:g}": regime_config(regime, dataset, profile, device, fusion="concat", method="ogm_ge", alpha=a)
        for a in alphas
    }


def alpha_values(runs: dict[str, list]) -> dict[float, list[float]]:
    """{alpha: the seeds' best validation fused accuracies (%)}, from `alpha_rows`' runs."""
    return {float(label.split("=")[1]): [100 * r.best["val_acc"] for r in rs] for label, rs in runs.items()}


def regime_rows(
    regime: str, alpha: float, dataset: str = "avdigits", profile: str = PROFILE, device: str = "cpu"
) -> dict[str, RunConfig]:
    """A regime's four rows: the unimodal models, concatenation, and concatenation + OGM-GE at `alpha`."""

    def row(**c):
        return regime_config(regime, dataset, profile, device, **c)

    return {
        "Audio-only": row(modalities="audio"),
        "Visual-only": row(modalities="visual"),
        "Concatenation": row(fusion="concat"),
        "Concatenation + OGM-GE": row(fusion="concat", method="ogm_ge", alpha=alpha),
    }


# ---------------------------------------------------------------------------------------------------------
# Applying the rules (these train what is missing, through the results cache)


def _train(rows: dict, seeds: Sequence[int], workers, results_dir) -> dict[str, list]:
    """Every row at every seed of `seeds`, in one batch (`grid.train_grid`)."""
    return train_grid({k: [c.replace(seed=s) for s in seeds] for k, c in rows.items()}, results_dir, workers)


def calibrate(
    dataset: str = "avdigits",
    profile: str = PROFILE,
    device: str = "cpu",
    seeds: Sequence[int] = CALIBRATION_SEEDS,
    workers=None,
    results_dir=None,
):
    """The calibration rule end to end: the grid's unimodal runs, a refinement where no value is within the
    tolerance, and the choice. Returns (runs by label, values by modality, {modality: Choice})."""
    runs = _train(calibration_rows(dataset, profile, device), seeds, workers, results_dir)
    values = calibration_values(runs)
    choices = {}
    for m in ("audio", "visual"):
        extra = refine(m, values[m])
        if extra:
            rows = {
                f"{m}, {KNOB[m]}={v:g}": book_config(dataset, profile, device, modalities=m, **{KNOB[m]: v})
                for v in extra
            }
            more = _train(rows, seeds, workers, results_dir)
            runs.update(more)
            values[m].update(calibration_values(more)[m])
        choices[m] = choose(m, values[m])
    return runs, values, choices


def sweep_alpha(
    regime: str,
    dataset: str = "avdigits",
    profile: str = PROFILE,
    device: str = "cpu",
    seeds: Sequence[int] = ALPHA_SEEDS,
    workers=None,
    results_dir=None,
):
    """The alpha rule for one regime: the sweep's runs, then `choose_alpha`. Returns (runs, alpha, table)."""
    runs = _train(alpha_rows(regime, dataset, profile, device), seeds, workers, results_dir)
    alpha, table = choose_alpha(alpha_values(runs))
    return runs, alpha, table


def train_regime(
    regime: str,
    alpha: float | None = None,
    dataset: str = "avdigits",
    profile: str = PROFILE,
    device: str = "cpu",
    seeds=REGIME_SEEDS,
    workers=None,
    results_dir=None,
) -> dict[str, list]:
    """A regime's four rows (`regime_rows` at `alpha`; None: its chosen `ALPHA`) over `seeds` (a count or a
    list), trained or read back: row -> runs."""
    from ..method.checks import seed_list

    alpha = ALPHA[regime] if alpha is None else alpha
    return _train(regime_rows(regime, alpha, dataset, profile, device), seed_list(seeds), workers, results_dir)


def train_explained(
    dataset: str = "avdigits",
    profile: str = PROFILE,
    device: str = "cpu",
    alpha_seeds: Sequence[int] = ALPHA_SEEDS,
    seeds=REGIME_SEEDS,
    workers=None,
    results_dir=None,
) -> dict[str, dict[str, list]]:
    """What chapter 12 judges at its default parameters: each regime's alpha from its validation sweep
    (`sweep_alpha`), then its four rows at that alpha over `seeds`; regime -> row -> runs."""
    from ..method.checks import seed_list

    out = {}
    for regime in REGIMES:
        _, alpha, _ = sweep_alpha(regime, dataset, profile, device, seed_list(list(alpha_seeds)), workers, results_dir)
        out[regime] = train_regime(regime, alpha, dataset, profile, device, seeds, workers, results_dir)
    return out


def explained_runs(device: str = "cpu") -> list:
    """Every run of chapter 12 at its default parameters: each regime's alpha sweep and its four rows at its
    chosen alpha (`ALPHA`)."""
    out = []
    for regime in REGIMES:
        out += [
            c.replace(seed=s) for c in alpha_rows(regime, "avdigits", PROFILE, device).values() for s in ALPHA_SEEDS
        ]
        if regime in ALPHA:
            out += [
                c.replace(seed=s)
                for c in regime_rows(regime, ALPHA[regime], "avdigits", PROFILE, device).values()
                for s in range(REGIME_SEEDS)
            ]
    return out


def book_runs(device: str = "cpu") -> list:
    """Every run of the regime chapters (11 and 12) at their default parameters, from the constants the
    rules produced (`REGIMES`, `REFINED`, `ALPHA`; `tests/test_regimes.py` checks them against the rules
    applied to the committed runs): what `python -m ogm_lib book retrain` trains for them."""
    out = [c.replace(seed=s) for c in calibration_rows("avdigits", PROFILE, device).values() for s in CALIBRATION_SEEDS]
    for m, extra in REFINED.items():
        out += [
            book_config("avdigits", PROFILE, device, modalities=m, **{KNOB[m]: v}).replace(seed=s)
            for v in extra
            for s in CALIBRATION_SEEDS
        ]
    return out + explained_runs(device)
