"""Raw audio-visual downloads -> a compact prepared store that an epoch reads without decoding anything.

The paper's four datasets (CREMA-D, Kinetics-Sounds, VGGSound, AVE) come as video files plus lists.
The official OGM-GE pipeline first extracts JPEG frames at 1 fps with ffmpeg, then its loaders recompute
an STFT with librosa and decode JPEGs on every sample access. Here preparation happens once:

1. **Jobs.** A per-dataset reader turns the download as distributed into `ClipJob`s (name, label, split,
   group, media paths). The list formats are documented on each reader (`cremad_jobs`, `ksounds_jobs`,
   `vggsound_jobs`, `ave_jobs`).
2. **Per-clip extraction** (worker processes, a tqdm bar). Each clip is decoded with PyAV (no system
   ffmpeg): up to `max_frames` RGB frames at 1 fps, resized to `frame_size` x `frame_size`, and the mono
   waveform resampled to the dataset's rate, turned into the dataset's official spectrogram (`DatasetSpec`).
   The result is written atomically as one `.npz` per clip in `clips-<params hash>/`; a clip that cannot
   be decoded gets a `.fail.json` marker with the reason instead. A rerun skips both (a failed clip is
   retried when its file changed, or with `retry_failed`), so preparation is resumable and a finished
   preparation is a no-op.
3. **Packing** into memory-mapped `.npy` arrays: `frames.npy` uint8 `(N, max_frames, S, S, 3)`,
   `nframes.npy` (frames really present per clip), `spec.npy` float16 `(N, F, T)`, plus `train.csv`,
   `test.csv` (and `val.csv` where the dataset has an official one: AVE) with `row,name,label,group`,
   `classes.txt` and `manifest.json` (parameters, counts, the failed clips with reasons, and every file's
   size and SHA-256, with each array's shape and dtype). The manifest is written last, so its presence
   means the store was complete; `store.py` checks on every open that it still is, naming a wrong file,
   and a rerun of `prepare` repairs a damaged store instead of calling it done.

The loader (`prepared.py`) crops, flips and normalises frames and picks the audio window at read time.

**Audio features, per dataset (the official parameters).**

- cremad, 22,050 Hz: tiled to 3 s, clipped to [-1, 1]; STFT n_fft 512, hop 353, Hann, centred;
  log(|S| + 1e-7) -> 257 x 188, all of it given to the model.
- vggsound, 16 kHz: tiled to 10 s, clipped; STFT n_fft 256, hop 128, same log -> 129 x 1251 stored;
  the model sees a 626-frame (5 s) window.
- ksounds, 16 kHz: DC removed; Kaldi-style fbank, 128 mel bins, 25 ms frames every 10 ms, padded or cut
  to 1024 frames -> 128 x 1024.
- ave, 16 kHz: tiled to 10 s; scipy spectrogram nperseg 512, noverlap 353; log(S + 1e-7); per-clip
  z-score -> 257 x 1004.

Deviations, all small: resampling is libswresample's (through PyAV), not librosa's soxr; the STFT pads
with zeros for centring (librosa >= 0.10's default); CREMA-D tiles until 3 s are covered (official: tiles
exactly 3 times, which is shorter than 3 s for clips under a second); VGGSound stores the whole 10 s and
the loader draws the 5 s window (official: a random start in [0, 5 s] drawn on the waveform at every
access; the same augmentation up to the 8 ms hop and the window's edge frames); stereo is averaged to
mono; AVE's spectrogram is taken on float samples in [-1, 1], not int16
(the z-score removes the scale). See `kaldi_fbank` for how it differs from Kaldi.

**Frames.** One frame per second, as ffmpeg's `fps=1` in the official scripts: the first decoded frame at
or after each whole second from the clip's first frame, at most `max_frames` of them (3 for CREMA-D,
10 for the 10 s datasets). They are squashed to a square (the official test transform squashes to
224 x 224 anyway) with area interpolation.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..fileio import atomic_write
from ..paths import dataset_dir
from . import store
from .store import STORE_FILES

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
CREMAD_CLASSES = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")   # the official class order
VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".flv", ".mov")


# ----------------------------------------------------------------------------------------------------
# Audio features
# ----------------------------------------------------------------------------------------------------

def fix_length(wave: np.ndarray, n: int, tile: bool = True) -> np.ndarray:
    """Exactly `n` samples: repeat the clip until it covers `n` (or pad zeros if `tile` is False), then cut."""
    if len(wave) == 0:
        raise ValueError("empty waveform")
    if len(wave) < n:
        if tile:
            wave = np.tile(wave, -(-n // len(wave)))
        else:
            wave = np.pad(wave, (0, n - len(wave)))
    return wave[:n]


def stft_log_magnitude(wave: np.ndarray, n_fft: int, hop: int, eps: float = 1e-7) -> np.ndarray:
    """`log(|librosa.stft(wave, n_fft, hop)| + eps)`: periodic Hann, centred with zero padding.

    Returns `(1 + n_fft // 2, 1 + len(wave) // hop)` float32, frequency first like librosa.
    """
    wave = np.asarray(wave, np.float32)
    padded = np.pad(wave, n_fft // 2)
    n = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spec = np.fft.rfft(frames * window, axis=1)
    return np.log(np.abs(spec) + eps).T.astype(np.float32)


def _mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: int, low_freq: float = 20.0,
                    high_freq: float = 0.0) -> np.ndarray:
    """Kaldi's triangular filters, `(n_mels, n_fft // 2 + 1)`: triangles are linear in mel, not in Hz.

    `high_freq <= 0` counts down from Nyquist, as in Kaldi. The Nyquist bin gets weight 0 (Kaldi too).
    """
    nyquist = 0.5 * sample_rate
    if high_freq <= 0:
        high_freq += nyquist
    mel_low, mel_high = _mel(low_freq), _mel(high_freq)
    delta = (mel_high - mel_low) / (n_mels + 1)
    left = mel_low + delta * np.arange(n_mels)[:, None]
    centre, right = left + delta, left + 2 * delta
    mel = _mel(np.arange(n_fft // 2) * sample_rate / n_fft)[None, :]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float64)


def kaldi_fbank(wave: np.ndarray, sample_rate: int = 16000, n_mels: int = 128, frame_length_ms: float = 25.0,
                frame_shift_ms: float = 10.0, preemphasis: float = 0.97, target_frames: int | None = 1024
                ) -> np.ndarray:
    """Log mel filterbank as `torchaudio.compliance.kaldi.fbank` computes it in the AST recipe.

    The Kinetics-Sounds audio of the OGM-GE maintainers (and of AST) is
    `fbank(wave - wave.mean(), htk_compat=True, use_energy=False, window_type='hanning', num_mel_bins=128,
    dither=0.0, frame_shift=10)`, then zero-padded or cut to 1024 frames. Re-done here in numpy, step by
    step as torchaudio does it: frames of 25 ms every 10 ms (only whole frames: `snip_edges`), each frame's
    mean removed, pre-emphasis 0.97 (the first sample against itself), a symmetric Hann window, zero-padded
    to the next power of two (512 at 16 kHz), power spectrum, Kaldi mel filters from 20 Hz to Nyquist,
    `log(max(energy, float32 eps))`.

    Differences from Kaldi proper: the input is a float waveform in [-1, 1] (Kaldi reads int16, so its
    values are log(32768^2) ~ 20.8 higher), no dither, a Hann window instead of Kaldi's default "povey",
    and the padding to a fixed 1024 frames. No dataset normalisation is applied (AST's AudioSet mean/std
    would be dataset-specific). Returns `(n_mels, frames)` float32, mel bins first like the other datasets.
    """
    wave = np.asarray(wave, np.float64)
    wave = wave - wave.mean()
    length = int(sample_rate * frame_length_ms / 1000)
    shift = int(sample_rate * frame_shift_ms / 1000)
    if len(wave) < length:
        wave = np.pad(wave, (0, length - len(wave)))
    n = 1 + (len(wave) - length) // shift
    frames = np.lib.stride_tricks.sliding_window_view(wave, length)[::shift][:n].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames - preemphasis * previous
    frames *= np.hanning(length)
    n_fft = 1 << (length - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    energies = power @ kaldi_mel_banks(n_mels, n_fft, sample_rate).T
    fbank = np.log(np.maximum(energies, np.finfo(np.float32).eps))
    if target_frames is not None:
        if len(fbank) < target_frames:
            fbank = np.pad(fbank, ((0, target_frames - len(fbank)), (0, 0)))
        fbank = fbank[:target_frames]
    return fbank.T.astype(np.float32)


def scipy_log_spectrogram(wave: np.ndarray, sample_rate: int = 16000, nperseg: int = 512,
                          noverlap: int = 353) -> np.ndarray:
    """The older AVE pipeline: `scipy.signal.spectrogram` (Tukey window, density scaling), `log(S + 1e-7)`,
    then a per-clip z-score. `(nperseg // 2 + 1, frames)` float32."""
    from scipy import signal
    _, _, spec = signal.spectrogram(np.asarray(wave, np.float64), sample_rate, nperseg=nperseg,
                                    noverlap=noverlap)
    spec = np.log(spec + 1e-7)
    return ((spec - spec.mean()) / (spec.std() + 1e-9)).astype(np.float32)


def cremad_features(wave: np.ndarray) -> np.ndarray:
    """CREMA-D at 22,050 Hz: tile to 3 s, clip to [-1, 1], log |STFT| n_fft 512 hop 353 -> 257 x 188."""
    return stft_log_magnitude(np.clip(fix_length(wave, 3 * 22050), -1, 1), 512, 353)


def vggsound_features(wave: np.ndarray) -> np.ndarray:
    """VGGSound at 16 kHz: tile to 10 s, clip, log |STFT| n_fft 256 hop 128 -> 129 x 1251 (10 s).

    The model sees a 626-frame (5 s) window of it, drawn by the loader."""
    return stft_log_magnitude(np.clip(fix_length(wave, 10 * 16000), -1, 1), 256, 128)


def ksounds_features(wave: np.ndarray) -> np.ndarray:
    """Kinetics-Sounds at 16 kHz: Kaldi-style fbank, 128 mel bins, 10 ms shift, 1024 frames."""
    return kaldi_fbank(wave, 16000, n_mels=128, target_frames=1024)


def ave_features(wave: np.ndarray) -> np.ndarray:
    """AVE at 16 kHz: tile to 10 s, scipy spectrogram nperseg 512 noverlap 353, log, z-score -> 257 x 1004."""
    return scipy_log_spectrogram(fix_length(wave, 10 * 16000), 16000, 512, 353)


@dataclass(frozen=True)
class DatasetSpec:
    """What preparation needs to know about one dataset's audio and frames."""
    name: str
    sample_rate: int
    features: Callable[[np.ndarray], np.ndarray]   # mono float waveform at sample_rate -> (F, T_stored)
    spec_shape: tuple[int, int]                     # (F, T_stored)
    crop_frames: int                                # T the model sees (a window of T_stored)
    max_frames: int                                 # 1-fps frames stored per clip


SPECS: dict[str, DatasetSpec] = {
    "cremad": DatasetSpec("cremad", 22050, cremad_features, (257, 188), 188, 3),
    "vggsound": DatasetSpec("vggsound", 16000, vggsound_features, (129, 1251), 626, 10),
    "ksounds": DatasetSpec("ksounds", 16000, ksounds_features, (128, 1024), 1024, 10),
    "ave": DatasetSpec("ave", 16000, ave_features, (257, 1004), 1004, 10),
}


# ----------------------------------------------------------------------------------------------------
# Decoding (PyAV)
# ----------------------------------------------------------------------------------------------------

def _frame_time(frame, index: int, rate: float) -> float:
    return float(frame.time) if frame.time is not None else index / rate


def decode_clip(video_path: str | os.PathLike, audio_path: str | os.PathLike | None, sample_rate: int,
                max_frames: int, frame_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames at 1 fps `(n, S, S, 3)` uint8 and the mono float32 waveform at `sample_rate`.

    Audio comes from `audio_path` when given (CREMA-D's separate .wav), else from the video file. One pass
    over the packets; video packets are no longer decoded once `max_frames` frames are kept.
    """
    import av
    from av.video.reformatter import Interpolation

    frames: list[np.ndarray] = []
    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="fltp", rate=sample_rate)

    def take_audio(frame) -> None:
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(len(out.layout.channels), -1).mean(axis=0))

    with av.open(str(video_path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        vstream = container.streams.video[0]
        vstream.thread_count = 1      # parallelism comes from worker processes
        rate = float(vstream.average_rate or 25)
        streams = [vstream]
        if audio_path is None:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            streams.append(container.streams.audio[0])
        t0, next_second, index = None, 0, 0
        for packet in container.demux(streams):
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    take_audio(frame)
                continue
            if len(frames) >= max_frames:
                continue
            for frame in packet.decode():
                t = _frame_time(frame, index, rate)
                index += 1
                t0 = t if t0 is None else t0
                if len(frames) < max_frames and t - t0 >= next_second - 1e-6:
                    frames.append(frame.to_ndarray(format="rgb24", width=frame_size, height=frame_size,
                                                   interpolation=Interpolation.AREA, threads=1))
                    next_second += 1
    if audio_path is not None:
        with av.open(str(audio_path)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            for frame in container.decode(container.streams.audio[0]):
                take_audio(frame)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(len(out.layout.channels), -1).mean(axis=0))
    if not frames:
        raise ValueError("no video frames decoded")
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(wave) == 0:
        raise ValueError("no audio samples decoded")
    return np.stack(frames), wave


# ----------------------------------------------------------------------------------------------------
# Jobs: what to prepare
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipJob:
    """One clip to prepare. `group` keeps related clips on one side of a split (an actor, a video)."""
    name: str
    label: str
    split: str                 # "train", "val" or "test"
    group: str
    video: str | None          # None: listed but not found (reported as failed)
    audio: str | None = None   # a separate audio file (CREMA-D); None: the video's own audio track

    @property
    def key(self) -> str:
        """File-system safe name of the clip's outputs."""
        return self.name.replace("/", "__").replace("\\", "__")


def _hash_unit(key: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha1(f"{salt}:{key}".encode()).digest()[:8], "big")


def pick_fraction(groups: Iterable[str], fraction: float, salt: str) -> set[str]:
    """A deterministic `fraction` of the distinct `groups`: those whose salted SHA-1 sorts first.

    Depends only on the group names (not on the order, the seed or the other groups' presence, beyond the
    count), so the same clips land in the same split on every machine. At least one group is picked when
    `fraction > 0` and at least one is left when there are two or more.
    """
    unique = sorted(set(groups), key=lambda g: (_hash_unit(g, salt), g))
    if fraction <= 0 or not unique:
        return set()
    k = int(round(fraction * len(unique)))
    k = max(k, 1)
    if len(unique) > 1:
        k = min(k, len(unique) - 1)
    return set(unique[:k])


def _read_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [[c.strip() for c in row] for row in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in row)]


def raw_folder(raw: str | os.PathLike, dataset: str) -> Path:
    """`--raw` as a Path, refused when it does not exist or is not a folder (not "the wrong layout")."""
    path = Path(raw).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--raw {raw}: no such folder (the {dataset} download, see the layout in --help)")
    if not path.is_dir():
        raise NotADirectoryError(f"--raw {raw} is a file, not the folder of the {dataset} download")
    return path


def _what_is_there(folder: Path, limit: int = 3) -> str:
    """`3 files: a.txt, b.txt, ...` or `nothing`, to say what a folder holds instead of what was expected."""
    try:
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return "nothing readable"
    if not names:
        return "nothing"
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: " + ", ".join(names[:limit]) + (
        ", ..." if len(names) > limit else "")


def _index_media(root: Path, exts: Sequence[str] = VIDEO_EXTS) -> dict[str, Path]:
    """Every media file under `root` by its stem (and by its relative path without extension)."""
    found: dict[str, Path] = {}
    for dirpath, _, files in os.walk(root):
        for fname in files:
            stem, ext = os.path.splitext(fname)
            if ext.lower() in exts:
                path = Path(dirpath) / fname
                found.setdefault(stem, path)
                found.setdefault(os.path.splitext(str(path.relative_to(root)))[0].replace(os.sep, "/"), path)
    return found


def cremad_jobs(raw: str | os.PathLike, split_dir: str | os.PathLike | None = None,
                speaker_independent: bool = False, test_fraction: float = 0.1) -> tuple[list[ClipJob], dict]:
    """CREMA-D as distributed: `<raw>/AudioWAV/<name>.wav` and `<raw>/VideoFlash/<name>.flv`.

    Names are `<actor>_<sentence>_<emotion>_<level>`, e.g. `1001_DFA_ANG_XX`: actor is the 1st field,
    emotion (the label, one of NEU HAP SAD FEA DIS ANG) the 3rd.

    Split: with `split_dir`, its `train.csv` and `test.csv` (lines `name,label`, as in the OGM-GE
    repository; a `.flv`/`.wav` extension on the name is ignored; clips in neither file are left out).
    Otherwise a deterministic 90/10 split by `pick_fraction` on the clip name, or on the actor with
    `speaker_independent` (no actor in both train and test). The group (used again when the loader carves
    the validation split from train) is the actor in the speaker-independent case, else the clip.
    """
    raw = raw_folder(raw, "CREMA-D")
    audio_dir, video_dir = raw / "AudioWAV", raw / "VideoFlash"
    if not audio_dir.is_dir() and not video_dir.is_dir():
        raise FileNotFoundError(f"{raw} has neither AudioWAV/ nor VideoFlash/ (it holds {_what_is_there(raw)}): "
                                "is it the CREMA-D download?")
    wavs = {p.stem: p for p in audio_dir.glob("*.wav")} if audio_dir.is_dir() else {}
    flvs = {p.stem: p for p in video_dir.glob("*.flv")} if video_dir.is_dir() else {}
    names = sorted(set(wavs) | set(flvs))
    if not names:
        held = "; ".join(f"{d.name}/ holds {_what_is_there(d)}" for d in (audio_dir, video_dir) if d.is_dir())
        raise FileNotFoundError(f"{raw}: no CREMA-D clip, neither AudioWAV/*.wav nor VideoFlash/*.flv ({held})")

    def emotion(name: str) -> str:
        parts = name.split("_")
        if len(parts) < 3 or parts[2] not in CREMAD_CLASSES:
            raise ValueError(f"CREMA-D name {name!r} has no emotion field (expected e.g. 1001_DFA_ANG_XX)")
        return parts[2]

    if split_dir is not None:
        split_of: dict[str, tuple[str, str]] = {}
        for split in ("train", "test"):
            path = Path(split_dir) / f"{split}.csv"
            if not path.exists():
                raise FileNotFoundError(f"official split file {path} not found (expected train.csv and test.csv)")
            for row in _read_rows(path):
                if row[0].lower() == "name":
                    continue
                name = os.path.splitext(row[0])[0] if row[0].endswith((".flv", ".wav")) else row[0]
                label = row[1] if len(row) > 1 else emotion(name)
                split_of[name] = (split, label)
        names = sorted(split_of)
        source = f"official split files in {split_dir}"
    else:
        groups = {n: (n.split("_")[0] if speaker_independent else n) for n in names}
        test = pick_fraction(groups.values(), test_fraction, "test")
        split_of = {n: ("test" if groups[n] in test else "train", emotion(n)) for n in names}
        source = (f"deterministic {1 - test_fraction:.0%}/{test_fraction:.0%} by SHA-1 of the "
                  + ("actor (speaker-independent)" if speaker_independent else "clip name"))
    jobs, missing = [], []
    for name in names:
        split, label = split_of[name]
        if label not in CREMAD_CLASSES:
            raise ValueError(f"CREMA-D clip {name}: unknown label {label!r}; valid: {' '.join(CREMAD_CLASSES)}")
        group = name.split("_")[0] if speaker_independent else name
        flv, wav = flvs.get(name), wavs.get(name)
        if flv is None or wav is None:
            missing.append((name, "missing " + " and ".join(
                w for w, p in (("VideoFlash/%s.flv" % name, flv), ("AudioWAV/%s.wav" % name, wav)) if p is None)))
            flv = wav = None
        jobs.append(ClipJob(name, label, split, group, str(flv) if flv else None, str(wav) if wav else None))
    info = {"split_source": source, "classes": list(CREMAD_CLASSES),
            "val_group": "actor" if speaker_independent else "clip", "missing": dict(missing)}
    return jobs, info


def _listed_jobs(entries: list[tuple[str, str, str, str]], media: dict[str, Path], root: Path,
                 what: Callable[[str], str]) -> tuple[list[ClipJob], dict[str, str]]:
    """Jobs from (name, label, split, group) rows; names are looked up as relative paths or stems."""
    jobs, missing = [], {}
    for name, label, split, group in entries:
        path = None
        direct = root / name
        if direct.suffix.lower() in VIDEO_EXTS and direct.exists():
            path = direct
        else:
            path = media.get(os.path.splitext(name)[0] if name.lower().endswith(VIDEO_EXTS) else name)
        if path is None:
            if direct.is_file():
                missing[name] = (f"{direct} is not a video file (expected one of {' '.join(VIDEO_EXTS)}, "
                                 f"got {direct.suffix or 'no extension'})")
            else:
                missing[name] = f"missing {what(name)} under {root}"
        key = os.path.splitext(name)[0] if name.lower().endswith(VIDEO_EXTS) else name
        jobs.append(ClipJob(key, label, split, group, str(path) if path else None))
    return jobs, missing


def ksounds_jobs(raw: str | os.PathLike, train_list: str | os.PathLike | None = None,
                 test_list: str | os.PathLike | None = None) -> tuple[list[ClipJob], dict]:
    """Kinetics-Sounds: clips (any of .mp4 .mkv .webm .avi ...) anywhere under `raw`, plus two lists.

    Lists (default `<raw>/train.csv` and `<raw>/test.csv`): one clip a line, `clip,label`, where `clip`
    is either a path relative to `raw` with its extension (`train/playing_bagpipes/abc_000010_000020.mp4`)
    or a clip id found as `<id>.<ext>` anywhere under `raw` (`abc_000010_000020`, the Kinetics downloader's
    `<youtube_id>_<start:06d>_<end:06d>` naming). CSV quoting is honoured; a first line `clip,label` is a
    header. To convert the official Kinetics-400 CSVs (`label,youtube_id,time_start,time_end,split`),
    keep the rows of the Kinetics-Sounds classes and write `<youtube_id>_<start:06d>_<end:06d>,<label>`.
    """
    raw = raw_folder(raw, "Kinetics-Sounds")
    lists = {"train": Path(train_list) if train_list else raw / "train.csv",
             "test": Path(test_list) if test_list else raw / "test.csv"}
    entries = []
    for split, path in lists.items():
        if not path.exists():
            raise FileNotFoundError(f"Kinetics-Sounds {split} list {path} not found (lines `clip,label`)")
        for row in _read_rows(path):
            if len(row) < 2 or (row[0].lower() in ("clip", "path", "id") and row[1].lower() == "label"):
                continue
            entries.append((row[0], row[1], split, os.path.splitext(row[0])[0]))
    if not entries:
        raise ValueError(f"the Kinetics-Sounds lists {lists['train']} and {lists['test']} hold no clip "
                         "(expected lines `clip,label`)")
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"clip {n}")
    return jobs, {"split_source": "official train/test lists", "val_group": "clip", "missing": missing,
                  "classes": sorted({j.label for j in jobs})}


def vggsound_jobs(raw: str | os.PathLike, csv_path: str | os.PathLike | None = None) -> tuple[list[ClipJob], dict]:
    """VGGSound: the official `vggsound.csv` (`youtube_id,start_seconds,label,split`, no header, labels
    quoted where they hold commas, split `train` or `test`) and clips named `<youtube_id>_<start:06d>.mp4`
    anywhere under `raw` (default csv: `<raw>/vggsound.csv`). The group is the YouTube id, so the
    validation split never separates two segments of one video."""
    raw = raw_folder(raw, "VGGSound")
    path = Path(csv_path) if csv_path else raw / "vggsound.csv"
    if not path.exists():
        raise FileNotFoundError(f"VGGSound list {path} not found (the official vggsound.csv)")
    entries = []
    for row in _read_rows(path):
        if len(row) < 4 or row[0] == "youtube_id":
            continue
        try:
            start = int(float(row[1]))
        except ValueError:
            raise ValueError(f"{path}: start_seconds {row[1]!r} of clip {row[0]!r} is not a number "
                             "(expected lines `youtube_id,start_seconds,label,split`)") from None
        ytid, label, split = row[0], row[2], row[3].lower()
        if split not in ("train", "test"):
            raise ValueError(f"{path}: split {row[3]!r} is neither train nor test")
        entries.append((f"{ytid}_{start:06d}", label, split, ytid))
    if not entries:
        raise ValueError(f"{path} lists no clip (expected lines `youtube_id,start_seconds,label,split`)")
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"{n}.mp4")
    return jobs, {"split_source": f"official split column of {path.name}", "val_group": "youtube_id",
                  "missing": missing, "classes": sorted({j.label for j in jobs})}


def ave_jobs(raw: str | os.PathLike) -> tuple[list[ClipJob], dict]:
    """AVE as distributed (AVE_Dataset): `trainSet.txt`, `valSet.txt`, `testSet.txt` (and `Annotations.txt`,
    all one format: `Category&VideoID&Quality&StartTime&EndTime`, a first header line), videos
    `<VideoID>.mp4` anywhere under `raw` (normally `AVE/`). The whole 10 s video is one sample labelled
    with its category (the event boundaries are not used for classification). The official validation
    split is kept, so `val_fraction` does not apply to AVE."""
    raw = raw_folder(raw, "AVE")
    entries = []
    for split in SPLITS:
        path = raw / f"{split}Set.txt"
        if not path.exists():
            raise FileNotFoundError(f"AVE split file {path} not found (trainSet.txt, valSet.txt, testSet.txt)")
        for row in _read_rows(path, delimiter="&"):
            if len(row) < 2 or row[0] == "Category":
                continue
            entries.append((row[1], row[0], split, row[1]))
    if not entries:
        raise ValueError(f"{raw}: trainSet.txt, valSet.txt and testSet.txt list no clip "
                         "(expected lines `Category&VideoID&Quality&StartTime&EndTime`)")
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"{n}.mp4")
    return jobs, {"split_source": "official trainSet/valSet/testSet", "val_group": "video",
                  "missing": missing, "classes": sorted({j.label for j in jobs})}


# ----------------------------------------------------------------------------------------------------
# Extraction and packing
# ----------------------------------------------------------------------------------------------------

@dataclass
class PrepareReport:
    """What one call of `prepare` did. `extracted == 0 and not packed` means the run was a no-op."""
    out_dir: str
    listed: int = 0
    extracted: int = 0        # clips decoded in this run (successfully)
    failed_now: int = 0       # clips that failed in this run
    skipped: int = 0          # clips already done (or already failed with an unchanged file)
    packed: bool = False      # whether the store was (re)written
    prepared: int = 0         # clips in the store
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    repaired: list[str] = field(default_factory=list)   # "file: problem" of a damaged store this run rebuilt

    @property
    def clips_per_second(self) -> float:
        n = self.extracted + self.failed_now
        return n / self.seconds if self.seconds > 0 else float("nan")


def _write_json(path: Path, obj) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, sort_keys=False).encode()))


def _source_stat(job: ClipJob) -> list | None:
    """Size and mtime of the clip's files: a failure is retried once they change."""
    try:
        return [[os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in (job.video, job.audio) if p]
    except OSError:
        return None


def _extract_one(task) -> tuple[str, str | None]:
    """Worker: decode one clip, write `<key>.npz` (or `<key>.fail.json`), return (name, failure reason)."""
    job, spec, frame_size, max_frames, clip_dir = task
    clip_dir = Path(clip_dir)
    fail = clip_dir / f"{job.key}.fail.json"
    try:
        frames, wave = decode_clip(job.video, job.audio, spec.sample_rate, max_frames, frame_size)
        feats = spec.features(wave)
        if feats.shape != tuple(spec.spec_shape):
            raise ValueError(f"spectrogram shape {feats.shape} != {spec.spec_shape}")
        if not np.all(np.isfinite(feats)):
            raise ValueError("non-finite spectrogram values")
        atomic_write(clip_dir / f"{job.key}.npz",
                            lambda f: np.savez(f, frames=frames, spec=feats.astype(np.float16)))
        if fail.exists():
            fail.unlink()
        return job.name, None
    except Exception as e:  # a bad clip must not stop the run: record why and go on
        reason = f"{type(e).__name__}: {e}".strip()
        _write_json(fail, {"name": job.name, "reason": reason, "source_stat": _source_stat(job)})
        return job.name, reason


def _params(spec: DatasetSpec, frame_size: int, max_frames: int) -> dict:
    return {"sample_rate": spec.sample_rate, "features": spec.features.__name__,
            "spec_shape": list(spec.spec_shape), "crop_frames": spec.crop_frames,
            "frame_size": frame_size, "max_frames": max_frames, "format": FORMAT_VERSION}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]




def read_manifest(out_dir: str | os.PathLike) -> dict | None:
    """The store's manifest, None when there is none; a `DamagedFileError` naming it when it is not a JSON
    object (truncated, edited)."""
    from ..fileio import DamagedFileError
    path = Path(out_dir) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DamagedFileError(path, f"not valid JSON ({err})",
                               "run the dataset's prepare script again: it rebuilds the store") from None
    if not isinstance(manifest, dict):
        raise DamagedFileError(path, f"holds a JSON {type(manifest).__name__}, not a manifest",
                               "run the dataset's prepare script again: it rebuilds the store")
    return manifest


def prepare(jobs: list[ClipJob], info: dict, out_dir: str | os.PathLike, spec: DatasetSpec, *,
            workers: int = 1, frame_size: int = 256, max_frames: int | None = None,
            retry_failed: bool = False, remove_clips: bool = False, quiet: bool = False,
            verify: bool = False) -> PrepareReport:
    """Extract every job's clip (resumably, `workers` processes), then pack the store (see module doc).

    A store is done only when it passes `store.problems` (sizes, shapes, split lists; with `verify`, the
    SHA-256 of the large arrays too): a damaged or incomplete store is repacked, from the per-clip files or
    the old arrays where those are still good, and a clip found in neither is decoded again."""
    from tqdm.auto import tqdm

    if not jobs:
        raise ValueError(f"no clip of {spec.name} is listed: nothing to prepare")
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    max_frames = max_frames or spec.max_frames
    params = _params(spec, frame_size, max_frames)
    params_hash = _digest(params)
    clip_dir = out / f"clips-{params_hash[:8]}"
    classes = list(info["classes"])
    missing = dict(info.get("missing", {}))
    present = [j for j in jobs if j.video is not None]
    fingerprint = _digest({"params": params, "classes": classes,
                           "jobs": [dataclasses.astuple(j) for j in sorted(jobs, key=lambda j: j.name)]})
    report = PrepareReport(out_dir=str(out), listed=len(jobs))

    # Which clips are done: an .npz, a packed row of an up-to-date store, or an unchanged failure.
    try:
        manifest = read_manifest(out)
    except ValueError as err:       # a damaged manifest: the store is rebuilt from the per-clip files
        import warnings
        warnings.warn(f"{err}; rebuilding the store", RuntimeWarning, stacklevel=2)
        manifest = None
    same_params = manifest is not None and manifest.get("params_hash") == params_hash
    same_jobs = same_params and manifest.get("fingerprint") == fingerprint
    report.repaired = [f"{n}: {p}" for n, p in store.problems(out, manifest, deep=verify)] if same_jobs else []
    store_ok = same_jobs and not report.repaired
    # the old arrays are a source of rows only while they are good (a truncated frames.npy is not)
    arrays = ("frames.npy", "nframes.npy", "spec.npy")
    arrays_ok = same_params and not store.problems(out, manifest, deep=verify, only=arrays)
    packed_names = set(manifest.get("names", [])) if same_jobs and arrays_ok else set()
    # earlier failures: the per-clip markers, else the manifest's list (all that is left after --remove-clips)
    old_failures = {f["name"]: f for f in manifest.get("failed", [])} if same_params else {}

    def known_failure(job: ClipJob) -> dict | None:
        marker = clip_dir / f"{job.key}.fail.json"
        if marker.exists():
            try:
                return json.loads(marker.read_text())
            except ValueError:
                return None
        return old_failures.get(job.name)

    todo = []
    for job in present:
        if job.name in packed_names or (clip_dir / f"{job.key}.npz").exists():
            report.skipped += 1
            continue
        record = known_failure(job)
        if record is not None and not retry_failed and record.get("source_stat") == _source_stat(job):
            report.skipped += 1      # failed before and the file has not changed since
            continue
        todo.append(job)

    tasks = [(j, spec, frame_size, max_frames, str(clip_dir)) for j in todo]
    results: list[tuple[str, str | None]] = []
    if tasks:
        clip_dir.mkdir(exist_ok=True)
        bar = tqdm(total=len(tasks), desc=f"prepare {spec.name}", unit="clip", disable=quiet)
        if workers > 1:
            import multiprocessing as mp
            with mp.get_context().Pool(workers) as pool:
                for r in pool.imap_unordered(_extract_one, tasks, chunksize=1):
                    results.append(r)
                    bar.update()
        else:
            for t in tasks:
                results.append(_extract_one(t))
                bar.update()
        bar.close()
    report.extracted = sum(r is None for _, r in results)
    report.failed_now = len(results) - report.extracted

    if report.extracted == 0 and store_ok:
        # nothing new could enter the store: leave it untouched
        if remove_clips:
            shutil.rmtree(clip_dir, ignore_errors=True)
        report.prepared = len(packed_names)
        report.failed = manifest.get("failed", [])
        report.seconds = time.perf_counter() - start
        return report

    failed = {name: {"name": name, "reason": reason, "source_stat": None} for name, reason in missing.items()}
    old = _OldStore(out, manifest if arrays_ok else None, params_hash)
    done = []
    for job in present:
        if (clip_dir / f"{job.key}.npz").exists() or old.has(job.name):
            done.append(job)
            continue
        record = known_failure(job) or {"reason": "not extracted", "source_stat": None}
        failed[job.name] = {"name": job.name, "reason": record["reason"], "source_stat": record.get("source_stat")}
    if not done:
        shown = list(failed.items())[:5]
        raise RuntimeError(f"none of the {len(jobs)} listed clips of {spec.name} could be prepared; "
                           f"{'first ' if len(failed) > 5 else ''}{len(shown)} of {len(failed)} failures: "
                           + "; ".join(f"{k}: {v['reason']}" for k, v in shown))
    order = {s: i for i, s in enumerate(SPLITS)}
    done.sort(key=lambda j: (order[j.split], j.name))
    # the manifest marks a complete store: drop it while the arrays change, write it again last
    (out / "manifest.json").unlink(missing_ok=True)
    _pack(out, done, clip_dir, old, spec, frame_size, max_frames, quiet)
    old.close()

    for split in SPLITS:
        rows = [[i, j.name, j.label, j.group] for i, j in enumerate(done) if j.split == split]
        path = out / f"{split}.csv"
        if split == "val" and not rows:
            if path.exists():
                path.unlink()
            continue
        atomic_write(path, lambda f, rows=rows: f.write(_csv_text([["row", "name", "label", "group"], *rows])))
    atomic_write(out / "classes.txt", lambda f: f.write("".join(c + "\n" for c in classes).encode()))

    failed_list = [failed[k] for k in sorted(failed)]
    counts = {"listed": len(jobs), "prepared": len(done), "failed": len(failed_list)}
    counts.update({s: sum(j.split == s for j in done) for s in SPLITS})
    counts["per_class"] = {c: sum(j.label == c for j in done) for c in classes}
    manifest = {
        "format": FORMAT_VERSION, "dataset": spec.name, "fingerprint": fingerprint, "params_hash": params_hash,
        "params": params, "split_source": info.get("split_source"), "val_group": info.get("val_group"),
        "counts": counts,
        "arrays": {"frames": [len(done), max_frames, frame_size, frame_size, 3],
                   "spec": [len(done), *spec.spec_shape]},
        "clips_dir": clip_dir.name, "failed": failed_list, "names": [j.name for j in done],
    }
    # every file's size and SHA-256 (shape and dtype for arrays), and the store's identity (store.py)
    manifest["files"] = store.describe(out)
    manifest["store_fingerprint"] = store.store_fingerprint(params_hash, manifest["files"])
    _write_json(out / "manifest.json", manifest)
    if remove_clips:
        shutil.rmtree(clip_dir, ignore_errors=True)
    report.packed = True
    report.prepared = len(done)
    report.failed = failed_list
    report.seconds = time.perf_counter() - start
    return report


def _csv_text(rows: list[list]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


class _OldStore:
    """The previous packed store, read as a source of rows whose per-clip .npz has been removed."""

    def __init__(self, out: Path, manifest: dict | None, params_hash: str):
        self.rows: dict[str, int] = {}
        self.frames = self.nframes = self.spec = None
        if manifest and manifest.get("params_hash") == params_hash and all((out / f).exists() for f in STORE_FILES):
            self.rows = {n: i for i, n in enumerate(manifest.get("names", []))}
            self.frames = np.load(out / "frames.npy", mmap_mode="r")
            self.nframes = np.load(out / "nframes.npy")
            self.spec = np.load(out / "spec.npy", mmap_mode="r")

    def has(self, name: str) -> bool:
        return name in self.rows

    def get(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.rows[name]
        return np.array(self.frames[i, :self.nframes[i]]), np.array(self.spec[i])

    def close(self) -> None:
        self.frames = self.spec = None


def _pack(out: Path, done: list[ClipJob], clip_dir: Path, old: _OldStore, spec: DatasetSpec,
          frame_size: int, max_frames: int, quiet: bool) -> None:
    """Copy every clip's frames and spectrogram into the memory-mapped arrays (temporary names, then swap)."""
    from tqdm.auto import tqdm

    n = len(done)
    tmp = {k: out / f".{k}.tmp.npy" for k in ("frames", "nframes", "spec")}
    frames = np.lib.format.open_memmap(tmp["frames"], mode="w+", dtype=np.uint8,
                                       shape=(n, max_frames, frame_size, frame_size, 3))
    specs = np.lib.format.open_memmap(tmp["spec"], mode="w+", dtype=np.float16, shape=(n, *spec.spec_shape))
    nframes = np.zeros(n, np.int16)
    for i, job in enumerate(tqdm(done, desc=f"pack {spec.name}", unit="clip", disable=quiet)):
        path = clip_dir / f"{job.key}.npz"
        if path.exists():
            with np.load(path) as z:
                f, s = z["frames"], z["spec"]
        else:
            f, s = old.get(job.name)
        nframes[i] = len(f)
        frames[i, :len(f)] = f
        specs[i] = s
    frames.flush()
    specs.flush()
    del frames, specs
    np.save(tmp["nframes"], nframes)
    old.close()
    for k, p in tmp.items():
        os.replace(p, out / f"{k}.npy")


# ----------------------------------------------------------------------------------------------------
# One entry point per dataset, and the shared command line
# ----------------------------------------------------------------------------------------------------

def prepare_cremad(raw, out, *, split_dir=None, speaker_independent=False, test_fraction=0.1, **kw) -> PrepareReport:
    jobs, info = cremad_jobs(raw, split_dir, speaker_independent, test_fraction)
    return prepare(jobs, info, out, SPECS["cremad"], **kw)


def prepare_ksounds(raw, out, *, train_list=None, test_list=None, **kw) -> PrepareReport:
    jobs, info = ksounds_jobs(raw, train_list, test_list)
    return prepare(jobs, info, out, SPECS["ksounds"], **kw)


def prepare_vggsound(raw, out, *, csv_path=None, **kw) -> PrepareReport:
    jobs, info = vggsound_jobs(raw, csv_path)
    return prepare(jobs, info, out, SPECS["vggsound"], **kw)


def prepare_ave(raw, out, **kw) -> PrepareReport:
    jobs, info = ave_jobs(raw)
    return prepare(jobs, info, out, SPECS["ave"], **kw)


def default_out_dir(dataset: str) -> Path:
    """Where `load_prepared` looks when `RunConfig.data_dir` is None, and where the prepare scripts write
    without `--out`: `$OGM_DATA_DIR/<dataset>` when the variable is set, else `<repository root>/data/<dataset>`
    whatever the working directory (`paths.dataset_dir`)."""
    return dataset_dir(dataset)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def open_fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected 0 < x < 1, got {value}")
    return value


def base_parser(dataset: str, description: str) -> argparse.ArgumentParser:
    """Options every prepare script shares."""
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    p.add_argument("--raw", required=True, help="the raw download (see the layout above)")
    p.add_argument("--out", default=str(default_out_dir(dataset)), help="prepared store to write")
    p.add_argument("--workers", type=positive_int, default=max(1, (os.cpu_count() or 2) - 1),
                   help="decoding processes")
    p.add_argument("--frame-size", type=positive_int, default=256, help="stored frame side (square); >= image_size")
    p.add_argument("--max-frames", type=positive_int, default=SPECS[dataset].max_frames,
                   help="1-fps frames kept per clip")
    p.add_argument("--retry-failed", action="store_true", help="try clips that failed before again")
    p.add_argument("--remove-clips", action="store_true",
                   help="delete the per-clip files after packing (reruns then rely on the packed store)")
    p.add_argument("--verify", action="store_true",
                   help="also check the SHA-256 of the large arrays of an existing store (one full read)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="on an error, show the full traceback instead of one line")
    return p


def run_cli(main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> int:
    """Run a data script's `main(argv)` as a command: an error is one line on stderr (`error: ...`, exit
    status 1), or its full traceback with `--debug`. Argument errors stay argparse's (exit status 2)."""
    import sys
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        main(argv)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print("interrupted; the same command resumes where it stopped", file=sys.stderr)
        return 130
    except Exception as err:
        if "--debug" in argv:
            raise
        text = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, ImportError) and err.name == "av":
            text = "PyAV is not installed: the data scripts decode media with it (pip install -e '.[data]')"
        elif not isinstance(err, (OSError, ValueError, RuntimeError)):
            text = f"{type(err).__name__}: {text} (run again with --debug for the traceback)"
        print(f"error: {text}", file=sys.stderr)
        return 1
    return 0


def common_kwargs(args: argparse.Namespace) -> dict:
    return dict(workers=args.workers, frame_size=args.frame_size, max_frames=args.max_frames,
                retry_failed=args.retry_failed, remove_clips=args.remove_clips, quiet=args.quiet,
                verify=args.verify)


def summarise(report: PrepareReport) -> str:
    """One human line per run, plus the failures."""
    if report.extracted == 0 and report.failed_now == 0 and not report.packed:
        head = f"{report.out_dir}: already prepared ({report.prepared} clips), nothing to do"
    else:
        head = (f"{report.out_dir}: {report.prepared} clips in the store; this run decoded {report.extracted}, "
                f"failed {report.failed_now}, skipped {report.skipped} in {report.seconds:.1f} s")
    lines = [head]
    if report.repaired:
        lines.append(f"repaired a damaged store ({len(report.repaired)} problem(s) found):")
        lines += [f"  {r}" for r in report.repaired]
    if report.failed:
        lines.append(f"{len(report.failed)} clip(s) left out (listed in manifest.json):")
        lines += [f"  {f['name']}: {f['reason']}" for f in report.failed[:20]]
        if len(report.failed) > 20:
            lines.append(f"  ... and {len(report.failed) - 20} more")
    return "\n".join(lines)
