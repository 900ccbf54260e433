"""Chapter 03's set-up and figures: the trained model whose gradient noise is measured, and four plots.

`setup` does what the chapter needs before any measurement (it used to be a 40-line notebook cell), on the
trained model and runs the recipe hands it (`recipe.noise_model.train`: the joint concatenation model of
`seed`, and this setting's OGM-GE runs; nothing here trains): check the parameters, draw `pool` training
samples, compute their per-sample gradients for each encoder (`noise.per_sample_gradients`), and the batch's
discrepancy ratio and OGM coefficient (`modulation`, Eq. 10: k = 1 − tanh(alpha · rho) for the leading
modality); and the mean k^a over the modulated steps of the OGM-GE runs. The figures use the book's style
(`figure_style`): mathtext, legends outside the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .figure_style import legend_outside
from .plots import WIDTH


@dataclass
class Setup:
    config: object
    data: object
    model: object
    per_sample: dict  # encoder -> per-sample gradients
    flat: dict  # encoder -> flattened per-sample gradients (pool x parameters)
    rho_a: float
    k: dict  # encoder -> the batch's OGM coefficient
    runs_k: np.ndarray  # the OGM-GE runs' mean k^a over their modulated steps, per seed
    pool: int
    batch_sizes: list
    lr_factors: list
    update_batch_sizes: list
    update_draws: int
    ks: list


def setup(trained, alpha, pool, batch_sizes, lr_factors, update_batch_sizes, update_draws, ks) -> Setup:
    """`trained`: the joint model, its data and the OGM-GE runs (`recipe.noise_model.NoiseModel`)."""
    import torch

    from ..method import checks
    from ..method.modulation import coefficient, discrepancy_ratios, modality_scores
    from ..method.noise import flatten, per_sample_gradients
    from .reduce import modulation_window_mean

    pool = checks.number(pool, "pool", int, low=2)
    batch_sizes = checks.number_list(batch_sizes, "batch_sizes", int, low=1, high=pool)
    lr_factors = checks.number_list(lr_factors, "lr_factors", float, low=0, low_inclusive=False)
    update_draws = checks.number(update_draws, "update_draws", int, low=2)
    ks = checks.number_list(ks, "ks", float, low=0, high=1, low_inclusive=False)
    config, data, model = trained.config, trained.data, trained.model
    idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[:pool]
    audio, visual, labels = data.train.batch(idx)
    per_sample = {m: per_sample_gradients(model, audio, visual, labels, m) for m in ("audio", "visual")}
    flat = {m: flatten(g) for m, g in per_sample.items()}
    with torch.no_grad():
        out = model(audio, visual)
        rho_a, rho_v = discrepancy_ratios(*modality_scores(out.logits_a, out.logits_v, labels))
    k = {"audio": float(coefficient(rho_a, alpha)), "visual": float(coefficient(rho_v, alpha))}
    update_batch_sizes = checks.number_list(update_batch_sizes, "update_batch_sizes", int, low=1, high=len(data.train))
    # the dominant (audio) encoder's k in this setting's OGM-GE runs: mean over each run's modulated steps
    runs_k = np.array([modulation_window_mean(r, "k_a") for r in trained.ogm_ge])
    return Setup(
        config,
        data,
        model,
        per_sample,
        flat,
        float(rho_a),
        k,
        runs_k,
        pool,
        batch_sizes,
        lr_factors,
        update_batch_sizes,
        update_draws,
        ks,
    )


def batch_noise_figure(noise):
    """Measured mini-batch noise against the formula tr(Σ₁)/b, per encoder (log-log)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    formula = [c for c in noise.columns if c.startswith("formula")][0]
    for i, (m, grp) in enumerate(noise.groupby("encoder")):
        ax.loglog(grp["batch size"], grp["measured"], "o", color=f"C{i}", label=f"{m}: measured")
        ax.loglog(grp["batch size"], grp[formula], "-", color=f"C{i}", label=f"{m}: " + r"$\mathrm{tr}\,\Sigma_1/b$")
    ax.set_xlabel("batch size $b$")
    ax.set_ylabel("trace of mini-batch gradient covariance")
    ax.set_title("Gradient noise against batch size")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def update_noise_figure(updates):
    """One SGD step's noise, measured against η² tr(Σ₁)/b, per encoder and learning rate."""
    import matplotlib.pyplot as plt

    predicted = [c for c in updates.columns if c.startswith("predicted")][0]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4), sharey=True)
    for ax, (m, grp) in zip(axes, updates.groupby("encoder")):
        for i, (lr, g) in enumerate(grp.groupby("lr")):
            ax.loglog(g["batch size"], g["measured"], "o", color=f"C{i}", label=f"$\\eta$ = {lr:g}: measured")
            ax.loglog(g["batch size"], g[predicted], "-", color=f"C{i}", label=f"$\\eta$ = {lr:g}: predicted")
        ax.set_title(f"{m} encoder")
        ax.set_xlabel("batch size $b$")
    axes[0].set_ylabel(r"trace of Cov(update)")
    fig.suptitle(r"One SGD step's noise: measured against $\eta^2\,\mathrm{tr}\,\Sigma_1/b$")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


#: chapter 03's bar names -> their mathtext form
GE_BAR_LABELS = {"OGM-GE, paper (k^2+1)": r"OGM-GE, paper ($k^2+1$)"}


def ge_noise_figure(ge, columns: Sequence[str], b: int):
    """The noise each method leaves, per encoder, as bars (log scale), the legend to the right."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    table = ge[list(columns)].rename(columns=GE_BAR_LABELS)
    table.plot.bar(ax=ax, logy=True, rot=0, legend=False)
    ax.set_ylabel("trace of gradient noise covariance")
    ax.set_xlabel("")
    ax.set_title(f"Noise at batch size {b}")
    legend_outside(ax)
    fig.tight_layout()
    return fig


def temperature_figure(forms, k_audio: float, ks: Sequence[float], r_audio: float):
    """SGD temperature per unit of effective learning rate, for each GE form, against k."""
    import matplotlib.pyplot as plt

    from ..method.temperature import FORM_LABELS, temperature_factor

    grid = np.logspace(-2, 0, 200)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    for f in forms:
        label = FORM_LABELS[f].replace("r)", f"r), r = {r_audio:.2f}").replace("k^2", "$k^2$")
        ax.loglog(grid, temperature_factor(grid, f, official_ratio=r_audio), label=label)
    ax.axhline(1, color="grey", lw=0.8, ls=":")
    ax.axvspan(min(ks), max(ks), color="grey", alpha=0.15, label="$k$ of the table")
    ax.axvline(k_audio, color="k", lw=0.8, ls="--", label=f"$k^a$ on this model = {k_audio:.3f}")
    ax.set_xlabel("OGM coefficient $k$ of the dominant encoder")
    ax.set_ylabel("temperature / plain SGD's")
    ax.set_title("SGD temperature per unit of effective learning rate")
    legend_outside(ax)
    fig.tight_layout()
    return fig


__all__ = ["setup", "Setup", "batch_noise_figure", "update_noise_figure", "ge_noise_figure", "temperature_figure"]


def runs_k_text(setup) -> str:
    """The OGM-GE runs' mean k^a over their modulated steps: the mean over seeds and its range."""
    k = setup.runs_k
    return f"{k.mean():.2f} (seeds: {k.min():.2f} to {k.max():.2f})"
