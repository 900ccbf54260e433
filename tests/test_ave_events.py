"""AVE's event localisation (the paper's Table 5) on a tiny generated AVE_Dataset: the per-second labels that
preparation keeps (`lists.ave_segment_labels`, `segments.npy`), the event sequences read from the store
(`prepared.PreparedEventDataset`), an AVGA run on them, and its segment-level accuracy."""

from __future__ import annotations

import csv
import json
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
from ogm_lib.method.data import lists as L  # noqa: E402
from ogm_lib.method.data import prepare as P  # noqa: E402
from ogm_lib.method.data.events import segment_accuracy  # noqa: E402

BELL, FEMALE, MALE = "Church bell", "Female speech, woman speaking", "Male speech, man speaking"
# split -> (category, video id, StartTime, EndTime, seconds of video)
ROWS = {
    "train": [
        (BELL, "evWhole", 0, 10, 10),
        (MALE, "evOne", 3, 4, 4),
        (BELL, "evMid", 6, 8, 10),
        (MALE, "evTwice", 1, 4, 10),
        (FEMALE, "evTwice", 1, 4, 10),
    ],  # one video, two annotations
    "val": [(FEMALE, "evVal", 0, 5, 10)],
    "test": [(BELL, "evLast", 9, 10, 10), (MALE, "evTest", 2, 9, 10)],
}
# the per-second labels, written out by hand: classes sorted (bell 0, female 1, male 2), label = class + 1
B, F_, M = 1, 2, 3
EXPECTED = {  # (video, label) -> ten labels, seconds 0..9
    ("evWhole", BELL): [B] * 10,  # the whole video
    ("evOne", MALE): [0, 0, 0, M, 0, 0, 0, 0, 0, 0],  # a single second (EndTime exclusive)
    ("evMid", BELL): [0, 0, 0, 0, 0, 0, B, B, 0, 0],
    ("evTwice", MALE): [0, M, M, M, 0, 0, 0, 0, 0, 0],
    ("evTwice", FEMALE): [0, F_, F_, F_, 0, 0, 0, 0, 0, 0],
    ("evVal", FEMALE): [F_] * 5 + [0] * 5,
    ("evLast", BELL): [0] * 9 + [B],  # the last second only
    ("evTest", MALE): [0, 0, M, M, M, M, M, M, M, 0],
}
IMAGE = 16


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("ave")
    mf.make_ave_events(base / "raw", ROWS)
    report = P.prepare_ave(base / "raw", base / "out", frame_size=24, quiet=True)
    assert report.prepared == 8 and not report.failed
    return base


def events_config(out: Path, **kw):
    return make_config(
        "smoke",
        dataset="ave",
        data_dir=str(out),
        task="events",
        video_model="avga",
        n_frames=1,
        probe_every=0,
        image_size=IMAGE,
        batch_size=4,
        quiet=True,
        **kw,
    )


def test_segment_labels_of_an_annotation():
    assert L.ave_segment_labels(0, 0, 10) == (1,) * 10
    assert L.ave_segment_labels(4, 3, 4) == (0, 0, 0, 5, 0, 0, 0, 0, 0, 0)
    assert L.ave_segment_labels(2, 5, 5) == (0,) * 10  # an empty span: all background


def test_bad_span_is_refused(tmp_path):
    mf.make_ave_events(tmp_path, {"train": [(BELL, "evBad", 4, 11, 2)], "val": [], "test": []})
    with pytest.raises(ValueError, match="0 <= StartTime <= EndTime <= 10"):
        L.ave_jobs(tmp_path)


def test_store_keeps_the_per_second_labels(store):
    out = store / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    segments = np.load(out / "segments.npy")
    assert segments.dtype == np.int16 and manifest["arrays"]["segments"] == [8, 10]
    assert manifest["files"]["segments.npy"]["shape"] == [8, 10]
    classes = (out / "classes.txt").read_text().splitlines()
    assert classes == [BELL, FEMALE, MALE]
    rows = {}  # (video, category) -> its row of the store
    for split in ("train", "val", "test"):
        with open(out / f"{split}.csv", newline="") as f:
            rows.update({(r["name"], r["label"]): int(r["row"]) for r in csv.DictReader(f)})
    assert set(rows) == set(EXPECTED)
    for key, labels in EXPECTED.items():
        assert segments[rows[key]].tolist() == labels, key
    # a rerun is a no-op
    again = P.prepare_ave(store / "raw", out, frame_size=24, quiet=True)
    assert again.extracted == 0 and not again.packed


def test_older_store_is_refused_then_repaired(store, tmp_path):
    import shutil

    work = tmp_path / "old"
    shutil.copytree(store / "out", work)
    shutil.rmtree(next(work.glob("clips-*")))  # only the packed arrays: nothing left to decode from
    # the store as an older preparation left it: no segments.npy, no segments_hash
    manifest = json.loads((work / "manifest.json").read_text())
    (work / "segments.npy").unlink()
    del manifest["files"]["segments.npy"], manifest["arrays"]["segments"], manifest["segments_hash"]
    from ogm_lib.method.data.store import store_fingerprint

    manifest["store_fingerprint"] = store_fingerprint(manifest["params_hash"], manifest["files"])
    (work / "manifest.json").write_text(json.dumps(manifest))
    assert len(build_datasets(make_config("smoke", dataset="ave", data_dir=str(work), n_frames=1)).test) == 2
    with pytest.raises(ValueError, match="prepare_ave.py"):
        build_datasets(events_config(work))
    report = P.prepare_ave(store / "raw", work, frame_size=24, quiet=True)
    assert report.packed and report.extracted == 0
    assert np.array_equal(np.load(work / "segments.npy"), np.load(store / "out" / "segments.npy"))
    assert len(build_datasets(events_config(work)).test) == 2


def test_event_datasets_from_the_store(store):
    splits = build_datasets(events_config(store / "out"))
    assert splits.class_names == ["background", BELL, FEMALE, MALE] and splits.num_classes == 4
    assert (len(splits.train), len(splits.val), len(splits.test)) == (5, 1, 2)
    for part in (splits.train, splits.val, splits.test):
        for i in range(len(part)):
            audio, visual, labels = part[i]
            assert audio.shape == (1, 257, 1000) and visual.shape == (3, 10, IMAGE, IMAGE)
            assert labels.dtype == torch.long
            key = (part.names[i], part.class_names[int(part.labels[i])])
            assert labels.tolist() == EXPECTED[key], key
            if part.names[i] == "evOne":  # a 4 s video: seconds 4..9 show its last frame
                assert all(torch.equal(visual[:, 3], visual[:, k]) for k in range(4, 10))
                assert not torch.equal(visual[:, 0], visual[:, 3])
    assert isinstance(splits.split_hash, str)


def test_avga_fit_and_segment_accuracy(store, tmp_path):
    from ogm_lib.method.models.localisation import LocalisationModel
    from ogm_lib.method.results import decode_predictions
    from ogm_lib.method.train import Trainer, fit

    config = events_config(store / "out", method="ogm_ge")
    trainer = Trainer(config, tmp_path)
    assert isinstance(trainer.model, LocalisationModel) and trainer.model.segments == 10
    assert trainer.num_classes == 4
    result = fit(config, results_dir=tmp_path)
    labels, probs = decode_predictions(result.predictions)
    assert probs.shape == (2 * 10, 4)
    assert labels.reshape(2, 10).tolist() == [EXPECTED[("evLast", BELL)], EXPECTED[("evTest", MALE)]]
    pred = torch.as_tensor(probs.argmax(1)).view(2, 10)
    acc = segment_accuracy(pred, torch.as_tensor(labels).view(2, 10))
    best = result.best
    assert acc == pytest.approx(best["test_acc"]) and 0 <= acc <= 1


def test_table5_rows_on_ave_are_valid_configs():
    """Chapter 15's rows on AVE at the paper's sizes (`-p dataset ave -p profile paper -p device cuda`)."""
    from ogm_lib.recipe.plugins import table5_rows

    rows = table5_rows(dataset="ave", profile="paper", device="cuda")
    assert set(rows) == {"AVGA", "AVGA+", "PSP", "PSP+"}
    for label, c in rows.items():
        assert (c.dataset, c.task, c.n_frames, c.probe_every, c.image_size) == ("ave", "events", 1, 0, 224)
        assert c.video_model == label.rstrip("+").lower() and (c.method == "ogm_ge") == label.endswith("+")
