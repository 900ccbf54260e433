"""Tiny raw datasets in the layouts of CREMA-D, Kinetics-Sounds, VGGSound and AVE, generated with PyAV.

Each clip is a coloured square moving over a dark background with a sine tone: class `k` gets colour
`COLOURS[k]` and a tone of `TONES[k]` Hz, so a test can check that labels, frames and spectrograms stay
together through preparation. Low resolution (64 x 48, 10 fps) and 1-3 s keep generation to milliseconds.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

COLOURS = [(230, 30, 30), (30, 200, 30), (40, 60, 230), (230, 220, 30), (200, 40, 220), (30, 210, 220)]
TONES = [300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0]
CREMAD_EMOTIONS = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]


def _frames(seconds: float, fps: int, size: tuple[int, int], colour) -> list[np.ndarray]:
    w, h = size
    side = h // 2
    out = []
    for i in range(max(1, int(round(seconds * fps)))):
        img = np.full((h, w, 3), 20, np.uint8)
        x = int((w - side) * (i / max(1, seconds * fps - 1)))
        img[h // 4 : h // 4 + side, x : x + side] = colour
        out.append(img)
    return out


def _tone(seconds: float, rate: int, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _encode_audio(container, stream, wave: np.ndarray, rate: int) -> None:
    import av

    step = 1024
    for pts in range(0, len(wave), step):
        chunk = wave[pts : pts + step]
        fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
        data = (chunk * 32767).astype(np.int16) if fmt.startswith("s16") else chunk
        frame = av.AudioFrame.from_ndarray(data[None, :], format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, pts
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_clip(
    path: str | os.PathLike,
    seconds: float,
    colour,
    tone_hz: float | None,
    *,
    size=(64, 48),
    fps: int = 10,
    rate: int = 16000,
) -> Path:
    """A video file (codec by suffix: .mp4 -> MPEG-4 Part 2 + AAC, .flv -> FLV1 without audio)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vcodec = "flv" if path.suffix == ".flv" else "mpeg4"
    with av.open(str(path), "w") as c:
        vs = c.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        astream = None
        if tone_hz is not None:
            astream = c.add_stream("aac", rate=rate, layout="mono")
        for img in _frames(seconds, fps, size, colour):
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in vs.encode(None):
            c.mux(packet)
        if astream is not None:
            _encode_audio(c, astream, _tone(seconds, rate, tone_hz), rate)
    return path


def write_wav(path: str | os.PathLike, seconds: float, tone_hz: float, rate: int = 16000) -> Path:
    """A 16-bit mono .wav (CREMA-D's AudioWAV files are 16 kHz mono)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="wav") as c:
        stream = c.add_stream("pcm_s16le", rate=rate, layout="mono")
        _encode_audio(c, stream, _tone(seconds, rate, tone_hz), rate)
    return path


def truncate(path: str | os.PathLike, keep: float | int = 0.3) -> None:
    """Cut a file to a fraction (float) or a number of bytes (int): a download that broke off."""
    path = Path(path)
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])


def _seconds(i: int) -> float:
    return (1.2, 2.5, 1.8)[i % 3]


def make_cremad(root, actors=("1001", "1002"), sentences=("DFA",), split_files: bool = False) -> list[str]:
    """`AudioWAV/<name>.wav` (16 kHz) + `VideoFlash/<name>.flv`, names `<actor>_<sentence>_<EMO>_XX`.

    With `split_files`, also `splits/train.csv` and `splits/test.csv` (`name,label`), the last actor's
    clips in test."""
    root = Path(root)
    names = []
    for a, actor in enumerate(actors):
        for s, sentence in enumerate(sentences):
            for k, emo in enumerate(CREMAD_EMOTIONS):
                name = f"{actor}_{sentence}_{emo}_XX"
                secs = _seconds(a + s + k)
                write_wav(root / "AudioWAV" / f"{name}.wav", secs, TONES[k])
                write_clip(root / "VideoFlash" / f"{name}.flv", secs, COLOURS[k], None)
                names.append(name)
    if split_files:
        (root / "splits").mkdir(exist_ok=True)
        for split in ("train", "test"):
            with open(root / "splits" / f"{split}.csv", "w") as f:
                for n in names:
                    if (n.split("_")[0] == actors[-1]) == (split == "test"):
                        f.write(f"{n},{n.split('_')[2]}\n")
    return names


def make_ksounds(root, classes=("playing bagpipes", "dog barking"), train_per_class=3, test_per_class=1) -> list[str]:
    """Clips under `<root>/videos/<class>/<id>.mp4`; lists `train.csv` / `test.csv` of `clip,label`.

    The train list names clips by relative path, the test list by bare id (both forms are accepted)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = []
    with open(root / "train.csv", "w", newline="") as ftr, open(root / "test.csv", "w", newline="") as fte:
        wtr, wte = csv.writer(ftr), csv.writer(fte)
        wtr.writerow(["clip", "label"])
        for k, label in enumerate(classes):
            for i in range(train_per_class + test_per_class):
                cid = f"yt{k}{i}x_{i * 10:06d}_{i * 10 + 10:06d}"
                rel = Path("videos") / label.replace(" ", "_") / f"{cid}.mp4"
                write_clip(root / rel, _seconds(i + k), COLOURS[k], TONES[k])
                if i < train_per_class:
                    wtr.writerow([rel.as_posix(), label])
                else:
                    wte.writerow([cid, label])
                names.append(cid)
    return names


def make_vggsound(
    root, classes=("dog barking", "male speech, man speaking"), train_per_class=3, test_per_class=1, missing: int = 0
) -> list[str]:
    """`vggsound.csv` (`youtube_id,start_seconds,label,split`, labels quoted) and `video/<id>_<start:06d>.mp4`.

    `missing` extra rows name clips that were never downloaded."""
    root = Path(root)
    (root / "video").mkdir(parents=True, exist_ok=True)
    names = []
    with open(root / "vggsound.csv", "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
        for k, label in enumerate(classes):
            for i in range(train_per_class + test_per_class):
                ytid, start = f"-v{k}_{i}Ab", 30 + i
                write_clip(root / "video" / f"{ytid}_{start:06d}.mp4", _seconds(i + k), COLOURS[k], TONES[k])
                w.writerow([ytid, start, label, "train" if i < train_per_class else "test"])
                names.append(f"{ytid}_{start:06d}")
        for i in range(missing):
            w.writerow([f"gone{i}", 0, classes[0], "train"])
    return names


def make_ave(root, classes=("Church bell", "Male speech, man speaking"), per_split=(3, 1, 1)) -> list[str]:
    """AVE_Dataset layout: `AVE/<VideoID>.mp4`, and Annotations.txt, trainSet.txt, valSet.txt, testSet.txt
    (`Category&VideoID&Quality&StartTime&EndTime`, one header line)."""
    root = Path(root)
    header = "Category&VideoID&Quality&StartTime&EndTime\n"
    lines = {s: [header] for s in ("train", "val", "test")}
    names = []
    for k, label in enumerate(classes):
        i = 0
        for split, n in zip(("train", "val", "test"), per_split):
            for _ in range(n):
                vid = f"ave{k}V{i}q"
                write_clip(root / "AVE" / f"{vid}.mp4", _seconds(i + k), COLOURS[k], TONES[k])
                lines[split].append(f"{label}&{vid}&good&0&{int(_seconds(i + k))}\n")
                names.append(vid)
                i += 1
    for split, ls in lines.items():
        (root / f"{split}Set.txt").write_text("".join(ls))
    (root / "Annotations.txt").write_text(header + "".join(line for s in lines.values() for line in s[1:]))
    return names


def make_ave_events(root, rows: dict[str, list[tuple[str, str, int, int, float]]]) -> None:
    """AVE_Dataset layout for event localisation: `rows` maps a split to its annotation lines as
    `(category, video id, start, end, seconds of video)`; each video (10 s unless said) is written once, with the
    colour and tone of its category's rank among the sorted categories, at 2 fps and 32 x 24 to stay fast."""
    root = Path(root)
    header = "Category&VideoID&Quality&StartTime&EndTime\n"
    classes = sorted({r[0] for rs in rows.values() for r in rs})
    written = set()
    for split, rs in rows.items():
        lines = [header]
        for category, vid, start, end, seconds in rs:
            k = classes.index(category)
            if vid not in written:
                write_clip(root / "AVE" / f"{vid}.mp4", seconds, COLOURS[k], TONES[k], size=(32, 24), fps=2)
                written.add(vid)
            lines.append(f"{category}&{vid}&good&{start}&{end}\n")
        (root / f"{split}Set.txt").write_text("".join(lines))
