"""The book's analysis of runs (ogm_lib/report/): protocols, claims and verdicts, tables, chapter claims and
plots, on small fake runs."""

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ogm_lib.ground.paper import FIGURE3, TABLE1, TABLE2, TABLE7, difference  # noqa: E402
from ogm_lib.method.results import RunResult  # noqa: E402
from ogm_lib.recipe.book import ge_rows, noise_settings  # noqa: E402
from ogm_lib.report import chapters, figure3, plots, reduce, stats, table7, tables  # noqa: E402
from ogm_lib.report import claims as cl


def fake_run(test_acc, seed=0, test_map=None, rho=None, epochs=2, best_epoch=1, extra=None, **config):
    """A run whose validation-chosen epoch has `test_acc`; the other epochs are worse on val and test."""
    cfg = dict(seed=seed, epochs=epochs, modulation_start=0, modulation_end=0, method="normal")
    cfg.update(config)
    eps = [{"epoch": e, "val_acc": 0.1, "test_acc": 0.0, "train_acc": 0.5} for e in range(epochs)]
    eps[best_epoch].update(val_acc=0.9, test_acc=test_acc, train_acc=1.0)
    if test_map is not None:
        eps[best_epoch]["test_map"] = test_map
    for e, metrics in (extra or {}).items():
        eps[e].update(metrics)
    rho = [2.0] * (4 * epochs) if rho is None else list(rho)
    return RunResult(
        key=f"k{seed}{test_acc}",
        config=cfg,
        epochs=eps,
        best_epoch=best_epoch,
        steps={"rho_a": rho, "loss": [0.0] * len(rho)},
    )


def runs(*accs, **kw):
    return [fake_run(a, seed=i, **kw) for i, a in enumerate(accs)]


# ---------------------------------------------------------------------------------- protocols


def test_protocols_choose_their_epochs_and_optimism():
    r = fake_run(0.7)
    r.epochs.append({"epoch": 2, "val_acc": 0.2, "test_acc": 0.99, "train_acc": 1.0})  # better test, worse val
    assert reduce.chosen_epoch(r, "val") == 1 and reduce.chosen_epoch(r, "test") == 2
    assert reduce.metric(r, "test_acc", "val") == 0.7 and reduce.metric(r, "test_acc", "test") == 0.99
    assert reduce.optimism([r]) == pytest.approx([0.29])
    with pytest.raises(ValueError, match="valid: val, test"):
        reduce.metric(r, "test_acc", "train")
    t = tables.optimism_table({"x": [r, fake_run(0.5, seed=1)]})
    assert t.loc["x", "runs where the epochs differ"] == "1 of 2"


def test_by_seed_refuses_duplicate_seeds():
    assert reduce.by_seed(runs(0.5, 0.6), lambda r: r.best["test_acc"]) == {0: 0.5, 1: 0.6}
    with pytest.raises(ValueError, match="seed 0"):
        reduce.by_seed([fake_run(0.5), fake_run(0.6)], lambda r: 0.0)


def test_curves_and_step_means():
    rs = [
        fake_run(0.2, seed=0, extra={0: {"probe_visual": 0.5}, 1: {"probe_visual": 0.6}}),
        fake_run(0.4, seed=1, extra={0: {"probe_visual": 0.7}, 1: {"probe_visual": 0.8}}),
    ]
    ep, mean, std = reduce.epoch_curve(rs, "probe_visual")
    assert list(ep) == [0, 1] and mean == pytest.approx([0.6, 0.7]) and std == pytest.approx([0.1414, 0.1414], abs=1e-3)
    assert [reduce.final_metric(r, "probe_visual") for r in rs] == [0.6, 0.8]
    r = fake_run(0.5, rho=[1, 1, 1, 1, 1, 1, 1, 1, 5, 5], epochs=2)
    assert reduce.step_mean(r, "rho_a", 0.8, 1.0) == 5.0 and reduce.step_mean(r, "rho_a", 0.0, 0.5) == 1.0


def test_moving_average():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    np.testing.assert_allclose(reduce.moving_average(x, 3), [1.5, 2.0, 3.0, 4.0, 4.5])
    np.testing.assert_allclose(reduce.moving_average(x, 1), x)
    np.testing.assert_allclose(reduce.moving_average(x, 100), [3.0] * 5)
    np.testing.assert_allclose(reduce.moving_average([2.0] * 7, 4), [2.0] * 7)
    np.testing.assert_allclose(reduce.moving_average([1.0, math.nan, 3.0], 3), [1.0, 2.0, 3.0])
    assert len(reduce.moving_average([], 5)) == 0


def test_trace_band_and_modulation_window():
    rs = [fake_run(0.5, seed=0, rho=[1, 2, 3, 4, 5, 6, 7, 8]), fake_run(0.5, seed=1, rho=[3, 4, 5, 6, 7, 8, 9, 10, 11])]
    b = reduce.trace_band(rs)
    assert len(b) == 8 and b.loc[0, "mean"] == 2 and b.loc[0, "min"] == 1 and b.loc[0, "max"] == 3
    r = fake_run(0.5, rho=[4, 4, 4, 4, 1, 1, 1, 1], epochs=4, modulation_start=0, modulation_end=1)
    assert reduce.modulation_window_steps(r) == (0, 4) and reduce.modulation_window_mean(r) == 4.0
    late = fake_run(0.5, rho=[4, 4, 4, 4, 1, 1, 1, 1], epochs=4, modulation_start=1, modulation_end=50)
    assert reduce.modulation_window_steps(late) == (2, 8)
    assert reduce.share_above(r) == 0.5


# ---------------------------------------------------------------------------------- claims


def test_claims_pair_on_shared_seeds_and_are_judged_with_holm():
    a = runs(0.60, 0.62, 0.61, 0.63, 0.64, 0.60, 0.61, 0.62, 0.65, 0.60)  # 10 seeds
    b = runs(0.50, 0.51, 0.52, 0.50, 0.53)  # 5 seeds
    c = cl.Claim("up", "A beats B", a, b, paper={"CREMA-D": 10.2})
    seeds, va, vb = c.pairs()
    assert seeds == [0, 1, 2, 3, 4] and va[0] == 0.60 and vb[4] == 0.53
    down = cl.Claim("down", "B beats A", b, a)
    flat = cl.Claim("flat", "A ties", a, a)
    v = cl.judge([c, down, flat])
    assert [v[k].label for k in ("up", "down", "flat")] == ["reproduced", "contradicted", "equivalent to no effect"]
    assert v["up"].effect == pytest.approx(10.8) and v["up"].n == 5
    lo, hi = v["up"].ci
    assert lo < 10.8 < hi and v["up"].covers_paper() == {"CREMA-D": lo <= 10.2 <= hi}
    assert str(v["up"]).startswith("reproduced (+10.8 points, unadjusted 95% CI ")
    with pytest.raises(ValueError, match="unique"):
        cl.judge([c, c])
    with pytest.raises(ValueError, match="share no seed"):
        cl.judge([cl.Claim("x", "x", {7: 1.0}, {8: 1.0})])


def test_claim_sides_values_functions_and_metrics():
    a = [fake_run(0.5, test_map=0.9, seed=0), fake_run(0.5, test_map=0.8, seed=1)]
    b = [fake_run(0.6, test_map=0.1, seed=0), fake_run(0.6, test_map=0.2, seed=1)]
    assert cl.judge([cl.Claim("m", "map", a, b, metric="test_map")])["m"].effect == pytest.approx(70.0)
    rho = cl.Claim("r", "rho above 1", {0: 1.5, 1: 1.6, 2: 1.7}, {0: 1.0, 1: 1.0, 2: 1.0}, unit="")
    v = cl.judge([rho])["r"]
    assert v.effect == pytest.approx(0.6) and v.interval_text().startswith("+0.60, unadjusted 95% CI")
    fn = cl.Claim("f", "f", lambda protocol: {0: 1.0 if protocol == "val" else 2.0}, {0: 0.0})
    assert cl.judge([fn], "test")["f"].effect == 200.0


def test_verdict_table_counts_and_glue(monkeypatch):
    a, b = runs(0.60, 0.62, 0.61), runs(0.50, 0.51, 0.52)
    claims = [
        cl.Claim("up", "A beats B", a, b, paper={"CREMA-D": 10.2, "VGGSound": 1.5}, ledger={"pmr": 4.5}),
        cl.Claim("no", "B beats A", b, a),
    ]
    v, vt = cl.judge(claims), cl.judge(claims, "test")
    t = cl.verdict_table(claims, v, vt)
    assert list(t.index) == ["A beats B", "B beats A"]
    assert t.loc["A beats B", "paper: A − B"] == "CREMA-D +10.2, VGGSound +1.5"
    assert t.loc["A beats B", "paper inside our CI"].split(", ")[1] == "no"
    assert t.loc["A beats B", "re-runs: A − B"] == "pmr +4.5"
    assert t.loc["B beats A", "paper: A − B"] == cl.MISSING
    assert t.loc["B beats A", "verdict"] == "contradicted" and (t["seeds"] == 3).all()
    assert "verdict, paper's protocol" in t.columns
    assert cl.count_text(v) == (
        "1 reproduced, 0 smaller than the paper's, 0 equivalent to no effect, 1 contradicted, "
        "0 inconclusive (of 2 claims)"
    )
    # the table shows the label, the unadjusted interval, the MDE at the claim's level and the paper's effect
    assert "unadjusted 95% CI" in t.loc["A beats B", "ours: A − B, 95% CI (unadjusted)"]
    assert t.loc["A beats B", "MDE (80% power, at the claim's level)"].startswith(f"{v['up'].mde:.1f} points")
    assert "paper" in t.loc["A beats B", "family"]
    assert cl.plain_summary(claims, v) == "1 reproduced (A beats B), 1 contradicted (B beats A)"
    # +10.0 points (95% CI +7.5 to +12.5) holds the paper's +10.2 and not its +1.5; "B beats A" has no paper value
    assert cl.direction_text(claims, v) == (
        "our effect is positive for 1 of 2 claims and negative for 1; the paper's "
        "effect lies inside our 95% interval for 1 of 2 comparisons"
    )
    assert cl.direction_text(claims[1:], v) == "our effect is positive for 0 of 1 claim and negative for 1"
    glued = {}
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    out = cl.glue_claims("t9", claims, v)
    assert set(out) == {"t9_up_verdict", "t9_no_verdict", "t9_summary", "t9_plain"} and glued == out


# ---------------------------------------------------------------------------------- tables


def test_paper_table_and_difference():
    t = tables.paper_table(TABLE2, rows=["OGM-GE", "OPM"])
    assert list(t.columns) == ["CREMA-D", "Kinetics-Sounds"] and t.loc["OGM-GE", "CREMA-D"] == "61.9"
    assert t.loc["OPM", "Kinetics-Sounds"] == cl.MISSING
    assert difference(TABLE1, "Concatenation+", "Concatenation", ["CREMA-D Acc", "VGGSound Acc"]) == {
        "CREMA-D Acc": 10.2,
        "VGGSound Acc": 1.5,
    }
    assert difference(TABLE2, "OPM", "Concatenation") == {} and difference(TABLE2, None, "x") == {}


def test_paper_vs_ours_both_protocols_and_test_se():
    r = fake_run(0.7)
    r.epochs.append({"epoch": 2, "val_acc": 0.2, "test_acc": 0.9, "train_acc": 1.0})
    ours = {"Concatenation": [r, fake_run(0.5, seed=1)], "OPM (beyond the paper)": runs(0.8, 0.8)}
    t = tables.paper_vs_ours(
        TABLE2, ours, "avdigits", "cpu", paper_rows={"OPM (beyond the paper)": None}, test_size=300
    )
    assert list(t.columns) == [
        "paper: CREMA-D",
        "paper: Kinetics-Sounds",
        "ours Acc (avdigits, cpu), best val epoch",
        "ours Acc (avdigits, cpu), best test epoch",
        "seeds",
        "test-split SE",
    ]
    assert t.loc["Concatenation", "ours Acc (avdigits, cpu), best val epoch"] == "60.0 ± 14.1"
    assert t.loc["Concatenation", "ours Acc (avdigits, cpu), best test epoch"] == "70.0 ± 28.3"
    assert t.loc["OPM (beyond the paper)", "paper: CREMA-D"] == cl.MISSING
    assert t.loc["Concatenation", "test-split SE"] == f"{100 * math.sqrt(0.6 * 0.4 / 300):.1f}"


def test_setting_text_and_slug():
    assert (
        tables.setting_text("avdigits", "cpu", {"a": runs(0.1, 0.2), "b": runs(0.1, 0.2, 0.3)})
        == "avdigits (cpu profile, 2 to 3 seeds per row)"
    )
    paper_like = dict(dataset="avdigits", audio_snr_db=-9.0, visual_noise=0.85)
    assert (
        tables.setting_text("avdigits", "converged", {"a": runs(0.1, 0.2, **paper_like)})
        == "avdigits, paper-like regime (converged profile, 2 seeds per row)"
    )
    mixed = {"a": runs(0.1, 0.2, **paper_like), "b": runs(0.1, 0.2, dataset="avdigits", audio_snr_db=0.0)}
    assert tables.regime_name(mixed) is None
    assert tables.slug("Modality-Drop (audio)") == "modality_drop_audio"
    assert tables.slug("Concatenation+") == "concatenation_plus"


# ---------------------------------------------------------------------------------- chapters


def test_table7_grid_and_claims():
    s = noise_settings(1e-2)
    assert [x.paper_row for x in s] == list(TABLE7) and s[2].lr == 1e-2
    # the grid is relative to the profile's batch as well as its lr: at batch 24, 24/48/96 stand for 64/128/256
    s24 = noise_settings(1e-2, base_batch=24)
    assert [x.paper_row for x in s24] == list(TABLE7)
    assert [x.batch_size for x in s24] == [24, 24, 24, 48, 96, 24] and [x.lr for x in s24][3:] == [1e-2] * 3
    settings = noise_settings(1e-2, lr_factors=[0.1, 0.5, 1.0, 2.0])
    rs = {x.label: runs(0.6, 0.61, 0.6) for x in settings}
    rs["b64, 1 × lr"] = runs(0.7, 0.72, 0.71)
    claims = table7.noise_claims(settings, rs)
    assert [c.key for c in claims] == [
        "noise_b64_0_1_lr",
        "noise_b64_0_5_lr",
        "noise_b128_1_lr",
        "noise_b256_1_lr",
        "ge_only",
    ]
    assert claims[0].paper == {"CREMA-D": 1.4, "VGGSound": 0.8} and claims[-1].paper == {
        "CREMA-D": 8.4,
        "VGGSound": 1.2,
    }
    v = cl.judge(claims)
    assert v["noise_b128_1_lr"].label == "reproduced" and v["ge_only"].label == "contradicted"
    pts = table7.noise_points(settings, rs)
    fig, ax = plt.subplots()
    table7.plot_noise_scale(ax, pts)
    assert ax.get_xscale() == "log"
    plt.close(fig)


def test_table7_equal_steps_table_pairs_each_batch_row_with_its_control():
    settings = noise_settings(1e-2, base_batch=24)
    rs = {x.label: runs(0.6, 0.62, 0.61, epochs=2) for x in settings}
    base = table7.base_setting(settings).label
    rs[base] = runs(0.7, 0.72, 0.71, 0.2, 0.2, epochs=2)  # more seeds than the rows: seeds 3, 4 are not paired
    batch = [x.label for x in settings if x.series == "batch size"]
    control = {label + ", equal steps": runs(0.69, 0.7, 0.69, epochs=2) for label in batch}
    t = table7.equal_steps_table(settings, rs, control)
    assert list(t.index) == batch and "5 seeds" in t.index.name
    assert (
        t.loc[batch[0], "same epochs − " + base].startswith("-10.0")
        and "n = 3" in t.loc[batch[0], "same epochs − " + base]
    )
    assert t.loc[batch[0], "equal steps − " + base].startswith("-1.7")
    text = table7.equal_steps_text(settings, rs, control)
    # the text pairs by seed as the table does (the base's unpaired seeds 3 and 4 would move a plain mean)
    assert text.count("at equal steps") == len(batch) and "-10.0 points" in text and "-1.7 at equal steps" in text
    # a batch row without its control is left out, not shown as a gap
    assert table7.equal_steps_table(settings, rs, {}).empty
    assert "no batch row" in table7.equal_steps_text(settings, rs, {})


def test_figure3_claims_summary_and_plot():
    without = [fake_run(0.5, seed=s, rho=[2, 9, 9, 9, 9, 9, 9, 9 + s], epochs=2) for s in (0, 1)]
    with_ = [fake_run(0.5, seed=s, rho=[2, 5, 5, 5, 7, 7, 7, 6 + s], epochs=2) for s in (0, 1)]
    claims = figure3.rho_claims(without, with_, fraction=0.25)
    v = cl.judge(claims)
    assert v["normal_above_1"].effect == pytest.approx(8.25) and v["ogmge_lowers"].effect == pytest.approx(2.5)
    assert v["ogmge_lowers_window"].effect == pytest.approx(3.0)
    assert claims[2].paper == {"VGGSound, read from Fig. 3": 2.0}
    rs = {"Concatenation": without, "Concatenation + OGM-GE": with_}
    t = figure3.rho_summary(rs, {"Concatenation": "without OGM-GE"}, fraction=0.25, dataset="d", profile="p")
    assert t.loc["Concatenation", "paper (VGGSound, Figure 3)"] == FIGURE3["without OGM-GE"]
    fig, ax = plt.subplots()
    figure3.plot_rho(ax, rs, window=3)
    assert "end of the modulation window" in [x.get_text() for x in ax.get_legend().get_texts()]
    plt.close(fig)


def _chapter_runs(labels, n=3, **kw):
    probes = {1: {"probe_audio": 0.8, "probe_visual": 0.4}}
    return {
        label: [fake_run(0.5 + 0.01 * i + 0.001 * s, seed=s, extra=probes, **kw) for s in range(n)]
        for i, label in enumerate(labels)
    }


@pytest.mark.parametrize(
    "fn,labels",
    [
        (chapters.imbalance_claims, ["Audio-only", "Visual-only", "Joint", "Joint + OGM-GE"]),
        (chapters.ogm_claims, ["Joint", "OGM-GE alpha=0.3", "OGM-GE alpha=0.8"]),
        (chapters.ge_claims, list(ge_rows())),  # every row of chapter 04, the GE-noise variants included
        (
            chapters.table1_claims,
            [
                "Audio-only",
                "Visual-only",
                "Baseline",
                "Concatenation",
                "Summation",
                "FiLM",
                "Baseline+",
                "Concatenation+",
                "Summation+",
                "FiLM+",
            ],
        ),
        (chapters.table2_claims, ["Concatenation", "Modality-Drop (audio)", "OGM", "OGM-GE"]),
        (chapters.table6_claims, ["SGD", "SGD+", "Adam", "Adam+"]),
        (chapters.figure3_claims, ["Concatenation", "Concatenation + OGM-GE"]),
    ],
)
def test_every_chapter_claim_set_is_judged(fn, labels):
    claims = fn(_chapter_runs(labels))
    verdicts = cl.judge(claims)
    assert len(verdicts) == len(claims) >= 2
    assert all(v.label in stats.LABELS or v.referred for v in verdicts.values())
    assert sum(c.family == "primary" for c in claims) <= 1
    fig = plots.forest_figure(list(verdicts.values()), "t")
    plt.close(fig)


def test_headline_claims_carry_the_paper_and_the_ledger():
    t1 = chapters.table1_claims(
        _chapter_runs(list(chapters.FUSIONS) + [f"{n}+" for n in chapters.FUSIONS] + ["Audio-only", "Visual-only"])
    )
    concat = next(c for c in t1 if c.key == "concat_ge")
    assert concat.paper == {"CREMA-D Acc": 10.2, "VGGSound Acc": 1.5}
    assert concat.ledger and all(math.isfinite(g) for g in concat.ledger.values())
    assert not any("peng" in k.lower() for k in concat.ledger)


def test_colors_one_per_condition():
    assert plots.color_of("Concatenation+") == plots.color_of("Joint + OGM-GE") == plots.color_of("SGD+")
    assert plots.color_of("Concatenation") == plots.color_of("Joint") == plots.color_of("SGD")
    assert plots.color_of("OGM") != plots.color_of("OGM-GE") != plots.color_of("GE only")
    assert plots.color_of("Audio-only") != plots.color_of("Visual-only")
    assert plots.condition_of("Modality-Drop (audio)") == "mdrop"


def test_summary_columns_and_by_label():
    rs = {
        "a": [
            fake_run(0.5, seed=0, extra={1: {"probe_visual": 0.4}}),
            fake_run(0.7, seed=1, extra={1: {"probe_visual": 0.6}}),
        ],
        "b": runs(0.6, 0.6),
    }
    t = tables.summary(rs, {"acc": tables.at("test_acc"), "probe": tables.last("probe_visual")})
    assert t.loc["a", "acc"] == "60.0 ± 14.1" and t.loc["a", "probe"] == "50.0 ± 14.1"
    assert t.loc["b", "probe"] == cl.MISSING
    v = cl.judge([cl.Claim("x", "x", runs(0.6, 0.7, 0.8), runs(0.5, 0.6, 0.7))])["x"]
    texts = dict(reproduced="holds", smaller="smaller", equivalent="none", contradicted="fails", inconclusive="unclear")
    assert cl.by_label(v, **texts) == "holds"
    with pytest.raises(ValueError):
        cl.by_label(v, reproduced="holds")
    # every label's sentence, in points and in a plain unit (no margin: no equivalence test)
    for unit in ("points", ""):
        for a_, b_ in (
            ((0.6, 0.7, 0.8), (0.5, 0.6, 0.7)),
            ((0.5, 0.6, 0.7), (0.6, 0.7, 0.8)),
            ((0.6, 0.6, 0.6), (0.6, 0.6, 0.6)),
            ((0.50, 0.51, 0.49), (0.5, 0.5, 0.5)),
        ):
            w = cl.judge(
                [
                    cl.Claim(
                        "y",
                        "y",
                        dict(enumerate(a_)),
                        dict(enumerate(b_)),
                        paper={"X": 50.0 if unit else 5.0},
                        unit=unit,
                    )
                ]
            )["y"]
            assert str(w).startswith(w.label) and "MDE" in str(w)
    ref = cl.judge(
        [cl.Claim("x", "x", runs(0.6, 0.7, 0.8), runs(0.5, 0.6, 0.7), judged_in=("05_table1", "concat_ge"))]
    )["x"]
    assert ref.referred and ref.label == "judged in chapter 05 (Table 1: fusions)"
    assert cl.by_label(ref, **texts) == "That comparison is judged in chapter 05 (Table 1: fusions)."
    assert cl.counts([ref]) == dict.fromkeys(stats.LABELS, 0)


def test_the_findings_box_names_the_seed_rule_not_the_headlines_count_per_row():
    from ogm_lib.report import findings

    head = {"a": runs(*([0.5] * 20)), "b": runs(*([0.6] * 20))}
    text = findings.book_setting_text("avdigits", "converged", head)
    assert text == "avdigits (converged profile; 5 seeds per row, 20 for the headline pair)"
    assert "3 seeds per row" in findings.book_setting_text("avdigits", "cpu", head, [0, 1, 2])


def test_the_findings_box_names_the_chapters_still_on_the_earlier_regime(monkeypatch):
    from ogm_lib.recipe import chapters as registry
    from ogm_lib.report import findings

    monkeypatch.setattr(registry, "ON_EARLIER_REGIME", ("03_sgd_noise",))
    (one,) = findings.earlier_regime_gaps()
    assert one.startswith("chapter 03 still runs on the paper-like regime") and "it needs" in one
    monkeypatch.setattr(registry, "ON_EARLIER_REGIME", ("03_sgd_noise", "04_ge"))
    assert findings.earlier_regime_gaps()[0].startswith("chapters 03, 04 still run on")
    monkeypatch.setattr(registry, "ON_EARLIER_REGIME", ())
    assert findings.earlier_regime_gaps() == []
