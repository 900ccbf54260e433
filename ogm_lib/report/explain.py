"""Why OGM-GE helps or not: the measurements of the chapter "When OGM-GE helps, and why it did not here".

Each function reads runs (their per-epoch metrics, per-step trace and stored test predictions) and nothing
else; none trains. The chapter compares two regimes of the default data (`regimes.py`), each with four rows:
audio-only, visual-only, concatenation, concatenation + OGM-GE.

- `ceiling`: a check that needs no training. Multiply the test-clip probabilities of the separately
  trained audio-only and visual-only models of the same seed (late fusion by a product of experts,
  p(y | a, v) ∝ p(y | a) p(y | v), exact when the two inputs are conditionally independent given the label,
  as they are by construction in `avdigits`). If this product beats the joint model, the joint model
  leaves accuracy on the table that two well-trained encoders hold: the room a balancing method could
  recover.
- `k_curve`: the coefficient k of each encoder (paper Eq. 10) averaged per epoch.
- `per_class`: test accuracy per class (digit) from the stored predictions, and which classes OGM-GE moves.
- `crossover`: where, if anywhere, OGM-GE's curve crosses the joint model's for good (the paper's Figure 1:
  OGM-GE trails until about epoch 40-45 of 100, then leads).
- `explain_claims`: the chapter's claims per regime, judged by the book's rule.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ground.paper import TABLE1, difference, figure1_difference
from ..method.results import RunResult, decode_predictions
from .claims import Claim
from .reduce import by_seed, epoch_curve, final_metric, metric, seed_of

Runs = dict[str, list[RunResult]]

#: a regime's short name in glue keys
TAGS = {"paper-like": "pl", "easy audio": "ea", "testbed": "tb"}
#: the paper's Figure 1 (VGGSound, 100 epochs): the epoch range where OGM-GE's fused curve overtakes the joint one
PAPER_CROSSOVER = (40, 45, 100)


def predictions(run: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probs) of a run's test clips at its validation-chosen epoch; a ValueError if the run
    stored none (runs made before predictions were kept)."""
    if not run.predictions:
        raise ValueError(f"run {run.key} has no stored predictions (made before results kept them)")
    return decode_predictions(run.predictions)


def product_accuracy(audio: RunResult, visual: RunResult) -> float:
    """Accuracy of argmax_y p(y|a) p(y|v) over the test clips (the two runs must share the test split)."""
    ya, pa = predictions(audio)
    yv, pv = predictions(visual)
    if not np.array_equal(ya, yv):
        raise ValueError(f"runs {audio.key} and {visual.key} were scored on different test clips")
    logp = np.log(np.clip(pa, 1e-12, None)) + np.log(np.clip(pv, 1e-12, None))
    return float((logp.argmax(1) == ya).mean())


def ceiling(audio_runs: Sequence[RunResult], visual_runs: Sequence[RunResult]) -> dict[int, float]:
    """{seed: product-of-experts accuracy} of the audio-only and visual-only runs of the same seed."""
    visual = {seed_of(r): r for r in visual_runs}
    return {seed_of(a): product_accuracy(a, visual[seed_of(a)]) for a in audio_runs if seed_of(a) in visual}


def k_curve(runs: Sequence[RunResult], key: str = "k_a") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, mean, std over seeds) of the per-epoch mean of a per-step trace (k_a, k_v, rho_a)."""
    per_run = []
    for r in runs:
        x = np.asarray(r.steps[key], dtype=float)
        epochs = int(r.config["epochs"])
        per_run.append([float(np.nanmean(c)) for c in np.array_split(x, epochs)])
    table = np.array(per_run)
    std = table.std(0, ddof=1) if len(runs) > 1 else np.zeros(table.shape[1])
    return np.arange(table.shape[1]), table.mean(0), std


def first_epoch_mean(run: RunResult, key: str = "rho_a") -> float:
    """Mean of a per-step trace over the run's first epoch (is audio the faster learner from the start?)."""
    x = np.asarray(run.steps[key], dtype=float)
    return float(np.nanmean(np.array_split(x, int(run.config["epochs"]))[0]))


def per_class(runs: Runs, labels: Sequence[str] | None = None, class_names: Sequence[str] | None = None):
    """Test accuracy (%) per class, mean over seeds, one column per row of `runs` (a DataFrame)."""
    import pandas as pd

    labels = list(runs) if labels is None else list(labels)
    out = {}
    for label in labels:
        accs = []
        for r in runs[label]:
            y, p = predictions(r)
            hit = p.argmax(1) == y
            accs.append([100 * hit[y == c].mean() for c in range(p.shape[1])])
        out[label] = np.mean(accs, 0)
    table = pd.DataFrame(out)
    if class_names is not None:
        table.index = list(class_names)
    table.index.name = "class"
    return table


def crossover(a_runs: Sequence[RunResult], b_runs: Sequence[RunResult], key: str = "test_acc") -> dict:
    """Where A's mean curve overtakes B's for good: the first epoch (1-based) from which the mean over seeds of
    A - B stays >= 0 to the end, or None; also the epochs where A leads and the final difference (points)."""
    ep, ma, _ = epoch_curve(a_runs, key)
    ep_b, mb, _ = epoch_curve(b_runs, key)
    if not np.array_equal(ep, ep_b):
        raise ValueError("the two rows were measured at different epochs")
    d = 100 * (ma - mb)
    first = None
    for i in range(len(d)):
        if np.all(d[i:] >= 0):
            first = int(ep[i]) + 1
            break
    return {
        "epochs": ep + 1,
        "difference": d,
        "first_for_good": first,
        "leads": int((d > 0).sum()),
        "of": len(d),
        "final": float(d[-1]),
    }


def crossover_text(c: dict, what: str = "OGM-GE's test accuracy") -> str:
    """A sentence true for every outcome of `crossover`."""
    if c["first_for_good"] is None:
        return (
            f"{what} does not overtake the joint model for good: it leads at {c['leads']} of {c['of']} "
            f"measured epochs and ends {c['final']:+.1f} points from it"
        )
    if c["first_for_good"] == int(c["epochs"][0]):
        return f"{what} is at or above the joint model from the first epoch on (it ends {c['final']:+.1f} points)"
    if c["first_for_good"] == int(c["epochs"][-1]):
        return (
            f"{what} does not overtake the joint model for good: it is at or above it only at the last measured "
            f"epoch ({c['first_for_good']} of {int(c['epochs'][-1])}, {c['final']:+.1f} points), and leads at "
            f"{c['leads']} of {c['of']} measured epochs"
        )
    return (
        f"{what} overtakes the joint model for good at epoch {c['first_for_good']} of {int(c['epochs'][-1])} "
        f"(it ends {c['final']:+.1f} points)"
    )


def train_acc(runs: Sequence[RunResult]) -> dict[int, float]:
    """{seed: training-subset accuracy at the last epoch}: how well the model fits its training data."""
    return by_seed(runs, lambda r: final_metric(r, "train_acc"))


def explain_claims(runs: Runs, tag: str = "") -> list[Claim]:
    """One regime's claims: OGM-GE's gain and its mechanism (encoders, fit), and the ceiling check.
    The direction of each is the paper's, or (for the mechanism) the reading that would explain a loss."""
    head, ogm = runs["Concatenation"], runs["Concatenation + OGM-GE"]
    sfx = f" ({tag})" if tag else ""
    from .claims import rerun_gains
    from .reduce import probe

    return [
        Claim(
            "gain",
            f"OGM-GE beats concatenation{sfx}",
            ogm,
            head,
            paper=difference(TABLE1, "Concatenation+", "Concatenation", ["CREMA-D Acc", "VGGSound Acc"]),
            ledger=rerun_gains("concat"),
            short=f"OGM-GE beats concatenation{sfx}",
        ),
        Claim(
            "imbalance",
            f"the visual encoder is worse inside the joint model than trained alone{sfx}",
            probe(runs["Visual-only"], "visual"),
            probe(head, "visual"),
            paper=figure1_difference("visual", "visual-only", "joint"),
            short=f"joint under-trains visual{sfx}",
        ),
        Claim(
            "visual",
            f"OGM-GE improves the visual encoder (linear probe){sfx}",
            probe(ogm, "visual"),
            probe(head, "visual"),
            paper=figure1_difference("visual", "joint + OGM-GE", "joint"),
            short=f"OGM-GE: better visual{sfx}",
        ),
        Claim(
            "audio",
            f"OGM-GE costs the audio encoder (linear probe, joint minus OGM-GE){sfx}",
            probe(head, "audio"),
            probe(ogm, "audio"),
            paper=figure1_difference("audio", "joint", "joint + OGM-GE"),
            short=f"OGM-GE: worse audio{sfx}",
        ),
        Claim(
            "underfit",
            f"OGM-GE fits the training data less well (training accuracy, joint minus OGM-GE){sfx}",
            train_acc(head),
            train_acc(ogm),
            short=f"OGM-GE under-fits{sfx}",
        ),
        Claim(
            "ceiling",
            f"two separately trained models, multiplied, beat the joint model{sfx}",
            lambda protocol: ceiling(runs["Audio-only"], runs["Visual-only"]),
            head,
            short=f"product of unimodal models beats joint{sfx}",
        ),
    ]


#: each claim's family (`stats.FAMILIES`) in every regime: the paper's claims, and the book's readings of the
#: mechanism and its ceiling check
FAMILIES = {
    "gain": "paper",
    "imbalance": "paper",
    "visual": "paper",
    "audio": "book",
    "underfit": "book",
    "ceiling": "book",
}
#: in the book's own regime (`book.REGIME`) the same runs are other chapters' rows: the headline pair (judged in
#: chapter 05) and OGM-GE's visual probe (judged in chapter 01, same seeds); the imbalance claim is judged here,
#: with 10 seeds to chapter 01's 5, and it is Figure 1's headline, so it is primary
BOOK_REGIME_ROLES = {
    "gain": ("primary", ("05_table1", "concat_ge")),
    "imbalance": ("primary", None),
    "visual": ("paper", ("01_imbalance", "ogmge")),
}


def chapter_claims(runs: dict[str, Runs]) -> list[Claim]:
    """The chapter's claims over every regime, judged together by the book's one rule: keys '<tag>_<key>'
    ('pl_gain', 'ea_ceiling'), families `FAMILIES`, and in the book's regime the roles `BOOK_REGIME_ROLES`."""
    from dataclasses import replace

    from ..recipe.book import REGIME

    out = []
    for regime, rs in runs.items():
        tag = TAGS.get(regime, regime)
        for c in explain_claims(rs, regime):
            family, judged_in = FAMILIES[c.key], None
            if regime == REGIME and c.key in BOOK_REGIME_ROLES:
                family, judged_in = BOOK_REGIME_ROLES[c.key]
            out.append(replace(c, key=f"{tag}_{c.key}", family=family, judged_in=judged_in))
    return out


def by_regime(verdicts: dict, runs: dict[str, Runs]) -> dict[str, dict]:
    """{regime: {claim key without its tag: verdict}} from `claims.judge(chapter_claims(runs))`."""
    out = {}
    for regime in runs:
        tag = TAGS.get(regime, regime) + "_"
        out[regime] = {k[len(tag) :]: v for k, v in verdicts.items() if k.startswith(tag)}
    return out


def regime_facts(runs: Runs, protocol: str = "val") -> dict[str, float]:
    """A regime's numbers for the calibration page and the closing note (accuracies in %)."""
    mean = lambda rs, name="test_acc": 100 * float(np.mean([metric(r, name, protocol) for r in rs]))
    return {
        "audio-only val": mean(runs["Audio-only"], "val_acc"),
        "visual-only val": mean(runs["Visual-only"], "val_acc"),
        "audio-only test": mean(runs["Audio-only"]),
        "visual-only test": mean(runs["Visual-only"]),
        "gap (test)": mean(runs["Audio-only"]) - mean(runs["Visual-only"]),
        "concatenation test": mean(runs["Concatenation"]),
        "concatenation + OGM-GE test": mean(runs["Concatenation + OGM-GE"]),
        "joint rho_a, first epoch": float(np.mean([first_epoch_mean(r) for r in runs["Concatenation"]])),
    }


# ---------------------------------------------------------------------------------------------------------
# The chapter's tables, figure and sentences


def _k_mean(run: RunResult, key: str = "k_a") -> float:
    if run.config["modalities"] != "av":
        raise KeyError("k is defined for the joint models only")
    from .reduce import modulation_window_mean

    return modulation_window_mean(run, key)


def regime_table(runs: Runs, name: str = ""):
    """The four rows (and the product of the unimodal models): accuracies, fit, probes, mean k^a."""
    from .reduce import fmt_pm
    from .tables import at, last, summary

    cols = {
        "fused acc": at("test_acc"),
        "fused acc, best test epoch": at("test_acc", "test"),
        "train acc, last epoch": last("train_acc"),
        "audio probe": last("probe_audio"),
        "visual probe": last("probe_visual"),
        "mean k^a, modulated steps": _k_mean,
        "mean k^v, modulated steps": lambda r: _k_mean(r, "k_v"),
    }
    table = summary(runs, cols, name=name)
    table.loc["Product of audio-only and visual-only"] = {c: "—" for c in cols}
    table.loc["Product of audio-only and visual-only", "fused acc"] = fmt_pm(
        list(ceiling(runs["Audio-only"], runs["Visual-only"]).values())
    )
    # k is a fraction, not a percentage: undo summary's x100 for that column
    for label in ("Concatenation", "Concatenation + OGM-GE"):
        for key in ("k_a", "k_v"):
            table.loc[label, f"mean k^{key[-1]}, modulated steps"] = fmt_pm(
                [_k_mean(r, key) for r in runs[label]], 1.0, 2
            )
    return table


def k_texts(runs: dict[str, Runs]) -> dict[str, str]:
    """'ex_pl_k' / 'ex_ea_k': how hard OGM-GE held each encoder back during modulation, in numbers."""
    from .reduce import modulation_window_mean, modulation_window_steps

    out = {}
    for regime, rs in runs.items():
        ogm = rs["Concatenation + OGM-GE"]
        ka, kv = (float(np.mean([modulation_window_mean(r, k) for r in ogm])) for k in ("k_a", "k_v"))
        windows = [slice(*modulation_window_steps(r, "k_a")) for r in ogm]
        slowed = [
            f"{m} {100 * np.mean([np.mean(np.asarray(r.steps[k][w]) < 1) for r, w in zip(ogm, windows)]):.0f} %"
            for m, k in (("audio", "k_a"), ("visual", "k_v"))
        ]
        out[f"ex_{TAGS.get(regime, regime)}_k"] = (
            f"over the modulated steps OGM-GE multiplied the audio encoder's gradient by k^a = {ka:.2f} and the visual "
            f"encoder's by k^v = {kv:.2f} on average; the share of modulated steps that slowed each encoder: "
            + ", ".join(slowed)
        )
    return out


def per_class_table(runs: Runs, name: str = ""):
    labels = ["Audio-only", "Visual-only", "Concatenation", "Concatenation + OGM-GE"]
    table = per_class(runs, labels)
    table["OGM-GE − concatenation"] = table["Concatenation + OGM-GE"] - table["Concatenation"]
    table = table.round(1)
    table.columns.name = name or None
    return table


def through_training_figure(runs: dict[str, Runs], alphas: dict[str, float]):
    """Per regime (columns): k^a and k^v per epoch; fused test accuracy; the visual encoder's probe."""
    import matplotlib.pyplot as plt

    from .plots import WIDTH, epoch_curves

    regimes_ = list(runs)
    fig, axes = plt.subplots(3, len(regimes_), figsize=(WIDTH, 8), squeeze=False)
    pair = ["Concatenation", "Concatenation + OGM-GE"]
    for j, regime in enumerate(regimes_):
        ogm = runs[regime]["Concatenation + OGM-GE"]
        ax = axes[0, j]
        for key, style in (("k_a", "-"), ("k_v", "--")):
            ep, mean, std = k_curve(ogm, key)
            ax.plot(ep + 1, mean, style, color="tab:red", label=key.replace("_", "^"))
            ax.fill_between(ep + 1, mean - std, mean + std, color="tab:red", alpha=0.15)
        cfg = ogm[0].config
        ax.axvspan(cfg["modulation_start"] + 0.5, cfg["modulation_end"] + 1.5, color="0.9", zorder=0, label="modulated")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{regime}: OGM-GE's k (alpha = {alphas[regime]:g})", fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        epoch_curves(axes[1, j], runs[regime], "test_acc", pair, title=f"{regime}: fused test accuracy")
        epoch_curves(axes[2, j], runs[regime], "probe_visual", pair, title=f"{regime}: visual encoder, probe")
    fig.tight_layout()
    return fig


#: each claim's sentence per label (`claims.by_label`'s keywords), in reading order; "referred": the claim is
#: another chapter's, judged there
def _readings() -> dict[str, dict[str, str]]:
    from .claims import EQUIVALENCE_MARGIN as m

    return {
        "gain": dict(
            reproduced="OGM-GE raises the fused accuracy, as the paper reports.",
            smaller="OGM-GE's effect on the fused accuracy is smaller than every gain the paper reports for it.",
            equivalent=f"OGM-GE leaves the fused accuracy within ±{m:g} points of plain training.",
            contradicted="OGM-GE lowers the fused accuracy: the opposite of the paper.",
            inconclusive="We cannot tell whether OGM-GE changes the fused accuracy.",
            referred="The fused-accuracy comparison is the headline pair, judged in chapter 05.",
        ),
        "imbalance": dict(
            reproduced="The joint model under-trains its visual encoder, so there is an imbalance to correct;",
            smaller="The joint model's visual encoder falls short of the one trained alone by less than the paper's "
            "Figure 1 shows;",
            equivalent=f"The joint model's visual encoder is within ±{m:g} points of the one trained alone, so there "
            "is little imbalance to correct;",
            contradicted="The joint model's visual encoder is better than the one trained alone, so there is no such "
            "imbalance to correct;",
            inconclusive="We cannot tell whether the joint model under-trains its visual encoder;",
        ),
        "visual": dict(
            reproduced="OGM-GE does improve the visual encoder,",
            smaller="OGM-GE improves the visual encoder by less than the paper's Figure 1 shows, if at all,",
            equivalent=f"OGM-GE leaves the visual encoder within ±{m:g} points of plain training,",
            contradicted="OGM-GE makes the visual encoder worse,",
            inconclusive="OGM-GE does not measurably improve the visual encoder,",
            referred="OGM-GE's effect on the visual encoder is chapter 01's claim (the same runs, judged there),",
        ),
        "audio": dict(
            reproduced="it costs the audio encoder accuracy,",
            smaller="its cost to the audio encoder is smaller than the paper's,",
            equivalent=f"it leaves the audio encoder within ±{m:g} points,",
            contradicted="and the audio encoder is better with it than without,",
            inconclusive="its cost to the audio encoder is not measurable,",
        ),
        "underfit": dict(
            reproduced="and the model fits its training data less well.",
            smaller="and it fits its training data less well by less than the paper's effect.",
            equivalent=f"and its fit of the training data is within ±{m:g} points of plain training.",
            contradicted="and the model fits its training data better.",
            inconclusive="and we cannot tell whether it fits its training data less well.",
        ),
        "ceiling": dict(
            reproduced="Two separately trained models, multiplied, beat the joint model: the joint model leaves "
            "accuracy unused that a balancing method could in principle recover.",
            smaller="Two separately trained models, multiplied, beat the joint model by less than the paper's effect.",
            equivalent=f"Two separately trained models, multiplied, are within ±{m:g} points of the joint model: "
            "little unused accuracy is left for a balancing method to recover.",
            contradicted="The joint model beats the product of two separately trained models: little unused accuracy "
            "is left for a balancing method to recover.",
            inconclusive="We cannot tell whether two separately trained models, multiplied, beat the joint model.",
        ),
    }


READINGS = _readings()


def reading_texts(verdicts: dict[str, dict]) -> dict[str, str]:
    """'ex_reading_pl' / 'ex_reading_ea': a paragraph per regime, each sentence chosen by a verdict's label."""
    from .claims import by_label

    return {
        f"ex_reading_{TAGS.get(regime, regime)}": " ".join(by_label(v[key], **READINGS[key]) for key in READINGS)
        for regime, v in verdicts.items()
    }


def visual_change_text(verdicts: dict[str, dict]) -> str:
    """'in the paper-like regime OGM-GE moves the visual encoder's probe by -0.3 points (95% CI ...), in the
    easy audio regime by ...': what OGM-GE bought the visual encoder, in numbers, per regime."""
    parts = [f"in the {regime} regime by {v['visual'].interval_text()}" for regime, v in verdicts.items()]
    return "OGM-GE moves the visual encoder's linear probe " + "; ".join(parts)
