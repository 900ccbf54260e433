"""# The paper's phenomenon, as criteria a testbed must meet before OGM-GE is judged on it

OGM-GE is a remedy for a condition (paper Sec. 1 and 3.1, Figure 1, Table 1 on CREMA-D): trained jointly,
the dominant modality (audio) fits the training data first, the joint model is no better than the dominant
modality alone (CREMA-D: concatenation 51.7 against audio-only 52.5), and the other encoder stays
under-trained although, trained alone, it knows something (visual-only 41.9). A test of the remedy needs
the condition, so a testbed is accepted only when its **plain** runs show it: audio-only, visual-only and
concatenation (method `normal`), never a run that involves OGM-GE, judged on the **validation** split
(`RunConfig.record_val` keeps its predictions and probe scores); test numbers are only reported.

These criteria were written, with their thresholds, before any OGM-GE run of a new design (the book's
history shows this file before those runs). For a design with `n` seeds (pair i = seed i):

1. **no joint gain** (`JOINT_GAIN_MAX`): mean validation accuracy of concatenation minus that of the best
   unimodal model (the modality with the higher mean) is at most 2 points;
2. **headroom** (`HEADROOM_MIN`): the product of the two unimodal models' class probabilities,
   argmax_y p_a(y|a) p_v(y|v) (no joint training: the rule a joint model could at least learn when the
   modalities are conditionally independent given the label, as here), beats concatenation on validation by
   at least 5 points on average, **and** the 95 % t-interval of the paired differences lies above 0
   (`headroom_low`; undefined with one seed, so not met);
3. **weak encoder under-trained** (`PROBE_GAP_MIN`): the weak modality's encoder (the lower unimodal mean),
   linear-probed on validation at the last epoch, is at least 5 points worse inside the joint model than
   the same encoder trained alone;
4. **the dominant modality leads from the start** (`FIRST_EPOCH_SHARE`, `WINDOW_SHARE_MIN`): in the plain
   concatenation run, the mean discrepancy ratio rho^a (paper Eq. 9) over the first epoch is above 1 in every
   seed, and rho^a > 1 on at least 90 % of the modulation window's steps (mean over seeds);
5. **converged** (`PLATEAU_GAIN_MAX`, `CONVERGED_SHARE`): a run has reached its plateau when its mean
   validation accuracy over the last 15 % of its epochs is less than 1 point above the mean over the 15 %
   before them; at least 80 % of the design's runs must have. (The rule of `regimes.converged_share`, "the
   best validation epoch is not in the last 15 %", failed on a flat plateau where the best epoch is a tie
   broken by noise; a plateau is judged on means, not on an argmax.)
6. secondary: **unimodal accuracies near the paper's** (`UNIMODAL_TOLERANCE`): audio-only and visual-only
   within 5 points of CREMA-D's 52.5 and 41.9.

**Distance** (`distance`), to rank designs when none meets all: each criterion's shortfall beyond its
threshold in its own unit (`Criterion.unit`: 5 points for the accuracy criteria, 0.1 for shares), 0 when met,
a missing value (one seed: no interval) counted as 1 unit; the secondary criterion counts half; the sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as _st

from ..method.results import RunResult, decode_predictions

#: the paper's Table 1, CREMA-D: audio-only and visual-only accuracy (%)
PAPER_UNIMODAL = {"audio": 52.5, "visual": 41.9}
JOINT_GAIN_MAX = 2.0  # points: concatenation - best unimodal, at most
HEADROOM_MIN = 5.0  # points: product of the unimodal models - concatenation, at least
PROBE_GAP_MIN = 5.0  # points: weak encoder alone - inside the joint model, at least
FIRST_EPOCH_SHARE = 1.0  # share of seeds whose first-epoch mean rho^a is above 1
WINDOW_SHARE_MIN = 0.9  # share of the modulation window's steps with rho^a > 1
LATE_SHARE = 0.15  # the plateau windows: the last 15 % of epochs and the 15 % before
PLATEAU_GAIN_MAX = 1.0  # points
CONVERGED_SHARE = 0.8  # share of runs on their plateau
UNIMODAL_TOLERANCE = 5.0  # points (secondary)
CONFIDENCE = 0.95
#: the rows a design is judged on
ROWS = ("Audio-only", "Visual-only", "Concatenation")

Runs = Mapping[str, Sequence[RunResult]]


@dataclass(frozen=True)
class Criterion:
    name: str
    value: float  # nan when it cannot be measured (e.g. an interval from one seed)
    threshold: float
    at_least: bool  # True: met when value >= threshold; False: when value <= threshold
    unit: float  # shortfall per unit of distance
    weight: float = 1.0
    short: str = ""  # a short name for tables

    @property
    def met(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value >= self.threshold if self.at_least else self.value <= self.threshold

    @property
    def shortfall(self) -> float:
        """Units by which the value misses its threshold (0 when met; 1 when it cannot be measured)."""
        if math.isnan(self.value):
            return 1.0
        gap = (self.threshold - self.value) if self.at_least else (self.value - self.threshold)
        return max(0.0, gap / self.unit)


# ---------------------------------------------------------------------------------------------------------
# Measurements of one run


def seed_of(run: RunResult) -> int:
    return int(run.config["seed"])


#: the split the criteria are judged on, and the one only reported beside them
SPLITS = ("val", "test")


def val_acc(run: RunResult, split: str = "val") -> float:
    """Accuracy (%) on `split` at the run's best validation epoch."""
    return 100.0 * float(run.best[f"{split}_acc"])


def product_val_acc(audio: RunResult, visual: RunResult, split: str = "val") -> float:
    """Accuracy (%) on `split` of argmax_y p_a(y|a) p_v(y|v), each model at its own validation-chosen epoch."""
    pa_, pv_ = ((r.val_predictions if split == "val" else r.predictions) for r in (audio, visual))
    if not pa_ or not pv_:
        raise ValueError(f"runs {audio.key} / {visual.key} kept no {split} predictions (record_val)")
    ya, pa = decode_predictions(pa_)
    yv, pv = decode_predictions(pv_)
    if not np.array_equal(ya, yv):
        raise ValueError(f"runs {audio.key} and {visual.key} were scored on different {split} clips")
    logp = np.log(np.clip(pa, 1e-12, None)) + np.log(np.clip(pv, 1e-12, None))
    return 100.0 * float((logp.argmax(1) == ya).mean())


def last_probe(run: RunResult, modality: str, split: str = "val") -> float:
    """The probe accuracy (%) on `split` of `modality`'s encoder at the last epoch that probed it."""
    name = f"probe_val_{modality}" if split == "val" else f"probe_{modality}"
    values = [e[name] for e in run.epochs if name in e]
    if not values:
        raise ValueError(f"run {run.key} has no {name} (probe_every 0, or made without record_val)")
    return 100.0 * float(values[-1])


def _epoch_chunks(run: RunResult, key: str) -> list[np.ndarray]:
    return np.array_split(np.asarray(run.steps[key], dtype=float), int(run.config["epochs"]))


def first_epoch_rho(run: RunResult) -> float:
    """Mean rho^a over the first epoch's steps."""
    return float(np.nanmean(_epoch_chunks(run, "rho_a")[0]))


def window_share_above_one(run: RunResult) -> float:
    """Share of the modulation window's steps (epochs modulation_start..modulation_end) with rho^a > 1."""
    chunks = _epoch_chunks(run, "rho_a")
    cfg = run.config
    window = chunks[int(cfg["modulation_start"]) : min(int(cfg["modulation_end"]), len(chunks) - 1) + 1]
    x = np.concatenate(window)
    return float(np.mean(x[~np.isnan(x)] > 1.0))


def plateau_gain(run: RunResult, late_share: float = LATE_SHARE) -> float:
    """Mean validation accuracy (points) over the last `late_share` of epochs minus the mean over the same
    number of epochs just before them."""
    acc = 100.0 * np.array([e["val_acc"] for e in run.epochs], dtype=float)
    w = max(1, int(math.ceil(late_share * len(acc))))
    if len(acc) < 2 * w:
        raise ValueError(f"run {run.key}: {len(acc)} epochs, too few for two windows of {w}")
    return float(acc[-w:].mean() - acc[-2 * w : -w].mean())


# ---------------------------------------------------------------------------------------------------------
# A design's criteria


def _paired(a: Sequence[RunResult], b: Sequence[RunResult]) -> list[tuple[RunResult, RunResult]]:
    bb = {seed_of(r): r for r in b}
    return [(r, bb[seed_of(r)]) for r in a if seed_of(r) in bb]


def t_interval_low(diffs: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """Lower end of the two-sided `confidence` t-interval of the mean of `diffs`; nan with fewer than two."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return math.nan
    half = _st.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half)


def measure(runs: Runs, split: str = "val") -> dict[str, float]:
    """Every number the criteria use, from a design's plain runs (`ROWS` -> runs over seeds), on `split`:
    "val" (the criteria) or "test" (reported beside them, never used to choose). Which modality is the best
    and which the weak one is decided on validation in both."""
    audio, visual, joint = (list(runs[r]) for r in ROWS)
    on_val = {
        "audio": float(np.mean([val_acc(r) for r in audio])),
        "visual": float(np.mean([val_acc(r) for r in visual])),
    }
    best = max(on_val, key=on_val.get)
    weak = "visual" if best == "audio" else "audio"
    uni = {
        "audio": float(np.mean([val_acc(r, split) for r in audio])),
        "visual": float(np.mean([val_acc(r, split) for r in visual])),
    }
    visual_by_seed = {seed_of(r): r for r in visual}
    product = {
        seed_of(a): product_val_acc(a, visual_by_seed[seed_of(a)], split) for a in audio if seed_of(a) in visual_by_seed
    }
    joint_by_seed = {seed_of(r): val_acc(r, split) for r in joint}
    head = [product[s] - joint_by_seed[s] for s in product if s in joint_by_seed]
    alone = audio if weak == "audio" else visual
    gaps = [last_probe(u, weak, split) - last_probe(j, weak, split) for u, j in _paired(alone, joint)]
    every = audio + visual + joint
    return {
        "audio_val": uni["audio"],
        "visual_val": uni["visual"],
        "joint_val": float(np.mean(list(joint_by_seed.values()))),
        "best_unimodal": best,
        "weak": weak,
        "joint_gain": float(np.mean(list(joint_by_seed.values()))) - uni[best],
        "product_val": float(np.mean(list(product.values()))),
        "headroom": float(np.mean(head)),
        "headroom_low": t_interval_low(head),
        "probe_gap": float(np.mean(gaps)),
        "first_epoch_share": float(np.mean([first_epoch_rho(r) > 1.0 for r in joint])),
        "first_epoch_rho": float(np.mean([first_epoch_rho(r) for r in joint])),
        "window_share": float(np.mean([window_share_above_one(r) for r in joint])),
        "converged_share": float(np.mean([plateau_gain(r) < PLATEAU_GAIN_MAX for r in every])),
        "seeds": len(joint),
    }


def criteria(m: Mapping[str, float]) -> list[Criterion]:
    """The criteria (module docstring) on a design's measurements (`measure`)."""
    return [
        Criterion(
            "joint gain over the best unimodal model (points)",
            m["joint_gain"],
            JOINT_GAIN_MAX,
            False,
            5.0,
            short="joint gain",
        ),
        Criterion(
            "headroom of the product of the unimodal models (points)",
            m["headroom"],
            HEADROOM_MIN,
            True,
            5.0,
            short="headroom",
        ),
        Criterion(
            "headroom, lower end of its 95 % interval (points)", m["headroom_low"], 0.0, True, 5.0, short="headroom CI"
        ),
        Criterion(
            "weak encoder: alone minus inside the joint model (probe, points)",
            m["probe_gap"],
            PROBE_GAP_MIN,
            True,
            5.0,
            short="probe gap",
        ),
        Criterion(
            "seeds whose first-epoch rho^a is above 1 (share)",
            m["first_epoch_share"],
            FIRST_EPOCH_SHARE,
            True,
            0.1,
            short="rho^a, first epoch",
        ),
        Criterion(
            "modulation-window steps with rho^a > 1 (share)",
            m["window_share"],
            WINDOW_SHARE_MIN,
            True,
            0.1,
            short="rho^a, window",
        ),
        Criterion(
            "runs on their validation plateau (share)",
            m["converged_share"],
            CONVERGED_SHARE,
            True,
            0.1,
            short="plateau",
        ),
        Criterion(
            "audio-only: distance to CREMA-D's 52.5 (points)",
            abs(m["audio_val"] - PAPER_UNIMODAL["audio"]),
            UNIMODAL_TOLERANCE,
            False,
            5.0,
            weight=0.5,
            short="audio accuracy",
        ),
        Criterion(
            "visual-only: distance to CREMA-D's 41.9 (points)",
            abs(m["visual_val"] - PAPER_UNIMODAL["visual"]),
            UNIMODAL_TOLERANCE,
            False,
            5.0,
            weight=0.5,
            short="visual accuracy",
        ),
    ]


def distance(crit: Sequence[Criterion]) -> float:
    """Sum of the weighted shortfalls: 0 when every criterion is met."""
    return float(sum(c.weight * c.shortfall for c in crit))


def meets_all(crit: Sequence[Criterion]) -> bool:
    return all(c.met for c in crit)
