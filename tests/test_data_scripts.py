"""data_scripts on generated media: raw layout -> prepared store -> `build_datasets` batches.

Each dataset's raw layout is generated with PyAV (tests/media_fixtures.py), including one truncated file,
and the real command-line `main` of its script is run. Spectrogram helpers are checked against
independent references (scipy's STFT) and against the tones the fixtures put in.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av", reason="PyAV (the `data` extra) decodes the raw media")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import media_fixtures as mf  # noqa: E402

from ogm_lib.method.config import make_config  # noqa: E402
from ogm_lib.method.data import build_datasets  # noqa: E402
from ogm_lib.method.data import features as F  # noqa: E402
from ogm_lib.method.data import lists as L  # noqa: E402
from ogm_lib.method.data.prepared import IMAGENET_MEAN, IMAGENET_STD, frame_indices  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FRAME = 32  # stored frame side in the tests
IMAGE = 16  # image_size the loader crops/resizes to


def script(dataset: str):
    """The `data_scripts/prepare_<dataset>.py` module (the folder is not a package)."""
    path = ROOT / "data_scripts" / f"prepare_{dataset}.py"
    spec = importlib.util.spec_from_file_location(f"prepare_{dataset}_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(dataset: str, raw: Path, out: Path, *extra: str):
    return script(dataset).main(
        ["--raw", str(raw), "--out", str(out), "--frame-size", str(FRAME), "--workers", "1", "--quiet", *extra]
    )


def config(dataset: str, out: Path, **kw):
    kw.setdefault("n_frames", 1 if dataset == "cremad" else 3)
    return make_config("smoke", dataset=dataset, data_dir=str(out), image_size=IMAGE, **kw)


def mtimes(out: Path) -> dict:
    return {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------------
# raw datasets, generated once per module, each with a broken file
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    base = tmp_path_factory.mktemp("raw")
    mf.make_cremad(base / "cremad", actors=("1001", "1002"), split_files=True)
    mf.truncate(base / "cremad" / "VideoFlash" / "1002_DFA_SAD_XX.flv", 100)  # header only
    (base / "cremad" / "AudioWAV" / "1001_DFA_FEA_XX.wav").unlink()  # audio never downloaded
    mf.make_ksounds(base / "ksounds")
    mf.make_vggsound(base / "vggsound", missing=1)
    mf.truncate(base / "vggsound" / "video" / "-v1_1Ab_000031.mp4", 0.5)  # no moov atom
    mf.make_ave(base / "ave")
    mf.truncate(base / "ave" / "AVE" / "ave0V0q.mp4", 0.3)
    return base


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory):
    """Each dataset prepared once through its script; the reports of that first run."""
    out = tmp_path_factory.mktemp("prepared")
    reports = {
        "cremad": run_script("cremad", raw / "cremad", out / "cremad", "--split-dir", str(raw / "cremad" / "splits")),
        "ksounds": run_script("ksounds", raw / "ksounds", out / "ksounds", "--workers", "2"),
        "vggsound": run_script("vggsound", raw / "vggsound", out / "vggsound"),
        "ave": run_script("ave", raw / "ave", out / "ave"),
    }
    return out, reports


# ---------------------------------------------------------------------------------------------------
# audio features
# ---------------------------------------------------------------------------------------------------


def tone(hz, seconds, rate):
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def test_stft_matches_scipy_stft():
    from scipy import signal

    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    ours = np.exp(F.stft_log_magnitude(x, 512, 353)) - 1e-7
    win = signal.get_window("hann", 512)
    _, _, ref = signal.stft(x, window=win, nperseg=512, noverlap=512 - 353, boundary="zeros", padded=False)
    assert ours.shape == ref.shape == (257, 1 + 5000 // 353)
    np.testing.assert_allclose(ours, np.abs(ref) * win.sum(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "dataset,rate,n_fft,shape", [("cremad", 22050, 512, (257, 188)), ("vggsound", 16000, 256, (129, 1251))]
)
def test_stft_features_shape_and_peak(dataset, rate, n_fft, shape):
    spec = F.SPECS[dataset].features(tone(1000.0, 1.3, rate))  # short: tiled to the full length
    assert spec.shape == shape
    assert abs(spec.mean(axis=1).argmax() - 1000.0 * n_fft / rate) <= 1


def test_kaldi_fbank():
    rate = 16000
    fb = F.ksounds_features(tone(1000.0, 10.0, rate))
    assert fb.shape == (128, 1024)
    n_real = 1 + (10 * rate - 400) // 160  # snip_edges: 998 whole frames
    assert n_real == 998 and np.all(fb[:, n_real:] == 0) and np.all(fb[:, :n_real] != 0)
    # the loudest band is the one whose centre lies nearest 1 kHz on Kaldi's mel scale
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    centres = mel(20) + (mel(8000) - mel(20)) / 129 * np.arange(1, 129)
    assert abs(fb[:, :n_real].mean(axis=1).argmax() - np.abs(centres - mel(1000)).argmin()) <= 1
    banks = F.kaldi_mel_banks(128, 512, rate)
    assert banks.shape == (128, 257) and banks.max() <= 1 and np.all(banks[:, -1] == 0)


def test_ave_spectrogram():
    spec = F.ave_features(tone(440.0, 3.0, 16000) + 0.01 * np.random.default_rng(0).standard_normal(48000))
    assert spec.shape == (257, 1004)
    assert abs(spec.mean()) < 1e-3 and abs(spec.std() - 1) < 1e-3


def test_pick_fraction_is_deterministic():
    groups = [f"g{i}" for i in range(50)]
    a = L.pick_fraction(groups, 0.1, "val")
    assert len(a) == 5 and a == L.pick_fraction(reversed(groups * 2), 0.1, "val")
    assert a != L.pick_fraction(groups, 0.1, "test")  # salts give independent splits
    assert len(L.pick_fraction(["a", "b"], 0.1, "val")) == 1  # at least one, never all
    assert L.pick_fraction(["a"], 0.5, "val") == {"a"} and L.pick_fraction(groups, 0, "val") == set()


def test_frame_indices():
    torch.manual_seed(0)
    assert frame_indices(10, 3, train=False) == [1, 5, 8]
    assert frame_indices(3, 1, train=False) == [1]
    assert frame_indices(2, 3, train=False) == [0, 1, 1]
    draws = [frame_indices(10, 3, train=True) for _ in range(30)]
    assert all(d == sorted(set(d)) and len(d) == 3 and 0 <= d[0] and d[-1] < 10 for d in draws)
    assert len({tuple(d) for d in draws}) > 5  # it really samples
    assert {frame_indices(3, 1, train=True)[0] for _ in range(30)} == {0, 1, 2}


# ---------------------------------------------------------------------------------------------------
# the four scripts end to end
# ---------------------------------------------------------------------------------------------------

EXPECTED = {  # dataset: (train + val, val, test, classes, failed names)
    "cremad": (5, None, 5, 6, {"1002_DFA_SAD_XX", "1001_DFA_FEA_XX"}),
    "ksounds": (6, None, 2, 2, set()),
    "vggsound": (5, None, 2, 2, {"-v1_1Ab_000031", "gone0_000000"}),
    "ave": (7, 2, 2, 2, {"ave0V0q"}),
}
SPEC_SHAPES = {"cremad": (1, 257, 188), "ksounds": (1, 128, 1024), "vggsound": (1, 129, 626), "ave": (1, 257, 1004)}


@pytest.mark.parametrize("dataset", list(EXPECTED))
def test_prepare_and_load(dataset, prepared):
    out, reports = prepared
    n_trainval, n_val, n_test, n_classes, failed = EXPECTED[dataset]
    manifest = json.loads((out / dataset / "manifest.json").read_text())
    assert {f["name"] for f in manifest["failed"]} == failed
    assert all(f["reason"] for f in manifest["failed"])
    assert manifest["counts"]["prepared"] == n_trainval + n_test == reports[dataset].prepared
    assert manifest["arrays"]["frames"][2:] == [FRAME, FRAME, 3]

    splits = build_datasets(config(dataset, out / dataset, val_fraction=0.2))
    assert splits.num_classes == n_classes
    assert len(splits.train) + len(splits.val) == n_trainval and len(splits.test) == n_test
    assert len(splits.val) == (n_val if n_val is not None else 1)
    t = 1 if dataset == "cremad" else 3
    loader = torch.utils.data.DataLoader(splits.train, batch_size=4, shuffle=True)
    audio, visual, label = next(iter(loader))
    assert audio.shape == (min(4, len(splits.train)), *SPEC_SHAPES[dataset]) and audio.dtype == torch.float32
    assert visual.shape == (len(audio), 3, t, IMAGE, IMAGE) and visual.dtype == torch.float32
    assert label.dtype == torch.long and 0 <= label.min() and label.max() < n_classes
    assert torch.isfinite(audio).all() and torch.isfinite(visual).all()


@pytest.mark.parametrize("dataset", list(EXPECTED))
def test_rerun_is_a_noop(dataset, raw, prepared):
    out, _ = prepared
    before = mtimes(out / dataset)
    extra = ["--split-dir", str(raw / "cremad" / "splits")] if dataset == "cremad" else []
    report = run_script(dataset, raw / dataset, out / dataset, *extra)
    assert report.extracted == 0 and report.failed_now == 0 and not report.packed
    assert mtimes(out / dataset) == before


def test_labels_frames_and_tones_stay_together(prepared):
    """The colour of the square and the tone of each clip match its label (fixtures encode the class)."""
    out, _ = prepared
    splits = build_datasets(config("cremad", out / "cremad"))
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None, None], torch.tensor(IMAGENET_STD)[:, None, None, None]
    for i in range(len(splits.test)):
        audio, visual, label = splits.test[i]
        k = mf.CREMAD_EMOTIONS.index(splits.class_names[label])
        rgb = (visual * std + mean).amax(dim=(1, 2, 3))  # brightest value per channel
        assert ((rgb > 0.5).tolist()) == [c > 128 for c in mf.COLOURS[k]]
        assert abs(int(audio[0].mean(dim=1).argmax()) - mf.TONES[k] * 512 / 22050) <= 1


def test_cremad_hash_splits(tmp_path):
    names = mf.make_cremad(tmp_path / "raw", actors=("1001", "1002", "1003", "1004"), sentences=("DFA",))
    assert len(names) == 24
    report = run_script("cremad", tmp_path / "raw", tmp_path / "by_clip")
    assert report.prepared == 24
    by_actor = run_script("cremad", tmp_path / "raw", tmp_path / "by_actor", "--speaker-independent")
    assert by_actor.prepared == 24
    splits = build_datasets(config("cremad", tmp_path / "by_actor", val_fraction=0.3))
    actors = {
        s: {splits_name.split("_")[0] for splits_name in _names(getattr(splits, s))} for s in ("train", "val", "test")
    }
    assert all(actors[s] for s in actors)
    assert not (actors["train"] & actors["test"]) and not (actors["train"] & actors["val"])
    clip = build_datasets(config("cremad", tmp_path / "by_clip"))
    assert len(clip.test) == round(0.1 * 24) and len(clip.train) + len(clip.val) == 22


def _names(ds):
    manifest = json.loads((ds.root / "manifest.json").read_text())
    return [manifest["names"][r] for r in ds.rows]


def test_resume_after_interruption(prepared, raw, tmp_path):
    """A store whose run stopped midway (no manifest, a clip not yet written) is completed, not redone."""
    out, _ = prepared
    work = tmp_path / "vggsound"
    shutil.copytree(out / "vggsound", work)
    (work / "manifest.json").unlink()
    clip_dir = next(work.glob("clips-*"))
    victim = sorted(clip_dir.glob("*.npz"))[0]
    victim.unlink()
    report = run_script("vggsound", raw / "vggsound", work)
    assert report.extracted == 1 and report.packed and report.prepared == 5 + 2
    assert victim.exists()
    # --remove-clips: the packed store alone then makes reruns no-ops
    run_script("vggsound", raw / "vggsound", work, "--remove-clips", "--retry-failed")
    assert not list(work.glob("clips-*"))
    again = run_script("vggsound", raw / "vggsound", work)
    assert again.extracted == 0 and not again.packed
    assert len(build_datasets(config("vggsound", work)).test) == 2


def test_missing_store_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("OGM_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="prepare_cremad.py") as err:
        build_datasets(make_config("smoke", dataset="cremad"))
    assert str(tmp_path / "cremad") in str(err.value)


def test_store_of_another_dataset_is_refused(prepared):
    out, _ = prepared
    with pytest.raises(ValueError, match="ksounds"):
        build_datasets(config("ave", out / "ksounds"))


def test_repaired_file_is_picked_up(raw, tmp_path):
    """A failed clip is not retried while its file is unchanged, and is once the file is replaced."""
    src = tmp_path / "raw"
    shutil.copytree(raw / "vggsound", src)
    out = tmp_path / "out"
    first = run_script("vggsound", src, out)
    assert first.prepared == 7 and first.failed_now == 1
    assert run_script("vggsound", src, out).failed_now == 0  # unchanged: not decoded again
    mf.write_clip(src / "video" / "-v1_1Ab_000031.mp4", 1.5, mf.COLOURS[1], mf.TONES[1])
    fixed = run_script("vggsound", src, out)
    assert fixed.extracted == 1 and fixed.packed and fixed.prepared == 8
    assert [f["name"] for f in fixed.failed] == ["gone0_000000"]
    assert len(build_datasets(config("vggsound", out)).test) == 2
