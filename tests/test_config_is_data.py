"""A `RunConfig` is data: making one reads no file; a prepared store's fingerprint is filled in where the data
is opened (`data/fingerprint.py`), and a store's config is not keyed before that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys

import pytest

from ogm_lib.ground.catalogue import FSDD_CHECKSUMS_SHA256, PINNED_FINGERPRINTS
from ogm_lib.method.config import RunConfig, make_config
from ogm_lib.method.data import avdigits, fingerprint, fsdd
from ogm_lib.method.data.fingerprint import fingerprinted

#: set while a block must touch no file (`no_file_access`)
_GUARD = {"on": False}
#: audit events of opening or listing a file (builtins.open, io.open, os.open, Path.open/read_*, os.scandir ...)
_FILE_EVENTS = ("open", "os.listdir", "os.scandir", "glob.glob")


def _audit(event: str, args) -> None:
    if _GUARD["on"] and event in _FILE_EVENTS:
        raise AssertionError(f"a file was touched: {event} {args!r}")


sys.addaudithook(_audit)  # for the whole process (a hook cannot be removed), silent unless guarded


@contextlib.contextmanager
def no_file_access(monkeypatch):
    """Any file opened or listed (audit events) or stat-ed (os.stat, os.lstat) in the block fails the test."""

    def refuse(path, *args, **kwargs):
        raise AssertionError(f"a file was stat-ed: {path}")

    with monkeypatch.context() as m:
        m.setattr(os, "stat", refuse)
        m.setattr(os, "lstat", refuse)
        _GUARD["on"] = True
        try:
            yield
        finally:
            _GUARD["on"] = False


def fake_store(path, fingerprint_value: str = "f" * 16):
    """A folder holding only a manifest: enough to be fingerprinted (not to be loaded)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(json.dumps({"dataset": "cremad", "store_fingerprint": fingerprint_value}))
    return path


def test_making_a_config_opens_no_file(tmp_path, monkeypatch):
    store = fake_store(tmp_path / "cremad")  # a store never seen before: nothing of it is cached
    for warm in (dict(), dict(split="speaker"), dict(dataset="synthetic")):
        make_config("smoke", **warm)  # modules imported (code, not data) before the guard
    with no_file_access(monkeypatch):
        # a val_fraction no test used yet: its split sizes are not cached, and must come from the catalogue
        plain = make_config("cpu", val_fraction=0.137)
        speaker = make_config("converged", split="speaker", val_fraction=0.211, train_fraction=0.5)
        synthetic = make_config("smoke", dataset="synthetic")
        cremad = make_config("smoke", dataset="cremad", data_dir=str(store))
        moved = plain.replace(dataset="cremad", data_dir=str(store / "elsewhere"), seed=3)
        again = RunConfig(**plain.to_dict())
        keys = [c.key() for c in (plain, speaker, synthetic, again)]  # keying reads no file either
        with pytest.raises(ValueError, match="leaves no val clip"):
            make_config("cpu", val_fraction=0.0001)  # the split-size check, from the names
    assert plain.data_fingerprint == speaker.data_fingerprint == PINNED_FINGERPRINTS["avdigits"]
    assert synthetic.data_fingerprint is None
    assert cremad.data_fingerprint is None and moved.data_fingerprint is None  # filled in where opened
    assert keys[0] == keys[3] and len(set(keys)) == 3


def test_a_stores_config_is_keyed_only_once_fingerprinted(tmp_path):
    store = fake_store(tmp_path / "cremad", "a" * 16)
    cfg = make_config("smoke", dataset="cremad", data_dir=str(store))
    with pytest.raises(ValueError, match=r"no data fingerprint yet.*fingerprinted\(config\)"):
        cfg.key()
    filled = fingerprinted(cfg)
    assert filled.data_fingerprint == "a" * 16 and cfg.data_fingerprint is None  # a copy; the config is data
    assert fingerprinted(filled) is filled  # filled once: kept (the loader checks it)
    assert filled.key() == make_config("smoke", dataset="cremad", data_fingerprint="a" * 16).key()
    assert filled.key() != fingerprinted(cfg.replace(data_dir=str(fake_store(tmp_path / "b", "b" * 16)))).key()
    from ogm_lib.method.results import result_path

    assert result_path(cfg, tmp_path / "results") == tmp_path / "results" / f"{filled.key()}.json"
    from ogm_lib.recipe.executors import take_shard

    assert [c.data_fingerprint for c in take_shard([cfg, cfg.replace(seed=1)], "0/1")] == ["a" * 16] * 2


def test_a_missing_store_names_the_command_that_prepares_it(tmp_path):
    cfg = make_config("smoke", dataset="ave", data_dir=str(tmp_path / "none"))  # made: reads nothing
    with pytest.raises(FileNotFoundError, match=r"(?s)no prepared ave data at .*prepare_ave\.py"):
        fingerprinted(cfg)


def test_data_whose_inputs_the_code_pins_needs_no_fill_in():
    for cfg in (make_config("cpu"), make_config("smoke", dataset="synthetic")):
        assert fingerprinted(cfg) is cfg


def test_the_pinned_checksum_list_is_the_shipped_one():
    # avdigits' fingerprint hashes the list's SHA-256 as the catalogue pins it: that pin must be the list's
    assert hashlib.sha256(fsdd.CHECKSUM_FILE.read_bytes()).hexdigest() == FSDD_CHECKSUMS_SHA256
    assert fingerprint.avdigits_fingerprint() == PINNED_FINGERPRINTS["avdigits"]
    # and the recordings' names as the catalogue states them are the list's, in its order
    assert fsdd.recording_names() == list(fsdd.expected_checksums())
    assert avdigits.split_sizes(0.1) == {"train": 2430, "val": 270, "test": 300}
    assert avdigits.split_sizes(0.1, "speaker") == {"train": 2000, "val": 500, "test": 500}


def test_an_edited_checksum_list_is_refused_where_it_is_read(tmp_path, monkeypatch):
    edited = tmp_path / "fsdd_sha256.txt"
    lines = fsdd.CHECKSUM_FILE.read_text().splitlines(keepends=True)
    edited.write_text("".join(["0" * 64 + lines[0][64:], *lines[1:]]))
    monkeypatch.setattr(fsdd, "CHECKSUM_FILE", edited)
    with pytest.raises(fsdd.FSDDChecksumError, match="FSDD_CHECKSUMS_SHA256"):
        fsdd.expected_checksums()


def test_the_book_places_a_stores_rows_whichever_copy_of_the_data_they_read(tmp_path):
    # a row is a headline row of the book on every copy of the store (its seeds follow), and telling so
    # neither needs the store's fingerprint nor depends on it (the headline rows name no data_dir)
    from ogm_lib.recipe import book
    from ogm_lib.recipe.chapters import CHAPTER

    rows = CHAPTER["05_table1"].table(dataset="cremad", profile="smoke", regime=book.REGIME)
    store = fake_store(tmp_path / "cremad")
    plain = [book.is_headline(c) for c in rows.values()]
    there = [book.is_headline(fingerprinted(c.replace(data_dir=str(store)))) for c in rows.values()]
    assert plain == there and 0 < sum(plain) < len(plain)
