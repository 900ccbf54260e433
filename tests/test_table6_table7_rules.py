"""Table 6's Adam learning-rate rule (recipe/adam_lr.py) and Table 7's equal-steps control (recipe/equal_steps.py)."""

import pytest

from ogm_lib.method.config import make_config
from ogm_lib.recipe import adam_lr, book
from ogm_lib.recipe.equal_steps import SUFFIX, control_rows, control_runs, equal_steps


def test_grid_rows_are_plain_adam_runs_at_each_rate():
    adam = book.table6_rows()["Adam+"]  # even from the OGM-GE row, the rule trains no OGM-GE
    rows = adam_lr.grid_rows(adam)
    assert list(rows) == [f"lr={lr:g}" for lr in adam_lr.LR_GRID]
    assert {c.method for c in rows.values()} == {"normal"}
    assert [c.lr for c in rows.values()] == list(adam_lr.LR_GRID)
    assert {c.optimizer for c in rows.values()} == {"adam"}
    with pytest.raises(ValueError, match="Adam row"):
        adam_lr.grid_rows(book.table6_rows()["SGD"])


def test_choose_takes_the_best_validation_mean_and_the_smaller_rate_on_ties():
    assert adam_lr.choose({1e-3: [50, 52], 3e-4: [55, 53], 3e-3: [40, 41]})[0] == 3e-4
    lr, table = adam_lr.choose({1e-3: [50, 52], 3e-4: [52, 50]})
    assert lr == 3e-4 and table == {3e-4: 51.0, 1e-3: 51.0}
    with pytest.raises(ValueError):
        adam_lr.choose({})


def test_equal_steps_keeps_the_number_of_steps_and_the_milestones():
    base = make_config("converged", batch_size=24, epochs=40, modulation_end=19, lr_step=28, probe_every=4)
    big = equal_steps(base.replace(batch_size=96), 24)
    assert (big.epochs, big.modulation_end, big.lr_step, big.probe_every) == (160, 79, 112, 16)
    # steps per epoch scale as 1 / batch, so epochs / batch fixes the number of steps
    assert big.epochs / big.batch_size == base.epochs / base.batch_size
    # the modulated share of training and the lr drop's share are unchanged
    assert (big.modulation_end + 1) / big.epochs == (base.modulation_end + 1) / base.epochs
    assert big.lr_step / big.epochs == base.lr_step / base.epochs
    with pytest.raises(ValueError):
        equal_steps(base.replace(batch_size=36), 24)


def test_control_rows_cover_the_batch_size_series_only():
    settings, rows = book.table7_rows()
    control = control_rows(settings, rows)
    batch_rows = [s.label for s in settings if s.series == "batch size"]
    assert list(control) == [label + SUFFIX for label in batch_rows]
    b0 = min(s.batch_size for s in settings)
    for label in batch_rows:
        c, r = control[label + SUFFIX], rows[label]
        assert c.epochs == r.epochs * r.batch_size // b0 and c.batch_size == r.batch_size and c.lr == r.lr


def test_control_runs_take_the_rows_seeds():
    settings, rows = book.table7_rows()
    out = control_runs(settings, rows, 3)
    control = control_rows(settings, rows)
    assert [c.key() for c in out] == [c.replace(seed=s).key() for c in control.values() for s in range(3)]
    assert {c.seed for c in control_runs(settings, rows, [2, 7])} == {2, 7}


def test_table6s_default_rate_is_the_rules_choice_on_the_committed_runs():
    """`adam_lr.CHOSEN` (Table 6's default `adam_lr` on the book's regime) is what the rule picks from its committed
    runs: a new run or a changed rule that moves the choice fails here, not silently in the chapter."""
    from pathlib import Path

    from ogm_lib.method.results import RunResult, result_path
    from ogm_lib.recipe.chapters import CHAPTER

    results = Path(__file__).resolve().parents[1] / "results"
    adam = CHAPTER["07_table6"].table()["Adam"]
    runs = {
        label: [RunResult.load(result_path(c.replace(seed=s), results)) for s in adam_lr.LR_SEEDS]
        for label, c in adam_lr.grid_rows(adam).items()
    }
    chosen, means = adam_lr.choose(adam_lr.val_accuracies(runs))
    assert chosen == adam_lr.CHOSEN[book.REGIME] == adam.lr, means


def test_the_rule_text_says_when_the_choice_is_at_the_grids_edge():
    from ogm_lib.report.adam_lr import rule_table, rule_text

    means = {1e-4: 27.2, 3e-4: 36.7, 1e-3: 48.9, 3e-3: 56.4}
    assert "largest rate of the grid" in rule_text(3e-3, 3e-3, means, 2)
    inside = rule_text(1e-3, 3e-4, {**means, 1e-3: 60.0}, 2)
    assert "of the grid" not in inside and "not the rule's choice" in inside and "3.6 points above" in inside
    assert rule_table(means, 3e-3)["chosen"].tolist() == ["", "", "", "✓"]


def test_the_learning_rate_text_says_how_adams_rate_was_set():
    from ogm_lib.report.text import optimiser_lr_text

    assert "chosen on validation" in optimiser_lr_text(1e-2, 3e-3, "converged", 3e-3)
    assert "rule on validation chooses 0.003" in optimiser_lr_text(1e-2, 1e-3, "converged", 3e-3)
    assert "not tuned" in optimiser_lr_text(1e-2, 1e-3, "converged")
