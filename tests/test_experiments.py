"""Verdicts, summaries and the parallel runner (ogm_lib/experiments.py)."""
import pytest

from ogm_lib.config import make_config
from ogm_lib.experiments import fmt_pm, mean_std, paired_verdict, run_grid, seeds_of, summary_table


def test_mean_std_and_format():
    m, s = mean_std([0.5, 0.6, 0.7])
    assert m == pytest.approx(0.6) and s == pytest.approx(0.1)
    assert fmt_pm([0.5, 0.6, 0.7]) == "60.0 ± 10.0"


@pytest.mark.parametrize("a, b, verdict", [
    ([0.60, 0.62, 0.61], [0.50, 0.51, 0.52], "reproduced"),      # clearly better on every seed
    ([0.60, 0.50, 0.58], [0.55, 0.56, 0.54], "partly"),          # better on average, within the noise
    ([0.50, 0.51, 0.52], [0.60, 0.62, 0.61], "not reproduced"),  # worse
    ([0.50, 0.50], [0.50, 0.50], "not reproduced"),              # no difference is no gain
    ([254 / 300, 245 / 300, 243 / 300], [252 / 300, 243 / 300, 247 / 300], "not reproduced"),  # sums to 0
])
def test_paired_verdict(a, b, verdict):
    v = paired_verdict(a, b)
    assert v.verdict == verdict
    assert v.n == len(a)


def test_paired_verdict_needs_pairs():
    with pytest.raises(ValueError):
        paired_verdict([0.1, 0.2], [0.1])


def test_run_grid_parallel_matches_serial(tmp_path):
    base = make_config("smoke", dataset="synthetic", synthetic_size=128, epochs=1, quiet=True,
                       method="ogm_ge")
    configs = seeds_of(base, [0, 1]) + [base]            # a duplicate is trained once
    parallel = run_grid(configs, tmp_path / "p", workers=2)
    serial = run_grid(configs, tmp_path / "s", workers=1)
    assert [r.key for r in parallel] == [c.key() for c in configs]
    # workers run single-threaded: float sums are ordered differently than with 2 threads, so the
    # numbers agree to float precision, not bit for bit
    for p, s in zip(parallel, serial):
        assert p.steps["loss"] == pytest.approx(s.steps["loss"], rel=1e-3)
    table = summary_table({"OGM-GE": parallel[:2]}, {"Acc": "test_acc"})
    assert table.loc["OGM-GE", "Acc"].count("±") == 1
