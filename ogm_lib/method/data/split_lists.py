"""The split lists of Kinetics-Sounds and VGGSound: their formats, the class names, and a checker.

Kinetics-Sounds has no official download (see `ksounds_classes.txt` for where its 31 classes come from), so
a user writes its lists, or takes the OGM-GE repository's. Two formats are read (`lists.ksounds_jobs`):

- **ours**, `train.csv` / `test.csv`: one clip a line, `clip,label`; an optional first line `clip,label`.
  `clip` is a path relative to `--raw` with its extension, or a clip id found as `<id>.<ext>` anywhere
  under `--raw` (the Kinetics downloaders' `<youtube_id>_<start:06d>_<end:06d>`); `label` is one of the 31
  class names, with spaces or underscores (`playing bagpipes`, `playing_bagpipes`).
- **the official OGM-GE lists**, `my_train.txt` / `my_test.txt` (GeWu-Lab/OGM-GE_CVPR2022,
  `data/KineticSound/`): `<youtube_id>_<start_s>,10,<index>`: clip id, duration in seconds, label index 0-30.
  14,799 and 2,597 lines (`OFFICIAL_KS_COUNTS`, per index too). The index has no published name, so a store
  prepared from them names its classes `0` to `30`.

VGGSound's list is its project page's `vggsound.csv`: `youtube_id,start_seconds,label,split`, no header,
labels quoted where they hold commas, split `train` or `test`; 309 classes (Chen et al., ICASSP 2020).

`check_lists(dataset, paths)` reads the lists as the prepare scripts do and reports what would go wrong
before any video is decoded: lines that do not parse, labels outside the class list (Kinetics-Sounds) or a
class count other than 309 (VGGSound), a clip listed twice, a clip in both train and test, classes
missing from a split, and for the official Kinetics-Sounds lists any count that differs from the
repository's. `python -m ogm_lib data lists --dataset ksounds --lists train.csv test.csv` prints it
(exit status 1 on a problem).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Look, Listen and Learn (arXiv:1705.08168, Appendix A1): Kinetics-Sounds as first defined, 34 classes
L3_CLASSES = (
    "blowing nose",
    "bowling",
    "chopping wood",
    "ripping paper",
    "shuffling cards",
    "singing",
    "tapping pen",
    "typing",
    "blowing out",
    "dribbling ball",
    "laughing",
    "mowing the lawn by pushing lawnmower",
    "shoveling snow",
    "stomping",
    "tap dancing",
    "tapping guitar",
    "tickling",
    "fingerpicking",
    "patting",
    "playing accordion",
    "playing bagpipes",
    "playing bass guitar",
    "playing clarinet",
    "playing drums",
    "playing guitar",
    "playing harmonica",
    "playing keyboard",
    "playing organ",
    "playing piano",
    "playing saxophone",
    "playing trombone",
    "playing trumpet",
    "playing violin",
    "playing xylophone",
)
#: L3's names not among the 31, and L3's names for four of the 31 -> their Kinetics-400 names
L3_DROPPED = ("typing", "patting", "fingerpicking")
L3_RENAMED = {
    "blowing out": "blowing out candles",
    "dribbling ball": "dribbling basketball",
    "mowing the lawn by pushing lawnmower": "mowing lawn",
    "stomping": "stomping grapes",
}
#: lines and clips per label index of the official OGM-GE lists (data/KineticSound/my_*.txt, commit 149c68e)
OFFICIAL_KS_COUNTS = {
    "train": (
        268,
        690,
        607,
        512,
        497,
        445,
        635,
        478,
        457,
        605,
        563,
        486,
        604,
        592,
        366,
        339,
        333,
        489,
        653,
        538,
        654,
        386,
        281,
        493,
        395,
        672,
        197,
        523,
        433,
        354,
        254,
    ),
    "test": (
        81,
        92,
        87,
        87,
        87,
        68,
        90,
        90,
        86,
        79,
        91,
        88,
        73,
        85,
        86,
        91,
        82,
        84,
        90,
        90,
        83,
        91,
        80,
        92,
        79,
        66,
        85,
        84,
        91,
        76,
        63,
    ),
}
VGGSOUND_CLASSES = 309


def ksounds_classes() -> tuple[str, ...]:
    """The 31 Kinetics-Sounds class names of `ksounds_classes.txt` (sources there)."""
    path = Path(__file__).with_name("ksounds_classes.txt")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def class_name(label: str) -> str:
    """'playing_bagpipes' / 'Playing Bagpipes' -> 'playing bagpipes' (how the class file spells them)."""
    return " ".join(label.replace("_", " ").split()).lower()


def ks_row(row: list[str]) -> tuple[str, str] | None:
    """(clip, label) of one Kinetics-Sounds list line in either format; None for a header line. Refuses a
    line of neither format."""
    if len(row) == 2:
        if row[0].lower() in ("clip", "path", "id") and row[1].lower() == "label":
            return None
        return row[0], row[1]
    if len(row) == 3 and row[1].replace(".", "", 1).isdigit() and row[2].isdigit():
        return row[0], row[2]  # the official `<id>_<start>,10,<index>`
    raise ValueError(f"line {','.join(row)!r} is neither `clip,label` nor the official `clip,10,index`")


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [(n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(f), 1) if any(c.strip() for c in row)]


@dataclass
class ListReport:
    """What `check_lists` found: clips and labels per split, problems (errors) and notes."""

    dataset: str
    format: str = ""
    clips: dict[str, dict[str, str]] = field(default_factory=dict)  # split -> clip -> label
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"{self.dataset} split lists ({self.format}):"]
        for split, clips in self.clips.items():
            counts = Counter(clips.values())
            lines.append(
                f"  {split}: {len(clips):,} clips, {len(counts)} classes, "
                f"{min(counts.values(), default=0)}-{max(counts.values(), default=0)} clips per class"
            )
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  PROBLEM: {p}" for p in self.problems]
        lines.append("  good" if self.ok else f"  {len(self.problems)} problem(s)")
        return "\n".join(lines)


def _split_of(path: Path) -> str:
    name = path.name.lower()
    for split in ("train", "test", "val"):
        if split in name:
            return split
    raise ValueError(f"{path}: cannot tell its split from its name (expected train/test in it)")


def _check_ksounds(paths, report: ListReport) -> None:
    names = set(ksounds_classes())
    formats = set()
    for path in map(Path, paths):
        split, clips = _split_of(path), {}
        for n, row in _rows(path):
            try:
                parsed = ks_row(row)
            except ValueError as err:
                report.problems.append(f"{path.name} line {n}: {err}")
                continue
            if parsed is None:
                continue
            clip, label = parsed
            formats.add("official index lists" if label.isdigit() and len(row) == 3 else "clip,label")
            if label.isdigit():
                if not 0 <= int(label) < len(names):
                    report.problems.append(f"{path.name} line {n}: label index {label} is not 0-{len(names) - 1}")
            elif class_name(label) not in names:
                report.problems.append(
                    f"{path.name} line {n}: {label!r} is not a Kinetics-Sounds class "
                    "(ogm_lib/method/data/ksounds_classes.txt)"
                )
            else:
                label = class_name(label)
            if clip in clips:
                report.problems.append(f"{path.name} line {n}: clip {clip} listed twice")
            clips[clip] = label
        report.clips[split] = clips
    report.format = " and ".join(sorted(formats)) or "empty"
    if len(formats) > 1:
        report.problems.append("the lists mix class names and label indices")
    if formats == {"official index lists"}:
        for split, expected in OFFICIAL_KS_COUNTS.items():
            if split in report.clips:
                got = Counter(int(v) for v in report.clips[split].values())
                counts = tuple(got.get(i, 0) for i in range(len(expected)))
                if counts != expected:
                    diff = [i for i, (a, b) in enumerate(zip(counts, expected)) if a != b]
                    report.problems.append(
                        f"{split}: {sum(counts):,} clips, the official list has "
                        f"{sum(expected):,}; indices differing: {diff[:8]}"
                    )
        report.notes.append("label indices 0-30 of the official lists have no published class names")


def _check_vggsound(paths, report: ListReport) -> None:
    report.format = "vggsound.csv"
    for path in map(Path, paths):
        for n, row in _rows(path):
            if row[0] == "youtube_id":
                continue
            if len(row) < 4:
                report.problems.append(
                    f"{path.name} line {n}: {len(row)} fields, expected youtube_id,start_seconds,label,split"
                )
                continue
            try:
                start = int(float(row[1]))
            except ValueError:
                report.problems.append(f"{path.name} line {n}: start_seconds {row[1]!r} is not a number")
                continue
            split = row[3].lower()
            if split not in ("train", "test"):
                report.problems.append(f"{path.name} line {n}: split {row[3]!r} is neither train nor test")
                continue
            clips = report.clips.setdefault(split, {})
            clip = f"{row[0]}_{start:06d}"
            if clip in clips:
                report.problems.append(f"{path.name} line {n}: clip {clip} listed twice")
            clips[clip] = row[2]
    classes = {label for clips in report.clips.values() for label in clips.values()}
    if len(classes) != VGGSOUND_CLASSES:
        report.problems.append(f"{len(classes)} classes; VGGSound has {VGGSOUND_CLASSES}")


def check_lists(dataset: str, paths) -> ListReport:
    """Check the split lists of `dataset` ("ksounds": the train and test lists; "vggsound": vggsound.csv)."""
    report = ListReport(dataset)
    if dataset == "ksounds":
        _check_ksounds(paths, report)
    elif dataset == "vggsound":
        _check_vggsound(paths, report)
    else:
        raise ValueError(f"split lists of {dataset!r}: this checker reads ksounds and vggsound lists")
    splits = report.clips
    if "train" in splits and "test" in splits:
        both = set(splits["train"]) & set(splits["test"])
        if both:
            report.problems.append(f"{len(both)} clip(s) in both train and test, e.g. {sorted(both)[0]}")
        gaps = set(splits["train"].values()) ^ set(splits["test"].values())
        if gaps:
            report.problems.append(f"{len(gaps)} class(es) in only one of train and test, e.g. {sorted(gaps)[0]}")
    for split in ("train", "test"):
        if split not in splits:
            report.problems.append(f"no {split} list")
    return report
