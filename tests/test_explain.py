"""The regime chapters' analyses (`report/explain.py`, `report/calibration.py`) on small real runs."""

import math

import numpy as np
import pytest

from ogm_lib.recipe import regimes
from ogm_lib.recipe.book import train_seeds
from ogm_lib.report import calibration as cal
from ogm_lib.report import claims as cl
from ogm_lib.report import explain as ex


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    rows = regimes.regime_rows("paper-like", 0.5, dataset="synthetic", profile="smoke")
    return train_seeds(rows, 3, workers=1, results_dir=tmp_path_factory.mktemp("r"), headline_seeds=3)


def test_the_product_ceiling_is_the_product_of_the_stored_probabilities(runs):
    a, v = runs["Audio-only"][0], runs["Visual-only"][0]
    ya, pa = ex.predictions(a)
    _, pv = ex.predictions(v)
    assert ex.product_accuracy(a, v) == pytest.approx(float(((pa * pv).argmax(1) == ya).mean()))
    assert sorted(ex.ceiling(runs["Audio-only"], runs["Visual-only"])) == [0, 1, 2]


def test_k_curve_and_first_epoch_follow_the_trace(runs):
    r = runs["Concatenation + OGM-GE"][0]
    ep, mean, _ = ex.k_curve([r], "k_a")
    half = len(r.steps["k_a"]) // int(r.config["epochs"])
    assert len(ep) == r.config["epochs"]
    assert mean[0] == pytest.approx(np.mean(r.steps["k_a"][:half]))
    assert ex.first_epoch_mean(r, "rho_a") == pytest.approx(np.mean(r.steps["rho_a"][:half]))


def test_per_class_averages_to_the_accuracy_on_a_balanced_split(runs):
    table = ex.per_class(runs, ["Concatenation"])
    y, _ = ex.predictions(runs["Concatenation"][0])
    counts = np.bincount(y)
    weighted = (table["Concatenation"].to_numpy() * counts[: len(table)]).sum() / counts.sum()
    expected = 100 * np.mean([r.best["test_acc"] for r in runs["Concatenation"]])
    assert weighted == pytest.approx(expected, abs=1e-6)


def test_crossover_finds_the_first_epoch_from_which_a_stays_ahead():
    class R:
        def __init__(self, accs):
            self.epochs = [{"epoch": i, "test_acc": a} for i, a in enumerate(accs)]

    c = ex.crossover([R([0.1, 0.2, 0.5, 0.6])], [R([0.2, 0.3, 0.4, 0.5])])
    assert c["first_for_good"] == 3 and c["leads"] == 2 and math.isclose(c["final"], 10.0)
    never = ex.crossover([R([0.1, 0.5, 0.1])], [R([0.2, 0.2, 0.2])])
    assert never["first_for_good"] is None and "does not overtake" in ex.crossover_text(never)


def test_explain_claims_are_judged_and_read(runs):
    claims = ex.explain_claims(runs, "paper-like")
    verdicts = cl.judge(claims)
    assert [c.key for c in claims] == ["gain", "imbalance", "visual", "audio", "underfit", "ceiling"]
    text = ex.reading_texts({"paper-like": verdicts})["ex_reading_pl"]
    assert text.count(".") >= 2
    assert "Product of audio-only and visual-only" in ex.regime_table(runs).index
    assert len(ex.per_class_table(runs).columns) == 5


def test_calibration_tables(runs):
    values = {0.8: [50.0, 48.0], 0.85: [42.0, 43.0]}
    choice = regimes.choose("visual", values)
    assert cal.knob_table(choice, values).loc["visual_noise = 0.85", "chosen"] == "←"
    assert "alpha" in cal.rule_text() and "within" in cal.choice_text({"visual": choice})
    facts = cal.schedule_facts(runs["Concatenation"][0])
    assert facts["modulated steps"] > 0
    checks = cal.checks_table({"paper-like": runs})
    assert checks.shape == (1, 6)
