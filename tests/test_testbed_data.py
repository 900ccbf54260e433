"""The testbed search's data knobs (MNIST's test digits, clutter, fewer training clips) and validation
records (`record_val`): the book's data and keys stay what they were; the new knobs do what they say."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ogm_lib.method.config import make_config
from ogm_lib.method.data import avdigits, mnist
from ogm_lib.method.data.fsdd import default_data_dir, verify_fsdd

ROOT = default_data_dir("avdigits")
needs_fsdd = pytest.mark.skipif(not (ROOT / "recordings").is_dir(), reason="FSDD not fetched (make data)")
needs_mnist = pytest.mark.skipif(
    mnist.find_mirror() is None and not (ROOT / "mnist").is_dir(), reason="no MNIST mirror (../shared/data/mnist_t10k)"
)


@needs_mnist
def test_mnist_fetch_verifies_the_decompressed_payload(tmp_path):
    done = mnist.fetch_mnist(tmp_path / "m", allow_download=False)
    assert len(done) == 2 and mnist.fetch_mnist(tmp_path / "m", allow_download=False) == []  # nothing to do
    images, labels = mnist.load_mnist(tmp_path / "m")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # a damaged copy is replaced from the mirror
    path = tmp_path / "m" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    assert mnist.fetch_mnist(tmp_path / "m", allow_download=False) == [f"{path.name} from {mnist.find_mirror()}"]
    # a mirror with other bytes is refused, not used
    bad = tmp_path / "bad"
    shutil.copytree(mnist.find_mirror(), bad)
    (bad / "t10k-labels-idx1-ubyte").write_bytes(bytes(data))
    with pytest.raises(mnist.MNISTChecksumError, match="pinned SHA-256"):
        mnist.fetch_mnist(tmp_path / "other", mirror=bad, allow_download=False)


def test_default_knobs_keep_the_book_cache_names_and_run_keys():
    cfg = make_config("converged")
    knobs = avdigits._knobs(cfg, 0)
    assert not {"visual_source", "visual_clutter", "train_fraction"} & set(knobs)
    assert avdigits._hash(knobs) == "a1ef55bc0bf44536"  # the cache file every book run reads
    assert (
        cfg.key()
        == make_config(
            "converged", visual_source="digits", visual_clutter=0, train_fraction=1.0, record_val=False
        ).key()
    )
    assert cfg.key() != make_config("converged", record_val=True).key()
    with pytest.raises(ValueError, match="knobs of the default data"):
        make_config("converged", dataset="synthetic", visual_clutter=2)
    with pytest.raises(ValueError, match="visual_source"):
        make_config("converged", visual_source="cifar")


def test_paste_clutter_pastes_count_strokes_of_a_third_of_the_side():
    frames = torch.zeros(5, 1, 27, 27)
    strokes = torch.ones(3, 27, 27)
    out = avdigits.paste_clutter(frames, strokes, 1, np.random.default_rng(0))
    assert torch.equal(frames, torch.zeros(5, 1, 27, 27))  # the input is left alone
    assert out.sum((1, 2, 3)).tolist() == [81.0] * 5  # one 9x9 stroke on each frame
    out = avdigits.paste_clutter(frames, strokes, 3, np.random.default_rng(0))
    assert all(81 <= s <= 3 * 81 for s in out.sum((1, 2, 3)).tolist())


@needs_fsdd
@needs_mnist
def test_mnist_testbed_data_splits_thinning_and_disjoint_pools():
    assert verify_fsdd(ROOT) == ([], [])
    base = dict(split="speaker", audio_snr_db=100.0, visual_source="mnist", visual_clutter=2, visual_noise=0.3)
    full = avdigits.build_avdigits(ROOT, avdigits._knobs(make_config("converged", **base), 0))
    half = avdigits.build_avdigits(ROOT, avdigits._knobs(make_config("converged", train_fraction=0.5, **base), 0))
    # held-out speakers: 4 train speakers (2,000 clips), 1 validation, 1 test
    assert [len(full[s]["labels"]) for s in avdigits.SPLITS] == [2000, 500, 500]
    assert [len(half[s]["labels"]) for s in avdigits.SPLITS] == [1000, 500, 500]
    assert np.bincount(half["train"]["labels"].numpy()).tolist() == [100] * 10
    for s in ("val", "test"):  # thinning touches the training clips only
        assert half[s]["clip_ids"] == full[s]["clip_ids"]
        assert torch.equal(half[s]["image_ids"], full[s]["image_ids"])
        # the same clips up to the standardisation, whose statistics come from the (thinned) training split
        raw = [p[s]["audio"] * p["stats"]["audio"][1] + p["stats"]["audio"][0] for p in (half, full)]
        assert torch.allclose(*raw, atol=1e-4)
    ids = {s: set(full[s]["image_ids"].tolist()) for s in avdigits.SPLITS}
    assert not ids["train"] & ids["test"] and not ids["val"] & ids["test"] and not ids["train"] & ids["val"]
    assert max(max(v) for v in ids.values()) >= 1797  # MNIST indices, not the 8x8 digits'
    assert full["train"]["visual"].shape == (2000, 1, 1, 16, 16)


@needs_fsdd
def test_record_val_keeps_validation_predictions_and_probes(tmp_path):
    from ogm_lib.method.results import RunResult
    from ogm_lib.method.train import fit

    common = dict(dataset="avdigits", split="speaker", probe_every=1, quiet=True, results_dir=str(tmp_path))
    with_val = fit(make_config("smoke", record_val=True, **common))
    plain = fit(make_config("smoke", **common))
    assert with_val.val_predictions and not plain.val_predictions
    assert "val_predictions" not in json.loads((tmp_path / f"{plain.key}.json").read_text())  # older shape
    back = RunResult.load(tmp_path / f"{with_val.key}.json")
    labels, probs = avdigits_val_labels(back)
    assert probs.shape == (500, 10) and len(labels) == 500  # the validation speaker
    assert back.val_predictions["epoch"] == back.best_epoch
    assert all(f"probe_val_{m}" in back.epochs[-1] for m in ("audio", "visual"))
    assert not any(k.startswith("probe_val") for k in plain.epochs[-1])
    # validation records change nothing the run computes
    for a, b in zip(with_val.epochs, plain.epochs):
        assert {k: v for k, v in a.items() if not k.startswith("probe_val")} == b


def avdigits_val_labels(run):
    from ogm_lib.method.results import decode_predictions

    return decode_predictions(run.val_predictions)


def _payload_as_built(knobs: dict) -> dict:
    """A cache payload holding the clips `build_avdigits` would put in each split for `knobs` (split, then
    thinned), with tensors of the right shapes (broadcast views: no memory), and no recording read."""
    names = list(avdigits.expected_checksums())
    digits = np.array([avdigits.parse_fsdd_name(n)[0] for n in names])
    split = avdigits.split_clips(names, knobs["val_fraction"], knobs["data_seed"], knobs.get("split", "official"))
    split = avdigits.thin_train(split, digits, knobs.get("train_fraction", 1.0), knobs["data_seed"])
    spec_t = 1 + int(round(knobs["audio_seconds"] * avdigits.SAMPLE_RATE)) // avdigits.HOP
    payload = {"knobs": knobs, "stats": {}, "class_names": avdigits.CLASS_NAMES}
    for s in avdigits.SPLITS:
        idx = np.flatnonzero(split == s)
        n, side = len(idx), knobs["image_size"]
        payload[s] = {
            "audio": torch.zeros(()).expand(n, 1, avdigits.N_FFT // 2 + 1, spec_t),
            "visual": torch.zeros(()).expand(n, 1, knobs["n_frames"], side, side),
            "labels": torch.from_numpy(digits[idx]),
            "image_ids": torch.zeros(n, dtype=torch.long),
            "clip_ids": [names[i] for i in idx],
            "speakers": ["x"] * n,
        }
    return payload


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_a_thinned_cache_is_read_back_not_rebuilt(fraction, tmp_path):
    # the cache check compares the cached training clips with those the knobs keep: after thinning, so a
    # run with train_fraction < 1 reads its cache instead of rebuilding it on every load
    knobs = avdigits._knobs(make_config("converged", train_fraction=fraction), 0)
    payload = _payload_as_built(knobs)
    assert len(payload["train"]["clip_ids"]) == {1.0: 2430, 0.5: 1220}[fraction]
    path = tmp_path / "avdigits-cache.pt"
    torch.save(payload, path)
    back, problem = avdigits.read_cache(path, knobs)
    assert problem is None and back["train"]["clip_ids"] == payload["train"]["clip_ids"]
    # ... and still refuses a cache of the unthinned clips under the thinned knobs
    if fraction < 1:
        full = _payload_as_built({**knobs, "train_fraction": 1.0})
        assert avdigits._cache_problem({**full, "knobs": knobs}, knobs).startswith("holds other train clips")
