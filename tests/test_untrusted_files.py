"""Issue 26: nothing untrusted is executed, nothing stale or wrong is trained on, and every accepted value
survives a run. One section per defect group of the issue (the hostile cases that found them); the store
cases (groups 3 and 4) live in `test_data_checks.py`, beside the generated CREMA-D store they need.
Training here is the `smoke` profile on `synthetic` data (seconds)."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from ogm_lib.__main__ import main
from ogm_lib.method.config import make_config
from ogm_lib.method.fileio import DamagedFileError
from ogm_lib.method.results import RunResult
from ogm_lib.method.train import Trainer, fit

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = not torch.cuda.is_available()


def smoke(**kw):
    base = dict(dataset="synthetic", synthetic_size=128, epochs=1, quiet=True, method="ogm_ge")
    base.update(kw)
    return make_config("smoke", **base)


SMOKE_ARGV = [
    "--profile",
    "smoke",
    "--dataset",
    "synthetic",
    "--synthetic-size",
    "128",
    "--epochs",
    "1",
    "--method",
    "ogm_ge",
    "--quiet",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished smoke run in its own results folder."""
    folder = tmp_path_factory.mktemp("results")
    return folder, fit(smoke(), folder)


def copy_of(finished, tmp_path) -> tuple[Path, RunResult]:
    folder, result = finished
    path = tmp_path / f"{result.key}.json"
    shutil.copyfile(folder / path.name, path)
    return path, result


class RunsCode:
    """A pickle that, when unpickled by the full unpickler, runs a shell command (writes `marker`)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ------------------------------------------------------------------------------------------------------
# 1. a crafted checkpoint must not run code
# ------------------------------------------------------------------------------------------------------


def _torch_loads(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "torch"
        ):
            yield node


#: the project's code that is not tests: the library, the data and build scripts, the benchmarks
CODE = [p for d in ("ogm_lib", "data_scripts", "scripts", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]


def test_notebooks_load_nothing_with_torch():
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert "torch.load" not in code and "weights_only" not in code and "pickle" not in code, nb.name


def test_every_torch_load_of_the_library_is_weights_only():
    calls = 0
    for path in CODE:
        for call in _torch_loads(ast.parse(path.read_text(), str(path))):
            calls += 1
            safe = [
                k
                for k in call.keywords
                if k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
            ]
            assert safe, f"{path.relative_to(ROOT)}:{call.lineno}: torch.load without weights_only=True"
        for node in ast.walk(ast.parse(path.read_text())):  # nor any call (an alias of torch.load) unsafe
            if isinstance(node, ast.Call):
                for k in node.keywords:
                    assert k.arg != "weights_only" or (isinstance(k.value, ast.Constant) and k.value.value is True), (
                        f"{path.relative_to(ROOT)}:{node.lineno}: weights_only is not True"
                    )
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                assert "load" not in {a.name for a in node.names}, f"{path.relative_to(ROOT)}: from torch import load"
    assert calls >= 1  # the scan sees the one loader (checkpoint.load)


def test_a_checkpoint_that_would_run_code_is_refused_named_and_set_aside(tmp_path):
    marker = tmp_path / "code-ran"
    cfg = smoke(epochs=2)
    clean = fit(cfg, tmp_path / "clean")
    assert fit(cfg, tmp_path / "run", stop_after=1) is None
    ckpt = tmp_path / "run" / "checkpoints" / f"{cfg.key()}.pt"
    torch.save({"epoch": 0, "model": RunsCode(marker)}, ckpt)
    with pytest.warns(RuntimeWarning) as seen:
        again = fit(cfg, tmp_path / "run")
    assert not marker.exists()  # nothing executed
    text = " ".join(str(w.message) for w in seen)
    assert str(ckpt) in text and "refused by the safe loader" in text and "weights_only=False" not in text
    assert (ckpt.parent / f"{ckpt.name}.damaged").exists()  # set aside, as a damaged file
    assert again.epochs == clean.epochs  # trained from the start


def test_crafted_final_weights_are_refused_and_retrained(finished, tmp_path):
    from ogm_lib.recipe.rerun import load_trained_model

    folder, result = finished
    work = tmp_path / "results"
    shutil.copytree(folder, work)
    marker = tmp_path / "code-ran"
    ckpt = work / "checkpoints" / f"{result.key}.pt"
    torch.save({"key": result.key, "model": RunsCode(marker)}, ckpt)
    with pytest.warns(RuntimeWarning, match="refused by the safe loader.*retraining run"):
        model = load_trained_model(smoke(), 10, work)
    assert not marker.exists() and all(bool(torch.isfinite(p).all()) for p in model.parameters())


# ------------------------------------------------------------------------------------------------------
# 2 and 10. the avdigits cache proves what it holds
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def avdigits_dir(tmp_path_factory):
    """A data folder of its own (the recordings linked from the project's), so the tests' caches are apart."""
    from ogm_lib.method.data.fsdd import verify_fsdd
    from ogm_lib.method.paths import dataset_dir

    source = dataset_dir("avdigits")
    missing, mismatched = verify_fsdd(source)
    if missing or mismatched:
        pytest.skip("no verified FSDD recordings (python -m ogm_lib fetch avdigits)")
    root = tmp_path_factory.mktemp("avdigits")
    (root / "recordings").symlink_to(source / "recordings")
    return root


def _cache(config):
    from ogm_lib.method.data.avdigits import _hash, _knobs

    return Path(config.data_dir) / "cache" / f"avdigits-{_hash(_knobs(config, config.seed))}.pt"


def test_another_settings_cache_copied_over_is_rebuilt(avdigits_dir, recwarn):
    from ogm_lib.method.data.avdigits import load_avdigits

    mine = make_config("cpu", data_dir=str(avdigits_dir), audio_snr_db=-9, visual_noise=0.85)
    other = mine.replace(seed=1, visual_noise=0.2)
    honest = load_avdigits(mine, use_cache=False)
    load_avdigits(other)
    shutil.copyfile(_cache(other), _cache(mine))  # the wrong data under the expected name
    with pytest.warns(
        RuntimeWarning,
        match=r"avdigits cache .* was built for other data: data_seed 1 \(this "
        r"run: 0\), visual_noise 0.2 \(this run: 0.85\); rebuilding it",
    ):
        got = load_avdigits(mine)
    assert torch.equal(got.train.visual, honest.train.visual) and got.val.clip_ids == honest.val.clip_ids
    assert not [w for w in recwarn if "avdigits cache" in str(w.message)]
    again = load_avdigits(mine)  # the rebuilt cache is trusted, silently
    assert torch.equal(again.test.audio, honest.test.audio)


def test_a_cache_with_other_clips_is_rebuilt(avdigits_dir):
    from ogm_lib.method.data.avdigits import load_avdigits

    mine = make_config("cpu", data_dir=str(avdigits_dir), seed=2)
    load_avdigits(mine)
    payload = torch.load(_cache(mine), weights_only=True)
    payload["val"]["clip_ids"] = list(reversed(payload["val"]["clip_ids"]))  # knobs kept, clips changed
    torch.save(payload, _cache(mine))
    with pytest.warns(RuntimeWarning, match="holds other val clips than these knobs split off"):
        load_avdigits(mine)


@pytest.mark.parametrize("content", ["random bytes", "code"])
def test_an_unreadable_cache_is_one_line_and_rebuilt(content, avdigits_dir, tmp_path):
    from ogm_lib.method.data.avdigits import load_avdigits

    mine = make_config("cpu", data_dir=str(avdigits_dir), seed=3)
    marker = tmp_path / "code-ran"
    _cache(mine).parent.mkdir(parents=True, exist_ok=True)
    if content == "random bytes":
        _cache(mine).write_bytes(os.urandom(4096))
    else:
        torch.save({"knobs": RunsCode(marker)}, _cache(mine))
    with pytest.warns(RuntimeWarning) as seen:
        got = load_avdigits(mine)
    [note] = [str(w.message) for w in seen if "avdigits cache" in str(w.message)]
    assert "\n" not in note and "weights_only=False" not in note and note.endswith("rebuilding it")
    assert str(_cache(mine)) in note and ("unreadable" in note or "refused by the safe loader" in note)
    if content == "code":
        assert "refused by the safe loader" in note and "posix.system" in note  # names what it refused
    assert not marker.exists() and len(got.train) == 2430


# ------------------------------------------------------------------------------------------------------
# 5. a result file is data, not instructions
# ------------------------------------------------------------------------------------------------------


def _edit(path: Path, **config_changes) -> None:
    d = json.loads(path.read_text())
    d["config"].update(config_changes)
    path.write_text(json.dumps(d))


def test_fields_outside_the_key_of_a_result_steer_nothing(finished, tmp_path):
    from ogm_lib.recipe.rerun import config_of, verify_sample

    path, result = copy_of(finished, tmp_path)
    steer = tmp_path / "steered"
    _edit(
        path,
        tensorboard_dir=str(steer / "tb"),
        data_dir=str(steer / "data"),
        num_workers=7,
        results_dir=str(steer / "results"),
    )
    edited = RunResult.load(path)  # the key still holds: these fields are not in it
    cfg = config_of(edited)
    assert (cfg.tensorboard_dir, cfg.data_dir, cfg.num_workers, cfg.results_dir, cfg.device) == (
        None,
        None,
        0,
        None,
        "cpu",
    )
    assert cfg.key() == result.key
    lines = []
    assert verify_sample(tmp_path, n=1, seed=0, out=lines.append) == 0
    assert not steer.exists()  # nothing written where the file said
    # train reads the cached result back with the caller's bookkeeping, not the file's
    back = fit(smoke(), tmp_path)
    assert back.config["tensorboard_dir"] is None and back.config["data_dir"] is None


def test_a_resumed_run_records_the_callers_bookkeeping(tmp_path):
    cfg = smoke(epochs=2)
    assert fit(cfg.replace(num_workers=3), tmp_path, stop_after=1) is None
    done = fit(cfg, tmp_path)
    assert done.config["num_workers"] == 0 and RunResult.load(tmp_path / f"{cfg.key()}.json").config["num_workers"] == 0


# ------------------------------------------------------------------------------------------------------
# 6. accepted values that crashed later
# ------------------------------------------------------------------------------------------------------


def _no_training(monkeypatch):
    import ogm_lib.method.train as train

    monkeypatch.setattr(train, "train_one_epoch", lambda *a, **k: pytest.fail("a step ran for a refused config"))


@pytest.mark.parametrize(
    "batch_size, expected",
    [
        (1, "batch_size = 1"),
        (
            114,
            r"leave a last batch of 1 \(n mod "
            r"batch_size = 115 mod 114\)",
        ),
    ],
)
def test_a_batch_of_one_that_batchnorm_cannot_train_on_is_refused_before_the_first_step(
    batch_size, expected, tmp_path, monkeypatch
):
    _no_training(monkeypatch)
    cfg = smoke(batch_size=batch_size)  # 128 clips: 13 validation, 115 train
    with pytest.raises(ValueError, match=expected + ".*BatchNorm cannot train on one clip.*such as"):
        Trainer(cfg, tmp_path)


def test_a_batch_of_one_the_model_takes_is_left_alone():
    from ogm_lib.method.batches import has_lone_batch, last_batch, lone_batch_problem
    from ogm_lib.method.data import AVTensorDataset

    assert [last_batch(115, b) for b in (114, 115, 32, 200)] == [1, 115, 19, 115]
    assert has_lone_batch(115, 114) and has_lone_batch(5, 1) and not has_lone_batch(115, 32)

    class NoBatchNorm(torch.nn.Module):
        def forward(self, audio, visual):
            return audio.mean() + visual.mean()

    data = AVTensorDataset(torch.zeros(3, 1, 4, 4), torch.zeros(3, 3, 1, 4, 4), torch.zeros(3, dtype=torch.long), ["a"])
    assert lone_batch_problem(NoBatchNorm(), data, 2, "cpu") is None  # 3 mod 2 = 1, and it trains


def test_the_book_profiles_have_no_lone_batch():
    from ogm_lib.method.batches import has_lone_batch
    from ogm_lib.method.data.avdigits import split_sizes

    for profile in ("cpu", "converged", "gpu"):
        assert not has_lone_batch(split_sizes(0.1)["train"], make_config(profile).batch_size)


@pytest.mark.parametrize(
    "bad, expected",
    [
        (dict(seed=9223372036854775000), "seed = 9223372036854775000 is out of range; valid: 0 <= seed < "),
        (dict(dataset="avdigits", val_fraction=0.0001), "val_fraction = 0.0001 leaves no val clip of avdigits"),
    ],
)
def test_values_that_failed_after_data_was_read_are_refused_with_the_config(bad, expected, monkeypatch):
    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read for a bad config"))
    with pytest.raises(ValueError, match=re.escape(expected)):
        smoke(**bad)


def test_the_largest_seed_runs_its_generators():
    from ogm_lib.method.config import SEED_LIMIT

    seed = make_config("smoke", dataset="synthetic", seed=SEED_LIMIT - 1).seed
    for derived in (seed, seed + 1, seed + 2, seed * 1000 + 5):
        torch.Generator().manual_seed(derived)


def test_a_tensorboard_folder_that_is_a_file_is_refused_before_data_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read"))
    blocker = tmp_path / "tb"
    blocker.write_text("a file")
    with pytest.raises(NotADirectoryError, match=f"tensorboard_dir {blocker} is a file, not a folder"):
        Trainer(smoke(tensorboard_dir=str(blocker)), tmp_path / "results")


@pytest.mark.parametrize(
    "workers, expected",
    [
        ("two", "parameter workers = 'two' is not an integer"),
        (0, "parameter workers = 0 is out of range"),
        (1.5, "is not an integer"),
    ],
)
def test_notebook_workers_of_the_wrong_type_are_one_line(workers, expected, tmp_path, monkeypatch):
    from ogm_lib.recipe.book import train_seeds

    monkeypatch.setattr("ogm_lib.method.train.build_datasets", lambda c: pytest.fail("data read"))
    with pytest.raises(ValueError, match=re.escape(expected)):
        train_seeds({"row": smoke()}, 1, workers, tmp_path)
    with pytest.raises(ValueError, match="results_dir = 5 is not a folder path"):
        train_seeds({"row": smoke()}, 1, None, 5)


def test_notebook_workers_accepts_its_forms():
    from ogm_lib.method import checks

    assert [checks.workers(v) for v in (None, "None", 2, "3")] == [None, None, 2, 3]


# ------------------------------------------------------------------------------------------------------
# 7. list files cannot reach outside --raw
# ------------------------------------------------------------------------------------------------------


def test_list_entries_and_links_outside_raw_are_refused(tmp_path):
    from ogm_lib.method.data.lists import ksounds_jobs

    raw, secret = tmp_path / "raw", tmp_path / "outside" / "secret.mp4"
    (raw / "train").mkdir(parents=True)
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    (raw / "train" / "a.mp4").write_bytes(b"x")
    (raw / "train" / "link.mp4").symlink_to(secret)
    (raw / "train.csv").write_text(
        "clip,label\ntrain/a.mp4,dog\n../outside/secret.mp4,dog\n../../outside/secret.mp4,dog\ntrain/link.mp4,dog\n"
    )
    (raw / "test.csv").write_text("train/a.mp4,dog\n")
    jobs, info = ksounds_jobs(raw)
    videos = {j.name: j.video for j in jobs}
    assert videos["train/a"] == str(raw / "train" / "a.mp4")
    for name in ("../outside/secret.mp4", "train/link.mp4"):
        key = os.path.splitext(name)[0]
        assert videos[key] is None and "outside --raw" in info["missing"][name]
    assert all(secret.resolve() != Path(v).resolve() for v in videos.values() if v)


# ------------------------------------------------------------------------------------------------------
# 8. result files: strict JSON, every field the readers use
# ------------------------------------------------------------------------------------------------------


def test_a_nan_literal_is_damage(finished, tmp_path):
    path, _ = copy_of(finished, tmp_path)
    path.write_text(re.sub(r'"val_loss": [^,]+', '"val_loss": NaN', path.read_text(), count=1))
    with pytest.raises(DamagedFileError, match="not strict JSON: it holds the literal NaN"):
        RunResult.load(path)


@pytest.mark.parametrize("field", ["val_map", "test_acc", "val_acc_visual", "lr"])
def test_an_epoch_without_a_metric_the_readers_use_is_damage(field, finished, tmp_path):
    path, _ = copy_of(finished, tmp_path)
    d = json.loads(path.read_text())
    del d["epochs"][0][field]
    path.write_text(json.dumps(d))
    with pytest.raises(DamagedFileError, match=f"epoch 0 lacks {field}"):
        RunResult.load(path)


def test_infinities_are_written_explicitly_and_read_back(finished, tmp_path):
    _, result = finished
    r = RunResult(**{**result.__dict__, "epochs": [dict(e) for e in result.epochs]})
    r.epochs[0].update(val_loss=math.inf, test_loss=-math.inf, train_loss=math.nan)
    path = r.save(tmp_path)
    d = json.loads(path.read_text(), parse_constant=lambda t: pytest.fail(f"literal {t}"))
    assert (d["epochs"][0]["val_loss"], d["epochs"][0]["test_loss"], d["epochs"][0]["train_loss"]) == (
        "Infinity",
        "-Infinity",
        None,
    )
    back = RunResult.load(path).epochs[0]
    assert back["val_loss"] == math.inf and back["test_loss"] == -math.inf and math.isnan(back["train_loss"])


def test_train_json_is_strict_json_with_a_nan_metric(finished, tmp_path, capsys):
    path, result = copy_of(finished, tmp_path)
    d = json.loads(path.read_text())
    d["epochs"][d["best_epoch"]]["test_loss"] = None  # a NaN metric, as written
    path.write_text(json.dumps(d))
    assert main(["train", *SMOKE_ARGV, "--results-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda t: pytest.fail(f"literal {t}"))
    assert out["key"] == result.key and out["test_loss"] is None


# ------------------------------------------------------------------------------------------------------
# 9. book verify and the device check
# ------------------------------------------------------------------------------------------------------


def test_verify_sample_0_is_refused(finished, capsys):
    folder, _ = finished
    assert main(["book", "verify", "--sample", "0", "--results-dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "--sample = 0 is out of range; valid: --sample >= 1" in err and err.count("\n") == 1


def test_verify_skips_a_file_that_is_not_a_run(finished, tmp_path):
    from ogm_lib.recipe.rerun import verify_sample

    path, _ = copy_of(finished, tmp_path)
    (tmp_path / "notes.json").write_text('{"note": "not a run"}')
    lines = []
    assert verify_sample(tmp_path, n=1, seed=0, out=lines.append) == 0
    assert any("skipping 1 JSON file(s) not named by a run key" in ln and "notes.json" in ln for ln in lines)
    assert any(ln.startswith("same") for ln in lines)


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_even_for_a_cached_run(finished, capsys):
    folder, result = finished
    assert (folder / f"{result.key}.json").exists()
    assert main(["train", *SMOKE_ARGV, "--results-dir", str(folder), "--device", "cuda"]) == 1
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["book", "verify", "--results-dir", str(folder), "--device", "cuda"]) == 1
    assert "no CUDA GPU" in capsys.readouterr().err
