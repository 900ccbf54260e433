"""Kinetics-Sounds' class names, the split-list checker (Kinetics-Sounds, VGGSound), the per-dataset alphas."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ogm_lib.method.config import DATASET_DEFAULTS, DATASETS
from ogm_lib.method.data import split_lists as sl
from ogm_lib.method.data.lists import ksounds_jobs
from ogm_lib.recipe import alphas, regimes

ROOT = Path(__file__).resolve().parents[1]


def test_kinetics_sounds_has_31_classes_derived_from_l3s_34():
    names = sl.ksounds_classes()
    assert len(names) == 31 == len(set(names)) and list(names) == sorted(names)
    assert len(sl.L3_CLASSES) == 34 == len(set(sl.L3_CLASSES))
    derived = {sl.L3_RENAMED.get(c, c) for c in sl.L3_CLASSES if c not in sl.L3_DROPPED}
    assert derived == set(names)
    assert sl.class_name("Playing_Bagpipes") == "playing bagpipes"


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def _ours(tmp_path, per_class=2, edit=None):
    names = sl.ksounds_classes()
    train = ["clip,label"] + [
        f"tr_{i}_{k},{n.replace(' ', '_')}" for i, n in enumerate(names) for k in range(per_class)
    ]
    test = [f"te_{i},{n}" for i, n in enumerate(names)]
    if edit:
        edit(train, test)
    return [_write(tmp_path / "train.csv", train), _write(tmp_path / "test.csv", test)]


def test_checker_passes_good_lists_and_names_each_problem(tmp_path):
    good = sl.check_lists("ksounds", _ours(tmp_path))
    assert good.ok, good.text()
    assert len(good.clips["train"]) == 62 and len(set(good.clips["test"].values())) == 31

    def damage(train, test):
        train.append("tr_0_0,playing bagpipes")  # listed twice
        train.append("te_3,bowling")  # in train and test
        train.append("x1,playing kazoo")  # not a class
        test.pop()  # a class missing from test
        train.append("a,b,c,d")  # neither format

    bad = sl.check_lists("ksounds", _ours(tmp_path, edit=damage))
    text = "\n".join(bad.problems)
    for expected in (
        "listed twice",
        "in both train and test",
        "not a Kinetics-Sounds class",
        "in only one of train and test",
        "neither `clip,label`",
    ):
        assert expected in text, text


def test_official_index_lists_are_checked_against_the_repositorys_counts(tmp_path):
    def official(counts, split):
        return [f"{split}{i}x{k}_0,10,{i}" for i, n in enumerate(counts) for k in range(n)]

    paths = [_write(tmp_path / f"my_{s}.txt", official(sl.OFFICIAL_KS_COUNTS[s], s)) for s in ("train", "test")]
    report = sl.check_lists("ksounds", paths)
    assert report.ok and report.format == "official index lists", report.text()
    assert len(report.clips["train"]) == 14799 and len(report.clips["test"]) == 2597
    assert (
        tuple(Counter(int(v) for v in report.clips["test"].values())[i] for i in range(31))
        == sl.OFFICIAL_KS_COUNTS["test"]
    )
    short = list(sl.OFFICIAL_KS_COUNTS["test"])
    short[4] -= 1
    _write(paths[1], official(short, "test"))
    assert any("the official list has 2,597" in p for p in sl.check_lists("ksounds", paths).problems)
    # and the prepare script's reader takes the index as the label (not the `10` of the duration column)
    (tmp_path / "raw").mkdir()
    _write(tmp_path / "raw" / "train.csv", ["abc_12,10,7", "def_3,10,30"])
    _write(tmp_path / "raw" / "test.csv", ["ghi_0,10,0", "clip,label", "jkl,playing piano"])
    jobs, info = ksounds_jobs(tmp_path / "raw")
    assert [j.label for j in jobs] == ["7", "30", "0", "playing piano"]


def test_vggsound_list_checker(tmp_path):
    rows = [f'yt{i},{i % 7},"class {i}, with a comma",{"test" if i % 5 == 0 else "train"}' for i in range(309 * 5)]
    rows = [r.replace(f"class {i},", f"class {i % 309},") for i, r in enumerate(rows)]
    path = _write(tmp_path / "vggsound.csv", rows)
    report = sl.check_lists("vggsound", [path])
    assert report.ok, report.text()
    _write(path, rows[:-1] + ["yt9,4,class 1,validation"])
    assert any("neither train nor test" in p for p in sl.check_lists("vggsound", [path]).problems)
    _write(path, [r for r in rows if "class 308," not in r])
    assert any("308 classes; VGGSound has 309" in p for p in sl.check_lists("vggsound", [path]).problems)


def test_data_lists_command(tmp_path):
    paths = [str(p) for p in _ours(tmp_path)]
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "ogm_lib", "data", "lists", *a], capture_output=True, text=True, cwd=ROOT
    )
    ok = run("--dataset", "ksounds", "--lists", *paths)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("good"), ok.stdout + ok.stderr
    Path(paths[1]).write_text("te_0,singing\n")
    bad = run("--dataset", "ksounds", "--lists", *paths)
    assert bad.returncode == 1 and "PROBLEM" in bad.stdout


# ---------------------------------------------------------------------------------------------- alphas


def test_every_dataset_has_an_alpha_or_the_rule():
    assert set(alphas.ALPHAS) == set(DATASETS)
    for dataset, (value, source) in alphas.ALPHAS.items():
        assert source
        if "alpha" in DATASET_DEFAULTS.get(dataset, {}):  # the paper profile applies the official ones
            assert DATASET_DEFAULTS[dataset]["alpha"] == value and "official README" in source
    assert alphas.ALPHAS["ksounds"].value is None and "validation" in alphas.ALPHAS["ave"].source
    assert alphas.ALPHAS["avdigits"].value == regimes.ALPHA["paper-like"]


def test_the_sweep_rule_chooses_the_best_mean_validation_accuracy(tmp_path):
    runs, alpha, table = alphas.sweep(
        "synthetic",
        profile="smoke",
        seeds=(0, 1),
        results_dir=tmp_path,
        executor="local",
        workers=1,
        synthetic_size=128,
        epochs=1,
    )
    assert sorted(table) == list(regimes.ALPHA_GRID)
    means = {float(label.split("=")[1]): np.mean([100 * r.best["val_acc"] for r in rs]) for label, rs in runs.items()}
    best = max(means.values())
    assert alpha == min(a for a, m in means.items() if m == best)
    assert all(r.config["alpha"] == float(label.split("=")[1]) for label, rs in runs.items() for r in rs)
