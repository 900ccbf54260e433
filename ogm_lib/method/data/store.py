"""A prepared store's files, recorded in its manifest and checked whenever the store is opened.

`prepare.py` writes the store; this module says what a good store is. The manifest's `files` section
records, for every file the loader reads (`frames.npy`, `nframes.npy`, `spec.npy`, `classes.txt`,
`train.csv`, `test.csv` and, for AVE, `val.csv` and `segments.npy`), its size in bytes and its SHA-256, and for the
`.npy`
arrays their shape and dtype. `store_fingerprint` hashes those records (and the preparation parameters):
two stores with the same fingerprint hold the same bytes, so it is the store's part of a run's cache key
(`fingerprint.py`).

Every check is by content, and names the file that is wrong (`problems`, on every open by
`prepared.load_prepared`, by `prepare` before it calls a store done, and by `python -m ogm_lib data check`):
every file is there with its recorded size, each array's header has its recorded shape and dtype, and every
file matches its SHA-256, the large memory-mapped arrays (`frames.npy`, `spec.npy`) included. A truncated
`frames.npy` is named here, instead of failing in the first epoch with numpy's "mmap length is greater than
file size"; a `train.csv` cut to 2 rows is an error, not a run on 2 clips; 60 kB overwritten inside
`frames.npy` (same size) is named, not trained on.

Hashing a large array costs one read of it, so it is done once per process (`verified_sha256`): the digest
is remembered with the file's identity (resolved path, size, mtime in ns, inode) and reused while those are
unchanged; a write to the file changes its mtime, and the next open hashes it again. The cost on a store of
CREMA-D's size is measured by `benchmarks/bench_store_check.py` (see benchmarks/README.md). `deep=True`
(`data check --deep`, `prepare_<dataset>.py --verify`) hashes again even what this process has hashed.

A manifest written before the files were recorded (no `files` section) is reported as such; running the
prepare script again repacks the store (from the per-clip files or the old arrays; nothing is decoded
again) and records them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import numpy as np

#: the arrays the loader memory-maps (hashed once per process, `verified_sha256`)
LARGE_ARRAYS = ("frames.npy", "spec.npy")
#: every file of a store, in the order they are checked (val.csv only where the dataset ships one, segments.npy
#: where its clips carry per-second event labels: AVE, `prepare._write_segments`)
STORE_FILES = ("frames.npy", "nframes.npy", "spec.npy", "classes.txt", "train.csv", "test.csv")
OPTIONAL_FILES = ("val.csv", "segments.npy")
#: what to do about a damaged store, quoted by every error
REPAIR_HINT = (
    "run the dataset's prepare script again with the same --raw and --out: it rebuilds the damaged "
    "files (python data_scripts/prepare_{dataset}.py --raw <download> --out {root})"
)
#: how to make each store, quoted when one is missing (`missing_store`)
PREPARE_HINTS = {
    "cremad": "python data_scripts/prepare_cremad.py --raw <CREMA-D checkout with AudioWAV/ and VideoFlash/>",
    "ksounds": "python data_scripts/prepare_ksounds.py --raw <clips dir with train.csv and test.csv>",
    "vggsound": "python data_scripts/prepare_vggsound.py --raw <dir with vggsound.csv and the clips>",
    "ave": "python data_scripts/prepare_ave.py --raw <AVE_Dataset dir>",
}


def missing_store(dataset: str, root: Path) -> FileNotFoundError:
    """The error for a store that is not there, naming the command that prepares it."""
    hint = PREPARE_HINTS.get(dataset, f"python data_scripts/prepare_{dataset}.py --raw <download>")
    return FileNotFoundError(
        f"no prepared {dataset} data at {root} (manifest.json missing). Prepare it with:\n"
        f"  {hint} --out {root}\n"
        f"or point RunConfig.data_dir (or $OGM_DATA_DIR) at an existing store."
    )


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 24) -> str:
    """SHA-256 of a file, read in 16 MB chunks (constant memory for a 400 GB array)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


#: (resolved path, size, mtime_ns, inode) -> SHA-256, for the files this process has hashed
_HASHED: dict[tuple, str] = {}


def verified_sha256(path: str | os.PathLike, fresh: bool = False) -> str:
    """`sha256_of(path)`, hashed once per process: remembered with the file's resolved path, size, mtime (ns)
    and inode, and hashed again when any of them changes (or with `fresh`)."""
    st = os.stat(path)
    ident = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if fresh or ident not in _HASHED:
        _HASHED[ident] = sha256_of(path)
    return _HASHED[ident]


def npy_header(path: str | os.PathLike) -> tuple[list[int], str]:
    """Shape and dtype of a `.npy` file from its header alone (no data read, no memory map)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, _, dtype = read.get(version, np.lib.format.read_array_header_2_0)(f)
    return list(shape), str(dtype)


def store_files(root: str | os.PathLike) -> list[str]:
    """The files of the store at `root` that the manifest records (`val.csv` when present)."""
    return [*STORE_FILES, *(f for f in OPTIONAL_FILES if (Path(root) / f).exists())]


def describe(root: str | os.PathLike, names: list[str] | None = None) -> dict[str, dict]:
    """`{file: {"bytes", "sha256"[, "shape", "dtype"]}}`: the records `prepare` writes into the manifest."""
    root = Path(root)
    out = {}
    for name in names or store_files(root):
        path = root / name
        record = {
            "bytes": path.stat().st_size,
            "sha256": verified_sha256(path, fresh=True) if name in LARGE_ARRAYS else sha256_of(path),
        }
        if name.endswith(".npy"):
            record["shape"], record["dtype"] = npy_header(path)
        out[name] = record
    return out


def store_fingerprint(params_hash: str, files: dict[str, dict]) -> str:
    """16 hex digits over the preparation parameters and every file's record: the store's identity."""
    content = {"params_hash": params_hash, "files": {k: files[k]["sha256"] for k in sorted(files)}}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def _split_rows(path: Path) -> int | None:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return max(0, sum(1 for _ in csv.reader(f)) - 1)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def problems(
    root: str | os.PathLike, manifest: dict, deep: bool = False, only: tuple[str, ...] | None = None
) -> list[tuple[str, str]]:
    """`[(file, what is wrong)]` for the store at `root` against its manifest; empty: the store is good.
    Every file's content is checked against its SHA-256 (the large arrays once per process, `deep`: again).

    `only`: check just these files (`prepare` asks whether the old arrays can still be copied from)."""
    root = Path(root)
    files = manifest.get("files")
    if not isinstance(files, dict):
        if only is not None:  # a store from before the records: its arrays are trusted if they open
            return [(n, err) for n in only if (err := _opens(root / n))]
        return [("manifest.json", "records no file sizes or checksums (a store prepared before stores were checked)")]
    found = []
    if only is None:
        expected = store_fingerprint(manifest.get("params_hash", ""), files)
        if manifest.get("store_fingerprint") != expected:
            found.append(
                (
                    "manifest.json",
                    f"store_fingerprint {manifest.get('store_fingerprint')!r} does not "
                    f"match its file records ({expected}): the manifest was edited",
                )
            )
        for name in STORE_FILES:
            if name not in files:
                found.append(("manifest.json", f"records no {name}"))
        extra = [n for n in OPTIONAL_FILES if (root / n).exists() and n not in files]
        found += [(n, "is not in the manifest (a file the store was not prepared with)") for n in extra]
    for name, record in files.items():
        if only is not None and name not in only:
            continue
        path = root / name
        if not path.is_file():
            found.append((name, "is missing"))
            continue
        size = path.stat().st_size
        if name.endswith(".csv"):
            if size != record.get("bytes") or sha256_of(path) != record.get("sha256"):
                found.append((name, _split_list_problem(path, manifest.get("counts", {}).get(name[:-4]))))
            continue
        if size != record.get("bytes"):
            what = "truncated" if size < record.get("bytes", 0) else "longer than recorded"
            found.append((name, f"{size:,} bytes, the manifest records {record.get('bytes', 0):,} ({what})"))
            continue
        if name.endswith(".npy"):
            try:
                shape, dtype = npy_header(path)
            except (ValueError, OSError) as err:
                found.append((name, f"not a .npy array ({err})"))
                continue
            if shape != record.get("shape") or dtype != record.get("dtype"):
                found.append(
                    (name, f"shape {shape} {dtype}, the manifest records {record.get('shape')} {record.get('dtype')}")
                )
                continue
        digest = verified_sha256(path, fresh=deep) if name in LARGE_ARRAYS else sha256_of(path)
        if digest != record.get("sha256"):
            found.append(
                (name, "content differs from the manifest's SHA-256 (same size: overwritten or damaged on disk)")
            )
    return found


def _split_list_problem(path: Path, listed: int | None) -> str:
    """What is wrong with a split list that is not the one the store was prepared with."""
    rows = _split_rows(path)
    if rows is not None and listed is not None and rows != listed:
        return f"lists {rows} clips, the manifest says {listed}"
    return "split list differs from the one the store was prepared with (same number of clips)"


def _opens(path: Path) -> str | None:
    try:
        np.load(path, mmap_mode="r")
    except (ValueError, OSError) as err:
        return f"cannot be opened ({err})"
    return None


def check_store(root: str | os.PathLike, manifest: dict, deep: bool = False) -> None:
    """Raise `DamagedFileError` naming the first wrong file of the store at `root` (see `problems`)."""
    from ..fileio import DamagedFileError

    found = problems(root, manifest, deep)
    if found:
        name, problem = found[0]
        more = f" (and {len(found) - 1} more: {', '.join(n for n, _ in found[1:])})" if len(found) > 1 else ""
        hint = REPAIR_HINT.format(dataset=manifest.get("dataset", "<dataset>"), root=root)
        raise DamagedFileError(Path(root) / name, problem + more, hint)
