"""# `avdigits`: spoken digits heard, handwritten digits seen

The paper's phenomenon needs two modalities that both carry the label, one of them easier than the other.
`avdigits` builds such a pair from two small, real, openly licensed datasets, with nothing to download
beyond 21 MB of audio:

- **audio**: a recording of a spoken digit from the Free Spoken Digit Dataset (FSDD, 3,000 clips, 8 kHz;
  see `fsdd.py`), as a log-magnitude spectrogram `(1, F, T)`;
- **visual**: a handwritten image of the *same* digit from scikit-learn's bundled UCI digits (1,797 8x8
  images, shipped inside scikit-learn, no download), shown as a short "video" of `n_frames` jittered, noisy
  frames `(3, T, H, W)`.

The two halves are paired only through the label, as in a dataset where a sound and a picture co-occur.
Noise knobs set how hard each half is (`audio_snr_db`, `visual_noise`); the defaults make audio the
dominant modality, so a jointly trained model under-trains its visual encoder: the imbalance OGM-GE targets.

## Splits, and what a run's seed varies

- FSDD's official split: take index 0-4 is **test** (300 clips), 5-49 is train (2,700 clips).
- **Validation** is `val_fraction` of train, stratified by digit (27 clips per digit at 0.1).
- `RunConfig.split = "speaker"` holds speakers out instead (`splits.py`): of FSDD's six speakers, one is
  the test speaker and one the validation speaker (500 clips each), the other four train; every take of a
  speaker goes with it. The default (`official`, above) keeps the book's runs, their cache and their keys.
- The **image pool** is split disjointly too, per digit, in the same proportions as the clips
  (10 % test, `val_fraction` x 90 % validation, the rest train), so test images are never seen in training.
- Each clip is paired with an image of its digit from its own split's pool; images are dealt round-robin
  over a shuffled pool, so within a split every image is used equally often (train: ~1.7 times each).

The **test split is fixed**: its clips (the official takes 0-4), its images, their pairing, the audio noise
and the frames' jitter and noise are all drawn from `TEST_SEED`, the same for every run. Everything else is
drawn from the **run's seed** (`config.seed`): which training clips are carved out for validation, which
images form the validation pool, which image goes with which training or validation recording, and the
audio noise and visual jitter and noise of those clips. So the spread of a result over seeds includes the
spread over the draws of the data, not only over the model's initialisation and batch order, while every
run is scored on the same test clips. (The scalar standardisation below is fitted on each run's training
split, so the test tensors differ between seeds by that one mean and std.)

## Audio: the official CREMA-D pipeline, at 8 kHz

The official code tiles each waveform to 3 s at 22,050 Hz and takes `log(|STFT| + 1e-7)` with n_fft 512,
hop 353, a Hann window, centred frames: a 23.2 ms window and a 16.0 ms hop. At 8 kHz we keep the hop
exactly (`hop = 128` samples = 16.0 ms) and shorten the window to the same 128 samples (`n_fft = 128` =
16 ms, 62.5 Hz bins; 186 samples would match 23 ms but is not a power of two). Half a second (4,000
samples, centred; FSDD utterances last 0.44 s on average) gives `F = 128 / 2 + 1 = 65` frequency bins and
`T = 1 + 4000 // 128 = 32` frames: a `65 x 32` spectrogram. This size is set by the CPU budget: a
book run must take well under a minute on 2 cores, and the audio encoder's cost grows with F x T
(129 x 63, the 32 ms / 1 s alternative, made a run four times slower). Clips are tiled (repeated) up to
`audio_seconds`, or cut, as officially;
white Gaussian noise is then added at `audio_snr_db` relative to the clip's own power.

## Visual

The 8x8 image (grey levels 0-16, scaled to 0-1) is resampled bilinearly to `image_size` x `image_size`,
once per frame with a random translation of up to 1/8 of the side, then Gaussian pixel noise of std
`visual_noise` is added independently per frame. The three RGB channels are copies of the grey frame, so
the visual encoder is the paper's 3-channel one. To save memory the channel axis is a broadcast view
(`expand`): index the tensor (as the training loop does) to get ordinary contiguous batches.

## Normalisation

Each modality is standardised by one scalar mean and std computed on the **training split only** (the
official code uses fixed ImageNet statistics for frames and no normalisation for spectrograms; a scalar
standardisation keeps both inputs near unit scale without leaking validation or test statistics).

## Cache

Preprocessing takes a few seconds; its result is saved to `<data_dir>/cache/avdigits-<hash>.pt`, keyed by
a hash of every knob that changes the tensors (and of the checksum list), written atomically, so later runs
load in a fraction of a second (0.1 s for the defaults' 107 MB). A cache hit does not read the recordings;
the key includes a hash of the pinned checksum list, so it cannot outlive the data it was made from.
The file's name is only that hash, so a cache is not trusted for its name (`read_cache`): it is read with
the safe loader (`weights_only=True`: tensors and plain data, never code), and must record the run's knobs,
hold the clips those knobs split off and tensors of their shapes; a file that does not (another setting's
cache copied over it, random bytes) is named in a one-line warning and rebuilt. A
read-only `data_dir` just skips the cache. Mind the size at large `image_size`: the visual tensor is
3,000 x T x S x S floats (at S = 224, T = 3: 1.8 GB).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ...ground.catalogue import AVDIGITS_PREPROCESS_VERSION
from ..fileio import atomic_write
from .common import AVSplits, AVTensorDataset
from .fsdd import (
    CHECKSUM_FILE,
    SAMPLE_RATE,
    default_data_dir,
    ensure_fsdd,
    expected_checksums,
    parse_fsdd_name,
    read_wav,
    recording_names,
)

if TYPE_CHECKING:  # annotations only: the config builds on the data catalogue, not on this
    from ..config import RunConfig

#: seeds every random choice that touches the test split, the same for every run (a run's own seed draws the rest)
TEST_SEED = 0
N_FFT = 128  # 16 ms at 8 kHz
HOP = 128  # 16 ms at 8 kHz, the official CREMA-D hop
LOG_EPS = 1e-7  # as the official log(|S| + 1e-7)
JITTER = 1 / 8  # largest frame translation, as a fraction of the side
TEST_TAKES = 5  # FSDD takes 0-4 are the official test set
#: bump when the preprocessing changes, so stale caches are not reused
PREPROCESS_VERSION = AVDIGITS_PREPROCESS_VERSION
CLASS_NAMES = [str(d) for d in range(10)]
SPLITS = ("train", "val", "test")
#: a training clip left out by `train_fraction` (in no split)
UNUSED = "unused"


def load_avdigits(config: RunConfig, *, data_seed: int | None = None, use_cache: bool = True) -> AVSplits:
    """Train/val/test `AVTensorDataset`s of avdigits for the data knobs of `config`.

    `data_seed` draws the training and validation side of the data (default: the run's `config.seed`);
    the test side is always drawn from `TEST_SEED`.

    Each dataset also carries `clip_ids` (FSDD file names), `image_ids` (indices into
    `sklearn.datasets.load_digits()`) and `speakers`, for inspection and tests.
    """
    root = Path(config.data_dir) if config.data_dir else default_data_dir("avdigits")
    knobs = _knobs(config, config.seed if data_seed is None else data_seed)
    cache = root / "cache" / f"avdigits-{_hash(knobs)}.pt"
    payload = None
    if use_cache and cache.is_file():
        payload, problem = read_cache(cache, knobs)
        if problem:  # a cache that does not prove it holds this data is rebuilt, never trained on
            warnings.warn(f"avdigits cache {cache} {problem}; rebuilding it", RuntimeWarning, stacklevel=2)
    if payload is None:
        ensure_fsdd(root)
        payload = build_avdigits(root, knobs)
        if use_cache:
            _save_atomic(payload, cache)
    return _to_splits(payload)


def _knobs(config: RunConfig, data_seed: int) -> dict:
    """Everything that changes the tensors: the cache key."""
    knobs = dict(
        version=PREPROCESS_VERSION,
        data_seed=int(data_seed),
        test_seed=TEST_SEED,
        val_fraction=float(config.val_fraction),
        n_frames=int(config.n_frames),
        image_size=int(config.image_size),
        audio_snr_db=float(config.audio_snr_db),
        visual_noise=float(config.visual_noise),
        audio_seconds=float(config.audio_seconds),
        n_fft=N_FFT,
        hop=HOP,
        jitter=JITTER,
        checksums=hashlib.sha256(CHECKSUM_FILE.read_bytes()).hexdigest()[:16],
    )
    if config.split != "official":  # only then: the official split's caches keep their names
        knobs["split"] = config.split
    # the testbed search's knobs (`testbed.py`), likewise only when not at their defaults
    for name, default in (("visual_source", "digits"), ("visual_clutter", 0), ("train_fraction", 1.0)):
        if getattr(config, name) != default:
            knobs[name] = getattr(config, name)
    return knobs


def read_cache(path: Path, knobs: dict) -> tuple[dict | None, str | None]:
    """`(payload, None)` for a cache file that holds the data of `knobs`, else `(None, what is wrong)`, in one
    line. The file name is only a hash of the knobs, so a file copied over it (another setting's cache) would
    otherwise be trusted: the payload must record the same knobs (seed, noise, sizes, preprocessing version,
    the FSDD checksum list's hash), hold exactly the clips that `split_clips` puts in each split for them, and
    tensors of the shapes they give. Read with the safe loader (`weights_only=True`): data, never code."""
    from ..checkpoint import load, unreadable

    try:
        payload = load(path)
    except (MemoryError, PermissionError):
        raise
    except Exception as err:  # random bytes, a truncated file, a pickle that is not plain data
        return None, unreadable(err)
    try:
        problem = _cache_problem(payload, knobs)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as err:
        problem = f"is not an avdigits cache ({type(err).__name__}: {err})"
    return (None, problem) if problem else (payload, None)


def _cache_problem(payload, knobs: dict) -> str | None:
    """What makes a loaded cache payload not the data of `knobs` (see `read_cache`), or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("knobs"), dict):
        return f"holds a {type(payload).__name__} without recorded knobs, not an avdigits cache"
    if payload["knobs"] != knobs:
        diff = sorted(k for k in set(knobs) | set(payload["knobs"]) if payload["knobs"].get(k) != knobs.get(k))
        shown = ", ".join(f"{k} {payload['knobs'].get(k)!r} (this run: {knobs.get(k)!r})" for k in diff[:3])
        return f"was built for other data: {shown}"
    names = list(expected_checksums())
    split = knob_split(names, knobs)  # thinned as built: a cache of fewer training clips is a hit
    spec_t = 1 + int(round(knobs["audio_seconds"] * SAMPLE_RATE)) // HOP
    for s in SPLITS:
        part = payload[s]
        want = [n for n, where in zip(names, split) if where == s]
        if list(part["clip_ids"]) != want:
            return f"holds other {s} clips than these knobs split off ({len(part['clip_ids'])}, expected {len(want)})"
        n = len(want)
        shapes = {
            "audio": (n, 1, N_FFT // 2 + 1, spec_t),
            "visual": (n, 1, knobs["n_frames"], knobs["image_size"], knobs["image_size"]),
            "labels": (n,),
            "image_ids": (n,),
        }
        for name, shape in shapes.items():
            if tuple(part[name].shape) != shape:
                return f"holds {s} {name} of shape {tuple(part[name].shape)}, expected {shape}"
        if len(part["speakers"]) != n:
            return f"holds {len(part['speakers'])} {s} speakers for {n} clips"
    return None


@lru_cache(maxsize=256)
def split_sizes(val_fraction: float, rule: str = "official") -> dict[str, int]:
    """Clips per split (`train`, `val`, `test`) at `val_fraction`, without reading any data: the counts of
    `split_clips`, which do not depend on the seed (it draws which clips, not how many), over the recordings'
    names as the catalogue states them (`fsdd.recording_names`): `RunConfig` checks these sizes while it is
    made, and making a config reads no file."""
    split = split_clips(recording_names(), float(val_fraction), 0, rule)
    return {s: int(np.sum(split == s)) for s in SPLITS}


def _hash(knobs: dict) -> str:
    return hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# Splits and pairing
# ---------------------------------------------------------------------------------------------------------


def split_clips(names: list[str], val_fraction: float, data_seed: int, rule: str = "official") -> np.ndarray:
    """Split name per clip: official test (takes 0-4, fixed), and validation carved from train per digit
    (drawn from `data_seed`); with `rule = "speaker"`, test and validation speakers held out instead
    (`splits.speaker_split`, the same for every seed)."""
    parsed = [parse_fsdd_name(n) for n in names]
    if rule == "speaker":
        from .splits import speaker_split

        return np.array(speaker_split([p[1] for p in parsed], val_fraction), dtype=object)
    digits = np.array([p[0] for p in parsed])
    split = np.where(np.array([p[2] for p in parsed]) < TEST_TAKES, "test", "train").astype(object)
    rng = np.random.default_rng([data_seed, 1])
    for d in range(10):
        train_d = np.flatnonzero((digits == d) & (split == "train"))
        n_val = int(round(val_fraction * len(train_d)))
        split[rng.permutation(train_d)[:n_val]] = "val"
    return split


def split_images(
    labels: np.ndarray, shares: dict[str, float], data_seed: int, test_seed: int = TEST_SEED
) -> np.ndarray:
    """Disjoint image pools: split name per image, per digit in the proportions `shares` (val, test).
    The test pool is drawn from `test_seed` (fixed); the validation pool from the rest, by `data_seed`."""
    split = np.full(len(labels), "train", dtype=object)
    rng_test, rng = np.random.default_rng([test_seed, 2]), np.random.default_rng([data_seed, 2, 1])
    for d in range(10):
        idx = rng_test.permutation(np.flatnonzero(labels == d))
        n_test = int(round(shares["test"] * len(idx)))
        n_val = int(round(shares["val"] * len(idx)))
        split[idx[:n_test]] = "test"
        split[rng.permutation(idx[n_test:])[:n_val]] = "val"
    return split


def pair_images(
    clip_digits: np.ndarray,
    clip_split: np.ndarray,
    img_labels: np.ndarray,
    img_split: np.ndarray,
    data_seed: int,
    test_seed: int = TEST_SEED,
) -> np.ndarray:
    """For each clip, the index of an image of the same digit from the same split's pool.

    Clips (in shuffled order) are dealt the pool's images (shuffled) round-robin, so use is balanced.
    The test pairing is drawn from `test_seed`, the training and validation pairings from `data_seed`.
    """
    out = np.full(len(clip_digits), -1, dtype=np.int64)
    for s in SPLITS:
        rng = np.random.default_rng([test_seed if s == "test" else data_seed, 3, SPLITS.index(s)])
        for d in range(10):
            clips = rng.permutation(np.flatnonzero((clip_digits == d) & (clip_split == s)))
            pool = rng.permutation(np.flatnonzero((img_labels == d) & (img_split == s)))
            if len(clips) and not len(pool):
                raise ValueError(f"no {s} image of digit {d}: val_fraction too small for the image pool")
            out[clips] = pool[np.arange(len(clips)) % max(len(pool), 1)]
    return out


# ---------------------------------------------------------------------------------------------------------
# Modalities
# ---------------------------------------------------------------------------------------------------------


def audio_features(waves: list[np.ndarray], seconds: float, snr_db: float, seeds: np.ndarray) -> torch.Tensor:
    """Tile/cut each waveform to `seconds`, add white noise at `snr_db` (clip i's noise drawn from
    `seeds[i]`), log |STFT|: `(N, 1, F, T)`."""
    length = int(round(seconds * SAMPLE_RATE))
    batch = np.empty((len(waves), length), dtype=np.float32)
    for i, w in enumerate(waves):
        x = np.tile(w, math.ceil(length / len(w)))[:length]
        power = float(np.mean(x.astype(np.float64) ** 2))
        sigma = math.sqrt(power / 10 ** (snr_db / 10))
        # one generator per clip: its noise does not depend on the other clips
        noise = np.random.default_rng([int(seeds[i]), 4, i]).standard_normal(length)
        batch[i] = x + sigma * noise
    spec = torch.stft(
        torch.from_numpy(batch),
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=True,
        return_complex=True,
    )
    return torch.log(spec.abs() + LOG_EPS).unsqueeze(1).float()


def visual_frames(
    images: np.ndarray,
    n_frames: int,
    size: int,
    noise_std: float,
    seed: int,
    *,
    clutter: int = 0,
    distractors: np.ndarray | None = None,
) -> torch.Tensor:
    """Images in [0, 1] (`(N, h, w)`: 8x8 digits or 28x28 MNIST) -> `n_frames` jittered noisy frames each,
    `(N, 1, T, size, size)`; with `clutter` > 0, that many strokes cut from random `distractors` are pasted
    on each frame first (`paste_clutter`). The jitter and the noise are drawn from `seed`."""
    n = len(images)
    g = torch.Generator().manual_seed(seed * 1000 + 5)
    img = torch.as_tensor(images, dtype=torch.float32).unsqueeze(1)  # (N, 1, h, w)
    img = img.repeat_interleave(n_frames, dim=0)  # (N*T, 1, h, w)
    if clutter:
        img = paste_clutter(
            img, torch.as_tensor(distractors, dtype=torch.float32), clutter, np.random.default_rng([seed, 6])
        )
    # translation in grid_sample's [-1, 1] coordinates: a fraction f of the side is 2f
    shift = (torch.rand(n * n_frames, 2, generator=g) * 2 - 1) * (2 * JITTER)
    theta = torch.zeros(n * n_frames, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, [n * n_frames, 1, size, size], align_corners=False)
    frames = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    frames = frames + noise_std * torch.randn(frames.shape, generator=g)
    return frames.view(n, n_frames, size, size).unsqueeze(1)


def knob_split(names: list[str], knobs: dict) -> np.ndarray:
    """Split name per clip for `knobs`, as `build_avdigits` builds it and `read_cache` checks it: `split_clips`,
    then `thin_train` (`UNUSED` for a training clip that `train_fraction` leaves out)."""
    digits = np.array([parse_fsdd_name(n)[0] for n in names])
    split = split_clips(names, knobs["val_fraction"], knobs["data_seed"], knobs.get("split", "official"))
    return thin_train(split, digits, knobs.get("train_fraction", 1.0), knobs["data_seed"])


def thin_train(clip_split: np.ndarray, clip_digits: np.ndarray, fraction: float, data_seed: int) -> np.ndarray:
    """Keep `fraction` of each digit's training clips (drawn from `data_seed`); the others become `UNUSED`
    (no split: fewer training clips are quicker to memorise). Validation and test are untouched."""
    if fraction >= 1.0:
        return clip_split
    split = clip_split.copy()
    rng = np.random.default_rng([data_seed, 7])
    for d in range(10):
        train_d = np.flatnonzero((clip_digits == d) & (split == "train"))
        drop = len(train_d) - max(1, int(round(fraction * len(train_d))))
        split[rng.permutation(train_d)[:drop]] = UNUSED
    return split


def visual_pool(root: str | os.PathLike, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(images in [0, 1] `(n, h, w)`, labels) of the visual half: scikit-learn's 1,797 8x8 digits (grey
    levels 0-16) or MNIST's 10,000 28x28 test digits (0-255; `mnist.py`, kept under `<root>/mnist`)."""
    if source == "mnist":
        from .mnist import load_mnist

        images, labels = load_mnist(Path(root) / "mnist")
        return images.astype(np.float64) / 255.0, labels
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


#: a stroke's side, as a fraction of the image side (a third: part of a digit, not a whole one)
CLUTTER_SIDE = 1 / 3


def paste_clutter(
    frames: torch.Tensor, distractors: torch.Tensor, count: int, rng: np.random.Generator
) -> torch.Tensor:
    """Each frame `(M, 1, h, w)` with `count` strokes pasted on it: a square crop (side `CLUTTER_SIDE` of h)
    of a random distractor image, at a random place, combined by the pixel-wise maximum (ink on ink)."""
    m, _, h, w = frames.shape
    c = max(2, int(round(CLUTTER_SIDE * h)))
    out = frames.clone()
    for _ in range(count):
        src = rng.integers(len(distractors), size=m)
        sy, sx, dy, dx = (rng.integers(0, h - c + 1, size=m) for _ in range(4))
        for i in range(m):
            patch = distractors[src[i], sy[i] : sy[i] + c, sx[i] : sx[i] + c]
            region = out[i, 0, dy[i] : dy[i] + c, dx[i] : dx[i] + c]
            torch.maximum(region, patch, out=region)
    return out


def build_avdigits(root: str | os.PathLike, knobs: dict) -> dict:
    """Preprocess verified recordings at `root` into the cache payload (a dict of tensors and lists)."""
    seed = knobs["data_seed"]
    names = list(expected_checksums())
    parsed = [parse_fsdd_name(n) for n in names]
    clip_digits = np.array([p[0] for p in parsed])
    clip_split = knob_split(names, knobs)

    images, img_labels = visual_pool(root, knobs.get("visual_source", "digits"))
    shares = {s: float(np.mean(clip_split == s)) for s in ("val", "test")}
    img_split = split_images(img_labels, shares, seed, TEST_SEED)
    image_ids = pair_images(clip_digits, clip_split, img_labels, img_split, seed, TEST_SEED)
    image_ids[clip_split == UNUSED] = -1

    rec = Path(root) / "recordings"
    is_test = clip_split == "test"
    clip_seeds = np.where(is_test, TEST_SEED, seed)
    audio = audio_features(
        [read_wav(rec / n) for n in names], knobs["audio_seconds"], knobs["audio_snr_db"], clip_seeds
    )
    visual = torch.zeros(len(names), 1, knobs["n_frames"], knobs["image_size"], knobs["image_size"])
    clutter = knobs.get("visual_clutter", 0)
    for part, part_seed, pool in ((is_test, TEST_SEED, "test"), (~is_test, seed, "train")):
        part = part & (clip_split != UNUSED)
        # distractor strokes come from the part's own image pool (test images never appear in training)
        distractors = images[img_split == pool] if clutter else None
        visual[torch.from_numpy(part)] = visual_frames(
            images[image_ids[part]],
            knobs["n_frames"],
            knobs["image_size"],
            knobs["visual_noise"],
            part_seed,
            clutter=clutter,
            distractors=distractors,
        )

    # standardise each modality with scalar statistics of the training split only
    train = torch.from_numpy(clip_split == "train")
    stats = {}
    for key, x in (("audio", audio), ("visual", visual)):
        mean, std = x[train].mean().item(), x[train].std().item()
        x.sub_(mean).div_(std)
        stats[key] = [mean, std]

    payload = {"knobs": knobs, "stats": stats, "class_names": CLASS_NAMES}
    for s in SPLITS:
        idx = np.flatnonzero(clip_split == s)
        t = torch.from_numpy(idx)
        payload[s] = {
            "audio": audio[t].contiguous(),
            "visual": visual[t].contiguous(),
            "labels": torch.from_numpy(clip_digits[idx]),
            "image_ids": torch.from_numpy(image_ids[idx]),
            "clip_ids": [names[i] for i in idx],
            "speakers": [parsed[i][1] for i in idx],
        }
    return payload


def _to_splits(payload: dict) -> AVSplits:
    out = {}
    for s in SPLITS:
        p = payload[s]
        visual = p["visual"].expand(-1, 3, -1, -1, -1)  # grey -> RGB copies, a view
        ds = AVTensorDataset(p["audio"], visual, p["labels"], payload["class_names"])
        ds.clip_ids, ds.image_ids, ds.speakers = list(p["clip_ids"]), p["image_ids"], list(p["speakers"])
        ds.stats = payload["stats"]
        out[s] = ds
    return AVSplits(out["train"], out["val"], out["test"], list(payload["class_names"]))


def _save_atomic(payload: dict, path: Path) -> None:
    """torch.save atomically; skip (with a warning) if the cache folder is not writable."""
    try:
        atomic_write(path, lambda fh: torch.save(payload, fh))
    except OSError as err:
        warnings.warn(f"not caching avdigits to {path}: {err}", stacklevel=2)
