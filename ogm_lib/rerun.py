"""Committed runs, checked by training them again.

The book's runs are data committed under `results/` (one JSON per run, `results.py`). Anyone can ask
whether a file is what its config computes: `verify_sample` picks runs at random (the seed of the draw is
printed, so a failure can be repeated), retrains each into a scratch folder with the thread count recorded
in its provenance, and `compare` holds every per-epoch metric, the chosen epoch and the per-step trace
against the committed file (and the final weights against `results/weights/<key>.pt`, for the runs whose
weights are committed: `save_weights`). CI does this on every push (`scripts/run_tests.sh`).

Tolerance: the runs are deterministic on one kind of machine (the same seed gives the same bits), so the
only slack needed is the float32 storage of the trace (`results.STEPS_ENCODING`); metrics must agree to
`METRIC_ATOL`, the trace to float32 precision (`TRACE_RTOL`).
"""
from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

import numpy as np

from .config import RunConfig
from .results import RunResult, decode_predictions

METRIC_ATOL = 1e-6
TRACE_RTOL = 1e-5


def committed_runs(results_dir: str | Path, out=None) -> list[Path]:
    """The result files of a results folder, sorted by name: the `.json` files named by a run key. Any other
    JSON file there (notes, a table) is not a run: it is skipped, with a note to `out` when given."""
    from .results import KEY_PATTERN
    files = sorted(Path(results_dir).glob("*.json"))
    others = [f.name for f in files if not KEY_PATTERN.match(f.stem)]
    if others and out is not None:
        out(f"note: skipping {len(others)} JSON file(s) not named by a run key (not results): "
            + ", ".join(others[:5]) + (", ..." if len(others) > 5 else ""))
    return [f for f in files if KEY_PATTERN.match(f.stem)]


def config_of(result: RunResult, **bookkeeping) -> RunConfig:
    """The RunConfig to retrain a result with. A result file is data, not instructions: only the fields of
    its config that are in the key are taken from it (the key, checked on load, proves those); every other
    field (`config._NOT_IN_KEY`: device, workers, the data, results and TensorBoard folders, the profile's
    name, quiet) is the caller's `bookkeeping` or RunConfig's default, so an edited `tensorboard_dir` or
    `data_dir` in a file steers nothing."""
    from .config import _NOT_IN_KEY
    unknown = set(bookkeeping) - set(_NOT_IN_KEY)
    if unknown:
        raise ValueError(f"config_of takes only fields outside the key, not {sorted(unknown)}")
    trusted = {k: v for k, v in result.config.items() if k not in _NOT_IN_KEY}
    return RunConfig(**trusted, **bookkeeping)


def _close(a, b, atol: float, rtol: float = 0.0) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= atol + rtol * abs(b)
    return a == b


def _as_stored(series) -> np.ndarray:
    """A trace series rounded to float32, as result files store it (whatever their encoding)."""
    return np.asarray(series, dtype=np.float32).astype(float)


def compare(new: RunResult, old: RunResult, atol: float = METRIC_ATOL, rtol: float = TRACE_RTOL) -> list[str]:
    """The differences between a retrained result and a committed one (empty: they agree).

    Compared: the key, the chosen epoch, every per-epoch metric, every per-step trace (both sides
    rounded to float32, as stored), and the stored test predictions when both results have them."""
    diffs = []
    if new.key != old.key:
        diffs.append(f"key {new.key} != {old.key}")
    if new.best_epoch != old.best_epoch:
        diffs.append(f"best_epoch {new.best_epoch} != {old.best_epoch}")
    if len(new.epochs) != len(old.epochs):
        diffs.append(f"{len(new.epochs)} epochs != {len(old.epochs)}")
    for i, (e_new, e_old) in enumerate(zip(new.epochs, old.epochs)):
        for name in sorted(set(e_new) | set(e_old)):
            if name not in e_new or name not in e_old:
                diffs.append(f"epoch {i}: {name} only in one result")
            elif not _close(e_new[name], e_old[name], atol):
                diffs.append(f"epoch {i}: {name} {e_new[name]!r} != {e_old[name]!r}")
    for name in sorted(set(new.steps) | set(old.steps)):
        a, b = _as_stored(new.steps.get(name, [])), _as_stored(old.steps.get(name, []))
        if a.shape != b.shape:
            diffs.append(f"trace {name}: {a.shape[0]} steps != {b.shape[0]}")
        elif not np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True):
            worst = int(np.nanargmax(np.abs(a - b)))
            diffs.append(f"trace {name}: step {worst} {a[worst]!r} != {b[worst]!r}")
    if new.predictions and old.predictions:     # files from before predictions were kept have none
        (ya, pa), (yb, pb) = decode_predictions(new.predictions), decode_predictions(old.predictions)
        if new.predictions["epoch"] != old.predictions["epoch"] or not np.array_equal(ya, yb):
            diffs.append("stored test predictions: another epoch or other clips")
        elif pa.shape != pb.shape or not np.allclose(pa, pb, rtol=rtol, atol=atol):
            diffs.append("stored test predictions differ")
    return diffs


def retrain(result: RunResult, scratch: str | Path, device: str = "cpu", data_dir: str | None = None) -> RunResult:
    """Train `result`'s config again into `scratch` (never into the committed folder) on `device`, with the
    number of torch threads its provenance records (1 for the book's runs): same threads, same bits. The
    file's own bookkeeping fields are not obeyed (`config_of`): `device` and `data_dir` are the caller's."""
    import torch

    from .train import fit
    threads = int(result.provenance.get("threads") or 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return fit(config_of(result, device=device, data_dir=data_dir, quiet=True), scratch)
    finally:
        torch.set_num_threads(before)


def verify_sample(results_dir: str | Path, n: int = 3, seed: int | None = None, out=print,
                  device: str = "cpu") -> int:
    """Retrain `n` randomly drawn committed runs on `device` and compare them; returns the number that differ.

    `seed`: the draw (None: a fresh one, printed so that the sample can be drawn again). `n` must be at least
    1 (a sample of none would report agreement having checked nothing); `device` must exist here
    (`config.check_device`), checked before anything is drawn."""
    from .config import check_device, check_number
    n = check_number("--sample", n, int, 1, meaning="how many runs to retrain; a sample of 0 checks nothing")
    check_device(device)
    files = committed_runs(results_dir, out)
    if not files:
        raise FileNotFoundError(f"no result files in {results_dir}")
    seed = random.SystemRandom().randrange(2 ** 31) if seed is None else int(seed)
    sample = random.Random(seed).sample(files, min(n, len(files)))
    out(f"verifying {len(sample)} of {len(files)} committed runs in {results_dir} (draw seed {seed})")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ogm-verify-") as scratch:
        for path in sample:
            old = RunResult.load(path)
            new = retrain(old, scratch, device)
            diffs = compare(new, old)
            committed_weights = weights_path(old.key, Path(results_dir))
            if committed_weights.exists():
                from .checkpoint import load as load_pt
                load = lambda p: load_pt(p)["model"]  # noqa: E731
                if not same_weights(load(Path(scratch) / "checkpoints" / f"{old.key}.pt"), load(committed_weights)):
                    diffs.append(f"final weights differ from {committed_weights}")
            cfg = old.config
            what = f"{path.name} ({cfg['modalities']}, {cfg['fusion']}, {cfg['method']}, seed {cfg['seed']})"
            if diffs:
                failed += 1
                out(f"DIFFERS {what}: {len(diffs)} difference(s)")
                for d in diffs[:10]:
                    out(f"    {d}")
            else:
                out(f"same    {what}: {len(old.epochs)} epochs, {sum(map(len, old.steps.values()))} trace values, "
                    f"retrained in {new.wall_time_s:.0f} s")
    return failed


def weights_path(key: str, results_dir: str | Path) -> Path:
    """Where a run's committed final weights live: `<results_dir>/weights/<key>.pt` (model state only)."""
    return Path(results_dir) / "weights" / f"{key}.pt"


def save_weights(checkpoint: str | Path, key: str, results_dir: str | Path) -> Path:
    """Keep a finished run's final model weights (not its optimiser state) from its checkpoint, to commit
    beside its result: a chapter that needs the trained model (chapter 03) then does not retrain it."""
    import io

    import torch

    from .checkpoint import load
    from .fileio import atomic_write_bytes
    state = load(checkpoint)
    buf = io.BytesIO()
    torch.save({"key": key, "model": state["model"]}, buf)
    path = weights_path(key, results_dir)
    atomic_write_bytes(path, buf.getvalue())
    return path


def same_weights(a: dict, b: dict) -> bool:
    """Whether two state dicts hold the same tensors, bit for bit."""
    import torch
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def checkpoint_of(config: RunConfig, results_dir: str | Path | None = None) -> Path:
    """A file holding the final weights (`["model"]`) of a finished run: its checkpoint in
    `<results_dir>/checkpoints/`, else its committed weights (`weights_path`). When neither exists, the run is
    retrained in a scratch folder (`retrain`, same threads, same bits), checked against its committed result
    (`compare`; a difference is an error), and its checkpoint kept in the results folder for next time."""
    import shutil

    from .results import results_folder
    results_dir = results_folder(config, results_dir)
    path = results_dir / "checkpoints" / f"{config.key()}.pt"
    if path.exists():
        return path
    if weights_path(config.key(), results_dir).exists():
        return weights_path(config.key(), results_dir)
    committed = results_dir / f"{config.key()}.json"
    if not committed.exists():
        raise FileNotFoundError(f"no result for run {config.key()} in {results_dir}; train it first with fit()")
    old = RunResult.load(committed)
    with tempfile.TemporaryDirectory(prefix="ogm-weights-") as scratch:
        new = retrain(old, scratch, config.device, config.data_dir)
        diffs = compare(new, old)
        if diffs:
            raise RuntimeError(f"retraining run {config.key()} for its weights did not reproduce {committed}: "
                               + "; ".join(diffs[:3]))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(scratch) / "checkpoints" / f"{config.key()}.pt", path)
    return path
