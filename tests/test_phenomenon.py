"""The testbed criteria (ogm_lib/recipe/phenomenon.py) on hand-made runs whose every number is known, and the
testbed search's designs (ogm_lib/recipe/testbed.py)."""

import math

import numpy as np
import pytest

from ogm_lib.method.results import RunResult, encode_predictions
from ogm_lib.recipe import phenomenon as ph
from ogm_lib.recipe import testbed

N_VAL = 20


def probs_for(labels, correct):
    """Softmax-like scores over 10 classes: confident and right on the clips in `correct`, else confident on
    the next class."""
    p = np.full((len(labels), 10), 0.01)
    for i, y in enumerate(labels):
        p[i, y if i in correct else (y + 1) % 10] = 0.91
    return p


def run(modalities, seed, val_acc, val_curve=None, correct=(), probe=None, rho=2.0, epochs=20, mod_end=9):
    """A run with `val_acc` at its best epoch, validation predictions right on `correct`, a final validation
    probe `probe` ({modality: acc}), and a constant rho^a trace (or a list, one value per step)."""
    labels = np.arange(N_VAL) % 10
    curve = list(val_curve) if val_curve is not None else [val_acc] * epochs  # on its plateau
    eps = [{"epoch": e, "val_acc": curve[e], "test_acc": 0.5} for e in range(epochs)]
    best = int(np.argmax(curve))
    for m, acc in (probe or {}).items():
        eps[-1][f"probe_val_{m}"] = acc
    steps = list(rho) if isinstance(rho, (list, tuple, np.ndarray)) else [rho] * (4 * epochs)
    cfg = dict(
        seed=seed, epochs=epochs, modulation_start=0, modulation_end=mod_end, modalities=modalities, method="normal"
    )
    return RunResult(
        key=f"{modalities}{seed}",
        config=cfg,
        epochs=eps,
        best_epoch=best,
        steps={"rho_a": steps},
        val_predictions=encode_predictions(best, labels, probs_for(labels, set(correct))),
    )


def design(seeds=(0, 1, 2), joint_correct=range(10), rho=2.0, probe_joint=0.30, probe_alone=0.40):
    """Plain rows over `seeds`: audio-only right on validation clips 0-9, visual-only on 5-12, concatenation
    on `joint_correct`; the visual probe `probe_alone` alone and `probe_joint` inside the joint model."""
    out = {"Audio-only": [], "Visual-only": [], "Concatenation": []}
    for s in seeds:
        out["Audio-only"].append(run("audio", s, 0.50, correct=range(10), probe={"audio": 0.5}))
        out["Visual-only"].append(run("visual", s, 0.40, correct=range(5, 13), probe={"visual": probe_alone}))
        out["Concatenation"].append(
            run("av", s, 0.51, correct=joint_correct, probe={"audio": 0.5, "visual": probe_joint}, rho=rho)
        )
    return out


def test_product_of_the_unimodal_models_on_validation():
    a = run("audio", 0, 0.5, correct=range(10))
    v = run("visual", 0, 0.4, correct=range(5, 13))
    # clips 5-9: both right; 0-4: audio right, visual wrong with equal confidence -> tie broken by argmax order
    # (the true class y and y+1 have the same product): argmax takes the lower index, which is y unless y = 9
    labels = np.arange(N_VAL) % 10
    pa, pv = probs_for(labels, set(range(10))), probs_for(labels, set(range(5, 13)))
    expected = 100 * np.mean((np.log(pa) + np.log(pv)).argmax(1) == labels)
    assert ph.product_val_acc(a, v) == pytest.approx(expected)
    other = run("visual", 0, 0.4, correct=range(5, 13))
    other.val_predictions["labels"] = [(y + 1) % 10 for y in other.val_predictions["labels"]]
    with pytest.raises(ValueError, match="different val clips"):
        ph.product_val_acc(a, other)
    with pytest.raises(ValueError, match="record_val"):
        ph.product_val_acc(a, RunResult(key="x", config={}, epochs=[{}], best_epoch=0))


def test_measurements_of_a_design_by_hand():
    m = ph.measure(design())
    assert m["audio_val"] == pytest.approx(50.0) and m["visual_val"] == pytest.approx(40.0)
    assert m["best_unimodal"] == "audio" and m["weak"] == "visual"
    assert m["joint_gain"] == pytest.approx(1.0)
    assert m["probe_gap"] == pytest.approx(10.0)  # 40 alone - 30 inside
    assert m["first_epoch_share"] == 1.0 and m["window_share"] == 1.0
    assert m["seeds"] == 3
    # every seed has the same product and the same joint accuracy: zero spread, so the interval is a point
    assert m["headroom_low"] == pytest.approx(m["headroom"])
    assert m["headroom"] == pytest.approx(m["product_val"] - 51.0)


def test_plateau_rule():
    flat = run("av", 0, 0.6, val_curve=[0.6] * 20)
    rising = run("av", 0, 0.9, val_curve=list(np.linspace(0.3, 0.9, 20)))
    assert ph.plateau_gain(flat) == pytest.approx(0.0)
    # last 3 epochs (17-19) against 14-16 of a line rising 60 points over 19 epochs: 3 x 60/19 points
    assert ph.plateau_gain(rising) == pytest.approx(3 * 60 / 19)
    assert ph.plateau_gain(flat) < ph.PLATEAU_GAIN_MAX < ph.plateau_gain(rising)


def test_rho_window_and_first_epoch():
    # 20 epochs x 4 steps; modulation epochs 0..9 = steps 0..39; first epoch = steps 0..3
    rho = [0.5] * 4 + [2.0] * 36 + [0.1] * 40
    r = run("av", 0, 0.5, rho=rho)
    assert ph.first_epoch_rho(r) == pytest.approx(0.5)
    assert ph.window_share_above_one(r) == pytest.approx(36 / 40)  # the steps after the window do not count


def test_criteria_met_and_missed_with_their_distance():
    good = ph.criteria({**ph.measure(design()), "headroom": 8.0, "headroom_low": 2.0})
    names = [c.name for c in good]
    assert len(names) == 9
    assert not [c.name for c in good if not c.met and c.weight == 1.0 and "CREMA" not in c.name]
    # a design where joint training wins by 6 points and rho^a leads on only 60 % of the window
    m = {**ph.measure(design()), "joint_gain": 6.0, "window_share": 0.6, "headroom": 8.0, "headroom_low": 2.0}
    crit = {c.name: c for c in ph.criteria(m)}
    gain = crit["joint gain over the best unimodal model (points)"]
    share = crit["modulation-window steps with rho^a > 1 (share)"]
    assert not gain.met and gain.shortfall == pytest.approx((6.0 - 2.0) / 5.0)
    assert not share.met and share.shortfall == pytest.approx((0.9 - 0.6) / 0.1)
    base = ph.distance(ph.criteria({**m, "joint_gain": 1.0, "window_share": 0.95}))
    assert ph.distance(ph.criteria(m)) == pytest.approx(base + 0.8 + 3.0)


def test_one_seed_cannot_show_the_interval():
    m = ph.measure(design(seeds=(0,)))
    assert math.isnan(m["headroom_low"])
    crit = {c.name: c for c in ph.criteria(m)}
    low = crit["headroom, lower end of its 95 % interval (points)"]
    assert not low.met and low.shortfall == 1.0


def test_visual_first_epoch_fails_the_lead_criterion():
    m = ph.measure(design(rho=[0.5] * 4 + [2.0] * 76))
    assert m["first_epoch_share"] == 0.0
    assert not next(c for c in ph.criteria(m) if "first-epoch" in c.name).met


def test_t_interval_matches_scipy():
    from scipy import stats

    d = [1.0, 3.0, 2.5, 4.0]
    low, _ = stats.t.interval(0.95, len(d) - 1, loc=np.mean(d), scale=stats.sem(d))
    assert ph.t_interval_low(d) == pytest.approx(low)


def test_designs_are_plain_runs_on_validation_records_and_keep_book_keys():
    for name in testbed.DESIGNS:
        rows = testbed.design_rows(name)
        assert set(rows) == set(ph.ROWS)
        for cfg in rows.values():
            assert cfg.method == "normal" and cfg.record_val and cfg.probe_every > 0
            assert cfg.dataset == "avdigits"
    assert len(testbed.search_configs(seeds=(0, 1))) == 2 * 3 * len(testbed.DESIGNS)


def test_test_side_is_reported_from_the_test_records():
    d = design()
    for r in d["Concatenation"]:
        r.epochs[r.best_epoch]["test_acc"] = 0.70
        r.epochs[-1]["probe_visual"] = 0.10
    for r in d["Visual-only"]:
        r.epochs[-1]["probe_visual"] = 0.45
    for rs in d.values():  # test predictions: the same as validation's here
        for r in rs:
            r.predictions = dict(r.val_predictions)
    val, test = ph.measure(d, "val"), ph.measure(d, "test")
    assert test["joint_val"] == pytest.approx(70.0) and val["joint_val"] == pytest.approx(51.0)
    assert test["probe_gap"] == pytest.approx(35.0) and val["probe_gap"] == pytest.approx(10.0)
    assert test["product_val"] == pytest.approx(val["product_val"])
    assert test["weak"] == val["weak"] == "visual"


def test_the_confirmation_rule_goes_to_the_second_design_only_when_the_first_fails():
    def c(met):
        return [
            ph.Criterion("x", 1.0 if met else 0.0, 0.5, True, 1.0),
            ph.Criterion("unimodal", 9.0, 5.0, False, 5.0, weight=0.5),
        ]  # a secondary miss never matters

    names = list(testbed.DESIGNS)
    search = [
        (names[1], 0.5, {}, c(True)),
        ("paper-like regime", 0.7, {}, c(True)),
        (names[0], 1.0, {}, c(True)),
        (names[2], 2.0, {}, c(True)),
    ]
    assert testbed.to_confirm(search) == [names[1]]  # the closest first
    assert testbed.to_confirm(search, [(names[1], 0.2, {}, c(True))]) == []  # it met them: done
    assert testbed.to_confirm(search, [(names[1], 3.0, {}, c(False))]) == [names[0]]  # regimes are not candidates
    both = [(names[0], 1.5, {}, c(False)), (names[1], 3.0, {}, c(False))]
    assert testbed.to_confirm(search, both) == []  # at most CONFIRM_TOP
    assert testbed.choose(both) == names[0]
    with pytest.raises(ValueError):
        testbed.choose([])


# ------------------------------------------------------------------ the chapter's section, on the committed runs


def test_the_section_reads_the_committed_search_and_says_where_the_rule_stands():
    from ogm_lib.report import testbed as tb_report
    from ogm_lib.report.findings import phenomenon_gaps

    tb = tb_report.section_for("avdigits", testbed.PROFILE)
    search = tb["search"]
    assert len(search) == len(testbed.DESIGNS) and list(search["distance"]) == sorted(search["distance"])
    assert {"paper-like regime", "easy audio regime"} <= set(search.index)
    # the book's paper-like regime lacks the phenomenon: joint training wins by far, no headroom
    row = search.loc["paper-like regime"]
    assert row["joint gain (pts)"] > ph.JOINT_GAIN_MAX and row["headroom (pts)"] < ph.HEADROOM_MIN
    assert "misses" in phenomenon_gaps()[0]
    text = tb["texts"]["tb_search"]
    assert text.startswith(f"The search tried {len(testbed.DESIGNS) - 2} designs") or "not complete" in text
    if "chosen" in tb:
        assert tb["chosen"] in testbed.DESIGNS and not tb["chosen"].endswith("regime")
        assert len(tb["criteria"]) == len(
            ph.criteria(ph.measure(testbed.read_designs([tb["chosen"]], testbed.CONFIRM_SEEDS)[tb["chosen"]]))
        )
    note = tb_report.section_for("avdigits", "smoke")
    assert "default data at the converged profile" in note["texts"]["tb_verdict"]
    assert "note" in tb_report.table(note, "search").columns
    assert "(4) rho^a is above 1" in tb_report.rule_text()
