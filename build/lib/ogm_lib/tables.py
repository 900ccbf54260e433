"""The reproduction chapters' tables, verdicts and plots (notebooks 05-09: Tables 1, 2, 6, 7, Figure 3).

The notebooks name their rows and claims; everything that turns runs into a number, a table, a verdict
or a plot lives here, where tests reach it.

- `paper_table(paper)`: the paper's numbers (`ogm_lib.paper`) as a DataFrame, "—" where it has none.
- `paper_vs_ours(paper, ours, dataset, profile)`: the paper's columns beside ours (mean ± std over seeds
  of the test metric at the validation-chosen epoch), with our dataset and profile in the headers.
- `Claim`, `judge`, `verdict_table`, `describe`, `verdict_counts`, `plain_summary`, `glue_claims`: one
  paired verdict per claim (`experiments.paired_verdict`), its table, and the sentences the notebooks glue
  into their text (so no number or verdict is ever typed by hand).
- `plot_bars`: our accuracy per row, mean ± std over seeds.
- `noise_settings`, `noise_claims`, `noise_points`, `plot_noise_scale`: Table 7's lr / batch grid, its
  claims, and accuracy against the SGD noise scale lr / batch (Jastrzebski et al. 2017).
- `moving_average`, `rho_band`, `modulation_window_mean`, `share_above`, `rho_summary`, `rho_claims`,
  `plot_rho`: Figure 3's trace of the discrepancy ratio rho^a over training iterations.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .experiments import Verdict, fmt_pm, mean_std, paired_verdict, values
from .figures import step_mean
from .results import RunResult

#: our dataset names -> the paper's, for headers
PAPER_DATASET_NAMES = {"cremad": "CREMA-D", "ksounds": "Kinetics-Sounds", "vggsound": "VGGSound", "ave": "AVE",
                       "avdigits": "avdigits", "synthetic": "synthetic"}

#: shown where the paper (or our run) has no number
MISSING = "—"
#: rho^a in table headers and claim texts (plain text: tables are not rendered as math)
RHO = "ρᵃ"


def slug(text: str) -> str:
    """A glue-name-safe form of a label: 'Modality-Drop (audio)' -> 'modality_drop_audio'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower().replace("+", " plus ")).strip("_")


def setting_text(dataset: str, profile: str, seeds) -> str:
    """'avdigits (cpu profile, 3 seeds)'; seeds: a count or a list of seeds."""
    n = seeds if isinstance(seeds, int) else len(list(seeds))
    return f"{dataset} ({profile} profile, {n} seed{'s' if n != 1 else ''})"


def ours_header(dataset: str, profile: str, what: str = "Acc") -> str:
    """'ours Acc (avdigits, cpu)': every column of our numbers names the data and profile behind it."""
    return f"ours {what} ({dataset}, {profile})"


def paper_header(column: str) -> str:
    return f"paper: {column}"


def _paper_cell(value) -> str:
    return MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def paper_table(paper: dict[str, dict[str, float]], rows: Sequence[str] | None = None):
    """The paper's numbers (percent, one decimal as printed) as a DataFrame, rows in the paper's order."""
    import pandas as pd
    columns = list(dict.fromkeys(c for row in paper.values() for c in row))
    rows = list(paper) if rows is None else list(rows)
    data = {r: {c: _paper_cell(paper.get(r, {}).get(c)) for c in columns} for r in rows}
    return pd.DataFrame.from_dict(data, orient="index", columns=columns)


def paper_vs_ours(paper: dict[str, dict[str, float]], ours: dict[str, list[RunResult]], dataset: str,
                  profile: str, metrics: dict[str, str] | None = None, paper_rows: dict[str, str | None] | None = None,
                  paper_columns: Sequence[str] | None = None, epoch: str = "best"):
    """The paper's columns, then ours, one row per entry of `ours` (in its order).

    paper: a table of `ogm_lib.paper`; ours: label -> runs (one per seed); metrics: our column title ->
    metric name (default {"Acc": "test_acc"}); paper_rows: our label -> the paper's row label (default:
    the same label; None or a label the paper lacks: "—", e.g. a method beyond the paper);
    paper_columns: which of the paper's columns to show (default all). Our cells are "mean ± std" in
    percent over seeds, at the validation-chosen epoch (`epoch="best"`) or the last (`"final"`).
    """
    import pandas as pd
    metrics = {"Acc": "test_acc"} if metrics is None else metrics
    all_columns = list(dict.fromkeys(c for row in paper.values() for c in row))
    columns = all_columns if paper_columns is None else list(paper_columns)
    paper_rows = {} if paper_rows is None else paper_rows
    data = {}
    for label, runs in ours.items():
        prow = paper.get(paper_rows.get(label, label)) if paper_rows.get(label, label) is not None else None
        row = {paper_header(c): _paper_cell((prow or {}).get(c)) for c in columns}
        for title, name in metrics.items():
            have = bool(runs) and all(name in (r.best if epoch == "best" else r.final) for r in runs)
            row[ours_header(dataset, profile, title)] = fmt_pm(values(runs, name, epoch)) if have else MISSING
        data[label] = row
    return pd.DataFrame.from_dict(data, orient="index")


def paper_difference(paper: dict[str, dict[str, float]], a: str | None, b: str | None,
                     columns: Sequence[str] | None = None) -> str:
    """The paper's A - B, per column: 'CREMA-D Acc +10.2, VGGSound Acc +1.5' ('—' if not in the paper)."""
    if a is None or b is None or a not in paper or b not in paper:
        return MISSING
    columns = [c for c in paper[a] if c in paper[b]] if columns is None else columns
    parts = [f"{c} {paper[a][c] - paper[b][c]:+.1f}" for c in columns if c in paper[a] and c in paper[b]]
    return ", ".join(parts) if parts else MISSING


# ----------------------------------------------------------------------------------------------------
# claims and verdicts


@dataclass
class Claim:
    """'A beats B' on paired seeds. a, b: runs (their `metric` at the validation-chosen epoch is used)
    or plain per-seed values; key: names the claim's glue entries; paper: the paper's A - B, as text;
    unit: "points" (accuracy, shown x100) or "" (a plain quantity such as rho^a); short: a short name
    for sentences (`plain_summary`), default the text."""
    key: str
    text: str
    a: Sequence
    b: Sequence
    paper: str = MISSING
    metric: str = "test_acc"
    unit: str = "points"
    short: str = ""

    def values(self) -> tuple[list[float], list[float]]:
        def as_values(x):
            return values(list(x), self.metric) if x and isinstance(x[0], RunResult) else [float(v) for v in x]
        return as_values(self.a), as_values(self.b)


def judge(claims: Sequence[Claim]) -> dict[str, Verdict]:
    """key -> paired_verdict(A, B) for every claim; keys must be unique."""
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be unique, got {keys}")
    return {c.key: paired_verdict(*c.values()) for c in claims}


def describe(verdict: Verdict, unit: str = "points") -> str:
    """'reproduced (+1.2 ± 0.5 points, n=3)'; for unit "" the difference is shown unscaled."""
    if unit == "points":
        return str(verdict)
    return f"{verdict.verdict} ({verdict.mean_diff:+.2f} ± {verdict.std_diff:.2f}{' ' + unit if unit else ''}, n={verdict.n})"


def _difference(verdict: Verdict, unit: str) -> str:
    scale, digits = (100.0, 1) if unit == "points" else (1.0, 2)
    return f"{verdict.mean_diff * scale:+.{digits}f} ± {verdict.std_diff * scale:.{digits}f}"


def verdict_table(claims: Sequence[Claim], verdicts: dict[str, Verdict] | None = None):
    """One row per claim: the paper's difference, our paired difference (mean ± std over seeds of A - B)
    and the verdict."""
    import pandas as pd
    verdicts = judge(claims) if verdicts is None else verdicts
    rows = {}
    for c in claims:
        v = verdicts[c.key]
        unit = "points" if c.unit == "points" else (c.unit or "difference")
        rows[c.text] = {"paper (A − B)": c.paper,
                        f"ours (A − B), {unit}": _difference(v, c.unit),
                        "seeds": v.n, "verdict": v.verdict}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "claim (A beats B)"
    return table


def verdict_counts(verdicts: dict[str, Verdict] | Sequence[Verdict]) -> str:
    """'2 of 4 claims reproduced, 1 partly, 1 not reproduced'."""
    vs = list(verdicts.values()) if isinstance(verdicts, dict) else list(verdicts)
    n = {name: sum(v.verdict == name for v in vs) for name in ("reproduced", "partly", "not reproduced")}
    return (f"{n['reproduced']} of {len(vs)} claim{'s' if len(vs) != 1 else ''} reproduced, "
            f"{n['partly']} partly, {n['not reproduced']} not reproduced")


def plain_summary(claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> str:
    """A plain sentence of which claims hold: 'all 4 reproduced' or '2 reproduced (concatenation;
    summation), 1 partly (FiLM), 1 not reproduced (gated)' (names in a group separated by ';')."""
    groups = {name: [c.short or c.text for c in claims if verdicts[c.key].verdict == name]
              for name in ("reproduced", "partly", "not reproduced")}
    if not claims:
        return "no claims"
    for name, members in groups.items():
        if len(members) == len(claims):
            return f"all {len(claims)} {name}" if len(claims) > 1 else f"{name}"
    return ", ".join(f"{len(m)} {name} ({'; '.join(m)})" for name, m in groups.items() if m)


def glue_claims(prefix: str, claims: Sequence[Claim], verdicts: dict[str, Verdict]) -> dict[str, str]:
    """The texts to glue: '<prefix>_<key>_verdict' per claim, '<prefix>_summary' (`verdict_counts`) and
    '<prefix>_plain' (`plain_summary`); glued with myst_nb
    when it is importable (the names must be unique across the book, hence the notebook prefix)."""
    out = {f"{prefix}_{c.key}_verdict": describe(verdicts[c.key], c.unit) for c in claims}
    out[f"{prefix}_summary"] = verdict_counts([verdicts[c.key] for c in claims])
    out[f"{prefix}_plain"] = plain_summary(claims, verdicts)
    glue_texts(out)
    return out


def glue_texts(texts: dict[str, str]) -> None:
    """myst_nb.glue(name, text, display=False) for each entry (a no-op without myst_nb)."""
    try:
        from myst_nb import glue
    except ImportError:   # pragma: no cover - myst_nb is a book dependency
        return
    for name, text in texts.items():
        glue(name, text, display=False)


def plot_bars(ax, runs: dict[str, list[RunResult]], metric: str = "test_acc", title: str = "",
              ylabel: str = "test accuracy", colors: dict[str, str] | None = None) -> None:
    """One bar per row: mean over seeds of `metric` at the validation-chosen epoch, ± std as error bars,
    and each seed as a dot."""
    labels = list(runs)
    means, stds = zip(*(mean_std(values(runs[label], metric)) for label in labels))
    x = np.arange(len(labels))
    colors = colors or {}
    ax.bar(x, means, yerr=stds, capsize=3, color=[colors.get(label, "C0") for label in labels], alpha=0.8)
    for i, label in enumerate(labels):
        v = values(runs[label], metric)
        ax.plot([i] * len(v), v, "k.", ms=4)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)


# ----------------------------------------------------------------------------------------------------
# Table 7: noise intensity


@dataclass
class NoiseSetting:
    label: str            # our row label, e.g. "b64, 0.1 × lr"
    paper_row: str | None  # the paper's Table 7 row it stands for, if any
    lr: float
    batch_size: int
    series: str           # "learning rate", "batch size" or "GE only"
    method: str = "normal"
    factor: float = 1.0   # lr = factor x the profile's lr

    @property
    def noise(self) -> float:
        """The SGD noise scale lr / batch (Jastrzebski et al. 2017)."""
        return self.lr / self.batch_size


def _paper_lr(x: float) -> str:
    """1e-4 -> '1e-4', 5e-4 -> '5e-4' (the paper's spelling)."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def noise_settings(base_lr: float, lr_factors: Sequence[float] = (0.1, 0.5, 1.0),
                   batch_sizes: Sequence[int] = (64, 128, 256), paper_lr: float = 1e-3,
                   paper: dict | None = None) -> list[NoiseSetting]:
    """Table 7's grid relative to our base lr: batch_sizes[0] at each lr factor, each larger batch at the
    base lr, and GE only at batch_sizes[0] and the base lr. A setting maps to the paper's row with the
    same factor of the paper's lr (1e-3) and batch size, when the paper has one."""
    from .paper import TABLE7
    paper = TABLE7 if paper is None else paper
    b0 = int(batch_sizes[0])

    def prow(factor, b, suffix=""):
        name = f"b{b} lr{_paper_lr(paper_lr * factor)}{suffix}"
        return name if name in paper else None

    # factor 1 is the profile's lr itself (not base_lr * 1.0 recomputed), so the row shares its cache key
    out = [NoiseSetting(f"b{b0}, {f:g} × lr", prow(f, b0), base_lr if f == 1 else base_lr * f, b0,
                        "learning rate", factor=float(f)) for f in lr_factors]
    if 1.0 not in [float(f) for f in lr_factors]:
        out.append(NoiseSetting(f"b{b0}, 1 × lr", prow(1.0, b0), base_lr, b0, "learning rate"))
    out += [NoiseSetting(f"b{int(b)}, 1 × lr", prow(1.0, int(b)), base_lr, int(b), "batch size")
            for b in batch_sizes[1:]]
    out.append(NoiseSetting(f"b{b0}, 1 × lr, GE only", prow(1.0, b0, " GE only"), base_lr, b0, "GE only", "ge"))
    return out


def noise_claims(settings: Sequence[NoiseSetting], runs: dict[str, list[RunResult]],
                 paper: dict | None = None) -> list[Claim]:
    """Table 7's claims: the noisiest vanilla setting of the paper's grid (batch_sizes[0] at the base lr)
    beats every setting with a smaller lr or a bigger batch (less noise: lower accuracy), and GE only
    beats that vanilla setting. Keys: 'noise_<slug of the other setting>' and 'ge_only'."""
    from .paper import TABLE7
    paper = TABLE7 if paper is None else paper
    vanilla = [s for s in settings if s.method == "normal"]
    base = next(s for s in vanilla if s.factor == 1 and s.batch_size == vanilla[0].batch_size)
    claims = []
    for s in vanilla:
        if s is base or s.noise >= base.noise:
            continue
        claims.append(Claim(f"noise_{slug(s.label)}", f"{base.label} beats {s.label} (lr / batch "
                            f"{base.noise / s.noise:g} × larger)", runs[base.label], runs[s.label],
                            paper=paper_difference(paper, base.paper_row, s.paper_row), short=s.label))
    for s in settings:
        if s.method == "ge":
            claims.append(Claim("ge_only", f"{s.label} beats {base.label} (vanilla)", runs[s.label],
                                runs[base.label], paper=paper_difference(paper, s.paper_row, base.paper_row),
                                short="GE only"))
    return claims


def noise_points(settings: Sequence[NoiseSetting], runs: dict[str, list[RunResult]], metric: str = "test_acc"):
    """A DataFrame, one row per setting: lr, batch, lr / batch, mean and std over seeds of `metric`."""
    import pandas as pd
    rows = []
    for s in settings:
        m, sd = mean_std(values(runs[s.label], metric))
        rows.append({"label": s.label, "series": s.series, "lr": s.lr, "batch": s.batch_size,
                     "lr / batch": s.noise, "mean": m, "std": sd})
    return pd.DataFrame(rows).set_index("label")


def plot_noise_scale(ax, points, title: str = "", ylabel: str = "test accuracy") -> None:
    """Accuracy against lr / batch (log axis), mean ± std over seeds; one marker per series."""
    markers = {"learning rate": "o", "batch size": "s", "GE only": "*"}
    for series, group in points.groupby("series", sort=False):
        group = group.sort_values("lr / batch")
        ax.errorbar(group["lr / batch"], group["mean"], yerr=group["std"], marker=markers.get(series, "o"),
                    ms=9 if series == "GE only" else 6, capsize=3,
                    linestyle="-" if len(group) > 1 else "none", label=f"vary {series}" if series != "GE only" else series)
    ax.set_xscale("log")
    ax.set_xlabel("SGD noise scale: learning rate / batch size")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()


# ----------------------------------------------------------------------------------------------------
# Figure 3: the discrepancy ratio over training


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
    sums, counts = sums[start:start + len(x)], counts[start:start + len(x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def rho_band(runs: Sequence[RunResult], key: str = "rho_a", window: int = 1):
    """Each seed's per-step trace smoothed by `moving_average`, then per iteration across seeds: a
    DataFrame with columns step, mean, std, min, max (traces cut to the shortest seed)."""
    import pandas as pd
    traces = [moving_average(r.steps[key], window) for r in runs]
    n = min(len(t) for t in traces)
    table = np.stack([t[:n] for t in traces])
    std = table.std(0, ddof=1) if len(traces) > 1 else np.zeros(n)
    return pd.DataFrame({"step": np.arange(n), "mean": table.mean(0), "std": std,
                         "min": table.min(0), "max": table.max(0)})


def steps_per_epoch(run: RunResult, key: str = "rho_a") -> float:
    return len(run.steps[key]) / max(int(run.config["epochs"]), 1)


def modulation_window_steps(run: RunResult, key: str = "rho_a") -> tuple[int, int]:
    """[first, last) iteration of the modulation window (epochs modulation_start..modulation_end,
    inclusive, cut to the run's epochs)."""
    cfg, per = run.config, steps_per_epoch(run, key)
    start = int(cfg["modulation_start"])
    end = min(int(cfg["modulation_end"]), int(cfg["epochs"]) - 1) + 1
    return int(round(start * per)), int(round(end * per))


def modulation_window_mean(runs: Sequence[RunResult], key: str = "rho_a") -> list[float]:
    """Per run, the mean of a per-step trace over the iterations of the modulation window."""
    out = []
    for r in runs:
        first, last = modulation_window_steps(r, key)
        x = np.asarray(r.steps[key], dtype=float)[first:max(last, first + 1)]
        out.append(float(np.nanmean(x)))
    return out


def share_above(runs: Sequence[RunResult], key: str = "rho_a", threshold: float = 1.0) -> list[float]:
    """Per run, the fraction of iterations where the trace is above `threshold`."""
    return [float(np.mean(np.asarray(r.steps[key], dtype=float) > threshold)) for r in runs]


def rho_summary(runs: dict[str, list[RunResult]], paper: dict[str, str] | None = None,
                paper_rows: dict[str, str] | None = None, fraction: float = 0.1, key: str = "rho_a",
                dataset: str = "", profile: str = ""):
    """One row per method: mean ± std over seeds of rho^a over the first and last `fraction` of the
    iterations and over the modulation window, the share of iterations with rho^a > 1, and the paper's
    description (`paper[paper_rows[label]]`)."""
    import pandas as pd
    paper, paper_rows = paper or {}, paper_rows or {}
    pct = f"{fraction * 100:g}%"
    ours = f"ours ({dataset}, {profile})" if dataset or profile else "ours"

    def pm(v, digits=2):
        m, s = mean_std(v)
        return f"{m:.{digits}f} ± {s:.{digits}f}"

    rows = {}
    for label, rs in runs.items():
        rows[label] = {
            f"{ours}: {RHO}, first {pct} of iterations": pm(step_mean(rs, key, 0.0, fraction)),
            f"{ours}: {RHO}, last {pct}": pm(step_mean(rs, key, 1.0 - fraction, 1.0)),
            f"{ours}: {RHO}, modulation window": pm(modulation_window_mean(rs, key)),
            f"{ours}: iterations with {RHO} > 1": f"{np.mean(share_above(rs, key)) * 100:.0f}%",
            "paper (VGGSound, Figure 3)": paper.get(paper_rows.get(label, label), MISSING),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def rho_claims(without: Sequence[RunResult], with_: Sequence[RunResult], fraction: float = 0.1,
               paper: dict[str, str] | None = None, key: str = "rho_a") -> list[Claim]:
    """Figure 3's claims on per-seed means of rho^a over the last `fraction` of the iterations (and, for
    the effect of OGM-GE, also over the modulation window): rho^a stays above 1 with and without OGM-GE
    (audio dominant), and OGM-GE lowers it. Keys: normal_above_1, ogmge_above_1, ogmge_lowers,
    ogmge_lowers_window."""
    from .paper import FIGURE3
    paper = FIGURE3 if paper is None else paper
    late_n = step_mean(list(without), key, 1.0 - fraction, 1.0)
    late_g = step_mean(list(with_), key, 1.0 - fraction, 1.0)
    last = f"last {fraction * 100:g}% of iterations"
    return [
        Claim("normal_above_1", f"without OGM-GE, {RHO} > 1 ({last}): audio dominant", late_n, [1.0] * len(late_n),
              paper=paper.get("without OGM-GE", MISSING), unit="", short=f"{RHO} > 1 without OGM-GE"),
        Claim("ogmge_above_1", f"with OGM-GE, {RHO} > 1 ({last}): audio still dominant", late_g,
              [1.0] * len(late_g), paper=paper.get("with OGM-GE", MISSING), unit="", short=f"{RHO} > 1 with OGM-GE"),
        Claim("ogmge_lowers", f"OGM-GE lowers {RHO} ({last})", late_n, late_g,
              paper=paper.get("with OGM-GE", MISSING), unit="", short=f"OGM-GE lowers {RHO} late in training"),
        Claim("ogmge_lowers_window", f"OGM-GE lowers {RHO} (over the modulation window)",
              modulation_window_mean(without, key), modulation_window_mean(with_, key),
              paper=paper.get("with OGM-GE", MISSING), unit="", short=f"OGM-GE lowers {RHO} while it modulates"),
    ]


def plot_rho(ax, runs: dict[str, list[RunResult]], window: int = 1, key: str = "rho_a", band: str = "minmax",
             title: str = "", modulation_end: bool = True) -> None:
    """rho^a against iteration: per method the mean over seeds of the smoothed traces and a band
    (band="minmax": min to max over seeds; "std": ± one std), a line at rho = 1 and, if asked, a dotted
    line where the modulation window ends."""
    for label, rs in runs.items():
        b = rho_band(rs, key, window)
        line, = ax.plot(b["step"], b["mean"], label=label)
        lo, hi = (b["min"], b["max"]) if band == "minmax" else (b["mean"] - b["std"], b["mean"] + b["std"])
        ax.fill_between(b["step"], lo, hi, color=line.get_color(), alpha=0.2)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label=r"$\rho = 1$ (balanced)")
    if modulation_end:
        ends = {modulation_window_steps(r, key)[1] for rs in runs.values() for r in rs}
        n = min(len(r.steps[key]) for rs in runs.values() for r in rs)
        for i, end in enumerate(sorted(e for e in ends if 0 < e < n)):
            ax.axvline(end, color="grey", linewidth=1, linestyle=":",
                       label="end of the modulation window" if i == 0 else None)
    ax.set_xlabel("training iteration")
    ax.set_ylabel(r"$\rho^a$" + (f" (moving average over {window} iterations)" if window > 1 else ""))
    ax.set_title(title)
    ax.legend()
