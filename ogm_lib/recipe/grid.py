"""The one grid runner: every list of runs of the book goes through `run_grid`, and every table of runs
(label -> its runs over seeds) through `train_grid`, which expands nothing and regroups once.

Callers expand seeds by their own rule (`book.row_seeds`, `plugins.per_seed`, a regime's fixed seeds) into
`label -> [RunConfig, ...]`; `train_grid` trains the flat list in one parallel batch (identical configs
once; cached runs read back) and hands back `label -> [RunResult, ...]` in the same order.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from ..method import checks
from ..method.config import RunConfig


def default_workers() -> int:
    """`$OGM_WORKERS` if set, else one process per core (at most 4)."""
    return int(os.environ.get("OGM_WORKERS", min(4, os.cpu_count() or 1)))


def run_grid(
    configs: Sequence[RunConfig], results_dir=None, workers: int | None = None, progress: bool = False, executor=None
) -> list:
    """fit() every config (cached ones are read back); results in input order. `executor`
    (`executors.py`): "local" (`workers` processes of one thread each; on a small CPU that beats one
    process with many threads), "gpus" (one worker per visible GPU), "slurm" (a submitit job array), or an
    executor object; None: `$OGM_EXECUTOR`, else "local". Each run is trained under its claim on the
    results folder (`run_claims.py`), so concurrent jobs never train the same key. `progress`: a bar with an
    ETA on a terminal, one line per finished run in a log (`progress.py`)."""
    from ..method.data.fingerprint import fingerprinted
    from ..method.progress import GridProgress
    from ..method.results import result_path, results_folder
    from ..method.train import fit
    from . import executors

    configs = [fingerprinted(c) for c in configs]  # a store's run is keyed by its data (fingerprint.py)
    # notebook parameters may arrive as any type (papermill -p): one line now, not a TypeError in the runner
    workers, results_dir = checks.workers(workers), checks.folder(results_dir, "results_dir")
    unique = list({c.key(): c for c in configs}.values())  # identical configs are trained once
    if executor is None or isinstance(executor, str):
        name = executor or os.environ.get("OGM_EXECUTOR") or "local"
        local_cuda = name == "local" and any(str(c.device).startswith("cuda") for c in unique)
        # one GPU under the local executor: run one after another in this process
        executor = executors.make_executor(name, workers=1 if local_cuda else workers)
    done = sum(result_path(c, results_folder(c, results_dir)).exists() for c in unique)
    bar = GridProgress(len(unique), done, enabled=progress)
    try:
        executors.run(unique, results_dir, executor, bar)
    finally:
        bar.close()
    by_key = {c.key(): fit(c, results_dir) for c in unique}  # every result is in the folder now
    return [by_key[c.key()] for c in configs]


def train_grid(
    runs: Mapping[str, Sequence[RunConfig]],
    results_dir=None,
    workers: int | None = None,
    executor=None,
    progress: bool = False,
) -> dict[str, list]:
    """label -> its configs (seeds already expanded) ==> label -> their results, in order, all trained in one
    batch by `run_grid`."""
    runs = {label: list(cs) for label, cs in runs.items()}
    results = iter(
        run_grid(
            [c for cs in runs.values() for c in cs],
            results_dir=results_dir,
            workers=workers,
            progress=progress,
            executor=executor,
        )
    )
    return {label: [next(results) for _ in cs] for label, cs in runs.items()}
