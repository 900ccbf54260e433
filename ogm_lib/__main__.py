"""Command line: `python -m ogm_lib train ...` trains one run; `python -m ogm_lib fetch avdigits` gets data;
`python -m ogm_lib book list|retrain|verify|reencode` handles the book's runs (`book.py`, `rerun.py`,
`results.reencode`); `python -m ogm_lib book toc` writes the table of contents from the chapter registry
(`recipe/toc.py`);
`python -m ogm_lib data check` checks a dataset and its splits (`data/check.py`).

Every RunConfig field is an option of `train` (`--help` lists them with their profile defaults; the help
of each is the field's metadata in `config.py`, see `options.py`). Examples:

    python -m ogm_lib train --dataset avdigits --fusion concat --method ogm_ge --alpha 0.8
    python -m ogm_lib book retrain --results-dir results-retrain   # every run of the book, resumable
    python -m ogm_lib book verify --sample 3                         # retrain 3 committed runs, compare
    python -m ogm_lib book reencode --results-dir results            # rewrite older files compactly

Errors are one line (`error: ...`, exit status 1); `--debug` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .method.options import add_run_options, config_from_args


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes (`--debug`), also accepted after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an error, show the full traceback instead of one line",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ogm_lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--debug", action="store_true", default=False, help="on an error, show the full traceback instead of one line"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train",
        help="train one run (or read its cached result)",
        parents=[_common()],
        description="Train one run, or read its cached result. Options left out take "
        "the profile's value (`--profile`, default cpu), else the built-in one.",
    )
    add_run_options(train)  # one option per RunConfig field, help from its metadata
    train.add_argument("--retrain", action="store_true", help="ignore a cached result and train again")
    train.add_argument("--json", action="store_true", help="print the result's best-epoch metrics as JSON")
    fetch = sub.add_parser(
        "fetch",
        help="fetch and verify a default dataset (avdigits: FSDD recordings and MNIST's test digits)",
        parents=[_common()],
    )
    fetch.add_argument("dataset", choices=["avdigits"])
    fetch.add_argument("--dest", default=None, help="destination folder (default ./data/avdigits)")
    fetch.add_argument("--mirror", default=None, help="a local copy of FSDD to copy from")
    from .method.data.check import add_parser as add_data_parser

    add_data_parser(sub, _common())
    book = sub.add_parser(
        "book",
        help="the book's runs: list them, retrain them all, verify a sample, or "
        "re-encode their files; its table of contents",
        parents=[_common()],
    )
    book.add_argument(
        "action",
        choices=["list", "retrain", "verify", "reencode", "toc"],
        help="list: the runs and whether each is in the results folder; retrain: train every "
        "missing run (resumable; a progress bar with an ETA); verify: retrain a random "
        "sample of the folder's runs and compare them with the files; reencode: rewrite "
        "the folder's result files in the current, compact encoding, losslessly (files "
        "already in it are left as is); toc: write book/_toc.yml from the chapter registry "
        "(ogm_lib/recipe/chapters.py)",
    )
    book.add_argument(
        "--check", action="store_true", help="toc: write nothing; exit 1 if book/_toc.yml differs from the registry"
    )
    book.add_argument("--results-dir", default=None, help="default ./results or $OGM_RESULTS_DIR")
    book.add_argument("--workers", type=int, default=None, help="parallel processes (default: one per core)")
    book.add_argument("--sample", type=int, default=3, help="verify: how many runs to retrain")
    book.add_argument("--draw-seed", type=int, default=None, help="verify: seed of the random draw")
    book.add_argument(
        "--device",
        default="cpu",
        help="verify: the torch device to retrain on (default cpu; a result file's own device is not obeyed)",
    )
    book.add_argument(
        "--compare-to", default=None, help="retrain: afterwards, compare every run with the same file in this folder"
    )
    add_grid_options(book)
    return parser


def add_grid_options(book: argparse.ArgumentParser) -> None:
    """`book retrain|list`: where the runs train (`executors.py`) and which of them (`--shard`)."""
    from .recipe.executors import EXECUTORS

    book.add_argument(
        "--executor",
        default=None,
        choices=EXECUTORS,
        help="retrain: local (CPU processes, --workers), gpus (one worker per visible GPU), slurm "
        "(a submitit job array); default $OGM_EXECUTOR, else local",
    )
    book.add_argument(
        "--shard",
        default=None,
        help="retrain/list: only shard i of n (i/n, i from 0), the runs whose int(key, 16) %% n == i",
    )
    book.add_argument("--gpus", default=None, help="gpus: the devices, e.g. 0,1,2 (default: every visible GPU)")
    book.add_argument("--partition", default=None, help="slurm: the partition")
    book.add_argument("--time", dest="time_min", type=int, default=None, help="slurm: minutes per task (240)")
    book.add_argument("--gpus-per-task", type=int, default=None, help="slurm: GPUs per task (1)")
    book.add_argument("--array-parallelism", type=int, default=None, help="slurm: tasks running at once (64)")
    book.add_argument("--cpus-per-task", type=int, default=None, help="slurm: CPUs per task (4)")
    book.add_argument("--slurm-folder", default=None, help="slurm: submitit's logs (default <results>/slurm)")
    book.add_argument(
        "--cluster",
        default=None,
        choices=["slurm", "local", "debug"],
        help="slurm: submitit's cluster (default: found; local/debug run without SLURM)",
    )


def reencode_command(results_dir: Path) -> int:
    """`book reencode`: every result file of the folder in the current encoding (`results.reencode`), each
    file's bytes before and after, and the totals; 1 if a file could not be re-encoded (left as is)."""
    import time

    from .method.results import KEY_PATTERN, STEPS_ENCODING, reencode

    files = [f for f in sorted(Path(results_dir).glob("*.json")) if KEY_PATTERN.match(f.stem)]
    t0, before, after, kept, failed = time.perf_counter(), 0, 0, 0, 0
    for path in files:
        try:
            old, new = reencode(path)
        except ValueError as err:  # a damaged file (DamagedFileError), or one that would not read back
            print(f"{path.name}: left as is: {one_line(err)}")
            failed += 1
            continue
        before, after, kept = before + old, after + new, kept + (old == new)
        print(
            f"{path.name}: {old:,} -> {new:,} bytes"
            if old != new
            else f"{path.name}: {old:,} bytes, already {STEPS_ENCODING}"
        )
    print(
        f"{len(files) - failed} result files in {results_dir}: {before:,} -> {after:,} bytes"
        + (f" ({1 - after / before:.0%} smaller)" if before else "")
        + f"; {kept} already in the current encoding; {failed} not re-encoded (left as is); "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return 1 if failed else 0


def toc_command(check: bool) -> int:
    """`book toc`: write book/_toc.yml from the chapter registry, or (`--check`) say whether it differs."""
    from .recipe import toc

    if check:
        same = toc.check()
        print(f"{toc.TOC}: {'agrees with' if same else 'differs from'} the chapter registry")
        return 0 if same else 1
    print(f"{toc.TOC}: {'written' if toc.write() else 'unchanged'}")
    return 0


def book_command(args) -> int:
    import time

    if args.action == "toc":
        return toc_command(args.check)
    from .method.paths import default_results_dir
    from .method.results import RunResult
    from .recipe.grid import run_grid
    from .recipe.runs import book_runs

    results_dir = Path(args.results_dir) if args.results_dir else default_results_dir()
    if args.action == "reencode":
        return reencode_command(results_dir)
    if args.action == "verify":
        from .recipe.rerun import verify_sample

        failed = verify_sample(results_dir, args.sample, args.draw_seed, device=args.device)
        print("all retrained runs agree with their files" if not failed else f"{failed} run(s) differ")
        return 1 if failed else 0
    from .recipe.executors import make_executor, take_shard

    runs = take_shard(book_runs(), args.shard)
    have = [c for c in runs if (results_dir / f"{c.key()}.json").exists()]
    shard = f" (shard {args.shard})" if args.shard else ""
    if args.action == "list":
        return list_command(runs, results_dir, shard)
    executor = make_executor(
        args.executor,
        workers=args.workers,
        devices=args.gpus.split(",") if args.gpus else None,
        partition=args.partition,
        time_min=args.time_min,
        gpus_per_task=args.gpus_per_task,
        array_parallelism=args.array_parallelism,
        cpus_per_task=args.cpus_per_task,
        folder=args.slurm_folder,
        cluster=None if args.cluster == "slurm" else args.cluster,
    )
    print(
        f"{len(runs)} runs of the book{shard}; {len(have)} already in {results_dir}, training "
        f"{len(runs) - len(have)} ({executor.name} executor)",
        flush=True,
    )
    t0 = time.perf_counter()
    results = run_grid(runs, results_dir=results_dir, workers=args.workers, progress=True, executor=executor)
    print(
        f"{len(results)} runs in {results_dir}; this call took {time.perf_counter() - t0:.0f} s; "
        f"sum of the runs' own wall times {sum(r.wall_time_s for r in results):.0f} s"
    )
    if args.compare_to:
        from .recipe.rerun import compare

        differ = 0
        for r in results:
            path = Path(args.compare_to) / f"{r.key}.json"
            if path.exists() and compare(r, RunResult.load(path)):
                differ += 1
        print(f"compared with {args.compare_to}: {differ} of {len(results)} runs differ")
        return 1 if differ else 0
    return 0


def list_command(runs, results_dir: Path, shard: str = "") -> int:
    """`book list`: each run as done (its result is in the folder), claimed (a live job trains it: who, and
    its last heartbeat), stale (claimed by a job that is gone: the next retrain retakes it) or todo; then
    the counts."""
    from .recipe.run_claims import read_claim

    counts = {"done": 0, "claimed": 0, "stale": 0, "todo": 0}
    for c in runs:
        held, note = None, ""
        if (results_dir / f"{c.key()}.json").exists():
            mark = "done"
        else:
            held = read_claim(results_dir, c.key())
            why = held.stale() if held is not None else None
            mark = "todo" if held is None else ("stale" if why else "claimed")
            note = "" if held is None else f" [{held.describe()}{'; ' + why if why else ''}]"
        counts[mark] += 1
        print(
            f"{mark} {c.key()} {c.modalities} {c.fusion} {c.method} {c.optimizer} lr={c.lr:g} "
            f"b={c.batch_size} alpha={c.alpha:g} seed={c.seed}{note}"
        )
    print(
        f"{counts['done']} of {len(runs)} runs in {results_dir}{shard}: {counts['done']} done, "
        f"{counts['claimed']} claimed, {counts['stale']} stale claims, {counts['todo']} missing"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; an error is one line on stderr (exit status 1), or its traceback with `--debug`."""
    args = build_parser().parse_args(argv)
    show = warnings.showwarning
    if not args.debug:  # warnings (a damaged file set aside, ...) as one line too
        warnings.showwarning = lambda message, category, *a, **k: print(f"warning: {message}", file=sys.stderr)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted; the same command resumes a training run from its last checkpoint", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show


#: errors whose message says it all; any other exception is also named by its type
_PLAIN_ERRORS = (ValueError, OSError, FloatingPointError)


def one_line(err: BaseException) -> str:
    """An exception as one line: its message (with its type unless it is an ordinary input error), and a
    pointer to `--debug` for anything unexpected."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, _PLAIN_ERRORS):
        return text
    return f"{type(err).__name__}: {text} (run again with --debug for the traceback)"


def run_command(args) -> int:
    if args.command == "fetch":
        from pathlib import Path

        from .method.data.fsdd import default_data_dir, fetch_fsdd
        from .method.data.mnist import fetch_mnist

        dest = Path(args.dest or default_data_dir("avdigits"))
        print(fetch_fsdd(dest, mirror=args.mirror))
        # MNIST's test digits: the visual half of the testbed search's designs (data/mnist.py, testbed.py)
        done = fetch_mnist(dest / "mnist")
        print(f"MNIST t10k at {dest / 'mnist'}: " + ("; ".join(done) if done else "already verified"))
        return 0
    if args.command == "book":
        return book_command(args)
    if args.command == "data":
        from .method.data.check import data_command

        return data_command(args)
    from .method.train import fit

    result = fit(config_from_args(args), retrain=args.retrain)
    best = result.best
    if args.json:
        from .method.results import strict_json  # NaN as null, inf as "Infinity": JSON any reader takes

        print(
            json.dumps(
                strict_json({"key": result.key, "best_epoch": result.best_epoch, **best}), indent=1, allow_nan=False
            )
        )
    else:
        print(f"run {result.key}: best epoch {result.best_epoch} (chosen on validation), {result.wall_time_s:.1f} s")
        for split in ("val", "test"):
            parts = [
                f"{name} acc {best[f'{split}_acc{sfx}']:.3f}"
                for name, sfx in (("fused", ""), ("audio", "_audio"), ("visual", "_visual"))
                if f"{split}_acc{sfx}" in best
            ]
            print(f"  {split:4s} " + ", ".join(parts) + f", mAP {best[f'{split}_map']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
