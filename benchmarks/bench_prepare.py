"""Throughput of the data pipeline on generated media: preparation (clips/s) and the loader (samples/s).

Two questions, answered on media generated here (so the numbers are machine-comparable, not dataset-exact):

1. **Preparation**: how many clips per second `prepare` turns into the store, with 1 and with `--workers`
   processes, for CREMA-D-like clips (480 x 360 FLV at 30 fps, ~2.5 s, separate 16 kHz WAV; 3 frames and a
   257 x 188 STFT each) and VGGSound-like clips (640 x 360 MPEG-4 at 25 fps with 44.1 kHz AAC, 10 s;
   10 frames and a 129 x 1251 STFT each). Includes packing; excludes generating the media.
2. **Loading**: training samples per second out of a CREMA-D-shaped store (256 x 256 stored frames,
   image_size 224, 1 frame, 257 x 188 spectrogram) through a `DataLoader` of batch 64, for 0 and
   `--workers` loader processes. The store is small and sits in the page cache, so this measures the
   per-sample cost (crop, flip, normalise, float16 -> float32), not the disk.

Real media are bigger (H.264/VP6 at higher bitrates), so expect real preparation to be somewhat slower.

    python benchmarks/bench_prepare.py --clips 16 --workers 2 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import media_fixtures as mf  # noqa: E402

from ogm_lib.method.data import prepare as P  # noqa: E402


def make_cremad_like(root: Path, n: int) -> None:
    for i in range(n):
        k = i % 6
        name = f"{1001 + i // 6}_DFA_{mf.CREMAD_EMOTIONS[k]}_XX"
        mf.write_wav(root / "AudioWAV" / f"{name}.wav", 2.5, mf.TONES[k])
        mf.write_clip(root / "VideoFlash" / f"{name}.flv", 2.5, mf.COLOURS[k], None, size=(480, 360), fps=30)


def make_vggsound_like(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "vggsound.csv", "w") as f:
        for i in range(n):
            k = i % 2
            ytid = f"bench{i:03d}"
            mf.write_clip(
                root / "video" / f"{ytid}_000000.mp4",
                10.0,
                mf.COLOURS[k],
                mf.TONES[k],
                size=(640, 360),
                fps=25,
                rate=44100,
            )
            f.write(f"{ytid},0,class{k},{'test' if i % 5 == 4 else 'train'}\n")


def bench_prepare(fn, raw: Path, out: Path, workers: int, frame_size: int) -> dict:
    report = fn(raw, out, workers=workers, frame_size=frame_size, quiet=True)
    return {
        "workers": workers,
        "clips": report.prepared,
        "seconds": round(report.seconds, 2),
        "clips_per_s": round(report.prepared / report.seconds, 2),
    }


def bench_loader(store: Path, workers: int, samples: int) -> dict:
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    from ogm_lib.method.config import make_config
    from ogm_lib.method.data.prepared import load_prepared

    torch.set_num_threads(1)
    config = make_config("paper", dataset="cremad", data_dir=str(store), image_size=224, n_frames=1)
    train = load_prepared(config).train
    loader = DataLoader(
        train,
        batch_size=64,
        num_workers=workers,
        sampler=RandomSampler(train, replacement=True, num_samples=samples),
        persistent_workers=False,
    )
    it = iter(loader)
    next(it)  # worker start-up and first page faults are not counted
    start, n = time.perf_counter(), 0
    for audio, visual, label in it:  # noqa: B007 (the last batch is measured below)
        n += len(label)
    seconds = time.perf_counter() - start
    return {
        "workers": workers,
        "samples": n,
        "batch": 64,
        "seconds": round(seconds, 2),
        "samples_per_s": round(n / seconds, 1),
        "audio": list(audio.shape),
        "visual": list(visual.shape),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=16, help="CREMA-D-like clips (VGGSound-like: half)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--loader-samples", type=int, default=64 * 11)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    results: dict = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_cremad_like(tmp / "cremad", args.clips)
        make_vggsound_like(tmp / "vggsound", max(2, args.clips // 2))
        for name, fn in (("cremad", P.prepare_cremad), ("vggsound", P.prepare_vggsound)):
            results[f"prepare_{name}"] = [
                bench_prepare(fn, tmp / name, tmp / f"out_{name}_w{w}", w, 256) for w in sorted({1, args.workers})
            ]
        results["loader_cremad"] = [
            bench_loader(tmp / "out_cremad_w1", w, args.loader_samples) for w in sorted({0, args.workers})
        ]
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return results


if __name__ == "__main__":
    main()
