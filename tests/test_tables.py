"""Tables, verdicts and plots of the reproduction chapters (ogm_lib/tables.py), on small fake runs."""
import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ogm_lib import tables  # noqa: E402
from ogm_lib.paper import FIGURE3, TABLE1, TABLE2, TABLE7  # noqa: E402
from ogm_lib.results import RunResult  # noqa: E402


def fake_run(test_acc, test_map=None, seed=0, rho=None, epochs=2, best_epoch=1, **config):
    """A RunResult whose best epoch has `test_acc` (the other epoch is worse) and a per-step rho^a trace."""
    cfg = dict(seed=seed, epochs=epochs, modulation_start=0, modulation_end=0, method="normal")
    cfg.update(config)
    eps = [{"epoch": e, "val_acc": 0.1, "test_acc": 0.0} for e in range(epochs)]
    eps[best_epoch] = {"epoch": best_epoch, "val_acc": 0.9, "test_acc": test_acc}
    if test_map is not None:
        eps[best_epoch]["test_map"] = test_map
    rho = [2.0] * (4 * epochs) if rho is None else list(rho)
    return RunResult(key=f"k{seed}{test_acc}", config=cfg, epochs=eps, best_epoch=best_epoch,
                     steps={"rho_a": rho, "loss": [0.0] * len(rho)})


def runs(*accs, **kw):
    return [fake_run(a, seed=i, **kw) for i, a in enumerate(accs)]


# ---------------------------------------------------------------------------------- paper vs ours


def test_paper_table_keeps_order_and_marks_missing():
    t = tables.paper_table(TABLE2, rows=["OGM-GE", "OPM"])
    assert list(t.index) == ["OGM-GE", "OPM"]
    assert list(t.columns) == ["CREMA-D", "Kinetics-Sounds"]
    assert t.loc["OGM-GE", "CREMA-D"] == "61.9"
    assert t.loc["OPM", "Kinetics-Sounds"] == tables.MISSING


def test_paper_vs_ours_columns_and_cells():
    ours = {"Concatenation": runs(0.5, 0.6, 0.7),
            "OPM (beyond the paper)": runs(0.8, 0.8, 0.8)}
    t = tables.paper_vs_ours(TABLE2, ours, "avdigits", "cpu", paper_rows={"OPM (beyond the paper)": None})
    assert list(t.index) == list(ours)
    assert list(t.columns) == ["paper: CREMA-D", "paper: Kinetics-Sounds", "ours Acc (avdigits, cpu)"]
    assert t.loc["Concatenation", "paper: CREMA-D"] == "51.7"
    assert t.loc["Concatenation", "ours Acc (avdigits, cpu)"] == "60.0 ± 10.0"
    assert t.loc["OPM (beyond the paper)", "paper: Kinetics-Sounds"] == tables.MISSING
    assert t.loc["OPM (beyond the paper)", "ours Acc (avdigits, cpu)"] == "80.0 ± 0.0"


def test_paper_vs_ours_maps_rows_and_metrics():
    ours = {"mine": [fake_run(0.5, test_map=0.25, seed=0), fake_run(0.5, test_map=0.75, seed=1)],
            "no map": runs(0.4, 0.4)}
    t = tables.paper_vs_ours(TABLE1, ours, "synthetic", "smoke", metrics={"Acc": "test_acc", "mAP": "test_map"},
                             paper_rows={"mine": "Summation+"}, paper_columns=["CREMA-D Acc"])
    assert list(t.columns) == ["paper: CREMA-D Acc", "ours Acc (synthetic, smoke)", "ours mAP (synthetic, smoke)"]
    assert t.loc["mine", "paper: CREMA-D Acc"] == "62.2"
    assert t.loc["mine", "ours mAP (synthetic, smoke)"].startswith("50.0 ± ")
    assert t.loc["no map", "paper: CREMA-D Acc"] == tables.MISSING      # not a paper row
    assert t.loc["no map", "ours mAP (synthetic, smoke)"] == tables.MISSING


def test_ours_uses_the_validation_chosen_epoch():
    r = fake_run(0.7)
    r.epochs.append({"epoch": 2, "val_acc": 0.2, "test_acc": 0.99})   # better test, worse validation
    t = tables.paper_vs_ours(TABLE2, {"x": [r]}, "d", "p")
    assert t.loc["x", "ours Acc (d, p)"] == "70.0 ± 0.0"


def test_paper_difference():
    assert tables.paper_difference(TABLE1, "Concatenation+", "Concatenation",
                                   ["CREMA-D Acc", "VGGSound Acc"]) == "CREMA-D Acc +10.2, VGGSound Acc +1.5"
    assert tables.paper_difference(TABLE2, "OGM-GE", "Concatenation") == "CREMA-D +10.2, Kinetics-Sounds +2.5"
    assert tables.paper_difference(TABLE2, "OPM", "Concatenation") == tables.MISSING
    assert tables.paper_difference(TABLE2, None, "Concatenation") == tables.MISSING


def test_slug():
    assert tables.slug("Modality-Drop (audio)") == "modality_drop_audio"
    assert tables.slug("Concatenation+") == "concatenation_plus"


# ---------------------------------------------------------------------------------- verdicts


def test_judge_and_verdict_table():
    a, b = runs(0.60, 0.62, 0.61), runs(0.50, 0.51, 0.52)
    claims = [tables.Claim("up", "A beats B", a, b, paper="CREMA-D +10.2"),
              tables.Claim("down", "B beats A", b, a),
              tables.Claim("rho", "rho above 1", [1.5, 1.6, 1.7], [1.0, 1.0, 1.0], unit="")]
    verdicts = tables.judge(claims)
    assert [verdicts[k].verdict for k in ("up", "down", "rho")] == ["reproduced", "not reproduced", "reproduced"]
    assert verdicts["up"].mean_diff == pytest.approx(0.1)
    t = tables.verdict_table(claims, verdicts)
    assert list(t.index) == ["A beats B", "B beats A", "rho above 1"]
    assert t.loc["A beats B", "paper (A − B)"] == "CREMA-D +10.2"
    assert t.loc["A beats B", "ours (A − B), points"] == "+10.0 ± 1.0"
    assert t.loc["rho above 1", "ours (A − B), difference"] == "+0.60 ± 0.10"
    assert t.loc["B beats A", "paper (A − B)"] == tables.MISSING
    assert t.loc["B beats A", "verdict"] == "not reproduced"
    assert (t["seeds"] == 3).all()


def test_claim_metric_and_duplicate_keys():
    a = [fake_run(0.5, test_map=0.9, seed=0), fake_run(0.5, test_map=0.8, seed=1)]
    b = [fake_run(0.6, test_map=0.1, seed=0), fake_run(0.6, test_map=0.2, seed=1)]
    assert tables.judge([tables.Claim("m", "map", a, b, metric="test_map")])["m"].mean_diff == pytest.approx(0.7)
    with pytest.raises(ValueError):
        tables.judge([tables.Claim("x", "1", a, b), tables.Claim("x", "2", a, b)])


def test_describe_and_counts():
    up = tables.judge([tables.Claim("a", "a", [0.6, 0.62], [0.5, 0.51])])["a"]
    assert tables.describe(up) == str(up)
    assert "points" in tables.describe(up)
    plain = tables.judge([tables.Claim("r", "r", [1.1, 3.0], [1.0, 1.0], unit="")])["r"]
    assert tables.describe(plain, "") == "partly (+1.05 ± 1.34, n=2)"
    assert tables.verdict_counts({"a": up, "r": plain}) == "1 of 2 claims reproduced, 1 partly, 0 not reproduced"


def test_glue_claims_names(monkeypatch):
    glued = {}
    import myst_nb
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    claims = [tables.Claim("ge", "GE", [0.6, 0.7], [0.5, 0.5])]
    out = tables.glue_claims("t9", claims, tables.judge(claims))
    assert set(out) == {"t9_ge_verdict", "t9_summary", "t9_plain"}
    assert glued == out
    assert out["t9_summary"].startswith("1 of 1 claim reproduced")


# ---------------------------------------------------------------------------------- Table 7


def test_noise_settings_match_the_paper_grid():
    s = tables.noise_settings(1e-2)
    assert [x.label for x in s] == ["b64, 0.1 × lr", "b64, 0.5 × lr", "b64, 1 × lr", "b128, 1 × lr",
                                    "b256, 1 × lr", "b64, 1 × lr, GE only"]
    assert [x.paper_row for x in s] == list(TABLE7)
    assert s[0].lr == pytest.approx(1e-3) and s[2].lr == 1e-2       # factor 1 is the base lr exactly
    assert s[3].batch_size == 128 and s[3].series == "batch size"
    assert s[-1].method == "ge" and s[-1].series == "GE only"
    assert s[0].noise == pytest.approx(1e-3 / 64)


def test_noise_settings_off_grid():
    s = tables.noise_settings(0.1, lr_factors=[0.25], batch_sizes=[32, 512])
    labels = [x.label for x in s]
    assert labels == ["b32, 0.25 × lr", "b32, 1 × lr", "b512, 1 × lr", "b32, 1 × lr, GE only"]
    assert all(x.paper_row is None for x in s)                        # the paper has no b32 / b512 rows


def test_noise_points_and_plot():
    settings = tables.noise_settings(1e-2)
    rs = {x.label: runs(0.5 + 0.01 * i, 0.52 + 0.01 * i) for i, x in enumerate(settings)}
    pts = tables.noise_points(settings, rs)
    assert list(pts.index) == [x.label for x in settings]
    assert pts.loc["b128, 1 × lr", "lr / batch"] == pytest.approx(1e-2 / 128)
    assert pts.loc["b64, 0.1 × lr", "mean"] == pytest.approx(0.51)
    fig, ax = plt.subplots()
    tables.plot_noise_scale(ax, pts, title="t")
    assert ax.get_xscale() == "log"
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"vary learning rate", "vary batch size", "GE only"}
    plt.close(fig)


# ---------------------------------------------------------------------------------- Figure 3


def test_moving_average():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    np.testing.assert_allclose(tables.moving_average(x, 3), [1.5, 2.0, 3.0, 4.0, 4.5])
    np.testing.assert_allclose(tables.moving_average(x, 1), x)
    np.testing.assert_allclose(tables.moving_average(x, 100), [3.0] * 5)   # window longer than x: overall mean
    assert len(tables.moving_average(x, 4)) == 5
    np.testing.assert_allclose(tables.moving_average([2.0] * 7, 4), [2.0] * 7)   # even window keeps constants
    y = tables.moving_average([1.0, math.nan, 3.0], 3)
    np.testing.assert_allclose(y, [1.0, 2.0, 3.0])                          # NaN skipped
    assert math.isnan(tables.moving_average([math.nan, math.nan], 1)[0])
    assert len(tables.moving_average([], 5)) == 0


def test_rho_band():
    rs = [fake_run(0.5, seed=0, rho=[1, 2, 3, 4, 5, 6, 7, 8]), fake_run(0.5, seed=1, rho=[3, 4, 5, 6, 7, 8, 9, 10, 11])]
    b = tables.rho_band(rs)
    assert len(b) == 8                                   # cut to the shortest seed
    assert b.loc[0, "mean"] == 2 and b.loc[0, "min"] == 1 and b.loc[0, "max"] == 3
    assert b.loc[0, "std"] == pytest.approx(math.sqrt(2))
    smooth = tables.rho_band(rs, window=3)
    assert smooth.loc[0, "min"] == pytest.approx(1.5)
    one = tables.rho_band(rs[:1])
    assert (one["std"] == 0).all()


def test_modulation_window():
    # 4 epochs x 2 steps; modulation in epochs 0..1 inclusive -> steps [0, 4)
    r = fake_run(0.5, rho=[4, 4, 4, 4, 1, 1, 1, 1], epochs=4, modulation_start=0, modulation_end=1)
    assert tables.modulation_window_steps(r) == (0, 4)
    assert tables.modulation_window_mean([r]) == [4.0]
    late = fake_run(0.5, rho=[4, 4, 4, 4, 1, 1, 1, 1], epochs=4, modulation_start=1, modulation_end=50)
    assert tables.modulation_window_steps(late) == (2, 8)                   # cut to the run's epochs
    assert tables.share_above([r]) == [0.5]


def test_rho_summary_and_plot():
    normal = [fake_run(0.5, seed=s, rho=[1.5, 2, 8, 9, 9, 9, 9, 9, 9, 9]) for s in (0, 1)]
    ogm = [fake_run(0.5, seed=s, rho=[1.5, 2, 5, 6, 6, 7, 7, 7, 7, 6 + s]) for s in (0, 1)]
    rs = {"Concatenation": normal, "Concatenation + OGM-GE": ogm}
    t = tables.rho_summary(rs, FIGURE3, {"Concatenation": "without OGM-GE",
                                         "Concatenation + OGM-GE": "with OGM-GE"}, fraction=0.1,
                           dataset="avdigits", profile="cpu")
    assert t.loc["Concatenation", "ours (avdigits, cpu): ρᵃ, first 10% of iterations"] == "1.50 ± 0.00"
    assert t.loc["Concatenation + OGM-GE", "ours (avdigits, cpu): ρᵃ, last 10%"] == "6.50 ± 0.71"
    assert t.loc["Concatenation", "ours (avdigits, cpu): iterations with ρᵃ > 1"] == "100%"
    assert t.loc["Concatenation + OGM-GE", "paper (VGGSound, Figure 3)"] == FIGURE3["with OGM-GE"]
    fig, ax = plt.subplots()
    tables.plot_rho(ax, rs, window=3, band="std", title="rho")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == list(rs) and any("rho" in x for x in labels)
    assert "end of the modulation window" in labels          # epochs 0..0 of 2: a line at step 5
    plt.close(fig)


def test_noise_claims():
    settings = tables.noise_settings(1e-2, lr_factors=[0.1, 0.5, 1.0, 2.0])
    rs = {x.label: runs(0.6, 0.61) for x in settings}
    rs["b64, 1 × lr"] = runs(0.7, 0.72)
    claims = tables.noise_claims(settings, rs)
    keys = [c.key for c in claims]
    # the noisier setting (2 x lr) is not claimed to be worse
    assert keys == ["noise_b64_0_1_lr", "noise_b64_0_5_lr", "noise_b128_1_lr", "noise_b256_1_lr", "ge_only"]
    assert claims[0].a is rs["b64, 1 × lr"] and claims[0].b is rs["b64, 0.1 × lr"]
    assert claims[0].paper == "CREMA-D +1.4, VGGSound +0.8"
    assert claims[-1].paper == "CREMA-D +8.4, VGGSound +1.2"
    v = tables.judge(claims)
    assert v["noise_b128_1_lr"].verdict == "reproduced" and v["ge_only"].verdict == "not reproduced"
    assert tables.plain_summary(claims, v) == ("4 reproduced (b64, 0.1 × lr; b64, 0.5 × lr; b128, 1 × lr; "
                                               "b256, 1 × lr), 1 not reproduced (GE only)")


def test_plain_summary_all_same():
    claims = [tables.Claim("a", "A", [0.6, 0.7], [0.5, 0.5], short="a"),
              tables.Claim("b", "B", [0.6, 0.7], [0.5, 0.5], short="b")]
    assert tables.plain_summary(claims, tables.judge(claims)) == "all 2 reproduced"
    assert tables.plain_summary(claims[:1], tables.judge(claims[:1])) == "reproduced"


def test_rho_claims():
    without = [fake_run(0.5, seed=s, rho=[2, 9, 9, 9, 9, 9, 9, 9 + s], epochs=2, modulation_end=0) for s in (0, 1)]
    with_ = [fake_run(0.5, seed=s, rho=[2, 5, 5, 5, 7, 7, 7, 6 + s], epochs=2, modulation_end=0) for s in (0, 1)]
    claims = tables.rho_claims(without, with_, fraction=0.25)
    v = tables.judge(claims)
    assert [c.key for c in claims] == ["normal_above_1", "ogmge_above_1", "ogmge_lowers", "ogmge_lowers_window"]
    assert v["normal_above_1"].mean_diff == pytest.approx(8.25)       # last 2 steps: means 9 and 9.5, minus 1
    assert v["ogmge_lowers"].mean_diff == pytest.approx(2.5)
    assert v["ogmge_lowers_window"].mean_diff == pytest.approx(3.0)   # epoch 0: steps 0-3
    assert claims[0].paper == FIGURE3["without OGM-GE"]
    assert all(c.unit == "" for c in claims)


def test_plot_bars():
    fig, ax = plt.subplots()
    tables.plot_bars(ax, {"a": runs(0.5, 0.6), "b": runs(0.7, 0.7)}, title="x")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    plt.close(fig)


def test_setting_text():
    assert tables.setting_text("avdigits", "cpu", 3) == "avdigits (cpu profile, 3 seeds)"
    assert tables.setting_text("synthetic", "smoke", [4]) == "synthetic (smoke profile, 1 seed)"
