"""The calibration rule of the paper-like regime (`ogm_lib/recipe/regimes.py`)."""

import pytest

from ogm_lib.method.config import make_config
from ogm_lib.recipe import regimes


def test_choose_picks_the_closest_mean_and_flags_the_tolerance():
    c = regimes.choose("audio", {-6.0: [70, 72], -9.0: [60, 58], -12.0: [53, 51], -15.0: [40, 44]})
    assert (c.value, c.mean, c.within) == (-12.0, 52.0, True)
    far = regimes.choose("visual", {0.8: [60, 62], 1.0: [50, 50]})
    assert far.value == 1.0 and not far.within  # 50 is 8.1 points from 41.9


def test_choose_breaks_ties_toward_the_easier_grid_value():
    c = regimes.choose("audio", {-9.0: [55.5], -12.0: [49.5]})
    assert c.value == -9.0


def test_choose_refuses_no_runs():
    with pytest.raises(ValueError):
        regimes.choose("audio", {})


def test_late_epoch_is_the_last_15_percent():
    assert [regimes.late_epoch(b, 20) for b in (15, 16, 17, 19)] == [False, False, True, True]
    assert regimes.converged_share([3, 16, 17, 19], 20) == 0.5


def test_the_converged_profile_has_the_papers_steps_and_proportions():
    c = make_config("converged")
    steps_per_epoch = -(-2430 // c.batch_size)  # 2,700 train clips less 10 % validation
    assert 100 <= steps_per_epoch <= 110  # paper: 6,698 / 64 = 105
    assert (c.modulation_end - c.modulation_start + 1) * steps_per_epoch >= 1000
    assert c.modulation_end + 1 == c.epochs // 2 and c.lr_step == round(0.7 * c.epochs)


def test_calibration_rows_are_unimodal_only():
    rows = regimes.calibration_rows()
    assert len(rows) == len(regimes.AUDIO_SNR_GRID) + len(regimes.VISUAL_NOISE_GRID)
    assert all(c.modalities in ("audio", "visual") and c.method == "normal" for c in rows.values())


def test_choose_alpha_takes_the_best_mean_and_the_smaller_alpha_on_ties():
    best, table = regimes.choose_alpha({0.1: [61, 63], 0.4: [63, 61], 0.8: [50, 52]})
    assert best == 0.1 and table[0.4] == 62.0
    assert regimes.choose_alpha({0.2: [70.0], 1.0: [71.0]})[0] == 1.0


def test_refine_splits_the_bracketing_interval_only_when_needed():
    far = {0.8: [53.0, 55.0], 1.0: [36.0, 38.0], 1.2: [28.0, 30.0]}
    assert regimes.refine("visual", far) == [0.85, 0.9, 0.95]
    assert regimes.refine("visual", {0.8: [43.0], 1.0: [36.0]}) == []  # 43 is within 3 of 41.9
    assert regimes.refine("audio", {-6.0: [70.0], -9.0: [60.0]}) == []  # nothing brackets 52.5


def _committed(configs):
    from ogm_lib.method.paths import repo_root
    from ogm_lib.method.results import RunResult, result_path

    return [RunResult.load(result_path(c, repo_root() / "results")) for c in configs]


def _committed_rows(rows, seeds):
    return {label: _committed([c.replace(seed=s) for s in seeds]) for label, c in rows.items()}


def test_the_paper_like_constants_are_the_rules_output_on_the_committed_runs():
    """REGIMES["paper-like"], REFINED and ALPHA are what the rules give on the committed runs (read, not trained)."""
    from ogm_lib.recipe.book import book_config

    values = regimes.calibration_values(_committed_rows(regimes.calibration_rows(), regimes.CALIBRATION_SEEDS))
    for m in ("audio", "visual"):
        assert tuple(regimes.refine(m, values[m])) == tuple(regimes.REFINED.get(m, ()))
        rows = {
            f"{m}, {regimes.KNOB[m]}={v:g}": book_config(
                "avdigits", regimes.PROFILE, modalities=m, **{regimes.KNOB[m]: v}
            )
            for v in regimes.REFINED.get(m, ())
        }
        values[m].update(regimes.calibration_values(_committed_rows(rows, regimes.CALIBRATION_SEEDS))[m])
        choice = regimes.choose(m, values[m])
        assert regimes.REGIMES["paper-like"][choice.knob] == choice.value
    for regime in regimes.REGIMES:
        sweep = _committed_rows(regimes.alpha_rows(regime), regimes.ALPHA_SEEDS)
        assert regimes.choose_alpha(regimes.alpha_values(sweep))[0] == regimes.ALPHA[regime]


def test_the_testbed_regime_is_the_testbed_rules_choice():
    """REGIMES["testbed"] and SCHEDULE["testbed"] are the design `testbed.py`'s rule chose on the committed plain
    runs, its knobs and schedule, and its rows are that design's runs (the same keys, so the same results)."""
    from ogm_lib.recipe import testbed

    _, _, chosen = testbed.read_outcome()
    knobs, schedule = testbed.DESIGNS[chosen]
    assert regimes.REGIMES["testbed"] == knobs
    assert regimes.SCHEDULE["testbed"] == {**testbed.SCHEDULES[schedule], "record_val": True}
    rows = regimes.regime_rows("testbed", regimes.ALPHA["testbed"])
    plain = testbed.design_rows(chosen)
    head = testbed.headline_rows(chosen, regimes.ALPHA["testbed"])
    assert rows["Audio-only"].key() == plain["Audio-only"].key()
    assert rows["Visual-only"].key() == plain["Visual-only"].key()
    assert [rows[k].key() for k in head] == [c.key() for c in head.values()]
    assert {k: c.key() for k, c in regimes.alpha_rows("testbed").items()} == {
        k: c.key() for k, c in testbed.alpha_rows(chosen).items()
    }
