"""Hostile input (issue 12): every bad value refused before work with a message naming it, every damaged
file named, non-finite values caught before evaluation. One table of bad inputs (input, expected error
text), then the damaged-file and blow-up cases. Training here is the `smoke` profile on `synthetic` data."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
import torch

from ogm_lib.__main__ import build_parser, main
from ogm_lib.method import checks
from ogm_lib.method.config import check_device, make_config
from ogm_lib.method.data import build_datasets
from ogm_lib.method.fileio import DamagedFileError
from ogm_lib.method.results import RunResult
from ogm_lib.method.train import Trainer, fit

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")


def smoke(**kw):
    base = dict(dataset="synthetic", synthetic_size=128, epochs=1, quiet=True, method="ogm_ge")
    base.update(kw)
    return make_config("smoke", **base)


# ------------------------------------------------------------------------------------------------------
# the table: bad input -> the error it gets (before any data is read)
# ------------------------------------------------------------------------------------------------------

CONFIG_CASES = [
    # (overrides of the smoke config, expected error text)
    (dict(alpha=-1), "alpha = -1 is out of range; valid: alpha >= 0 (0 turns OGM's scaling off"),
    (dict(alpha=NAN), "alpha = nan is not finite"),
    (dict(alpha=INF), "alpha = inf is not finite"),
    (dict(lr=0), "lr = 0 is out of range; valid: lr > 0 (a learning rate of 0 trains nothing)"),
    (dict(lr=-0.1), "lr = -0.1 is out of range"),
    (dict(lr=NAN), "lr = nan is not finite"),
    (dict(method="ogm", modulation_start=5, modulation_end=1, epochs=6), "method 'ogm' would never modulate"),
    (dict(method="ogm_ge", modulation_start=3, modulation_end=9, epochs=2), "holds no epoch of 0..1"),
    (dict(method="ge", modulation_start=-1), "modulation_start = -1 is out of range"),
    (dict(batch_size=0), "batch_size = 0 is out of range; valid: batch_size >= 1"),
    (dict(epochs=0), "epochs = 0 is out of range; valid: epochs >= 1"),
    (dict(epochs=2.0), "epochs = 2.0 is not an integer"),
    (dict(val_fraction=0), "val_fraction = 0 is out of range; valid: 0 < val_fraction < 1"),
    (dict(val_fraction=1.5), "val_fraction = 1.5 is out of range; valid: 0 < val_fraction < 1"),
    (dict(width=0), "width = 0 is out of range; valid: width >= 1"),
    (dict(synthetic_size=0), "synthetic_size = 0 is out of range; valid: synthetic_size >= 1"),
    (dict(synthetic_size=4), "leaves no validation and no test clip"),
    (dict(n_frames=0), "n_frames = 0 is out of range"),
    (dict(image_size=0), "image_size = 0 is out of range"),
    (dict(seed=1.5), "seed = 1.5 is not an integer"),
    (dict(seed=-1), "seed = -1 is out of range"),
    (dict(seed="0"), "seed = '0' is not an integer"),
    (dict(momentum=-0.5), "momentum = -0.5 is out of range"),
    (dict(weight_decay=-1e-4), "weight_decay = -0.0001 is out of range"),
    (dict(lr_step=0), "lr_step = 0 is out of range"),
    (dict(lr_gamma=0), "lr_gamma = 0 is out of range"),
    (dict(gb_super_epoch=0, method="grad_blend"), "gb_super_epoch = 0 is out of range"),
    (dict(drop_prob=1.5, method="mdrop_audio"), "drop_prob = 1.5 is out of range; valid: 0 <= drop_prob <= 1"),
    (dict(opm_p_exe=-0.1, method="opm"), "opm_p_exe = -0.1 is out of range"),
    (dict(audio_snr_db=INF), "audio_snr_db = inf is not finite"),
    (dict(visual_noise=-1), "visual_noise = -1 is out of range"),
    (dict(probe_every=-1), "probe_every = -1 is out of range"),
    (dict(num_workers=-1), "num_workers = -1 is out of range"),
    (dict(world_size=0), "world_size = 0 is out of range"),
    (dict(quiet="false"), "quiet = 'false' is not a boolean"),
    (dict(eval_train=1), "eval_train = 1 is not a boolean"),
    (dict(device="gpu"), "unknown device 'gpu'; valid: cpu, cuda, cuda:N"),
    (dict(device=0), "device = 0 is not a device name"),
]


@pytest.mark.parametrize("bad, expected", CONFIG_CASES, ids=[str(c[0]) for c in CONFIG_CASES])
def test_bad_values_are_refused_where_the_config_is_made(bad, expected, monkeypatch):
    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read for a bad config"))
    with pytest.raises(ValueError) as err:
        smoke(**bad)
    assert expected in str(err.value)


def test_good_values_still_pass_and_keep_their_key():
    """Boundary values that are valid stay valid, with the key they always had."""
    for ok in (
        dict(alpha=0),
        dict(alpha=0.0, method="ogm"),
        dict(momentum=0.0),
        dict(val_fraction=0.5),
        dict(method="normal", modulation_start=5, modulation_end=1),
        dict(synthetic_size=6),
        dict(lr=1e30),
        dict(seed=2**40),
        dict(probe_every=0),
        dict(device="cuda"),
    ):
        smoke(**ok).key()
    import numpy as np

    assert smoke(seed=np.int64(3)).key() == smoke(seed=3).key()  # a numpy integer is an int


DEVICE_CASES = [
    ("cuda", "no CUDA GPU", not torch.cuda.is_available()),
    (f"cuda:{torch.cuda.device_count() + 3}", "CUDA GPU(s)", torch.cuda.is_available()),
    (
        "mps",
        "MPS (Apple silicon GPU) is not available",
        not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    ),
    ("meta", "runs on cpu, cuda or mps", True),
]


@pytest.mark.parametrize("device, expected, applies", DEVICE_CASES, ids=[c[0] for c in DEVICE_CASES])
def test_a_missing_device_is_refused_before_data_is_read(device, expected, applies, tmp_path, monkeypatch):
    if not applies:
        pytest.skip(f"not a missing device on this machine: {device}")
    with pytest.raises(ValueError, match=re.escape(expected)):
        check_device(device)
    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read for a missing device"))
    with pytest.raises(ValueError, match=re.escape(expected)):
        Trainer(smoke(device=device), tmp_path)


NOTEBOOK_CASES = [
    # (parameter value as papermill may pass it, expected error text or the parsed value)
    ("[0,1]", [0, 1]),
    ("[0, 2]", [0, 2]),
    (3, [0, 1, 2]),
    ([4, 1], [4, 1]),
    (0, "asks for no seed"),
    (-2, "asks for no seed"),
    ("[]", "is not a count >= 1"),
    ([], "is not a count >= 1"),
    (1.5, "is not a count >= 1"),
    ("[0.5]", "0.5 is not an integer >= 0"),
    ("[0, 0]", "repeats seed 0"),
    ("zero", "is not a count >= 1"),
    (True, "is not a count >= 1"),
    ([-1], "-1 is not an integer >= 0"),
]


@pytest.mark.parametrize("value, expected", NOTEBOOK_CASES, ids=[repr(c[0]) for c in NOTEBOOK_CASES])
def test_notebook_seeds(value, expected):
    if isinstance(expected, list):
        assert checks.seed_list(value) == expected
    else:
        with pytest.raises(ValueError, match=expected.replace("[", r"\[")):
            checks.seed_list(value)


def test_notebook_list_parameters():
    assert checks.number_list("[0.3, 0.8]", "alphas", float, 0) == [0.3, 0.8]
    assert checks.number_list("[64,128]", "batch_sizes", int, 1) == [64, 128]
    assert checks.number_list(0.8, "alphas", float, 0) == [0.8]
    for value, expected in (
        ("[0.3, -1]", "-1 is not a number with x >= 0"),
        ("[]", "not a non-empty list"),
        ("0.3, x", "not a non-empty list"),
        ("[nan]", "not a non-empty list"),
    ):
        with pytest.raises(ValueError, match=expected):
            checks.number_list(value, "alphas", float, 0)
    with pytest.raises(ValueError, match="64.5 is not an integer"):
        checks.number_list("[64.5]", "batch_sizes", int, 1)
    assert checks.number("512", "pool", int, 1) == 512
    with pytest.raises(ValueError, match="out of range; expected 0 < fraction < 1"):
        checks.number(1.5, "fraction", float, 0, 1, False, False)


CLI_CASES = [
    # (arguments of `python -m ogm_lib`, expected one-line error)
    (["train", "--alpha", "-1"], "error: alpha = -1.0 is out of range; valid: alpha >= 0"),
    (["train", "--alpha", "nan"], "error: alpha = nan is not finite"),
    (["train", "--alpha", "inf"], "error: alpha = inf is not finite"),
    (["train", "--lr", "0"], "error: lr = 0.0 is out of range; valid: lr > 0"),
    (["train", "--method", "ogm", "--modulation-start", "5", "--modulation-end", "1"], "would never modulate"),
    (["train", "--batch-size", "0"], "error: batch_size = 0 is out of range"),
    (["train", "--epochs", "0"], "error: epochs = 0 is out of range"),
    (["train", "--val-fraction", "1.5"], "error: val_fraction = 1.5 is out of range"),
    (["train", "--width", "0"], "error: width = 0 is out of range"),
    (["train", "--dataset", "synthetic", "--synthetic-size", "0"], "error: synthetic_size = 0 is out of range"),
    (["train", "--device", "gpu"], "error: unknown device 'gpu'"),
]


@pytest.mark.parametrize("argv, expected", CLI_CASES, ids=[" ".join(c[0][1:]) for c in CLI_CASES])
def test_cli_errors_are_one_line(argv, expected, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="alpha = -1"):
        main(["train", "--alpha", "-1", "--debug"])
    with pytest.raises(ValueError, match="alpha = -1"):
        main(["--debug", "train", "--alpha", "-1"])


def test_cli_missing_gpu_is_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rc = main(
        ["train", "--profile", "smoke", "--dataset", "synthetic", "--device", "cuda", "--results-dir", str(tmp_path)]
    )
    assert rc == 1 and "no CUDA GPU" in capsys.readouterr().err


def test_help_prints_each_default_once_and_quiet_is_a_flag():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "(default: None)" not in text and "built-in default" not in text
    for block in text.split("\n  --")[1:]:
        assert block.count("(default") <= 1, block
    args = build_parser().parse_args(["train", "--quiet", "--eval-train"])
    assert args.quiet is True and args.eval_train is True
    assert build_parser().parse_args(["train", "--quiet", "false"]).quiet is False


# ------------------------------------------------------------------------------------------------------
# damaged result files
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished smoke run (its folder and result), and a second run's result file."""
    folder = tmp_path_factory.mktemp("results")
    first = fit(smoke(), folder)
    second = fit(smoke(seed=1), folder)
    return folder, first, second


def _damage(path: Path, how: str, other: Path) -> None:
    text = path.read_text()
    d = json.loads(text)
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "empty":
        path.write_text("")
    elif how == "{}":
        path.write_text("{}")
    elif how == "a list":
        path.write_text("[1, 2]")
    elif how == "another run's file":
        path.write_text(other.read_text())
    elif how == "config edited":
        d["config"]["alpha"] = 0.5
        path.write_text(json.dumps(d))
    elif how == "trace not base64":
        d["steps"]["loss"] = "not base64!"
        path.write_text(json.dumps(d))
    elif how == "best_epoch out of range":
        d["best_epoch"] = 7
        path.write_text(json.dumps(d))
    elif how == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")


DAMAGE_CASES = [
    ("truncated", "not valid JSON, truncated or edited"),
    ("empty", "empty file"),
    ("{}", "not a complete result: missing best_epoch, config, epochs, key, steps"),
    ("a list", "holds a JSON list, not a result object"),
    ("another run's file", "holds run"),
    ("config edited", "its config hashes to"),
    ("trace not base64", "the per-step trace does not decode"),
    ("best_epoch out of range", "best_epoch 7 is not an epoch"),
    ("binary", "not UTF-8 text"),
]


@pytest.mark.parametrize("how, expected", DAMAGE_CASES, ids=[c[0] for c in DAMAGE_CASES])
def test_damaged_result_file_is_named(finished, how, expected, tmp_path):
    folder, first, second = finished
    path = tmp_path / f"{first.key}.json"
    path.write_text((folder / f"{first.key}.json").read_text())
    _damage(path, how, folder / f"{second.key}.json")
    with pytest.raises(DamagedFileError) as err:
        RunResult.load(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_fit_sets_a_damaged_result_aside_and_retrains(finished, tmp_path):
    folder, first, second = finished
    for how in ("truncated", "another run's file"):
        path = tmp_path / f"{first.key}.json"
        path.write_text((folder / f"{first.key}.json").read_text())
        _damage(path, how, folder / f"{second.key}.json")
        with pytest.warns(RuntimeWarning, match="damaged result file .* set aside"):
            again = fit(smoke(), tmp_path)
        assert again.key == first.key and again.epochs == first.epochs  # never another run's result
        assert RunResult.load(path).epochs == first.epochs
        assert list(tmp_path.glob(f"{first.key}.json.damaged*"))
        for p in tmp_path.glob("*.damaged*"):
            p.unlink()


def test_result_files_are_strict_json_and_nan_metrics_round_trip(finished, tmp_path):
    _, first, _ = finished
    r = RunResult(**{**first.__dict__, "epochs": [dict(e) for e in first.epochs]})
    r.epochs[0]["val_loss"] = NAN
    r.wall_time_s = INF
    path = r.save(tmp_path)

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    d = json.loads(path.read_text(), parse_constant=refuse)  # no NaN / Infinity in the file
    assert d["epochs"][0]["val_loss"] is None
    back = RunResult.load(path)
    assert math.isnan(back.epochs[0]["val_loss"]) and back.epochs[0]["val_acc"] == first.epochs[0]["val_acc"]


# ------------------------------------------------------------------------------------------------------
# damaged checkpoints
# ------------------------------------------------------------------------------------------------------


def test_truncated_checkpoint_is_set_aside_and_training_restarts(tmp_path):
    cfg = smoke(epochs=2)
    full = fit(cfg, tmp_path / "full")
    assert fit(cfg, tmp_path / "cut", stop_after=1) is None
    ckpt = tmp_path / "cut" / "checkpoints" / f"{cfg.key()}.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 3])
    with pytest.warns(RuntimeWarning, match=r"damaged checkpoint .*\.pt: unreadable .* from the start"):
        again = fit(cfg, tmp_path / "cut")
    assert again.epochs == full.epochs and again.steps == full.steps  # the same numbers, from the start
    assert (ckpt.parent / f"{ckpt.name}.damaged").exists()


def test_checkpoint_of_another_run_is_not_resumed(tmp_path):
    a, b = smoke(epochs=2), smoke(epochs=2, seed=1)
    assert fit(a, tmp_path, stop_after=1) is None
    src = tmp_path / "checkpoints" / f"{a.key()}.pt"
    src.rename(tmp_path / "checkpoints" / f"{b.key()}.pt")
    with pytest.warns(RuntimeWarning, match=f"holds run {a.key()}, not run {b.key()}"):
        got = fit(b, tmp_path)
    assert got.epochs == fit(b, tmp_path / "clean").epochs


# ------------------------------------------------------------------------------------------------------
# non-finite values, unwritable results folder
# ------------------------------------------------------------------------------------------------------


def _poison_last_step(monkeypatch, cfg, in_epoch: int):
    """Make the last optimiser step of epoch `in_epoch` blow the weights up (its loss stays finite)."""
    import ogm_lib.method.train as train

    step, n = train.train_step, math.ceil(len(build_datasets(cfg).train) / cfg.batch_size)
    count = {"i": 0}

    def poisoned(parts, shard, epoch):
        row = step(parts, shard, epoch)
        count["i"] += epoch == in_epoch
        if count["i"] == n and epoch == in_epoch:
            with torch.no_grad():
                next(parts.model.parameters()).fill_(NAN)
        return row

    monkeypatch.setattr(train, "train_step", poisoned)


def test_blow_up_in_the_last_step_is_caught_before_evaluation(tmp_path, monkeypatch):
    cfg = smoke(epochs=3, method="normal")
    _poison_last_step(monkeypatch, cfg, in_epoch=1)
    evaluated_after = []  # how many epochs were done when evaluation ran
    evaluate = Trainer.evaluate_split

    def spy(self, name, **kwargs):
        evaluated_after.append(len(self.result.epochs))
        return evaluate(self, name, **kwargs)

    monkeypatch.setattr(Trainer, "evaluate_split", spy)
    with pytest.raises(FloatingPointError) as err:
        fit(cfg, tmp_path)
    msg = str(err.value)
    assert "non-finite weights after the epoch's last optimiser step" in msg and "epoch 1" in msg
    ckpt = tmp_path / "checkpoints" / f"{cfg.key()}.pt"
    assert "after epoch 0" in msg and str(ckpt) in msg and ckpt.exists()
    assert not (tmp_path / f"{cfg.key()}.json").exists()
    assert evaluated_after and max(evaluated_after) == 0  # epoch 0 evaluated, the NaN weights never


def test_blow_up_names_the_cause_and_no_checkpoint_in_the_first_epoch(tmp_path):
    cfg = smoke(epochs=2, method="normal", lr=1e30, momentum=0.0)
    with pytest.raises(FloatingPointError) as err:
        fit(cfg, tmp_path)
    msg = str(err.value)
    assert "epoch 0" in msg and "lr = 1e+30" in msg and "No checkpoint was written" in msg
    assert "checkpoints" not in msg


def test_unwritable_results_folder_is_refused_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read before the check"))
    with pytest.raises(PermissionError, match="results folder .*a-file/results cannot be written"):
        fit(smoke(), blocker / "results")


# ------------------------------------------------------------------------------------------------------
# data scripts and fetching
# ------------------------------------------------------------------------------------------------------


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "data_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_script(name, argv, capsys):
    from data_scripts.cli import run_cli

    rc = run_cli(_script(name).main, argv)
    return rc, capsys.readouterr().err


def test_data_script_raw_that_does_not_exist(tmp_path, capsys):
    for name in ("prepare_cremad", "prepare_ksounds", "prepare_vggsound", "prepare_ave"):
        rc, err = _run_script(name, ["--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capsys)
        assert rc == 1 and "no such folder" in err and err.count("\n") == 1, (name, err)


def test_data_script_folder_without_media(tmp_path, capsys):
    (tmp_path / "raw" / "AudioWAV").mkdir(parents=True)
    (tmp_path / "raw" / "AudioWAV" / "notes.txt").write_text("x")
    rc, err = _run_script("prepare_cremad", ["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 1 and "no CREMA-D clip" in err and "notes.txt" in err


def test_data_script_names_each_rejected_clip(tmp_path, capsys):
    raw = tmp_path / "ks"
    raw.mkdir()
    (raw / "a.txt").write_text("x")
    (raw / "train.csv").write_text("a.txt,dog\nb,cat\n")
    (raw / "test.csv").write_text("c.mp4,dog\n")
    rc, err = _run_script(
        "prepare_ksounds", ["--raw", str(raw), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"], capsys
    )
    assert rc == 1 and "3 of 3 failures" in err
    assert "a.txt is not a video file" in err and "missing clip b" in err and "missing clip c.mp4" in err


def test_data_script_bad_numbers_are_argument_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _script("prepare_cremad").main(["--raw", str(tmp_path), "--workers", "0"])
    assert "expected an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _script("prepare_cremad").main(["--raw", str(tmp_path), "--test-fraction", "1.5"])
    assert "expected 0 < x < 1" in capsys.readouterr().err


def test_offline_fetch_without_mirror_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OGM_FSDD_MIRROR", "none")
    url = "http://127.0.0.1:9/fsdd.tar.gz"  # nothing listens on the discard port
    rc = _script("fetch_fsdd").main(["--dest", str(tmp_path / "fsdd"), "--url", url])
    err = capsys.readouterr().err
    assert rc == 1 and f"could not download {url}" in err and "no local mirror was found" in err
    assert err.count("\n") == 1


def test_damaged_checkpoint_of_a_finished_run_is_retrained_for_its_weights(tmp_path):
    from ogm_lib.recipe.rerun import load_trained_model

    cfg = smoke()
    fit(cfg, tmp_path)
    ckpt = tmp_path / "checkpoints" / f"{cfg.key()}.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="damaged checkpoint .* retraining run"):
        model = load_trained_model(cfg, 10, tmp_path)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_damaged_manifest_is_named(tmp_path):
    from ogm_lib.method.data.prepare import read_manifest

    (tmp_path / "manifest.json").write_text('{"format": 1, "names": [')
    with pytest.raises(DamagedFileError, match="manifest.json: not valid JSON"):
        read_manifest(tmp_path)


def test_each_option_has_one_help_text():
    """The help of every option is its RunConfig field's metadata, in `--help` and in the docs' table."""
    from dataclasses import fields

    from ogm_lib.method.config import RunConfig
    from ogm_lib.method.options import options_table

    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    table = options_table()
    for f in fields(RunConfig):
        assert f.metadata["help"], f.name
        assert " ".join(f.metadata["help"].split()) in text, f.name
        assert f"| `--{f.name.replace('_', '-')}` |" in table, f.name
