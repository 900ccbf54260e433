"""What checking a prepared store by content costs when it is opened, on a store of CREMA-D's size.

Opening a store (`prepared.load_prepared`, `data check`, `prepare`) checks every file against the SHA-256 in
its manifest (`store.problems`), the large memory-mapped arrays included; each array is hashed once per
process and its digest remembered by (path, size, mtime_ns, inode) (`store.verified_sha256`). This script
builds a store with CREMA-D's layout and sizes (`prepare.py`: 7,442 clips, `frames.npy` uint8
(N, 3, 256, 256, 3) at the default `--frame-size 256` and 3 frames, `spec.npy` float16 (N, 257, 188),
`nframes.npy`, the split lists and class names, and the manifest `prepare` writes) in a temporary folder,
and times

1. the first open in a process with the store's pages dropped from the page cache (`posix_fadvise
   DONTNEED` on its files, which needs no privileges and touches no other file): one read from disk;
2. the first open with the pages cached (the usual case right after preparing, or on a machine with the
   memory to keep the store);
3. every later open in the same process (the digests are remembered: stat calls and the small files).

The content does not change the cost of SHA-256, so the arrays hold a repeated pattern (fast to write).
`--clips` scales the store down (the cost is linear in its bytes, and the throughput is printed so that any
size can be projected); the default is CREMA-D's full size, about 5.1 GB, written and removed again.

    python benchmarks/bench_store_check.py [--clips 7442] [--dir /tmp] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ogm_lib.method.data import store  # noqa: E402
from ogm_lib.method.data.features import SPECS  # noqa: E402

CREMAD_CLIPS = 7442  # CREMA-D's clips (91 actors, 6 emotions)
FRAME_SIZE, MAX_FRAMES = 256, SPECS["cremad"].max_frames


def build(root: Path, n: int) -> dict:
    """A store of `n` CREMA-D-shaped clips at `root`, with its manifest's file records; returns the manifest."""
    spec_shape = SPECS["cremad"].spec_shape
    frames = np.lib.format.open_memmap(
        root / "frames.npy", mode="w+", dtype=np.uint8, shape=(n, MAX_FRAMES, FRAME_SIZE, FRAME_SIZE, 3)
    )
    specs = np.lib.format.open_memmap(root / "spec.npy", mode="w+", dtype=np.float16, shape=(n, *spec_shape))
    block = (np.arange(np.prod(frames.shape[1:]), dtype=np.int64) % 251).astype(np.uint8).reshape(frames.shape[1:])
    for i in range(n):
        frames[i] = block
        specs[i] = np.float16(i % 97)
    frames.flush()
    specs.flush()
    del frames, specs
    np.save(root / "nframes.npy", np.full(n, MAX_FRAMES, np.int16))
    classes = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")
    (root / "classes.txt").write_text("".join(c + "\n" for c in classes))
    rows = [f"{i},{1001 + i // 82}_DFA_{classes[i % 6]}_XX,{classes[i % 6]},{1001 + i // 82}" for i in range(n)]
    cut = int(0.9 * n)
    (root / "train.csv").write_text("row,name,label,group\n" + "\n".join(rows[:cut]) + "\n")
    (root / "test.csv").write_text("row,name,label,group\n" + "\n".join(rows[cut:]) + "\n")
    files = store.describe(root)
    return {
        "dataset": "cremad",
        "params_hash": "benchmark",
        "files": files,
        "store_fingerprint": store.store_fingerprint("benchmark", files),
        "counts": {"train": cut, "test": n - cut},
    }


def drop_cache(root: Path) -> None:
    """Evict the store's files from the page cache (fsync first, so the pages are clean)."""
    for path in root.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed_open(root: Path, manifest: dict) -> float:
    t0 = time.perf_counter()
    found = store.problems(root, manifest)
    if found:
        raise RuntimeError(f"the benchmark store is not good: {found}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=CREMAD_CLIPS, help="clips in the store (default: CREMA-D's)")
    p.add_argument("--dir", default=None, help="where to build the temporary store (default: the system's)")
    p.add_argument("--json", default=None, help="also write the report as JSON here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ogm-store-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifest = build(root, args.clips)
        built = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in root.iterdir())
        store._HASHED.clear()
        drop_cache(root)
        cold = timed_open(root, manifest)
        store._HASHED.clear()
        warm = timed_open(root, manifest)
        again = min(timed_open(root, manifest) for _ in range(5))
    full = CREMAD_CLIPS / args.clips
    report = {
        "clips": args.clips,
        "bytes": size,
        "build_s": built,
        "first_open_cold_s": cold,
        "first_open_warm_s": warm,
        "later_open_s": again,
        "cold_GB_per_s": size / cold / 1e9,
        "warm_GB_per_s": size / warm / 1e9,
        "projected_cremad_cold_s": cold * full,
        "projected_cremad_warm_s": warm * full,
        "cpu": os.cpu_count(),
        "loadavg": os.getloadavg()[0],
    }
    print(
        f"store of {args.clips:,} CREMA-D-shaped clips: {size / 1e9:.2f} GB (built in {built:.0f} s); "
        f"load average {report['loadavg']:.1f} on {report['cpu']} cores"
    )
    print(f"  first open, pages not cached: {cold:7.2f} s ({report['cold_GB_per_s']:.2f} GB/s)")
    print(f"  first open, pages cached:     {warm:7.2f} s ({report['warm_GB_per_s']:.2f} GB/s)")
    print(f"  every later open:             {again * 1e3:7.1f} ms (digests remembered by size and mtime)")
    if args.clips != CREMAD_CLIPS:
        print(f"  projected for CREMA-D's {CREMAD_CLIPS:,} clips: {cold * full:.1f} s cold, {warm * full:.1f} s warm")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
