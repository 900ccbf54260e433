"""Raw audio-visual downloads -> a compact prepared store that an epoch reads without decoding anything.

The paper's four datasets (CREMA-D, Kinetics-Sounds, VGGSound, AVE) come as video files plus lists.
The official OGM-GE pipeline first extracts JPEG frames at 1 fps with ffmpeg, then its loaders recompute
an STFT with librosa and decode JPEGs on every sample access. Here preparation happens once:

1. **Jobs** (`lists.py`). A per-dataset reader turns the download as distributed into `ClipJob`s (name,
   label, split, group, media paths). The list formats are documented on each reader (`cremad_jobs`,
   `ksounds_jobs`, `vggsound_jobs`, `ave_jobs`).
2. **Per-clip extraction** (worker processes, a tqdm bar). Each clip is decoded with PyAV (`decode.py`, no
   system ffmpeg): up to `max_frames` RGB frames at 1 fps, resized to `frame_size` x `frame_size`, and the
   mono waveform resampled to the dataset's rate, turned into the dataset's official spectrogram
   (`features.py`, `DatasetSpec`).
   The result is written atomically as one `.npz` per clip in `clips-<params hash>/`; a clip that cannot
   be decoded gets a `.fail.json` marker with the reason instead. A rerun skips both (a failed clip is
   retried when its file changed, or with `retry_failed`), so preparation is resumable and a finished
   preparation is a no-op.
3. **Packing** into memory-mapped `.npy` arrays: `frames.npy` uint8 `(N, max_frames, S, S, 3)`,
   `nframes.npy` (frames really present per clip), `spec.npy` float16 `(N, F, T)`, plus `train.csv`,
   `test.csv` (and `val.csv` where the dataset has an official one: AVE) with `row,name,label,group`,
   `classes.txt`, for AVE `segments.npy` int16 `(N, 10)` (each clip's per-second event labels, from its
   annotation's StartTime and EndTime: `lists.ave_segment_labels`, the localisation task of Table 5), and
   `manifest.json` (parameters, counts, the failed clips with reasons, and every file's
   size and SHA-256, with each array's shape and dtype). The manifest is written last, so its presence
   means the store was complete; `store.py` checks on every open that it still is (every file's SHA-256),
   naming a wrong file, and a rerun of `prepare` repairs a damaged store instead of calling it done. A
   damaged per-clip `.npz` met while packing is named, removed and decoded again (`_pack`); whatever stops
   a packing, it leaves no temporary file and the previous store, manifest included, as it was.

The loader (`prepared.py`) crops, flips and normalises frames and picks the audio window at read time.

This file is steps 2 and 3 and one entry point per dataset (`prepare_cremad`, ...); the command lines that
call them are `data_scripts/prepare_<dataset>.py`, with their shared options in `data_scripts/cli.py`.
"""

from __future__ import annotations

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

import numpy as np

from ..fileio import atomic_write
from ..paths import dataset_dir
from . import store
from .decode import decode_clip
from .features import SPECS, DatasetSpec
from .lists import SPLITS, ClipJob, ave_jobs, cremad_jobs, ksounds_jobs, vggsound_jobs
from .store import STORE_FILES

FORMAT_VERSION = 1


@dataclass
class PrepareReport:
    """What one call of `prepare` did. `extracted == 0 and not packed` means the run was a no-op."""

    out_dir: str
    listed: int = 0
    extracted: int = 0  # clips decoded in this run (successfully)
    failed_now: int = 0  # clips that failed in this run
    skipped: int = 0  # clips already done (or already failed with an unchanged file)
    packed: bool = False  # whether the store was (re)written
    prepared: int = 0  # clips in the store
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    repaired: list[str] = field(default_factory=list)  # "file: problem" of a damaged store this run rebuilt
    #: "clip file: problem" of the per-clip files found damaged while packing (removed and decoded again)
    redecoded: list[str] = field(default_factory=list)

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
        atomic_write(clip_dir / f"{job.key}.npz", lambda f: np.savez(f, frames=frames, spec=feats.astype(np.float16)))
        if fail.exists():
            fail.unlink()
        return job.name, None
    except Exception as e:  # a bad clip must not stop the run: record why and go on
        reason = f"{type(e).__name__}: {e}".strip()
        _write_json(fail, {"name": job.name, "reason": reason, "source_stat": _source_stat(job)})
        return job.name, reason


def _params(spec: DatasetSpec, frame_size: int, max_frames: int) -> dict:
    return {
        "sample_rate": spec.sample_rate,
        "features": spec.features.__name__,
        "spec_shape": list(spec.spec_shape),
        "crop_frames": spec.crop_frames,
        "frame_size": frame_size,
        "max_frames": max_frames,
        "format": FORMAT_VERSION,
    }


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
        raise DamagedFileError(
            path, f"not valid JSON ({err})", "run the dataset's prepare script again: it rebuilds the store"
        ) from None
    if not isinstance(manifest, dict):
        raise DamagedFileError(
            path,
            f"holds a JSON {type(manifest).__name__}, not a manifest",
            "run the dataset's prepare script again: it rebuilds the store",
        )
    return manifest


def prepare(
    jobs: list[ClipJob],
    info: dict,
    out_dir: str | os.PathLike,
    spec: DatasetSpec,
    *,
    workers: int = 1,
    frame_size: int = 256,
    max_frames: int | None = None,
    retry_failed: bool = False,
    remove_clips: bool = False,
    quiet: bool = False,
    verify: bool = False,
) -> PrepareReport:
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
    ordered = sorted(jobs, key=lambda j: j.name)
    fingerprint = _digest({"params": params, "classes": classes, "jobs": [_job_record(j) for j in ordered]})
    # the segment labels are hashed apart: a store made before they were kept has the same jobs (its clips are
    # reused as they are) but no segment labels, so it is repacked, with them, without decoding anything
    segments_hash = _digest([j.segments for j in ordered]) if any(j.segments for j in jobs) else None
    report = PrepareReport(out_dir=str(out), listed=len(jobs))

    # Which clips are done: an .npz, a packed row of an up-to-date store, or an unchanged failure.
    try:
        manifest = read_manifest(out)
    except ValueError as err:  # a damaged manifest: the store is rebuilt from the per-clip files
        import warnings

        warnings.warn(f"{err}; rebuilding the store", RuntimeWarning, stacklevel=2)
        manifest = None
    same_params = manifest is not None and manifest.get("params_hash") == params_hash
    same_jobs = same_params and manifest.get("fingerprint") == fingerprint
    report.repaired = [f"{n}: {p}" for n, p in store.problems(out, manifest, deep=verify)] if same_jobs else []
    store_ok = same_jobs and manifest.get("segments_hash") == segments_hash and not report.repaired
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
            report.skipped += 1  # failed before and the file has not changed since
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
        raise RuntimeError(
            f"none of the {len(jobs)} listed clips of {spec.name} could be prepared; "
            f"{'first ' if len(failed) > 5 else ''}{len(shown)} of {len(failed)} failures: "
            + "; ".join(f"{k}: {v['reason']}" for k, v in shown)
        )
    order = {s: i for i, s in enumerate(SPLITS)}
    done.sort(key=lambda j: (order[j.split], j.name))
    while True:  # a damaged clip file is decoded again while packing; one that fails then leaves the store
        try:
            _pack(out, done, clip_dir, old, spec, frame_size, max_frames, quiet, report)
            break
        except _LostClip as lost:
            done.remove(lost.job)
            failed[lost.job.name] = {
                "name": lost.job.name,
                "reason": lost.reason,
                "source_stat": _source_stat(lost.job),
            }
            if not done:
                raise RuntimeError(
                    f"none of the {len(jobs)} listed clips of {spec.name} could be prepared; "
                    f"the last: {lost.job.name}: {lost.reason}"
                ) from None
    old.close()
    segments_shape = _write_segments(out, done)

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
        "format": FORMAT_VERSION,
        "dataset": spec.name,
        "fingerprint": fingerprint,
        "params_hash": params_hash,
        "params": params,
        "split_source": info.get("split_source"),
        "val_group": info.get("val_group"),
        "counts": counts,
        "arrays": {"frames": [len(done), max_frames, frame_size, frame_size, 3], "spec": [len(done), *spec.spec_shape]},
        "segments_hash": segments_hash,
        "clips_dir": clip_dir.name,
        "failed": failed_list,
        "names": [j.name for j in done],
    }
    # every file's size and SHA-256 (shape and dtype for arrays), and the store's identity (store.py)
    if segments_shape is not None:
        manifest["arrays"]["segments"] = segments_shape
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


def _job_record(job: ClipJob) -> tuple:
    """A job as the manifest's `fingerprint` (which clips the store holds) records it: its media and
    classification label, not its segment labels (`segments_hash`), so that a store prepared before segment
    labels were kept still counts its packed clips as done (they are repacked, not decoded again). The
    store's own identity, `store_fingerprint`, does change: it hashes `segments.npy` with the other files."""
    return tuple(getattr(job, f.name) for f in dataclasses.fields(job) if f.name != "segments")


def _write_segments(out: Path, done: list[ClipJob]) -> list[int] | None:
    """`segments.npy`: int16 `(N, S)`, row i the per-second labels of the store's clip i (0 background, k + 1
    the k-th class of `classes.txt`; `lists.ave_segment_labels`); its shape, or None (and no file) for a
    dataset whose clips carry none."""
    path = out / "segments.npy"
    if not any(j.segments for j in done):
        path.unlink(missing_ok=True)
        return None
    labels = np.array([j.segments for j in done], np.int16)
    atomic_write(path, lambda f: np.save(f, labels))
    return list(labels.shape)


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
        return np.array(self.frames[i, : self.nframes[i]]), np.array(self.spec[i])

    def close(self) -> None:
        self.frames = self.spec = None


class _LostClip(Exception):
    """A clip whose per-clip file was damaged and could not be decoded again: it leaves the store."""

    def __init__(self, job: ClipJob, reason: str):
        super().__init__(f"{job.name}: {reason}")
        self.job, self.reason = job, reason


def read_clip(path: Path, spec: DatasetSpec, max_frames: int, frame_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A per-clip file's (frames, spectrogram), checked: a ValueError naming what is wrong with a file that is
    damaged (not a zip, a member cut short: `BadZipFile`, zlib errors), lacks an array or holds other shapes."""
    try:
        with np.load(path) as z:
            f, s = z["frames"], z["spec"]
    except (MemoryError, PermissionError):
        raise
    except Exception as err:
        raise ValueError(f"unreadable ({type(err).__name__}: {(str(err).splitlines() or [''])[0]})") from None
    if (
        f.dtype != np.uint8
        or f.ndim != 4
        or not 1 <= len(f) <= max_frames
        or f.shape[1:] != (frame_size, frame_size, 3)
    ):
        raise ValueError(f"frames {f.dtype} {f.shape}, expected uint8 (1..{max_frames}, {frame_size}, {frame_size}, 3)")
    if s.shape != tuple(spec.spec_shape):
        raise ValueError(f"spectrogram {s.shape}, expected {tuple(spec.spec_shape)}")
    return f, s


def _pack(
    out: Path,
    done: list[ClipJob],
    clip_dir: Path,
    old: _OldStore,
    spec: DatasetSpec,
    frame_size: int,
    max_frames: int,
    quiet: bool,
    report: PrepareReport,
) -> None:
    """Copy every clip's frames and spectrogram into the memory-mapped arrays (temporary names, then swap).

    A per-clip file that is damaged (`read_clip`) is named in a warning, removed and decoded again; if that
    fails, `_LostClip` (the caller drops the clip and packs again). Whatever stops the packing, its temporary
    files are removed and the previous store (arrays and manifest) is left as it was: the manifest, which
    marks a complete store, is removed only once the new arrays are whole, just before they replace the old."""
    import warnings

    from tqdm.auto import tqdm

    n = len(done)
    tmp = {k: out / f".{k}.tmp.npy" for k in ("frames", "nframes", "spec")}
    try:
        frames = np.lib.format.open_memmap(
            tmp["frames"], mode="w+", dtype=np.uint8, shape=(n, max_frames, frame_size, frame_size, 3)
        )
        specs = np.lib.format.open_memmap(tmp["spec"], mode="w+", dtype=np.float16, shape=(n, *spec.spec_shape))
        nframes = np.zeros(n, np.int16)
        for i, job in enumerate(tqdm(done, desc=f"pack {spec.name}", unit="clip", disable=quiet)):
            path = clip_dir / f"{job.key}.npz"
            if path.exists():
                try:
                    f, s = read_clip(path, spec, max_frames, frame_size)
                except ValueError as err:
                    warnings.warn(
                        f"damaged clip file {path}: {err}; removed, decoding {job.name} again",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                    report.redecoded.append(f"{path.name}: {err}")
                    path.unlink()
                    _, reason = _extract_one((job, spec, frame_size, max_frames, str(clip_dir)))
                    if reason is not None:
                        raise _LostClip(job, reason) from None
                    f, s = read_clip(path, spec, max_frames, frame_size)
            else:
                f, s = old.get(job.name)
            nframes[i] = len(f)
            frames[i, : len(f)] = f
            specs[i] = s
        frames.flush()
        specs.flush()
        del frames, specs
        np.save(tmp["nframes"], nframes)
        old.close()
        (out / "manifest.json").unlink(missing_ok=True)  # written again, last, by `prepare`
        for k, p in tmp.items():
            os.replace(p, out / f"{k}.npy")
    finally:
        for p in tmp.values():
            p.unlink(missing_ok=True)


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
