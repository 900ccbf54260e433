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

**On another kind of CPU** the bits cannot agree: PyTorch's CPU kernels (oneDNN, the vectorised reductions)
pick other instruction sets on another processor (AVX-512 on an Intel Xeon, AVX2 on an AMD EPYC, say), the
last bits of a sum change, and twenty epochs of SGD carry that to other weights and a different run. A run
is then checked as a draw from its row: `same_machine` (the CPU model, the instruction set torch uses on it
and the torch version of its provenance; one model name can cover both AVX2-only and AVX-512 processors)
decides; off it, `compare_to_row` requires the retrained run's structure (epochs, metrics, trace lengths, the
test clips) to be the committed one's, and its chosen-epoch validation and test accuracy to lie within
`ROW_SDS` standard deviations of the committed run's, the SD taken over the row's committed seeds (the
same config but the seed; at least `ROW_MIN_SEEDS` of them, and never less than `ROW_SD_FLOOR` points).
Two independent draws differ by sqrt(2) SD on average, so a correct run fails this with probability
P(|Z| > 4 / sqrt 2) = 0.5 % per metric. Runs whose row has fewer seeds cannot be checked off their
machine and are not drawn there (the draw says how many could be).
"""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

import numpy as np

from ..method.config import RunConfig
from ..method.results import RunResult, decode_predictions

METRIC_ATOL = 1e-6
TRACE_RTOL = 1e-5
#: off the committing machine: the retrained accuracies within ROW_SDS row SDs (at least ROW_SD_FLOOR points)
ROW_SDS = 4.0
ROW_SD_FLOOR = 0.5
ROW_MIN_SEEDS = 3
#: the chosen-epoch metrics held against the row's spread
ROW_METRICS = ("val_acc", "test_acc")


def this_machine() -> dict:
    """What decides a CPU run's bits here: the CPU model, the instruction set torch's kernels use on it and the
    torch version (`results.provenance`)."""
    import torch

    from ..method.results import _cpu_name, cpu_capability

    return {"cpu": _cpu_name(), "cpu_capability": cpu_capability(), "torch": torch.__version__, "gpu": None}


#: what must agree for a run to be retrained bit for bit. A model name alone is not enough ("AMD EPYC" covers
#: AVX2-only and AVX-512 generations, which give other bits); a result made before provenance recorded the
#: instruction set (no "cpu_capability") is never taken for this machine's: it is checked against its row's spread
MACHINE_FIELDS = ("cpu", "cpu_capability", "gpu", "torch")


def same_machine(result: RunResult, here: dict | None = None) -> bool:
    """Whether this machine computes `result`'s bits: the same CPU model and instruction set, no GPU, the same
    torch version (`MACHINE_FIELDS`)."""
    here = this_machine() if here is None else here
    return all(result.provenance.get(k) == here.get(k) for k in MACHINE_FIELDS)


def row_key(config: dict) -> str:
    """A run's row: the key of its config with the seed left out."""
    from ..method.config import config_key

    return config_key({**config, "seed": 0})


def rows_of(results: list[RunResult]) -> dict[str, list[RunResult]]:
    """row key -> the committed runs of that row (every seed)."""
    out: dict[str, list[RunResult]] = {}
    for r in results:
        out.setdefault(row_key(r.config), []).append(r)
    return out


def compare_to_row(new: RunResult, old: RunResult, row: list[RunResult], sds: float = ROW_SDS) -> list[str]:
    """Differences of a run retrained on another kind of CPU (module docstring): its structure must be the
    committed run's, its chosen-epoch accuracies within `sds` row SDs of the committed run's."""
    diffs = []
    if len(new.epochs) != len(old.epochs):
        diffs.append(f"{len(new.epochs)} epochs, committed {len(old.epochs)}")
    if set(new.epochs[-1]) != set(old.epochs[-1]):
        diffs.append(f"other per-epoch metrics: {sorted(set(new.epochs[-1]) ^ set(old.epochs[-1]))}")
    if {k: len(v) for k, v in new.steps.items()} != {k: len(v) for k, v in old.steps.items()}:
        diffs.append("the per-step trace has other series or lengths")
    if (
        old.predictions
        and new.predictions
        and not np.array_equal(decode_predictions(new.predictions)[0], decode_predictions(old.predictions)[0])
    ):
        diffs.append("stored test predictions are of other clips")
    for name in ROW_METRICS:
        values = [100 * r.best[name] for r in row]
        sd = max(float(np.std(values, ddof=1)), ROW_SD_FLOOR)
        a, b = 100 * new.best[name], 100 * old.best[name]
        if abs(a - b) > sds * sd:
            diffs.append(
                f"{name} {a:.1f} against committed {b:.1f}: more than {sds:g} x the row's SD {sd:.2f} "
                f"(over {len(row)} seeds)"
            )
    return diffs


def committed_runs(results_dir: str | Path, out=None) -> list[Path]:
    """The result files of a results folder, sorted by name: the `.json` files named by a run key. Any other
    JSON file there (notes, a table) is not a run: it is skipped, with a note to `out` when given."""
    from ..method.results import KEY_PATTERN

    files = sorted(Path(results_dir).glob("*.json"))
    others = [f.name for f in files if not KEY_PATTERN.match(f.stem)]
    if others and out is not None:
        out(
            f"note: skipping {len(others)} JSON file(s) not named by a run key (not results): "
            + ", ".join(others[:5])
            + (", ..." if len(others) > 5 else "")
        )
    return [f for f in files if KEY_PATTERN.match(f.stem)]


def config_of(result: RunResult, **bookkeeping) -> RunConfig:
    """The RunConfig to retrain a result with. A result file is data, not instructions: only the fields of
    its config that are in the key are taken from it (the key, checked on load, proves those); every other
    field (`config._NOT_IN_KEY`: device, workers, the data, results and TensorBoard folders, the profile's
    name, quiet) is the caller's `bookkeeping` or RunConfig's default, so an edited `tensorboard_dir` or
    `data_dir` in a file steers nothing."""
    from ..method.config import _NOT_IN_KEY

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
    if new.predictions and old.predictions:  # files from before predictions were kept have none
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

    from ..method.train import fit

    threads = int(result.provenance.get("threads") or 1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return fit(config_of(result, device=device, data_dir=data_dir, quiet=True), scratch)
    finally:
        torch.set_num_threads(before)


def verify_sample(results_dir: str | Path, n: int = 3, seed: int | None = None, out=print, device: str = "cpu") -> int:
    """Retrain `n` randomly drawn committed runs on `device` and compare them; returns the number that differ.

    `seed`: the draw (None: a fresh one, printed so that the sample can be drawn again). `n` must be at least
    1 (a sample of none would report agreement having checked nothing); `device` must exist here
    (`config.check_device`), checked before anything is drawn."""
    from ..method.config import check_device, check_number

    n = check_number("--sample", n, int, 1, meaning="how many runs to retrain; a sample of 0 checks nothing")
    check_device(device)
    files = committed_runs(results_dir, out)
    if not files:
        raise FileNotFoundError(f"no result files in {results_dir}")
    results = {f: RunResult.load(f) for f in files}
    rows = rows_of(list(results.values()))
    machine = this_machine()
    here = {f: same_machine(r, machine) for f, r in results.items()}
    # off the committing machine a run is checked against its row's spread: only rows with enough seeds
    eligible = [f for f in files if here[f] or len(rows[row_key(results[f].config)]) >= ROW_MIN_SEEDS]
    if not eligible:
        raise ValueError(
            f"none of the {len(files)} runs in {results_dir} can be checked on this machine: they were "
            f"made on another CPU and their rows have fewer than {ROW_MIN_SEEDS} seeds"
        )
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    sample = random.Random(seed).sample(eligible, min(n, len(eligible)))
    out(
        f"verifying {len(sample)} of {len(files)} committed runs in {results_dir} (draw seed {seed}; "
        f"{sum(here.values())} made on this kind of machine, checked bit for bit; {len(eligible) - sum(here.values())} "
        f"others checkable against their row's spread)"
    )
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ogm-verify-") as scratch:
        for path in sample:
            old = results[path]
            new = retrain(old, scratch, device)
            if here[path]:
                diffs = compare(new, old)
            else:
                row = rows[row_key(old.config)]
                diffs = compare_to_row(new, old, row)
                out(
                    f"note: {path.name} was made on {old.provenance.get('cpu')} (torch {old.provenance.get('torch')}),"
                    f" this machine is another: checked against its row's spread over {len(row)} seeds, not bit "
                    f"for bit (test acc {100 * new.best['test_acc']:.1f}, committed {100 * old.best['test_acc']:.1f})"
                )
            committed_weights = weights_path(old.key, Path(results_dir))
            if committed_weights.exists() and here[path]:
                from ..method.checkpoint import load as load_pt

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
                how = "same   " if here[path] else "agrees "  # bit for bit, or within its row's spread
                out(
                    f"{how} {what}: {len(old.epochs)} epochs, {sum(map(len, old.steps.values()))} trace values, "
                    f"retrained in {new.wall_time_s:.0f} s"
                )
    return failed


def weights_path(key: str, results_dir: str | Path) -> Path:
    """Where a run's committed final weights live: `<results_dir>/weights/<key>.pt` (model state only)."""
    return Path(results_dir) / "weights" / f"{key}.pt"


def save_weights(checkpoint: str | Path, key: str, results_dir: str | Path) -> Path:
    """Keep a finished run's final model weights (not its optimiser state) from its checkpoint, to commit
    beside its result: a chapter that needs the trained model (chapter 03) then does not retrain it."""
    import io

    import torch

    from ..method.checkpoint import load
    from ..method.fileio import atomic_write_bytes

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

    from ..method.results import results_folder

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
            raise RuntimeError(
                f"retraining run {config.key()} for its weights did not reproduce {committed}: " + "; ".join(diffs[:3])
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(scratch) / "checkpoints" / f"{config.key()}.pt", path)
    return path


def load_trained_model(config: RunConfig, num_classes: int, results_dir=None):
    """The model at the end of a finished run, from its checkpoint (`checkpoint_of`: retrained and
    checked against its committed result when the results folder has no checkpoint)."""
    import warnings

    from ..method.checkpoint import load, unreadable
    from ..method.fileio import set_aside
    from ..method.models import build_model

    path = checkpoint_of(config, results_dir)
    try:
        model = build_model(config, num_classes)
        model.load_state_dict(load(path)["model"])  # weights_only=True: data, never code
    except Exception as err:  # a damaged checkpoint: set aside, retrained (and checked) by checkpoint_of
        aside = set_aside(path)
        warnings.warn(
            f"damaged checkpoint {path}: {unreadable(err)}; "
            f"set aside as {aside.name}; retraining run {config.key()} for its weights",
            RuntimeWarning,
            stacklevel=2,
        )
        path = checkpoint_of(config, results_dir)
        model = build_model(config, num_classes)
        model.load_state_dict(load(path)["model"])
    return model.eval()
