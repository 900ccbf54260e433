"""The data path's guarantees: one data folder, checked stores, the data in the cache key, speaker splits.

Each test builds what it needs from generated CREMA-D media (`media_fixtures`, PyAV) except the key and
resolver tests, which read no data.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ogm_lib.method.config import PINNED_FINGERPRINTS, config_key, make_config
from ogm_lib.method.data.fingerprint import fingerprinted
from ogm_lib.method.paths import dataset_dir

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------
# one resolver
# ---------------------------------------------------------------------------------------------------


def test_every_data_folder_resolves_against_the_repository_root(tmp_path, monkeypatch):
    from data_scripts.cli import base_parser
    from ogm_lib.method.data.fsdd import default_data_dir
    from ogm_lib.method.data.prepare import default_out_dir
    from ogm_lib.method.data.prepared import prepared_dir

    monkeypatch.delenv("OGM_DATA_DIR", raising=False)
    for cwd in (ROOT, ROOT / "notebooks", tmp_path):
        monkeypatch.chdir(cwd)
        assert default_out_dir("cremad") == ROOT / "data" / "cremad" == dataset_dir("cremad")
        assert prepared_dir(make_config("smoke", dataset="cremad")) == ROOT / "data" / "cremad"
        assert default_data_dir("avdigits") == ROOT / "data" / "avdigits"
        assert base_parser("cremad", "").parse_args(["--raw", "x"]).out == str(ROOT / "data" / "cremad")
    monkeypatch.setenv("OGM_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_out_dir("ave") == tmp_path / "elsewhere" / "ave" == default_data_dir("ave")


# ---------------------------------------------------------------------------------------------------
# the key: committed runs keep theirs, other data gets another
# ---------------------------------------------------------------------------------------------------


def test_default_data_keeps_its_keys():
    cfg = make_config("cpu")
    assert cfg.split == "official"
    # the pinned inputs of avdigits (FSDD checksums, preprocessing version): if this fails, every avdigits
    # key changes with them, and the book's committed runs no longer match (retrain them, on purpose)
    assert cfg.data_fingerprint == PINNED_FINGERPRINTS["avdigits"]
    before = {k: v for k, v in cfg.to_dict().items() if k not in ("split", "data_fingerprint")}
    assert config_key(before) == cfg.key()
    assert cfg.replace(data_fingerprint="0" * 16).key() != cfg.key()  # changed inputs, new key
    assert cfg.replace(split="speaker").key() != cfg.key()
    synthetic = make_config("smoke", dataset="synthetic")
    assert synthetic.data_fingerprint is None


def test_gpu_profile_is_the_papers_model_and_schedule_on_the_default_data():
    gpu, paper = make_config("gpu"), make_config("paper")
    assert gpu.dataset == "avdigits" and gpu.device == "cpu"  # the device is the user's choice
    for name in ("width", "epochs", "batch_size", "lr", "lr_step", "lr_gamma", "modulation_start", "modulation_end"):
        assert getattr(gpu, name) == getattr(paper, name), name
    assert (gpu.image_size, gpu.n_frames) == (make_config("cpu").image_size, make_config("cpu").n_frames)


def test_speaker_split_needs_speakers():
    with pytest.raises(ValueError, match="speaker ids"):
        make_config("smoke", dataset="ksounds", split="speaker")
    with pytest.raises(ValueError, match="official, speaker"):
        make_config("smoke", split="actors")


def test_avdigits_speaker_split_holds_speakers_out():
    from ogm_lib.method.data.avdigits import _knobs, split_clips
    from ogm_lib.method.data.fsdd import expected_checksums, parse_fsdd_name

    names = list(expected_checksums())
    split = split_clips(names, 0.1, data_seed=3, rule="speaker")
    who = {s: {parse_fsdd_name(n)[1] for n, x in zip(names, split) if x == s} for s in ("train", "val", "test")}
    assert [len(who[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    assert not (who["train"] & who["val"]) and not (who["train"] & who["test"]) and not (who["val"] & who["test"])
    assert (split == split_clips(names, 0.1, data_seed=7, rule="speaker")).all()  # not drawn by the seed
    official = split_clips(names, 0.1, data_seed=3)
    assert all(
        len({parse_fsdd_name(n)[1] for n, x in zip(names, official) if x == s}) == 6 for s in ("train", "val", "test")
    )
    assert "split" not in _knobs(make_config("cpu"), 0)  # the official split's caches keep their names
    assert _knobs(make_config("cpu", split="speaker"), 0)["split"] == "speaker"


# ---------------------------------------------------------------------------------------------------
# stores: checked on open, repaired by prepare, fingerprinted into the key
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    # PyAV only for the tests from here on; the ones above run without it
    pytest.importorskip("av", reason="PyAV (the `data` extra) makes and decodes the raw media")
    import media_fixtures as mf

    root = tmp_path_factory.mktemp("raw") / "cremad"
    mf.make_cremad(root, actors=("1001", "1002", "1003", "1004"))
    return root


@pytest.fixture(scope="module")
def store(raw, tmp_path_factory):
    """A CREMA-D store hash-split by clip (actors in both train and test), prepared once; tests copy it."""
    out = tmp_path_factory.mktemp("store") / "cremad"
    prepare(raw, out)
    return out


def prepare(raw, out, *extra):
    from ogm_lib.method.data.prepare import prepare_cremad

    kw = dict(workers=1, frame_size=32, quiet=True)
    kw.update(extra[0] if extra else {})
    return prepare_cremad(raw, out, **kw)


def load(out, **kw):
    from ogm_lib.method.data import build_datasets

    return build_datasets(make_config("smoke", dataset="cremad", data_dir=str(out), n_frames=1, **kw))


def copy(store, tmp_path):
    work = tmp_path / "cremad"
    shutil.copytree(store, work)
    return work


def test_manifest_records_every_file(store):
    from ogm_lib.method.data.store import STORE_FILES, store_fingerprint

    manifest = json.loads((store / "manifest.json").read_text())
    assert set(manifest["files"]) == set(STORE_FILES)
    frames = manifest["files"]["frames.npy"]
    assert frames["shape"] == [24, 3, 32, 32, 3] and frames["dtype"] == "uint8"
    assert frames["bytes"] == (store / "frames.npy").stat().st_size and len(frames["sha256"]) == 64
    assert manifest["store_fingerprint"] == store_fingerprint(manifest["params_hash"], manifest["files"])
    made = make_config("smoke", dataset="cremad", data_dir=str(store))
    assert made.data_fingerprint is None  # making a config reads no file ...
    assert fingerprinted(made).data_fingerprint == manifest["store_fingerprint"]  # ... the store is read here


@pytest.mark.parametrize("damage", ["truncate frames", "cut train.csv", "edit test.csv", "delete spec"])
def test_damaged_store_is_named_and_repaired(damage, store, raw, tmp_path):
    from ogm_lib.method.fileio import DamagedFileError

    work = copy(store, tmp_path)
    good = load(work)
    name = {
        "truncate frames": "frames.npy",
        "cut train.csv": "train.csv",
        "edit test.csv": "test.csv",
        "delete spec": "spec.npy",
    }[damage]
    path = work / name
    if damage == "truncate frames":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "cut train.csv":
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    elif damage == "edit test.csv":  # same clips, one label changed
        lines = path.read_text().splitlines(keepends=True)
        row = lines[1].split(",")
        row[2] = "NEU" if row[2] != "NEU" else "ANG"
        path.write_text("".join([lines[0], ",".join(row), *lines[2:]]))
    else:
        path.unlink()
    with pytest.raises(DamagedFileError) as err:
        load(work)
    assert err.value.path == path and "prepare_cremad.py" in str(err.value)
    if damage == "cut train.csv":
        assert "lists 2 clips, the manifest says" in str(err.value)
    report = prepare(raw, work)
    assert report.packed and report.repaired and report.repaired[0].startswith(name)
    assert report.extracted == 0  # rebuilt from the per-clip files: nothing decoded again
    again = load(work)
    assert [len(getattr(again, s)) for s in ("train", "val", "test")] == [
        len(getattr(good, s)) for s in ("train", "val", "test")
    ]
    assert not prepare(raw, work).packed  # and now it is done


def test_damaged_array_without_clip_files_is_decoded_again(store, raw, tmp_path):
    work = copy(store, tmp_path)
    prepare(raw, work, dict(remove_clips=True))
    assert not list(work.glob("clips-*"))
    spec = work / "spec.npy"
    spec.write_bytes(spec.read_bytes()[:-10])
    report = prepare(raw, work)
    assert report.packed and report.extracted == 24  # the old arrays cannot be trusted: every clip decoded
    assert len(load(work).test) > 0


def test_every_open_finds_a_changed_byte(store, raw, tmp_path):
    """Issue 26: same-size damage inside a large array is found when the store is opened (content check by
    default, hashed once per process), not only with --deep; prepare repairs it without --verify."""
    from ogm_lib.method.data.store import problems
    from ogm_lib.method.fileio import DamagedFileError

    work = copy(store, tmp_path)
    load(work)  # hashed once, remembered by size and mtime
    frames = work / "frames.npy"
    data = bytearray(frames.read_bytes())
    data[-1] ^= 0xFF
    frames.write_bytes(bytes(data))
    manifest = json.loads((work / "manifest.json").read_text())
    assert [n for n, _ in problems(work, manifest)] == ["frames.npy"]  # same size and header: found anyway
    with pytest.raises(DamagedFileError, match="frames.npy: content differs from the manifest's SHA-256"):
        load(work)
    assert prepare(raw, work).repaired
    assert problems(work, json.loads((work / "manifest.json").read_text()), deep=True) == []


def test_store_from_before_the_checks_is_repacked_not_decoded(store, raw, tmp_path):
    work = copy(store, tmp_path)
    manifest = json.loads((work / "manifest.json").read_text())
    del manifest["files"], manifest["store_fingerprint"]
    (work / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(next(work.glob("clips-*")))  # only the old arrays are left
    with pytest.raises(ValueError, match="prepared before stores were checked"):
        load(work)
    report = prepare(raw, work)
    assert report.packed and report.extracted == 0
    assert load(work).num_classes == 6


def test_a_changed_store_gets_a_new_key(store, raw, tmp_path):
    import media_fixtures as mf

    work = copy(store, tmp_path)
    before = fingerprinted(make_config("smoke", dataset="cremad", data_dir=str(work), n_frames=1))
    more = tmp_path / "raw"
    shutil.copytree(raw, more)
    mf.make_cremad(more, actors=("1005",))  # the download completed: six more clips
    assert prepare(more, work).prepared == 30
    after = fingerprinted(make_config("smoke", dataset="cremad", data_dir=str(work), n_frames=1))
    assert after.key() != before.key()
    assert before.replace(seed=1).data_fingerprint == before.data_fingerprint
    moved = before.replace(data_dir=str(work))  # other data: the old fingerprint is dropped
    assert moved.data_fingerprint is None
    assert fingerprinted(moved).key() == after.replace(seed=0).key()  # and read again where it is opened
    from ogm_lib.method.data import build_datasets

    with pytest.raises(ValueError, match="prepared again or replaced since"):
        build_datasets(before)  # an old config never trains on new data


# ---------------------------------------------------------------------------------------------------
# speaker splits and the checker
# ---------------------------------------------------------------------------------------------------


def test_cremad_speaker_split_is_disjoint_and_uses_every_clip(store):
    official, speaker = load(store), load(store, split="speaker")
    actors = {s: set(getattr(speaker, s).speakers) for s in ("train", "val", "test")}
    assert all(actors.values())
    assert (
        not (actors["train"] & actors["val"])
        and not (actors["train"] & actors["test"])
        and not (actors["val"] & actors["test"])
    )
    assert sum(len(getattr(speaker, s)) for s in actors) == sum(len(getattr(official, s)) for s in actors) == 24
    assert set(official.train.speakers) & set(official.test.speakers)  # the hash split by clip shares actors
    assert official.split_hash != speaker.split_hash


def test_checker_reports_overlap_and_writes_the_split_manifest(store, tmp_path, capsys):
    from ogm_lib.__main__ import main

    out = tmp_path / "official.json"
    assert main(["data", "check", "--dataset", "cremad", "--data-dir", str(store), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    manifest = json.loads(out.read_text())
    shared = manifest["speaker_overlap"]["train-test"]
    assert shared and f"speakers in both train-test: {len(shared)}" in text
    assert "store " in text and "good" in text
    assert manifest["hash"] in text and manifest["hash"] == load(store).split_hash
    assert sum(manifest["splits"]["test"]["classes"].values()) == manifest["splits"]["test"]["clips"]

    assert main(["data", "check", "--dataset", "cremad", "--data-dir", str(store), "--split", "speaker"]) == 0
    text = capsys.readouterr().out
    assert all(f"speakers in both {p}: 0" in text for p in ("train-val", "train-test", "val-test"))
    written = list((store / "split-manifests").glob("cremad-speaker-*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["speaker_overlap"]["train-test"] == []
    shutil.rmtree(store / "split-manifests")


def test_checker_names_a_damaged_file(store, tmp_path, capsys):
    from ogm_lib.__main__ import main

    work = copy(store, tmp_path)
    (work / "nframes.npy").write_bytes(np.zeros(3, np.int16).tobytes())
    assert main(["data", "check", "--dataset", "cremad", "--data-dir", str(work)]) == 1
    assert f"{work / 'nframes.npy'}:" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------
# issue 26: stores checked by content on every open; prepare repairs damaged clip files, leaves no half store
# ---------------------------------------------------------------------------------------------------


def _flip_inside(path: Path, offset: int = 4096, length: int = 600) -> None:
    """Overwrite `length` bytes inside a file, keeping its size (the damage a size check cannot see)."""
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = bytes(b ^ 0xFF for b in data[offset : offset + length])
    path.write_bytes(bytes(data))


def test_a_large_array_is_hashed_once_per_process(store, tmp_path, monkeypatch):
    import ogm_lib.method.data.store as st

    work = copy(store, tmp_path)
    hashed = []
    real = st.sha256_of
    monkeypatch.setattr(st, "sha256_of", lambda p, *a: hashed.append(Path(p).name) or real(p, *a))
    load(work)
    load(work)
    assert hashed.count("frames.npy") == 1 and hashed.count("spec.npy") == 1  # remembered by size + mtime
    _flip_inside(work / "spec.npy")  # a write: hashed again
    with pytest.raises(Exception, match="spec.npy: content differs"):
        load(work)
    assert hashed.count("spec.npy") == 2


def test_data_check_checks_content_by_default(store, tmp_path, capsys):
    from ogm_lib.__main__ import main

    work = copy(store, tmp_path)
    _flip_inside(work / "frames.npy")
    assert main(["data", "check", "--dataset", "cremad", "--data-dir", str(work)]) == 1
    assert f"{work / 'frames.npy'}: content differs from the manifest's SHA-256" in capsys.readouterr().out


def test_a_damaged_clip_file_is_named_removed_and_decoded_again(store, raw, tmp_path):
    work = copy(store, tmp_path)
    good = load(work)
    clip = sorted(work.glob("clips-*/*.npz"))[0]
    clip.write_bytes(clip.read_bytes()[:200])  # a per-clip file cut short (BadZipFile)
    _flip_inside(work / "frames.npy")  # and a store that must be repacked from them
    with pytest.warns(
        RuntimeWarning, match=f"damaged clip file {re.escape(str(clip))}: unreadable .*removed, decoding .* again"
    ):
        report = prepare(raw, work)
    assert report.packed and [r.split(":")[0] for r in report.redecoded] == [clip.name]
    assert clip.exists() and (work / "manifest.json").exists() and not list(work.glob("*.tmp*"))
    again = load(work)
    assert [len(getattr(again, s)) for s in ("train", "val", "test")] == [
        len(getattr(good, s)) for s in ("train", "val", "test")
    ]


def test_an_interrupted_packing_leaves_the_previous_store_whole(store, raw, tmp_path, monkeypatch):
    import ogm_lib.method.data.prepare as prep

    work = copy(store, tmp_path)
    (work / "train.csv").write_text("row,name,label,group\n")  # damaged: prepare must repack
    before = {p.name: p.read_bytes() for p in work.glob("*.npy")}
    calls = {"n": 0}
    real = prep.read_clip

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(prep, "read_clip", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(raw, work)
    assert (work / "manifest.json").exists() and not list(work.glob("*.tmp*"))
    assert {p.name: p.read_bytes() for p in work.glob("*.npy")} == before
    monkeypatch.setattr(prep, "read_clip", real)
    assert prepare(raw, work).packed and load(work).train
