"""Sentences made from numbers (ogm_lib/report/text.py) and the crossover sentence of chapter 12."""

import pandas as pd
import pytest

from ogm_lib.report import explain as ex
from ogm_lib.report import text


def test_ranges_groups_and_optimism():
    assert text.range_text([1.2, 0.81, 1.0]) == "0.81 to 1.20"
    assert text.mean_range_text([0.5, 0.7]) == "0.60 (seeds: 0.50 to 0.70)"
    t = pd.DataFrame({"batch size": [16, 16, 64, 64], "r": [1.05, 1.2, 0.81, 0.85]})
    assert text.grouped_range_text(t, "batch size", "r") == "1.05 to 1.20 at batch 16, 0.81 to 0.85 at batch 64"
    assert text.optimism_text([0.01, 0.02]) == "+1.5 points on average over the book's 2 runs"


def test_window_k_is_the_coefficient_the_run_applied(tmp_path):
    """On a committed OGM-GE run, k recomputed from the logged rho^a at the run's alpha (Eq. 10) is the k the run
    applied; on the plain run it differs from the logged k, which was measured at the default alpha."""
    from ogm_lib.recipe.book import headline_rows
    from ogm_lib.recipe.grid import run_grid
    from ogm_lib.report.reduce import modulation_window_mean

    rows = headline_rows()
    ogm, plain = run_grid([rows["Concatenation + OGM-GE"], rows["Concatenation"]])
    assert text.window_k(ogm, ogm.config["alpha"]) == pytest.approx(modulation_window_mean(ogm, "k_a"), abs=1e-6)
    assert plain.config["alpha"] != ogm.config["alpha"]
    assert text.window_k(plain, ogm.config["alpha"]) != pytest.approx(modulation_window_mean(plain, "k_a"), abs=1e-3)
    with pytest.raises(KeyError):
        text.applied_window_k(plain)


def test_a_lead_at_the_last_epoch_only_is_not_for_good():
    class R:
        def __init__(self, accs):
            self.epochs = [{"epoch": i, "test_acc": a} for i, a in enumerate(accs)]

    c = ex.crossover([R([0.1, 0.2, 0.5])], [R([0.2, 0.3, 0.4])])
    assert c["first_for_good"] == 3
    s = ex.crossover_text(c)
    assert "does not overtake the joint model for good" in s and "only at the last measured epoch" in s
    assert "for good at epoch" in ex.crossover_text(ex.crossover([R([0.1, 0.5, 0.5])], [R([0.2, 0.3, 0.4])]))
