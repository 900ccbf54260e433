"""The default data: FSDD fetching and verification, `avdigits` splits and pairing, `synthetic` knobs.

The avdigits tests copy the real FSDD from the local mirror (`../shared/data/fsdd`, or $OGM_FSDD_MIRROR)
into a temporary directory once per session; they are skipped where no mirror exists.
"""

from __future__ import annotations

import shutil
import tarfile
import time

import pytest
import torch

from ogm_lib.method.config import RunConfig
from ogm_lib.method.data import avdigits, fsdd
from ogm_lib.method.data.fsdd import FSDDChecksumError, fetch_fsdd, find_mirror, fsdd_split, parse_fsdd_name
from ogm_lib.method.data.synthetic import make_synthetic

try:
    MIRROR = find_mirror()
except FileNotFoundError:
    MIRROR = None
needs_mirror = pytest.mark.skipif(MIRROR is None, reason="no local FSDD mirror (set OGM_FSDD_MIRROR)")


# --------------------------------------------------------------------------------------------- names, split


def test_parse_and_official_split():
    assert parse_fsdd_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_fsdd_name("/x/recordings/0_yweweler_4.wav") == (0, "yweweler", 4)
    assert [fsdd_split(f"3_theo_{i}.wav") for i in (0, 4, 5, 49)] == ["test", "test", "train", "train"]
    with pytest.raises(ValueError):
        parse_fsdd_name("7-jackson-32.wav")
    with pytest.raises(ValueError):
        fsdd_split("7_jackson_50.wav")


def test_checksum_list_is_complete():
    sums = fsdd.expected_checksums()
    assert len(sums) == 3000
    assert sum(fsdd_split(n) == "test" for n in sums) == 300


def test_default_data_dir_respects_env(monkeypatch, tmp_path):
    monkeypatch.setenv("OGM_DATA_DIR", str(tmp_path))
    assert fsdd.default_data_dir("avdigits") == tmp_path / "avdigits"


# --------------------------------------------------------------------------------------------- fetching


@pytest.fixture(scope="session")
def fsdd_dir(tmp_path_factory):
    """A verified FSDD copy in a temporary directory, made by loading avdigits (auto-fetch from the mirror)."""
    if MIRROR is None:
        pytest.skip("no local FSDD mirror")
    return tmp_path_factory.mktemp("avdigits")


@pytest.fixture(scope="session")
def splits(fsdd_dir):
    """avdigits at the defaults, built once (this also copies the recordings from the mirror)."""
    t = time.perf_counter()
    s = avdigits.load_avdigits(RunConfig(data_dir=str(fsdd_dir)))
    s.build_seconds = time.perf_counter() - t
    return s


@needs_mirror
def test_load_auto_fetches_from_mirror_then_fetch_is_noop(splits, fsdd_dir):
    assert fsdd.verify_fsdd(fsdd_dir) == ([], [])
    report = fetch_fsdd(fsdd_dir)
    assert (report.already_ok, report.copied, report.downloaded) == (3000, 0, 0)
    assert "nothing to do" in str(report)


@needs_mirror
def test_checksum_mismatch_detected_and_repaired(fsdd_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(fsdd_dir / "recordings", bad / "recordings")
    victim = bad / "recordings" / "5_lucas_17.wav"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    (bad / "recordings" / "9_george_3.wav").unlink()

    assert fsdd.verify_fsdd(bad) == (["9_george_3.wav"], ["5_lucas_17.wav"])
    # a corrupt mirror is refused, naming the file, and nothing wrong lands at the destination
    with pytest.raises(FSDDChecksumError, match="5_lucas_17.wav"):
        fetch_fsdd(tmp_path / "fresh", mirror=bad, allow_download=False)
    assert not (tmp_path / "fresh" / "recordings" / "5_lucas_17.wav").exists()
    # a good mirror repairs the copy
    report = fetch_fsdd(bad, mirror=MIRROR)
    assert report.replaced == ["5_lucas_17.wav"] and report.copied == 2
    assert fsdd.verify_fsdd(bad) == ([], [])


@needs_mirror
def test_download_path_extracts_only_recordings(tmp_path, monkeypatch):
    """The public-archive path, on a local tar laid out like GitHub's (no network)."""
    monkeypatch.setenv("OGM_FSDD_MIRROR", "none")
    archive = tmp_path / "fsdd.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(MIRROR, arcname="free-spoken-digit-dataset-1.0.10/recordings")
        tar.add(fsdd.CHECKSUM_FILE, arcname="free-spoken-digit-dataset-1.0.10/README.md")
    report = fetch_fsdd(tmp_path / "dl", url=archive.as_uri())
    assert report.downloaded == 3000
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["recordings"]
    assert len(list((tmp_path / "dl" / "recordings").iterdir())) == 3000


def test_missing_data_message(tmp_path, monkeypatch):
    monkeypatch.setenv("OGM_FSDD_MIRROR", "none")
    with pytest.raises(FileNotFoundError, match=r"data_scripts/fetch_fsdd\.py"):
        avdigits.load_avdigits(RunConfig(data_dir=str(tmp_path / "nothing")))


@needs_mirror
def test_fetch_script_cli(fsdd_dir, splits, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data_scripts" / "fetch_fsdd.py"
    spec = importlib.util.spec_from_file_location("fetch_fsdd_script", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--dest", str(fsdd_dir), "--no-download"]) == 0
    assert "nothing to do" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- avdigits


@needs_mirror
def test_avdigits_sizes_shapes_dtypes(splits):
    assert (len(splits.train), len(splits.val), len(splits.test)) == (2430, 270, 300)
    assert splits.class_names == [str(d) for d in range(10)]
    for ds in (splits.train, splits.val, splits.test):
        assert ds.audio.shape[1:] == (1, 65, 32) and ds.audio.dtype == torch.float32
        assert ds.visual.shape[1:] == (3, 3, 16, 16) and ds.visual.dtype == torch.float32
        a, v, y = ds[0]
        assert a.shape == (1, 65, 32) and v.shape == (3, 3, 16, 16) and 0 <= int(y) < 10
        assert torch.isfinite(ds.audio).all() and torch.isfinite(ds.visual).all()
    # validation is stratified: 27 clips per digit; test is takes 0-4
    assert torch.bincount(splits.val.labels).tolist() == [27] * 10
    assert all(fsdd_split(c) == "test" for c in splits.test.clip_ids)
    # standardised on train
    assert abs(splits.train.audio.mean().item()) < 1e-3 and abs(splits.train.audio.std().item() - 1) < 1e-3


@needs_mirror
def test_avdigits_splits_disjoint_and_paired_by_label(splits):
    from sklearn.datasets import load_digits

    target = load_digits().target
    sets = [splits.train, splits.val, splits.test]
    clips = [set(ds.clip_ids) for ds in sets]
    images = [set(ds.image_ids.tolist()) for ds in sets]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not clips[i] & clips[j]
            assert not images[i] & images[j]
    assert sum(map(len, clips)) == 3000
    for ds in sets:
        assert (torch.as_tensor(target[ds.image_ids.numpy()]) == ds.labels).all()
        assert [parse_fsdd_name(c)[0] for c in ds.clip_ids] == ds.labels.tolist()


@needs_mirror
def test_avdigits_deterministic_and_cached(splits, fsdd_dir):
    config = RunConfig(data_dir=str(fsdd_dir))
    caches = list((fsdd_dir / "cache").glob("avdigits-*.pt"))
    assert len(caches) == 1
    t = time.perf_counter()
    cached = avdigits.load_avdigits(config)
    assert time.perf_counter() - t < 2.0
    rebuilt = avdigits.load_avdigits(config, use_cache=False)
    for ds_a, ds_b, ds_c in zip(
        (splits.train, splits.val, splits.test),
        (cached.train, cached.val, cached.test),
        (rebuilt.train, rebuilt.val, rebuilt.test),
    ):
        for d in (ds_b, ds_c):
            assert torch.equal(ds_a.audio, d.audio) and torch.equal(ds_a.visual, d.visual)
            assert torch.equal(ds_a.labels, d.labels) and ds_a.clip_ids == d.clip_ids
            assert torch.equal(ds_a.image_ids, d.image_ids)
    # the data seed and every data knob change the cache key
    assert avdigits._hash(avdigits._knobs(config, 1)) != avdigits._hash(avdigits._knobs(config, 0))
    assert avdigits._hash(avdigits._knobs(config.replace(visual_noise=0.1), 0)) != avdigits._hash(
        avdigits._knobs(config, 0)
    )


@needs_mirror
def test_avdigits_seed_varies_train_and_val_draws_but_not_test(splits, fsdd_dir):
    other = avdigits.load_avdigits(RunConfig(data_dir=str(fsdd_dir), seed=1))
    # test: the same clips, images and raw tensors (each run standardises with its own train statistics)
    assert other.test.clip_ids == splits.test.clip_ids
    assert torch.equal(other.test.image_ids, splits.test.image_ids)
    for key in ("audio", "visual"):
        raw = [getattr(s.test, key) * s.test.stats[key][1] + s.test.stats[key][0] for s in (splits, other)]
        assert torch.allclose(raw[0], raw[1], atol=1e-4)
    # validation carve-out, train pairing, train noise: drawn from the seed
    assert set(other.val.clip_ids) != set(splits.val.clip_ids)
    assert torch.bincount(other.val.labels).tolist() == [27] * 10
    same_clips = [other.train.clip_ids.index(c) for c in splits.train.clip_ids if c in set(other.train.clip_ids)]
    mine = [i for i, c in enumerate(splits.train.clip_ids) if c in set(other.train.clip_ids)]
    assert (other.train.image_ids[same_clips] != splits.train.image_ids[mine]).float().mean() > 0.5
    assert set(other.val.image_ids.tolist()) != set(splits.val.image_ids.tolist())
    assert not set(other.val.image_ids.tolist()) & set(splits.test.image_ids.tolist())


# --------------------------------------------------------------------------------------------- synthetic


def _centroid_accuracy(train, test, get):
    """Nearest-class-mean accuracy: a quick measure of how separable a modality is."""
    xtr, xte = get(train).flatten(1), get(test).flatten(1)
    means = torch.stack([xtr[train.labels == c].mean(0) for c in range(10)])
    return (torch.cdist(xte, means).argmin(1) == test.labels).float().mean().item()


def test_synthetic_shapes_sizes_determinism():
    config = RunConfig(dataset="synthetic", synthetic_size=500, n_frames=2, image_size=12)
    s = make_synthetic(config)
    assert (len(s.train), len(s.val), len(s.test)) == (450, 50, 100)
    assert s.train.audio.shape == (450, 1, 32, 32) and s.train.visual.shape == (450, 3, 2, 12, 12)
    assert s.train.audio.dtype == s.train.visual.dtype == torch.float32
    assert torch.bincount(s.train.labels, minlength=10).tolist() == [45] * 10
    again = make_synthetic(config.replace(seed=123))  # the run seed does not change the data
    assert torch.equal(s.train.audio, again.train.audio) and torch.equal(s.test.visual, again.test.visual)


def test_synthetic_difficulty_knobs():
    base = RunConfig(dataset="synthetic", synthetic_size=1000)
    acc = {}
    for name, cfg in {
        "easy": base.replace(audio_snr_db=10.0, visual_noise=0.1),
        "hard": base.replace(audio_snr_db=-10.0, visual_noise=2.0),
    }.items():
        s = make_synthetic(cfg)
        acc[name] = (
            _centroid_accuracy(s.train, s.test, lambda d: d.audio),
            _centroid_accuracy(s.train, s.test, lambda d: d.visual[:, 0]),
        )
    assert acc["easy"][0] > acc["hard"][0] + 0.2  # audio SNR matters
    assert acc["easy"][1] > acc["hard"][1] + 0.2  # visual noise matters
    assert min(acc["hard"]) > 0.1 - 0.05  # still about chance or better, never broken
