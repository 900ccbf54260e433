"""List readers: a dataset's download as distributed -> `ClipJob`s (name, label, split, group, media).

One reader per dataset (`cremad_jobs`, `ksounds_jobs`, `vggsound_jobs`, `ave_jobs`), each documenting the
layout and list format it reads, and returning the jobs with an `info` dict (where the split came from,
the listed clips whose media is missing, the classes). `pick_fraction` is the deterministic split by
salted hash that the readers (and `splits.py`) use where a dataset has no official list. Every media path
is resolved and must stay under `--raw` (`outside`): a list entry that climbs out (`../../x.mp4`) or a link to
a file elsewhere is reported as a failed clip with the reason, never read.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

SPLITS = ("train", "val", "test")
CREMAD_CLASSES = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")  # the official class order
VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".flv", ".mov")


@dataclass(frozen=True)
class ClipJob:
    """One clip to prepare. `group` keeps related clips on one side of a split (an actor, a video)."""

    name: str
    label: str
    split: str  # "train", "val" or "test"
    group: str
    video: str | None  # None: listed but not found (reported as failed)
    audio: str | None = None  # a separate audio file (CREMA-D); None: the video's own audio track
    #: per-second labels of an event-localisation dataset (AVE: `ave_segment_labels`); None elsewhere
    segments: tuple[int, ...] | None = None

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
    return (
        f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: "
        + ", ".join(names[:limit])
        + (", ..." if len(names) > limit else "")
    )


def outside(path: str | os.PathLike, root: str | os.PathLike) -> str | None:
    """None when `path`, resolved (`..` and symbolic links followed), is under `root` resolved; else why it
    is refused. A list file is data: an entry such as `../../outside/secret.mp4`, or a link under `--raw` to
    a file elsewhere, must not pull a file from outside the download into the store."""
    real, top = Path(path).resolve(), Path(root).resolve()
    if real == top or top in real.parents:
        return None
    return f"{path} resolves to {real}, outside --raw {top}: refused (only files under --raw are read)"


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


def cremad_jobs(
    raw: str | os.PathLike,
    split_dir: str | os.PathLike | None = None,
    speaker_independent: bool = False,
    test_fraction: float = 0.1,
) -> tuple[list[ClipJob], dict]:
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
        raise FileNotFoundError(
            f"{raw} has neither AudioWAV/ nor VideoFlash/ (it holds {_what_is_there(raw)}): is it the CREMA-D download?"
        )
    wavs = {p.stem: p for p in audio_dir.glob("*.wav")} if audio_dir.is_dir() else {}
    flvs = {p.stem: p for p in video_dir.glob("*.flv")} if video_dir.is_dir() else {}
    refused = {p.stem: why for p in [*wavs.values(), *flvs.values()] if (why := outside(p, raw))}
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
        source = f"deterministic {1 - test_fraction:.0%}/{test_fraction:.0%} by SHA-1 of the " + (
            "actor (speaker-independent)" if speaker_independent else "clip name"
        )
    jobs, missing = [], []
    for name in names:
        split, label = split_of[name]
        if label not in CREMAD_CLASSES:
            raise ValueError(f"CREMA-D clip {name}: unknown label {label!r}; valid: {' '.join(CREMAD_CLASSES)}")
        group = name.split("_")[0] if speaker_independent else name
        flv, wav = flvs.get(name), wavs.get(name)
        if name in refused:
            missing.append((name, refused[name]))
            flv = wav = None
        elif flv is None or wav is None:
            missing.append(
                (
                    name,
                    "missing "
                    + " and ".join(
                        w for w, p in (("VideoFlash/%s.flv" % name, flv), ("AudioWAV/%s.wav" % name, wav)) if p is None
                    ),
                )
            )
            flv = wav = None
        jobs.append(ClipJob(name, label, split, group, str(flv) if flv else None, str(wav) if wav else None))
    info = {
        "split_source": source,
        "classes": list(CREMAD_CLASSES),
        "val_group": "actor" if speaker_independent else "clip",
        "missing": dict(missing),
    }
    return jobs, info


def _listed_jobs(
    entries: list[tuple[str, str, str, str]], media: dict[str, Path], root: Path, what: Callable[[str], str]
) -> tuple[list[ClipJob], dict[str, str]]:
    """Jobs from (name, label, split, group) rows; names are looked up as relative paths or stems."""
    jobs, missing = [], {}
    for name, label, split, group in entries:
        path = None
        direct = root / name
        if direct.suffix.lower() in VIDEO_EXTS and direct.exists():
            path = direct
        else:
            path = media.get(os.path.splitext(name)[0] if name.lower().endswith(VIDEO_EXTS) else name)
        why = outside(path if path is not None else direct, root)
        if why:  # `..` in a list entry, or a link out of the download
            missing[name], path = why, None
        elif path is None:
            if direct.is_file():
                missing[name] = (
                    f"{direct} is not a video file (expected one of {' '.join(VIDEO_EXTS)}, "
                    f"got {direct.suffix or 'no extension'})"
                )
            else:
                missing[name] = f"missing {what(name)} under {root}"
        key = os.path.splitext(name)[0] if name.lower().endswith(VIDEO_EXTS) else name
        jobs.append(ClipJob(key, label, split, group, str(path) if path else None))
    return jobs, missing


def ksounds_jobs(
    raw: str | os.PathLike, train_list: str | os.PathLike | None = None, test_list: str | os.PathLike | None = None
) -> tuple[list[ClipJob], dict]:
    """Kinetics-Sounds: clips (any of .mp4 .mkv .webm .avi ...) anywhere under `raw`, plus two lists.

    Lists (default `<raw>/train.csv` and `<raw>/test.csv`): one clip a line, `clip,label`, where `clip`
    is either a path relative to `raw` with its extension (`train/playing_bagpipes/abc_000010_000020.mp4`)
    or a clip id found as `<id>.<ext>` anywhere under `raw` (`abc_000010_000020`, the Kinetics downloader's
    `<youtube_id>_<start:06d>_<end:06d>` naming). CSV quoting is honoured; a first line `clip,label` is a
    header. The OGM-GE repository's own lists (`my_train.txt`, `my_test.txt`: `<id>_<start>,10,<index>`) are
    read too, their label index (0-30, no published names) as the label (`split_lists.py`). To convert the official
    Kinetics-400 CSVs (`label,youtube_id,time_start,time_end,split`),
    keep the rows of the Kinetics-Sounds classes and write `<youtube_id>_<start:06d>_<end:06d>,<label>`.
    """
    raw = raw_folder(raw, "Kinetics-Sounds")
    lists = {
        "train": Path(train_list) if train_list else raw / "train.csv",
        "test": Path(test_list) if test_list else raw / "test.csv",
    }
    entries = []
    for split, path in lists.items():
        if not path.exists():
            raise FileNotFoundError(f"Kinetics-Sounds {split} list {path} not found (lines `clip,label`)")
        for row in _read_rows(path):
            if len(row) == 3 and row[1].replace(".", "", 1).isdigit() and row[2].isdigit():
                row = [row[0], row[2]]  # the official OGM-GE lists: `<id>_<start>,10,<index>` (split_lists.py)
            if len(row) < 2 or (row[0].lower() in ("clip", "path", "id") and row[1].lower() == "label"):
                continue
            entries.append((row[0], row[1], split, os.path.splitext(row[0])[0]))
    if not entries:
        raise ValueError(
            f"the Kinetics-Sounds lists {lists['train']} and {lists['test']} hold no clip (expected lines `clip,label`)"
        )
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"clip {n}")
    return jobs, {
        "split_source": "official train/test lists",
        "val_group": "clip",
        "missing": missing,
        "classes": sorted({j.label for j in jobs}),
    }


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
            raise ValueError(
                f"{path}: start_seconds {row[1]!r} of clip {row[0]!r} is not a number "
                "(expected lines `youtube_id,start_seconds,label,split`)"
            ) from None
        ytid, label, split = row[0], row[2], row[3].lower()
        if split not in ("train", "test"):
            raise ValueError(f"{path}: split {row[3]!r} is neither train nor test")
        entries.append((f"{ytid}_{start:06d}", label, split, ytid))
    if not entries:
        raise ValueError(f"{path} lists no clip (expected lines `youtube_id,start_seconds,label,split`)")
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"{n}.mp4")
    return jobs, {
        "split_source": f"official split column of {path.name}",
        "val_group": "youtube_id",
        "missing": missing,
        "classes": sorted({j.label for j in jobs}),
    }


#: AVE's videos are 10 s long, cut into ten 1 s segments (Tian et al. 2018, Sec. 3.1)
AVE_SEGMENTS = 10


def ave_segment_labels(label_index: int, start: int, end: int, segments: int = AVE_SEGMENTS) -> tuple[int, ...]:
    """The per-second labels of one AVE annotation: `label_index + 1` for second k (segment [k, k + 1) s) when
    `start <= k < end`, 0 (background) elsewhere.

    AVE annotates each event's StartTime and EndTime in whole seconds, segment boundaries: `0&10` is an event
    over the whole video (2,749 of the 4,142 lines of the official Annotations.txt), `6&8` over seconds 6 and 7,
    so EndTime is exclusive (an inclusive end would give `0&10` eleven segments). The official code
    (github.com/YapengTian/AVE-ECCV18, `dataloader.py`) reads the result as `labels (10, 29)`, one-hot per
    segment over the 28 events and background, from a precomputed `labels.h5`; here the background is index 0
    and event class k (the k-th line of the store's `classes.txt`) is k + 1, as in `data/events.py`.
    """
    return tuple(label_index + 1 if start <= k < end else 0 for k in range(segments))


def _ave_span(path: Path, row: list[str]) -> tuple[int, int]:
    """StartTime and EndTime of an annotation line, whole seconds with 0 <= start <= end <= 10."""
    try:
        start, end = (int(float(x)) for x in row[3:5])
    except (ValueError, IndexError):
        raise ValueError(
            f"{path}: line {'&'.join(row)!r} has no whole-second StartTime&EndTime "
            "(expected `Category&VideoID&Quality&StartTime&EndTime`)"
        ) from None
    if not 0 <= start <= end <= AVE_SEGMENTS:
        raise ValueError(
            f"{path}: line {'&'.join(row)!r}: StartTime {start}, EndTime {end} are not "
            f"0 <= StartTime <= EndTime <= {AVE_SEGMENTS}"
        )
    return start, end


def ave_jobs(raw: str | os.PathLike) -> tuple[list[ClipJob], dict]:
    """AVE as distributed (AVE_Dataset): `trainSet.txt`, `valSet.txt`, `testSet.txt` (and `Annotations.txt`,
    all one format: `Category&VideoID&Quality&StartTime&EndTime`, a first header line), videos
    `<VideoID>.mp4` anywhere under `raw` (normally `AVE/`). The whole 10 s video is one sample labelled
    with its category (classification); each job also carries the annotation's ten per-second labels
    (`ave_segment_labels`, the localisation task of the paper's Table 5). Each line is one sample, as in
    the official code: a video annotated more than once (45 in Annotations.txt, such as male and female speech
    over the same seconds) is that many samples of one video. The official validation split is kept, so
    `val_fraction` does not apply to AVE."""
    raw = raw_folder(raw, "AVE")
    rows = []
    for split in SPLITS:
        path = raw / f"{split}Set.txt"
        if not path.exists():
            raise FileNotFoundError(f"AVE split file {path} not found (trainSet.txt, valSet.txt, testSet.txt)")
        rows += [
            (path, split, row) for row in _read_rows(path, delimiter="&") if len(row) >= 2 and row[0] != "Category"
        ]
    if not rows:
        raise ValueError(
            f"{raw}: trainSet.txt, valSet.txt and testSet.txt list no clip "
            "(expected lines `Category&VideoID&Quality&StartTime&EndTime`)"
        )
    classes = sorted({row[0] for _, _, row in rows})
    entries = [(row[1], row[0], split, row[1]) for _, split, row in rows]
    jobs, missing = _listed_jobs(entries, _index_media(raw), raw, lambda n: f"{n}.mp4")
    jobs = [
        dataclasses.replace(j, segments=ave_segment_labels(classes.index(row[0]), *_ave_span(path, row)))
        for j, (path, _, row) in zip(jobs, rows)
    ]
    return jobs, {
        "split_source": "official trainSet/valSet/testSet",
        "val_group": "video",
        "missing": missing,
        "classes": classes,
    }
