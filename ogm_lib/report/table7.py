"""Table 7, noise intensity: its claims, and accuracy against the SGD noise scale lr / batch
(Jastrzebski et al. 2017). The grid itself is part of the run recipe (`book.noise_settings`)."""

from __future__ import annotations

from typing import Sequence

from ..ground.paper import TABLE7, difference
from ..method.results import RunResult
from ..recipe.book import NoiseSetting
from .claims import MISSING, Claim
from .plots import CONDITION_COLORS
from .reduce import mean_std, values
from .tables import slug


def base_setting(settings: Sequence[NoiseSetting]) -> NoiseSetting:
    """The noisiest vanilla setting of the paper's grid: the first batch size at the base lr."""
    vanilla = [s for s in settings if s.method == "normal"]
    return next(s for s in vanilla if s.factor == 1 and s.batch_size == vanilla[0].batch_size)


def noise_claims(settings: Sequence[NoiseSetting], runs: dict[str, list[RunResult]]) -> list[Claim]:
    """The base setting beats every vanilla setting with a smaller lr or a bigger batch (less noise, lower
    accuracy), and GE only beats the base setting. Keys: 'noise_<slug of the other setting>', 'ge_only'.
    GE only against the base setting is the table's primary claim (the row Table 7 adds GE for); the noise
    claims are the paper's family."""
    base = base_setting(settings)
    claims = []
    for s in settings:
        if s.method != "normal" or s is base or s.noise >= base.noise:
            continue
        claims.append(
            Claim(
                f"noise_{slug(s.label)}",
                f"{base.label} beats {s.label} (lr / batch {base.noise / s.noise:g} × larger)",
                runs[base.label],
                runs[s.label],
                paper=difference(TABLE7, base.paper_row, s.paper_row),
                short=s.label,
            )
        )
    for s in settings:
        if s.method == "ge":
            claims.append(
                Claim(
                    "ge_only",
                    f"{s.label} beats {base.label} (vanilla)",
                    runs[s.label],
                    runs[base.label],
                    paper=difference(TABLE7, s.paper_row, base.paper_row),
                    short="GE only",
                    family="primary",
                )
            )
    return claims


def noise_points(settings: Sequence[NoiseSetting], runs: dict[str, list[RunResult]], metric: str = "test_acc"):
    """A DataFrame, one row per setting: lr, batch, lr / batch, mean and std over seeds of `metric`."""
    import pandas as pd

    rows = []
    for s in settings:
        m, sd = mean_std(values(runs[s.label], metric))
        rows.append(
            {
                "label": s.label,
                "series": s.series,
                "lr": s.lr,
                "batch": s.batch_size,
                "lr / batch": s.noise,
                "mean": m,
                "std": sd,
            }
        )
    return pd.DataFrame(rows).set_index("label")


def plot_noise_scale(ax, points, title: str = "", ylabel: str = "test accuracy") -> None:
    """Accuracy against lr / batch (log axis), mean ± std over seeds; one marker per series."""
    markers = {"learning rate": "o", "batch size": "s", "GE only": "*"}
    colors = {"learning rate": CONDITION_COLORS["joint"], "batch size": "#bcbd22", "GE only": CONDITION_COLORS["ge"]}
    for series, group in points.groupby("series", sort=False):
        group = group.sort_values("lr / batch")
        ax.errorbar(
            group["lr / batch"],
            group["mean"],
            yerr=group["std"],
            marker=markers.get(series, "o"),
            ms=9 if series == "GE only" else 6,
            capsize=3,
            color=colors.get(series),
            linestyle="-" if len(group) > 1 else "none",
            label=f"vary {series}" if series != "GE only" else series,
        )
    ax.set_xscale("log")
    ax.set_xlabel("SGD noise scale: learning rate / batch size")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)


def paired_gap(rs: Sequence[RunResult], base: Sequence[RunResult]):
    """`rs` minus the base setting's runs, seed by seed on the seeds both have (test accuracy at the best
    validation epoch): a `stats.PairedTest`, or None with fewer than 2 common seeds."""
    from .stats import paired_test

    try:  # the claims' own pairing (`Claim.pairs`): the same seeds, metric and protocol as a verdict's
        seeds, a, b = Claim("paired_gap", "", list(rs), list(base)).pairs("val")
    except ValueError:  # no common seed
        return None
    return paired_test(a, b) if len(seeds) >= 2 else None


def _batch_rows(settings, control, suffix):
    return [s for s in settings if s.series == "batch size" and s.label + suffix in control]


def equal_steps_table(
    settings: Sequence[NoiseSetting],
    runs: dict[str, list[RunResult]],
    control: dict[str, list[RunResult]],
    suffix: str = ", equal steps",
):
    """Table 7's batch-size rows at the same epochs and at equal steps (`recipe.equal_steps`: batch b for b / b0
    times the epochs), beside the base batch: test accuracy (%) mean ± std over seeds, and each row's paired
    difference from the base setting, seed by seed on the seeds both have, with its 95 % interval (best
    validation epoch: `paired_gap`)."""
    import pandas as pd

    from .reduce import fmt_pm

    base = base_setting(settings)

    def diff(rs):
        t = paired_gap(rs, runs[base.label])
        if t is None:
            return MISSING
        return f"{100 * t.mean:+.1f} ({100 * t.ci_low:+.1f} to {100 * t.ci_high:+.1f}), n = {t.n}"

    rows = {}
    for s in _batch_rows(settings, control, suffix):
        rs, cs = runs[s.label], control[s.label + suffix]
        rows[s.label] = {
            "epochs": f"{rs[0].config['epochs']} / {cs[0].config['epochs']}",
            "same epochs": fmt_pm(values(rs)),
            "equal steps": fmt_pm(values(cs)),
            f"same epochs − {base.label}": diff(rs),
            f"equal steps − {base.label}": diff(cs),
        }
    table = pd.DataFrame(rows).T
    base_runs = runs[base.label]
    table.index.name = f"batch row (base: {base.label}, {fmt_pm(values(base_runs))}, {len(base_runs)} seeds)"
    return table


def equal_steps_text(
    settings: Sequence[NoiseSetting],
    runs: dict[str, list[RunResult]],
    control: dict[str, list[RunResult]],
    suffix: str = ", equal steps",
) -> str:
    """One phrase per batch row: its paired gap to the base setting at the same epochs and at equal steps (mean
    over the common seeds, points, as in `equal_steps_table`), true for any outcome."""
    base = base_setting(settings)
    parts = []
    for s in _batch_rows(settings, control, suffix):
        fixed = paired_gap(runs[s.label], runs[base.label])
        equal = paired_gap(control[s.label + suffix], runs[base.label])
        if fixed is None or equal is None:
            continue
        parts.append(
            f"{s.label}: {100 * fixed.mean:+.1f} points against {base.label} at the same epochs, "
            f"{100 * equal.mean:+.1f} at equal steps"
        )
    return "; ".join(parts) if parts else "no batch row has its control on two common seeds"
