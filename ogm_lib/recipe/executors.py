"""Where a grid of runs trains: one machine's cores, one worker per GPU, or a SLURM job array.

`run(configs, results_dir, executor)` trains every run not yet in the results folder and returns each run's
`Outcome`; `grid.run_grid` reads the results back. Three executors, one option (`--executor` of
`python -m ogm_lib book retrain`; the `executor` argument of `grid.run_grid` / `book.train_seeds`, else
`$OGM_EXECUTOR`, so a notebook run by papermill takes it from the environment):

- `local`: today's CPU pool: `workers` processes of one torch thread each (on a small CPU that beats one
  process with many threads); one worker, or one run, trains in this process.
- `gpus`: one worker process per visible GPU (`$CUDA_VISIBLE_DEVICES`, else every device torch sees; or
  `devices=`/`$OGM_GPUS`), each started with `CUDA_VISIBLE_DEVICES=<its GPU>`, so that inside it the GPU
  is `cuda:0` (a run's `device="cuda:3"` becomes `"cuda"`: the device is not in a run's key). Runs are
  dealt one at a time to whichever worker is free, so a slow run does not hold back a queue.
- `slurm`: through submitit (`pip install "ogm_lib[slurm]"`): `AutoExecutor.map_array` over the run list,
  one array task per run, with the partition, the time limit, GPUs per task and the array parallelism as
  options. `cluster="local"` (or `"debug"`) is submitit's own executor without a cluster; the tests use it.

Every executor trains a run through `claimed_fit`: the run's claim on the results folder first
(`run_claims.py`), so that concurrent jobs (two `book retrain` on one folder, the shards of an array, a job
restarted beside a dying one) never train the same key; a run claimed by a live job elsewhere comes back
`busy` and `run` waits for it (its result, or its claim going stale, which is then retaken).

Shards (`--shard i/n`): run `key` belongs to shard `int(key, 16) % n` (keys are 64-bit hex hashes of the
config, so the split is stable: the same on every machine and for every ordering of the list, and a run
added to the book does not move the others). `i` counts from 0, as `$SLURM_ARRAY_TASK_ID` does.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..method.config import RunConfig
from . import run_claims

EXECUTORS = ("local", "gpus", "slurm")
#: seconds between looks at runs that another job holds
POLL_S = float(os.environ.get("OGM_CLAIM_POLL", 5.0))


# ---------------------------------------------------------------------------------------------- shards


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'2/8' -> (2, 8): shard 2 of 8, counted from 0; None -> None (the whole list)."""
    if spec is None:
        return None
    try:
        i, n = (int(x) for x in str(spec).split("/"))
    except ValueError:
        raise ValueError(f"--shard {spec!r}: expected i/n, such as 0/4 (shard i of n, i from 0 to n-1)") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec}: need n >= 1 and 0 <= i < n (shards count from 0)")
    return i, n


def shard_of(key: str, n: int) -> int:
    """The shard (of n) that run `key` belongs to: int(key, 16) % n."""
    return int(key, 16) % n


def take_shard(configs: Sequence[RunConfig], spec) -> list[RunConfig]:
    """The configs of shard `spec` ('i/n' or (i, n)), in their order."""
    from ..method.data.fingerprint import fingerprinted

    shard = parse_shard(spec) if isinstance(spec, str) or spec is None else tuple(spec)
    if shard is None:
        return list(configs)
    i, n = shard
    return [c for c in map(fingerprinted, configs) if shard_of(c.key(), n) == i]


# ---------------------------------------------------------------------------------------------- one run


@dataclass
class Outcome:
    """What became of one run: `trained` here, `read` (its result was there), `busy` (claimed by a live job
    elsewhere), or `error` (with the message)."""

    key: str
    status: str
    wall_s: float | None = None
    worker: str = ""
    visible_devices: str | None = None
    error: str | None = None


def claimed_fit(config: RunConfig, results_dir=None) -> Outcome:
    """Train `config` under its claim (`run_claims.acquire`), or read its result, or say it is busy."""
    from ..method.results import result_path, results_folder
    from ..method.train import fit, read_cached

    folder, key = results_folder(config, results_dir), config.key()
    me = dict(worker=f"{os.uname().nodename}:{os.getpid()}", visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    if read_cached(result_path(config, folder), key) is not None:  # a damaged file is set aside: trained below
        return Outcome(key, "read", **me)
    claim = run_claims.acquire(folder, key)
    if claim is None:
        return Outcome(key, "busy", **me)
    with claim:
        if result_path(config, folder).exists():  # finished by its last holder after our first look
            return Outcome(key, "read", **me)
        result = fit(config, folder)
        return Outcome(key, "trained", result.wall_time_s, **me)


def config_from_dict(d: dict, key: str | None = None) -> RunConfig:
    """A config sent to another process as JSON; refused if it no longer has the key it was sent with."""
    config = RunConfig(**d)
    if key is not None and config.key() != key:
        raise ValueError(f"config arrived with key {config.key()}, sent as {key}")
    return config


def _task(config: RunConfig, results_dir) -> dict:
    return {
        "config": config.to_dict(),
        "key": config.key(),
        "results_dir": None if results_dir is None else str(results_dir),
    }


def _run_task(task: dict) -> Outcome:
    try:
        return claimed_fit(config_from_dict(task["config"], task["key"]), task["results_dir"])
    except Exception as err:  # reported to the parent, which names the run
        return Outcome(
            task["key"],
            "error",
            worker=f"{os.uname().nodename}:{os.getpid()}",
            visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            error=f"{type(err).__name__}: {err}",
        )


def worker_main() -> None:
    """A worker process: one JSON task per line on stdin, one JSON `Outcome` per line back. Anything the
    training prints goes to stderr, so stdout carries the answers only."""
    import torch

    torch.set_num_threads(int(os.environ.get("OGM_WORKER_THREADS", 1)))
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if line.strip():
            answers.write(json.dumps(asdict(_run_task(json.loads(line)))) + "\n")
            answers.flush()


class _WorkerPool:
    """Worker processes (`worker_main`), each with its own environment; `map` deals tasks one at a time
    to whichever worker is free and reports each outcome as it comes."""

    def __init__(self, envs: Sequence[dict]):
        root = str(Path(__file__).resolve().parents[2])  # the folder holding ogm_lib/
        base = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        code = "from ogm_lib.recipe.executors import worker_main; worker_main()"
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**base, **env},
                text=True,
            )
            for env in envs
        ]

    def map(self, tasks: Sequence[dict], report: Callable[[Outcome], None]) -> list[Outcome]:
        todo: queue.Queue = queue.Queue()
        for t in tasks:
            todo.put(t)
        outcomes, lock = [], threading.Lock()

        def serve(proc):
            while True:
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    proc.stdin.write(json.dumps(task) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = ""
                if not line:  # the worker died: its run goes back to the others
                    todo.put(task)
                    return
                out = Outcome(**json.loads(line))
                with lock:
                    outcomes.append(out)
                    report(out)

        threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in self.procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if not todo.empty():
            left = [todo.get()["key"] for _ in range(todo.qsize())]
            raise RuntimeError(f"every worker process died; {len(left)} run(s) left: {', '.join(left[:5])}")
        return outcomes

    def close(self) -> None:
        for p in self.procs:
            if p.stdin:
                p.stdin.close()
        for p in self.procs:
            p.wait()


# ---------------------------------------------------------------------------------------------- executors


class LocalExecutor:
    """This machine's CPU: `workers` processes of one thread (default: `$OGM_WORKERS`, else one per core, at
    most 4, as `grid.default_workers`)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        if workers is None:
            workers = int(os.environ.get("OGM_WORKERS", min(4, os.cpu_count() or 1)))
        self.workers = workers

    def map(self, configs: Sequence[RunConfig], results_dir, report) -> list[Outcome]:
        if self.workers <= 1 or len(configs) <= 1:
            outcomes = []
            for c in configs:  # in this process; an error is raised as it is
                outcomes.append(claimed_fit(c, results_dir))
                report(outcomes[-1])
            return outcomes
        pool = _WorkerPool([{"OMP_NUM_THREADS": "1", "OGM_WORKER_THREADS": "1"}] * min(self.workers, len(configs)))
        try:
            return pool.map([_task(c.replace(quiet=True), results_dir) for c in configs], report)
        finally:
            pool.close()


def visible_gpus() -> list[str]:
    """`$OGM_GPUS` or `$CUDA_VISIBLE_DEVICES` (comma-separated), else every device torch sees."""
    spec = os.environ.get("OGM_GPUS") or os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is not None:
        return [d.strip() for d in spec.split(",") if d.strip() and d.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


class GpuExecutor:
    """One worker per GPU of `devices` (default `visible_gpus()`), pinned by `CUDA_VISIBLE_DEVICES`."""

    name = "gpus"

    def __init__(self, devices: Sequence[str] | None = None, threads: int | None = None):
        self.devices = [str(d) for d in (visible_gpus() if devices is None else devices)]
        if not self.devices:
            raise ValueError(
                "--executor gpus: no GPU is visible (CUDA_VISIBLE_DEVICES, torch.cuda); use --executor local"
            )
        self.threads = threads or max(1, (os.cpu_count() or 1) // len(self.devices))

    def map(self, configs: Sequence[RunConfig], results_dir, report) -> list[Outcome]:
        envs = [
            {"CUDA_VISIBLE_DEVICES": d, "OGM_WORKER_THREADS": str(self.threads)} for d in self.devices[: len(configs)]
        ]
        pool = _WorkerPool(envs)
        tasks = [
            _task(
                c.replace(quiet=True, device="cuda") if str(c.device).startswith("cuda") else c.replace(quiet=True),
                results_dir,
            )
            for c in configs
        ]
        try:
            return pool.map(tasks, report)
        finally:
            pool.close()


def _slurm_task(task: dict) -> dict:
    """One array task (submitit pickles this function by name). One torch thread unless `$OGM_WORKER_THREADS`
    says otherwise, as the local workers: a CPU run's bits depend on its thread count (`rerun.retrain`)."""
    import torch

    torch.set_num_threads(int(os.environ.get("OGM_WORKER_THREADS", 1)))
    return asdict(_run_task(task))


class SlurmExecutor:
    """A SLURM job array through submitit: one task per run. `partition`, `time_min` (each task's limit),
    `gpus_per_task`, `array_parallelism` (tasks at once), `cpus_per_task`; `folder` holds submitit's
    logs and pickles (default `<results>/slurm`); `cluster`: None lets submitit find SLURM, `"local"` or
    `"debug"` runs without one."""

    name = "slurm"

    def __init__(
        self,
        partition: str | None = None,
        time_min: int = 240,
        gpus_per_task: int = 1,
        array_parallelism: int = 64,
        cpus_per_task: int = 4,
        folder=None,
        cluster: str | None = None,
    ):
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ImportError('--executor slurm needs submitit: pip install "ogm_lib[slurm]"') from None
        self.partition, self.time_min, self.gpus_per_task = partition, int(time_min), int(gpus_per_task)
        self.array_parallelism, self.cpus_per_task = int(array_parallelism), int(cpus_per_task)
        self.folder, self.cluster = folder, cluster

    def executor(self, results_dir):
        import submitit

        from ..method.paths import default_results_dir

        folder = self.folder or Path(results_dir or default_results_dir()) / "slurm"
        ex = submitit.AutoExecutor(folder=str(folder), cluster=self.cluster)
        params = dict(
            timeout_min=self.time_min,
            cpus_per_task=self.cpus_per_task,
            tasks_per_node=1,
            slurm_array_parallelism=self.array_parallelism,
        )
        if self.gpus_per_task:
            params["gpus_per_node"] = self.gpus_per_task
        if self.partition:
            params["slurm_partition"] = self.partition
        ex.update_parameters(**params)
        return ex

    def map(self, configs: Sequence[RunConfig], results_dir, report) -> list[Outcome]:
        jobs = self.executor(results_dir).map_array(
            _slurm_task, [_task(c.replace(quiet=True), results_dir) for c in configs]
        )
        outcomes = []
        for job in jobs:  # in submission order; each waits for its task
            outcomes.append(Outcome(**job.result()))
            report(outcomes[-1])
        return outcomes


def make_executor(name: str | None = None, workers: int | None = None, **options):
    """An executor by name (None: `$OGM_EXECUTOR`, else `local`). Options: `devices` (gpus); `partition`,
    `time_min`, `gpus_per_task`, `array_parallelism`, `cpus_per_task`, `folder`, `cluster` (slurm), each
    also read from `$OGM_SLURM_<OPTION>` (upper case) when not given."""
    name = name or os.environ.get("OGM_EXECUTOR") or "local"
    if name not in EXECUTORS:
        raise ValueError(f"executor {name!r}: choose one of {', '.join(EXECUTORS)}")
    options = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        return LocalExecutor(workers)
    if name == "gpus":
        return GpuExecutor(options.get("devices"))
    for opt in ("partition", "time_min", "gpus_per_task", "array_parallelism", "cpus_per_task", "folder", "cluster"):
        env = os.environ.get(f"OGM_SLURM_{opt.upper()}")
        if opt not in options and env is not None:
            options[opt] = env
    options.pop("devices", None)
    return SlurmExecutor(**options)


# ---------------------------------------------------------------------------------------------- the grid


def _ready(configs: Sequence[RunConfig], results_dir) -> list[RunConfig]:
    """Of runs held elsewhere, those whose result is there now or whose claim is gone or stale."""
    from ..method.results import result_path, results_folder

    out = []
    for c in configs:
        folder = results_folder(c, results_dir)
        held = run_claims.read_claim(folder, c.key())
        if result_path(c, folder).exists() or held is None or held.stale():
            out.append(c)
    return out


def run(configs: Sequence[RunConfig], results_dir=None, executor=None, progress=None) -> dict[str, Outcome]:
    """Train every config of `configs` not in the results folder yet (each key once), through `executor`
    (an executor, or a name for `make_executor`); key -> the last `Outcome` of each. `progress`: a
    `progress.GridProgress` told of each finished run. Runs held by another live job are waited for."""
    from ..method.data.fingerprint import fingerprinted
    from ..method.results import result_path, results_folder

    executor = make_executor(executor) if executor is None or isinstance(executor, str) else executor
    unique = list({c.key(): c for c in map(fingerprinted, configs)}.values())  # a store's run: keyed by its data
    outcomes: dict[str, Outcome] = {}
    todo = [c for c in unique if not result_path(c, results_folder(c, results_dir)).exists()]
    what = {c.key(): f"{c.method} {c.fusion} seed {c.seed}" for c in unique}
    held: list[RunConfig] = []

    def report(o: Outcome) -> None:
        if o.status in ("trained", "read") and progress is not None:
            progress.update(o.key, what.get(o.key, ""), o.status == "trained", o.wall_s, len(held))

    while todo:
        got = executor.map(todo, results_dir, report)
        outcomes.update({o.key: o for o in got})
        failed = [o for o in got if o.status == "error"]
        if failed:
            raise RuntimeError(
                f"{len(failed)} run(s) failed: " + "; ".join(f"{o.key} ({o.worker}): {o.error}" for o in failed[:3])
            )
        held = [c for c in todo if outcomes[c.key()].status == "busy"]
        todo = []
        while held and not todo:
            todo = _ready(held, results_dir)
            if not todo:
                time.sleep(POLL_S)
        held = [c for c in held if c not in todo]
    return outcomes
