"""Read a prepared store (made by `data_scripts/prepare_<dataset>.py`) as train / val / test datasets.

The store holds every clip's 1-fps frames as uint8 and its spectrogram as float16 in memory-mapped
arrays (see `prepare.py`), so a sample costs a few page reads, one crop and one normalisation: no JPEG
decoding and no STFT per access as in the official loaders.

**Transforms** are the official ones, applied with `torchvision.transforms.v2` on tensors:
train `RandomResizedCrop(image_size)` + `RandomHorizontalFlip()`, val/test `Resize((image_size, image_size))`,
then ImageNet mean/std. One crop per clip is shared by its T frames (the official loaders crop each frame
on its own; a shared crop keeps a clip a coherent video and costs one resize call).

**Frames per clip.** Train draws T distinct frames at random among the frames the clip really has (sorted
in time; with replacement only when the clip has fewer than T); val/test take the centres of T equal
segments (TSN style), deterministic. This fixes a bug of the official CREMA-D loader, which draws a
random frame index and then ignores it, so every epoch shows the same first frame of each clip.

**Audio window.** Where the store keeps more time frames than the model sees (VGGSound: 10 s stored, a
5 s window used), train draws the window's start at random and val/test take the centred window.

**Validation split.** Carved from train for model selection (the paper's 9:1), deterministically: the
`val_fraction` of train *groups* (clip, actor for speaker-independent CREMA-D, or YouTube video) whose
salted SHA-1 sorts first (`lists.pick_fraction`). It does not depend on the seed, so every seed selects
its model on the same clips. AVE ships an official validation list, which is used as is. With
`RunConfig.split = "speaker"` (CREMA-D) every clip of the store is split again by actor instead, train,
validation and test actors disjoint (`splits.py`).

**Checks on open.** The store is checked against its manifest first (`store.check_store`: sizes, array
shapes and dtypes, every file's SHA-256, the large arrays hashed once per process), so a truncated or
overwritten array or an edited split list is named before any epoch; and its fingerprint must be the one the config
was made with (the config's cache key
holds it), so a result is never filed under another store's key.

**Event localisation** (`RunConfig.task = "events"`, the paper's Table 5; AVE only, whose store keeps each
clip's per-second labels in `segments.npy`): `load_prepared_events` serves each clip as a sequence of its
S = 10 one-second segments, in the layout of `data/events.py` (`PreparedEventDataset`).

Randomness comes from torch's generator, so DataLoader workers (seeded by torch) draw different crops.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .common import AVSplits
from .events import BACKGROUND
from .fingerprint import fingerprinted
from .lists import pick_fraction
from .prepare import default_out_dir, read_manifest
from .splits import speaker_of, speaker_split
from .store import PREPARE_HINTS, check_store, missing_store

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def prepared_dir(config) -> Path:
    """`config.data_dir`, else `$OGM_DATA_DIR/<dataset>`, else `<repository root>/data/<dataset>`."""
    return Path(config.data_dir) if config.data_dir else default_out_dir(config.dataset)


def frame_indices(available: int, n: int, train: bool, generator: torch.Generator | None = None) -> list[int]:
    """Which of a clip's `available` stored frames to show: random sorted draw (train) or segment centres."""
    if train:
        if available >= n:
            idx = torch.randperm(available, generator=generator)[:n]
        else:
            idx = torch.randint(available, (n,), generator=generator)
        return sorted(idx.tolist())
    return [min(available - 1, int((k + 0.5) * available / n)) for k in range(n)]


class PreparedAVDataset(Dataset):
    """One split of a prepared store: `(audio (1, F, T) float32, visual (3, T_frames, S, S) float32, label)`.

    `rows` index the store's arrays; the arrays are opened lazily in each process (so pickling the
    dataset to a DataLoader worker never copies them).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        rows: list[int],
        labels: list[int],
        class_names: list[str],
        *,
        train: bool,
        n_frames: int,
        image_size: int,
        crop_frames: int,
    ):
        from torchvision.transforms import v2

        self.root = Path(root)
        self.rows = np.asarray(rows, np.int64)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.class_names = list(class_names)
        self.train, self.n_frames, self.image_size, self.crop_frames = train, n_frames, image_size, crop_frames
        geometry = (
            [v2.RandomResizedCrop(image_size, antialias=True), v2.RandomHorizontalFlip()]
            if train
            else [v2.Resize((image_size, image_size), antialias=True)]
        )
        self.transform = v2.Compose(
            [*geometry, v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        )
        self._arrays = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    def _open(self):
        if self._arrays is None:
            self._arrays = (
                np.load(self.root / "frames.npy", mmap_mode="r"),
                np.load(self.root / "nframes.npy"),
                np.load(self.root / "spec.npy", mmap_mode="r"),
            )
        return self._arrays

    def __getitem__(self, i: int):
        frames, nframes, spec = self._open()
        r = int(self.rows[i])
        # audio: the (random in training, centred otherwise) window of crop_frames time frames
        total = spec.shape[-1]
        if total > self.crop_frames:
            start = (
                int(torch.randint(total - self.crop_frames + 1, ())) if self.train else (total - self.crop_frames) // 2
            )
        else:
            start = 0
        # np.array copies: the memory map is read-only
        audio = torch.from_numpy(np.array(spec[r, :, start : start + self.crop_frames])).float()[None]
        # visual: T of the clip's stored frames -> (T, 3, S, S) uint8 -> one crop for all -> (3, T, S, S)
        idx = frame_indices(int(nframes[r]), self.n_frames, self.train)
        clip = torch.from_numpy(np.ascontiguousarray(frames[r, idx])).permute(0, 3, 1, 2)
        visual = self.transform(clip).permute(1, 0, 2, 3).contiguous()
        return audio, visual, self.labels[i]


def _read_split(path: Path, class_index: dict[str, int]) -> tuple[list[int], list[int], list[str], list[str]]:
    """`rows, labels, groups, names` of one split list."""
    rows, labels, groups, names = [], [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if rec["label"] not in class_index:
                raise ValueError(f"{path}: label {rec['label']!r} is not in classes.txt")
            rows.append(int(rec["row"]))
            labels.append(class_index[rec["label"]])
            groups.append(rec["group"])
            names.append(rec["name"])
    return rows, labels, groups, names


def _check_fingerprint(config, root: Path, manifest: dict) -> None:
    """The store must be the one the config was fingerprinted on (its key holds the fingerprint)."""
    have = manifest.get("store_fingerprint")
    if config.data_fingerprint == have:
        return
    raise ValueError(
        f"the store at {root} has fingerprint {have}, but this config was made for data "
        f"{config.data_fingerprint} (the store was prepared again or replaced since); make the "
        "config again (make_config) so that its cache key names the data it reads"
    )


def load_prepared(config) -> AVSplits:
    """Train / val / test `PreparedAVDataset`s of `config.dataset` from its prepared store.

    Raises FileNotFoundError, naming the command that makes the store, when it is missing. A config made
    without the store's fingerprint gets it here, where the store is opened (`fingerprint.fingerprinted`).
    """
    config = fingerprinted(config)
    root = prepared_dir(config)
    manifest = read_manifest(root)
    if manifest is None:
        raise missing_store(config.dataset, root)
    if manifest.get("dataset") != config.dataset:
        raise ValueError(f"{root} holds prepared {manifest.get('dataset')!r} data, not {config.dataset!r}")
    check_store(root, manifest)
    _check_fingerprint(config, root, manifest)
    classes = (root / "classes.txt").read_text(encoding="utf-8").splitlines()
    class_index = {c: i for i, c in enumerate(classes)}
    train = _read_split(root / "train.csv", class_index)
    test = _read_split(root / "test.csv", class_index)
    if config.split == "speaker":
        train, val, test = _speaker_splits(
            config,
            [train, test] + ([_read_split(root / "val.csv", class_index)] if (root / "val.csv").exists() else []),
        )
    elif (root / "val.csv").exists():
        val = _read_split(root / "val.csv", class_index)
    else:
        chosen = pick_fraction(train[2], config.val_fraction, "val")
        keep = [g not in chosen for g in train[2]]
        val = tuple([x for x, k in zip(col, keep) if not k] for col in train)
        train = tuple([x for x, k in zip(col, keep) if k] for col in train)
    kw = dict(
        n_frames=config.n_frames, image_size=config.image_size, crop_frames=int(manifest["params"]["crop_frames"])
    )
    out = {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        ds = PreparedAVDataset(root, part[0], part[1], classes, train=name == "train", **kw)
        ds.names = list(part[3])
        ds.speakers = [speaker_of(config.dataset, n) for n in part[3]]
        out[name] = ds
    return AVSplits(**out, class_names=classes)


def _speaker_splits(config, lists: list[tuple]) -> tuple[tuple, tuple, tuple]:
    """Every clip of the store's lists, split again with train/val/test speakers disjoint (`splits.py`)."""
    pooled = tuple([x for part in lists for x in part[i]] for i in range(4))
    speakers = [speaker_of(config.dataset, n) for n in pooled[3]]
    where = speaker_split(speakers, config.val_fraction)
    return tuple(tuple([x for x, w in zip(col, where) if w == s] for col in pooled) for s in ("train", "val", "test"))


class PreparedEventDataset(Dataset):
    """One split of AVE as event sequences (`data/events.py`'s layout): `(audio (1, F, S*W), visual (3, S, H, W),
    labels (S,))`, segment k being second [k, k + 1) of the 10 s video.

    - **labels**: the store's `segments.npy` row (0 background, k + 1 event class k: `lists.ave_segment_labels`);
    - **visual**: segment k shows stored frame k, the first frame at or after second k (`decode.py`: 1 fps, as
      the official frame extraction), or the clip's last frame when it has fewer than S (a video shorter than
      10 s); one crop (random in training) for the S frames, as `PreparedAVDataset` crops a clip;
    - **audio**: the whole stored spectrogram (AVE: 1004 frames of hop 159 over 10 s, `features.ave_features`)
      cut into S windows of W = T // S = 100 frames, window k = frames [kW, (k+1)W), the last T mod S frames
      dropped: the windows `video.audio_windows` cuts again in the model. Frame j is centred at
      (159 j + 256) / 16000 s, so window k's centres lie in [0.994 k + 0.016, 0.994 k + 1.0] s: within 0.06 s
      of second k. The official AVGA reads one VGGish vector per second instead (a model input, not a
      different labelling).

    `labels` (what the split manifest counts, `splits.split_manifest`) is each clip's event class in this
    dataset's class list (background first), `segment_labels (N, S)` what a sample returns.
    """

    def __init__(self, clips: PreparedAVDataset, segments: np.ndarray):
        self.clips = clips
        self.segment_labels = torch.as_tensor(np.asarray(segments)[clips.rows].astype(np.int64))  # (N, S)
        self.segments = int(self.segment_labels.shape[1])
        self.labels = clips.labels + 1  # background is class 0
        self.class_names = [BACKGROUND, *clips.class_names]
        self.names, self.speakers = getattr(clips, "names", None), getattr(clips, "speakers", None)
        event = self.segment_labels != 0
        if bool((self.segment_labels[event] != self.labels[:, None].expand_as(event)[event]).any()):
            raise ValueError(
                f"{clips.root / 'segments.npy'} labels an event segment with another class than its "
                "clip's; prepare the store again (python data_scripts/prepare_ave.py)"
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int):
        frames, nframes, spec = self.clips._open()
        r, s = int(self.clips.rows[i]), self.segments
        width = spec.shape[-1] // s
        audio = torch.from_numpy(np.array(spec[r, :, : s * width])).float()[None]  # (1, F, S*W)
        idx = [min(k, int(nframes[r]) - 1) for k in range(s)]  # frame k: second k
        clip = torch.from_numpy(np.ascontiguousarray(frames[r, idx])).permute(0, 3, 1, 2)
        visual = self.clips.transform(clip).permute(1, 0, 2, 3).contiguous()  # (3, S, H, W)
        return audio, visual, self.segment_labels[i]


def load_prepared_events(config) -> AVSplits:
    """Train / val / test `PreparedEventDataset`s of a store with segment labels (AVE), for `task = "events"`.

    Class 0 is background, class k + 1 the store's k-th class (AVE: 28 events + background = 29, the official
    `labels (10, 29)`). A store prepared before segment labels were kept is refused, naming the command that
    adds them (it repacks the store without decoding a video again)."""
    base = load_prepared(config)
    root = prepared_dir(config)
    manifest = read_manifest(root)
    if "segments.npy" not in manifest.get("files", {}):
        hint = PREPARE_HINTS.get(config.dataset, f"python data_scripts/prepare_{config.dataset}.py --raw <download>")
        raise ValueError(
            f"the {config.dataset} store at {root} holds no per-second event labels (segments.npy; "
            "a store prepared before they were kept, or a dataset without them), which task 'events' "
            f"needs. Prepare it again, which adds them without decoding the videos again:\n"
            f"  {hint} --out {root}\nthen make the config again (its data fingerprint changes)"
        )
    segments = np.load(root / "segments.npy")
    out = {s: PreparedEventDataset(getattr(base, s), segments) for s in ("train", "val", "test")}
    return AVSplits(**out, class_names=[BACKGROUND, *base.class_names])
