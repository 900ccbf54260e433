"""The calibration page's tables and figures: the knob grid, the alpha sweeps, the schedule, the checks.

The rules themselves live in `regimes.py` (written before the runs); this file only shows what they chose.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..method.results import RunResult
from ..recipe import regimes
from .explain import first_epoch_mean
from .reduce import modulation_window_mean, steps_per_epoch

Runs = dict[str, list[RunResult]]


def knob_table(choice: "regimes.Choice", values: dict[float, list[float]]):
    """One modality's grid: value -> each seed's validation accuracy, their mean, the distance to the paper's
    unimodal accuracy, and which value the rule chose."""
    import pandas as pd

    rows = {}
    for v in sorted(values, reverse=choice.modality == "audio"):
        accs = values[v]
        rows[f"{choice.knob} = {v:g}"] = {
            "validation accuracy per seed (%)": ", ".join(f"{a:.1f}" for a in accs),
            "mean (%)": round(float(np.mean(accs)), 1),
            "distance to the paper (points)": round(float(np.mean(accs)) - choice.target, 1),
            "chosen": "←" if v == choice.value else "",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns.name = f"{choice.modality}-only (paper: {choice.target})"
    return table


def knob_figure(choices: Sequence["regimes.Choice"], values: dict[str, dict[float, list[float]]]):
    """Validation accuracy against each knob, with the paper's unimodal accuracy ± the tolerance."""
    import matplotlib.pyplot as plt

    from .plots import WIDTH

    fig, axes = plt.subplots(1, len(choices), figsize=(WIDTH, 2.8))
    for ax, c in zip(np.atleast_1d(axes), choices):
        v = sorted(values[c.modality])
        for s in range(max(len(values[c.modality][x]) for x in v)):
            ax.plot(
                v,
                [values[c.modality][x][s] if s < len(values[c.modality][x]) else math.nan for x in v],
                "o",
                color="0.6",
                ms=3,
                label="a seed" if s == 0 else None,
            )
        ax.plot(v, [np.mean(values[c.modality][x]) for x in v], "-o", color="black", ms=4, label="mean")
        ax.axhspan(
            c.target - regimes.TOLERANCE,
            c.target + regimes.TOLERANCE,
            color="tab:green",
            alpha=0.15,
            label=f"paper ± {regimes.TOLERANCE:g}",
        )
        ax.axhline(c.target, color="tab:green", lw=1)
        ax.axvline(c.value, color="tab:red", ls="--", lw=1, label="chosen")
        ax.set_xlabel(c.knob)
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"{c.modality}-only", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def alpha_table(sweeps: dict[str, dict[float, list[float]]], chosen: dict[str, float]):
    """alpha -> mean validation fused accuracy (%) per regime, the chosen alpha marked."""
    import pandas as pd

    data = {}
    for regime, values in sweeps.items():
        data[regime] = {
            f"{a:g}": f"{np.mean(v):.1f}" + (" ←" if a == chosen[regime] else "") for a, v in sorted(values.items())
        }
    table = pd.DataFrame(data)
    table.index.name = "alpha"
    table.columns.name = "mean validation accuracy (%)"
    return table


def schedule_facts(run: RunResult) -> dict[str, float]:
    """The schedule of a run as the paper would count it: steps per epoch, modulated steps, lr drop."""
    cfg = run.config
    per = steps_per_epoch(run, "loss")
    modulated = (min(cfg["modulation_end"], cfg["epochs"] - 1) - cfg["modulation_start"] + 1) * per
    return {
        "epochs": cfg["epochs"],
        "batch size": cfg["batch_size"],
        "steps per epoch": per,
        "modulated epochs": f"{cfg['modulation_start']}..{cfg['modulation_end']}",
        "modulated steps": int(round(modulated)),
        "learning-rate drop at epoch": cfg["lr_step"],
        "learning rate": cfg["lr"],
    }


def schedule_table(run: RunResult, paper_steps_per_epoch: int = 105):
    import pandas as pd

    facts = schedule_facts(run)
    paper = {
        "epochs": 100,
        "batch size": 64,
        "steps per epoch": paper_steps_per_epoch,
        "modulated epochs": "0..50",
        "modulated steps": 51 * paper_steps_per_epoch,
        "learning-rate drop at epoch": 70,
        "learning rate": 1e-3,
    }
    return pd.DataFrame(
        {"ours": {k: f"{v:g}" if isinstance(v, float) else v for k, v in facts.items()}, "paper (CREMA-D)": paper}
    )


def convergence(runs: Runs) -> dict:
    """Share of runs whose best validation epoch is not in the last `regimes.LATE_SHARE` of epochs."""
    all_runs = [r for rs in runs.values() for r in rs]
    epochs = int(all_runs[0].config["epochs"])
    best = [r.best_epoch for r in all_runs]
    share = regimes.converged_share(best, epochs)
    return {
        "runs": len(best),
        "share": share,
        "passes": share >= regimes.CONVERGED_SHARE,
        "late from epoch": epochs - math.ceil(regimes.LATE_SHARE * epochs) + 1,
        "best epochs": best,
        "epochs": epochs,
    }


def late_gain(runs: Runs) -> tuple[float, float, float, int]:
    """Is validation accuracy still rising at the end? Per run: mean validation accuracy over the last
    `regimes.LATE_SHARE` of epochs minus the mean over as many epochs just before; returns (mean, 95 %
    interval low, high, runs) in points. Not the rule of `regimes.py` (which counts best epochs, and so also
    counts which epoch of a flat plateau noise happens to pick): a reading of the same runs that a flat
    plateau does not fail."""
    from .stats import paired_test

    diffs = []
    for r in (r for rs in runs.values() for r in rs):
        acc = [e["val_acc"] for e in r.epochs]
        n = math.ceil(regimes.LATE_SHARE * len(acc))
        diffs.append(100 * (np.mean(acc[-n:]) - np.mean(acc[-2 * n : -n])))
    t = paired_test(diffs, [0.0] * len(diffs))
    return float(np.mean(diffs)), t.ci_low, t.ci_high, len(diffs)


def regime_checks(runs: Runs) -> dict:
    """One regime's checks, computed once for the table and the sentence: the plain joint model's rho^a over
    its first epoch per seed and over the modulated epochs (mean over seeds), the convergence rule
    (`convergence`) and the late validation gain (`late_gain`)."""
    joint = runs["Concatenation"]
    gain, lo, hi, n = late_gain(runs)
    return {
        "rho_first": [first_epoch_mean(r) for r in joint],
        "rho_window": float(np.mean([modulation_window_mean(r, "rho_a") for r in joint])),
        "convergence": convergence(runs),
        "late_gain": (gain, lo, hi, n),
    }


def checks_table(regime_runs: dict[str, Runs]):
    """Per regime: does audio lead in joint training from the start (rho^a over the first epoch, every seed),
    and does the schedule converge (the rule of `regimes.py`)."""
    import pandas as pd

    rows = {}
    for regime, runs in regime_runs.items():
        c = regime_checks(runs)
        rho, conv = c["rho_first"], c["convergence"]
        rows[regime] = {
            "joint rho^a, first epoch (min .. max over seeds)": f"{min(rho):.2f} .. {max(rho):.2f}",
            "audio leads in every seed": "yes" if min(rho) > 1 else "no",
            "joint rho^a, modulated epochs (mean over seeds)": f"{c['rho_window']:.2f}",
            f"best epoch before epoch {conv['late from epoch']} of {conv['epochs']}": (
                f"{round(100 * conv['share'])} % of {conv['runs']} runs"
            ),
            f"converged (>= {round(100 * regimes.CONVERGED_SHARE)} %)": "yes" if conv["passes"] else "no",
            "validation accuracy, last 15 % minus the 15 % before (points, 95 % CI)": (
                "{:+.1f} ({:+.1f} to {:+.1f}), {} runs".format(*c["late_gain"])
            ),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def rule_text() -> str:
    """The calibration and alpha rules in one paragraph, from `regimes.py`'s constants."""
    r = regimes
    grid = lambda g: ", ".join(f"{v:g}" for v in g)
    return (
        f"train audio-only models at audio SNR {grid(r.AUDIO_SNR_GRID)} dB and visual-only models at pixel-noise "
        f"std {grid(r.VISUAL_NOISE_GRID)}, {len(r.CALIBRATION_SEEDS)} seeds each, on the `{r.PROFILE}` schedule; "
        f"for each modality choose the value whose mean validation accuracy is closest to the paper's CREMA-D "
        f"unimodal accuracy (audio {r.PAPER_UNIMODAL['audio']} %, visual {r.PAPER_UNIMODAL['visual']} %), "
        f"accepted within {r.TOLERANCE:g} points; if no value is, split the interval between the two values "
        f"that bracket the target into {r.REFINE_STEPS} steps, train the new values on the same seeds and choose "
        f"again. Then, in each regime, train concatenation + OGM-GE at alpha {grid(r.ALPHA_GRID)} "
        f"({len(r.ALPHA_SEEDS)} seeds each) and keep the alpha with the highest mean validation accuracy."
    )


def choice_text(choices: dict) -> str:
    parts = []
    for m, c in choices.items():
        verdict = "within" if c.within else "NOT within"
        parts.append(
            f"{c.knob} = {c.value:g}: {m}-only validation accuracy {c.mean:.1f} % against the paper's "
            f"{c.target} % ({verdict} {regimes.TOLERANCE:g} points)"
        )
        # a sentence for each outcome: the rule's own acceptance
    return "; ".join(parts) + "."


def constant_text(choices: dict, dataset: str, profile: str) -> str:
    """Whether the book's paper-like constants (`regimes.REGIMES`) are this rule's output."""
    chosen = {c.knob: c.value for c in choices.values()}
    if dataset != "avdigits" or profile != regimes.PROFILE:
        return (
            f"(At dataset {dataset!r}, profile {profile!r}, this choice only illustrates the rule; the "
            f"paper-like regime's knobs are those chosen on avdigits at the {regimes.PROFILE!r} profile: "
            f"{regimes.REGIMES.get('paper-like')}.)"
        )
    book = regimes.REGIMES.get("paper-like", {})
    if all(abs(book.get(k, float("nan")) - v) < 1e-9 for k, v in chosen.items()):
        return f"The book's paper-like regime (`regimes.REGIMES`) holds exactly these values: {book}."
    return (
        f"The book's paper-like regime (`regimes.REGIMES`, {book}) DIFFERS from this choice ({chosen}): "
        "the runs changed since the constants were set; update them and rerun the regime chapters."
    )


def alpha_text(alphas: dict[str, float]) -> str:
    return "The rule chooses " + "; ".join(f"alpha = {a:g} in the {r} regime" for r, a in alphas.items()) + "."


def facts_table(regime_runs: dict[str, Runs]):
    """Each regime's four rows: test accuracy (%) at the validation-chosen epoch, mean over seeds, and the
    audio-visual gap."""
    import pandas as pd

    from .explain import regime_facts

    return pd.DataFrame({r: {k: round(v, 2) for k, v in regime_facts(runs).items()} for r, runs in regime_runs.items()})


def checks_text(regime_runs: dict[str, Runs]) -> str:
    """The checks in words, one sentence per regime, true for every outcome."""
    out = []
    for regime, runs in regime_runs.items():
        c = regime_checks(runs)
        rho, conv = c["rho_first"], c["convergence"]
        gain, lo, hi, n = c["late_gain"]
        lead = (
            "audio leads from the first epoch in every seed"
            if min(rho) > 1
            else f"audio does not lead in the first epoch of every seed (joint rho^a {min(rho):.2f} to {max(rho):.2f}; "
            f"over the modulated epochs it averages {c['rho_window']:.2f})"
        )
        still = "still rising" if lo > 0 else "falling" if hi < 0 else "not measurably changing"
        sched = (
            f"the schedule passes the convergence rule ({round(100 * conv['share'])} % of {conv['runs']} runs "
            f"peak before the last 15 % of epochs)"
            if conv["passes"]
            else f"the schedule FAILS the convergence rule: only {round(100 * conv['share'])} % of {conv['runs']} runs "
            f"peak before the last 15 % of epochs (the rule asks for {round(100 * regimes.CONVERGED_SHARE)} %)"
        )
        out.append(
            f"In the {regime} regime {lead}; {sched}; over its last 15 % of epochs validation accuracy is "
            f"{still} ({gain:+.1f} points, 95 % CI {lo:+.1f} to {hi:+.1f}, {n} runs)."
        )
    return " ".join(out)


def design_table(ranked, missed_names: bool = True):
    """The testbed search (`testbed.ranking`): one row per design, closest first, with the criteria's values
    (validation), the distance, and which criteria it misses; test accuracies are reported, never used."""
    import pandas as pd

    rows = {}
    for name, dist, m, crit in ranked:
        rows[name] = {
            "seeds": m["seeds"],
            "audio / visual / joint, val (%)": f"{m['audio_val']:.1f} / {m['visual_val']:.1f} / {m['joint_val']:.1f}",
            "joint gain (pts)": round(m["joint_gain"], 1),
            "headroom (pts)": round(m["headroom"], 1),
            "probe gap (pts)": round(m["probe_gap"], 1),
            "rho^a > 1: first epoch / window": f"{m['first_epoch_share']:.0%} / {m['window_share']:.0%}",
            "on plateau": f"{m['converged_share']:.0%}",
            "distance": round(dist, 2),
            "misses": "; ".join(c.short or c.name for c in crit if not c.met) or "nothing",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "design"
    return table


def design_test_table(designs):
    """The designs' test accuracies (%; reported only: the choice uses validation), mean over seeds."""
    import pandas as pd

    rows = {}
    for name, runs in designs.items():
        rows[name] = {
            label: round(float(np.mean([100 * r.best["test_acc"] for r in rs])), 1) for label, rs in runs.items()
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "design"
    return table


def _missed(crit) -> str:
    """The criteria a design misses, each with its value against its threshold."""
    out = []
    for c in crit:
        if not c.met:
            value = (
                "not measurable with one seed"
                if math.isnan(c.value)
                else (f"{c.value:.0%}" if c.unit < 1 else f"{c.value:+.1f}")
            )
            bound = f"{c.threshold:.0%}" if c.unit < 1 else f"{c.threshold:+.1f}"
            out.append(f"{c.name.split(' (')[0]}: {value} ({'at least' if c.at_least else 'at most'} {bound})")
    return "; ".join(out)


def search_text(search_ranked, confirmed_ranked, chosen: str) -> str:
    """The search in sentences, for every outcome: how many designs, the closest, what the chosen design
    meets and misses on its confirmation seeds."""
    designs = [n for n, *_ in search_ranked if not n.endswith(" regime")]
    first = search_ranked[0]
    row = next(r for r in confirmed_ranked if r[0] == chosen)
    _, dist, m, crit = row
    primary = [c for c in crit if c.weight == 1.0]
    met = sum(c.met for c in primary)
    text = (
        f"The search tried {len(designs)} designs on seed 0; the closest to the criteria was "
        f'"{first[0]}" (distance {first[1]:.2f}). '
    )
    text += (
        f'The testbed is "{chosen}": on {m["seeds"]} seeds it meets {met} of the {len(primary)} primary '
        f"criteria (distance {dist:.2f})"
    )
    missed = _missed(crit)
    return text + (f" and misses {missed}." if missed else ", and every secondary one.")
