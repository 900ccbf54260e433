"""Who leads in a plug-in row's baseline (report/who_leads.py): the rule, and the committed rows."""

from types import SimpleNamespace

import numpy as np
import pytest

from ogm_lib.report import who_leads as pc


def _run(rho_per_epoch, epochs=4, steps=10, window=(0, 1)):
    """A stand-in with what the rule reads: a per-step rho^a trace and the schedule."""
    trace = np.concatenate([np.full(steps, r, dtype=float) for r in rho_per_epoch[:epochs]])
    return SimpleNamespace(
        steps={"rho_a": trace.tolist()},
        config={"epochs": epochs, "modulation_start": window[0], "modulation_end": window[1]},
    )


def test_audio_leads_needs_every_seed_above_one_and_ninety_percent_of_the_window():
    assert pc.condition([_run([3, 2, 1, 1]), _run([1.5, 1.2, 0.5, 0.5])]).leader == pc.AUDIO
    # one seed's first epoch at 0.9: not every seed leads from the start
    assert pc.condition([_run([3, 2, 1, 1]), _run([0.9, 1.2, 1, 1])]).leader == pc.NEITHER
    # first epoch above 1 but the window's second epoch below: half the window's steps
    assert pc.condition([_run([3, 0.5, 1, 1])]).leader == pc.NEITHER
    assert pc.condition([_run([3, 2, 1, 1])]).tests_claim


def test_vision_leads_is_the_mirror_image():
    c = pc.condition([_run([0.5, 0.6, 2, 2]), _run([0.7, 0.9, 2, 2])])
    assert c.leader == pc.VISION and not c.tests_claim
    assert c.window_share == 0.0 and c.first_epoch_rho == (0.5, 0.7)
    with pytest.raises(ValueError):
        pc.condition([])


def test_the_committed_plug_in_rows_are_labelled_from_their_baselines():
    """On the paper-like data no plug-in baseline has audio leading (the rows cannot test the paper's claim);
    Table 3's video models are led by vision."""
    from ogm_lib.method.results import RunResult, result_path
    from ogm_lib.recipe import plugins

    per = plugins.per_seed(plugins.table3_rows())
    runs = {k: [RunResult.load(result_path(c)) for c in cs] for k, cs in per.items()}
    cond = pc.conditions(runs, plugins.PLUS)
    assert set(cond) == set(plugins.VIDEO_ROWS) | {plugins.REFERENCE}
    assert cond["TSN-AV"].leader == pc.VISION
    assert not any(c.tests_claim for c in cond.values())
    table = pc.condition_table(runs, plugins.PLUS)
    assert list(table.index) == list(cond) and set(table["tests the paper's claim"]) == {"no"}


def test_condition_text_counts_the_rows_that_test_the_claim():
    audio, vision = pc.condition([_run([3, 2, 1, 1])]), pc.condition([_run([0.5, 0.5, 1, 1])])
    assert pc.condition_text({"A": vision, "B": vision}).startswith(
        "no row's baseline has audio leading (vision leads in 2"
    )
    assert pc.condition_text({"A": audio}).startswith("audio leads in every row's baseline (1 of 1)")
    text = pc.condition_text({"A": audio, "B": vision})
    assert text.startswith("1 of 2 rows' baselines have audio leading") and "only A tests" in text
