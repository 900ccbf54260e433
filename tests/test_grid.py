"""The grid runner beyond one process: shards, claims, the three executors, progress lines, `book list`.

Every run here is a real training run (smoke profile, synthetic data, seconds); the workers are real
processes. The `gpus` executor is exercised on CPU configs with made-up device names: each worker is
started with its own `CUDA_VISIBLE_DEVICES`, which is what the executor does on a GPU node.
"""

import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ogm_lib.method.config import make_config
from ogm_lib.method.progress import GridProgress, use_bar
from ogm_lib.method.results import RunResult, identical
from ogm_lib.method.train import fit
from ogm_lib.recipe import executors, run_claims
from ogm_lib.recipe.grid import run_grid
from ogm_lib.recipe.runs import book_runs

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OGM_CLAIM_POLL="0.3")


def smoke(seed=0, **kw):
    base = dict(dataset="synthetic", synthetic_size=128, epochs=1, quiet=True, method="ogm_ge", seed=seed)
    base.update(kw)
    return make_config("smoke", **base)


def comparable(r: RunResult) -> RunResult:
    """The result without what differs between two trainings of one run: its wall time and provenance."""
    return dataclasses.replace(r, wall_time_s=0.0, provenance={})


# ------------------------------------------------------------------------------------------------ shards


def test_shards_split_the_book_by_key_stably():
    runs = book_runs()
    keys = [c.key() for c in runs]
    shards = [executors.take_shard(runs, f"{i}/4") for i in range(4)]
    assert sorted(c.key() for s in shards for c in s) == sorted(keys)  # a partition
    assert all(executors.shard_of(c.key(), 4) == i for i, s in enumerate(shards) for c in s)
    assert [c.key() for c in executors.take_shard(runs[::-1], "2/4")] == [c.key() for c in shards[2]][::-1]
    assert all(len(s) > 50 for s in shards)  # roughly even
    assert executors.take_shard(runs, None) == runs and executors.take_shard(runs, "0/1") == runs
    for bad in ("4/4", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="--shard"):
            executors.parse_shard(bad)


# ------------------------------------------------------------------------------------------------ claims


def test_a_claim_is_exclusive_and_released(tmp_path):
    first = run_claims.acquire(tmp_path, "00ab")
    assert first is not None and run_claims.acquire(tmp_path, "00ab") is None
    info = run_claims.read_claim(tmp_path, "00ab")
    assert info.pid == os.getpid() and info.host == socket.gethostname() and info.stale() is None
    first.release()
    assert run_claims.read_claim(tmp_path, "00ab") is None
    with run_claims.acquire(tmp_path, "00ab") as again:
        assert again is not None
    assert not run_claims.claim_path(tmp_path, "00ab").exists()


def test_stale_claims_are_retaken(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid of this host that has exited
    path = run_claims.claim_path(tmp_path, "dead")
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps({"host": socket.gethostname(), "pid": gone.pid, "job": None, "since": time.time(), "token": "t0"})
    )
    assert "gone" in run_claims.read_claim(tmp_path, "dead").stale()
    taken = run_claims.acquire(tmp_path, "dead")
    assert taken is not None and run_claims.read_claim(tmp_path, "dead").pid == os.getpid()
    taken.release()
    # another host's claim: alive while it beats, stale after the timeout without a heartbeat
    other = run_claims.claim_path(tmp_path, "far")
    other.write_text(json.dumps({"host": "elsewhere", "pid": 1, "job": "77_3", "since": time.time(), "token": "t1"}))
    assert run_claims.acquire(tmp_path, "far", timeout=60) is None
    old = time.time() - 120
    os.utime(other, (old, old))
    assert "no heartbeat" in run_claims.read_claim(tmp_path, "far").stale(timeout=60)
    assert run_claims.acquire(tmp_path, "far", timeout=60) is not None


def test_heartbeat_keeps_a_claim_fresh(tmp_path):
    claim = run_claims.acquire(tmp_path, "beat", heartbeat_s=0.2)
    old = time.time() - 500
    os.utime(claim.path, (old, old))
    time.sleep(0.8)
    assert run_claims.read_claim(tmp_path, "beat").age_s < 5
    claim.release()


_RACE = """
import json, sys
from ogm_lib.recipe import executors
from ogm_lib.method.config import make_config
cfgs = [make_config("smoke", dataset="synthetic", synthetic_size=128, epochs=1, quiet=True, method="ogm_ge",
                    seed=s) for s in range(4)]
out = executors.run(cfgs, sys.argv[1], executors.LocalExecutor(1))
print(json.dumps({k: o.status for k, o in out.items()}))
"""


def test_two_workers_racing_on_one_folder_train_each_key_once(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT
        )
        for _ in range(2)
    ]
    answers = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    keys = {smoke(s).key() for s in range(4)}
    trained = [{k for k, s in a.items() if s == "trained"} for a in answers]
    assert trained[0].isdisjoint(trained[1]) and trained[0] | trained[1] == keys  # each key once
    assert all(set(a) == keys for a in answers)  # and each worker ends with every run read back
    assert all((tmp_path / f"{k}.json").exists() for k in keys)
    assert not list((tmp_path / "claims").glob("*.claim"))


_VICTIM = """
import sys
from ogm_lib.recipe import executors
from ogm_lib.method.config import make_config
cfg = make_config("smoke", dataset="synthetic", synthetic_size=256, epochs=12, quiet=True, method="ogm_ge")
executors.claimed_fit(cfg, sys.argv[1])
"""


def test_a_killed_workers_run_is_retaken_and_ends_identical(
    tmp_path, one_thread
):  # one thread, as the workers: the same bits
    cfg = smoke(synthetic_size=256, epochs=12)
    cut = tmp_path / "cut"
    victim = subprocess.Popen([sys.executable, "-c", _VICTIM, str(cut)], env=ENV, cwd=ROOT)
    ckpt = cut / "checkpoints" / f"{cfg.key()}.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert ckpt.exists() and not (cut / f"{cfg.key()}.json").exists(), "killed before it could finish"
    held = run_claims.read_claim(cut, cfg.key())
    assert held.pid == victim.pid and "gone" in held.stale()
    out = executors.run([cfg], cut, executors.LocalExecutor(1))
    assert out[cfg.key()].status == "trained"
    resumed, full = fit(cfg, cut), fit(cfg, tmp_path / "full")
    assert identical(comparable(resumed), comparable(full))


# ------------------------------------------------------------------------------------------------ executors


def test_local_pool_and_run_grid_order(tmp_path, one_thread):  # one thread, as the workers: the same bits
    cfgs = [smoke(s) for s in (2, 0, 1)]
    lines = io.StringIO()
    bar = GridProgress(3, 0, stream=lines)
    out = executors.run(cfgs, tmp_path, executors.LocalExecutor(2), bar)
    assert {o.status for o in out.values()} == {"trained"} and len({o.worker for o in out.values()}) <= 2
    got = lines.getvalue().splitlines()
    assert len(got) == 3 and got[-1].startswith("[3/3] trained") and "ETA 0 s" in got[-1]
    results = run_grid(cfgs + cfgs[:1], tmp_path, workers=2)  # all read back, in input order
    assert [r.key for r in results] == [c.key() for c in cfgs + cfgs[:1]]
    assert identical(comparable(results[0]), comparable(fit(cfgs[0], tmp_path / "alone")))


def test_gpus_executor_pins_one_worker_per_device(tmp_path, one_thread):  # one thread, as the workers: the same bits
    cfgs = [smoke(s) for s in range(4)]
    out = executors.run(cfgs, tmp_path, executors.GpuExecutor(devices=["3", "5"]))
    assert {o.status for o in out.values()} == {"trained"}
    device_of = {}
    for o in out.values():  # every run was trained by a worker pinned to one of the devices
        assert o.visible_devices in ("3", "5")
        assert device_of.setdefault(o.worker, o.visible_devices) == o.visible_devices
    assert len(set(device_of.values())) == len(device_of)  # one worker per device
    for c in cfgs:
        assert identical(comparable(fit(c, tmp_path)), comparable(fit(c, tmp_path / "alone")))


def test_visible_gpus_reads_the_environment(monkeypatch):
    monkeypatch.delenv("OGM_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 6")
    assert executors.visible_gpus() == ["2", "6"]
    monkeypatch.setenv("OGM_GPUS", "1")
    assert executors.visible_gpus() == ["1"]
    monkeypatch.setenv("OGM_GPUS", "")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(ValueError, match="no GPU is visible"):
        executors.GpuExecutor()


def test_slurm_executor_through_submitits_local_cluster(
    tmp_path, one_thread
):  # one thread, as the workers: the same bits
    pytest.importorskip("submitit")
    cfgs = [smoke(s) for s in range(2)]
    ex = executors.SlurmExecutor(cluster="local", gpus_per_task=0, time_min=10, folder=tmp_path / "logs")
    out = executors.run(cfgs, tmp_path / "r", ex)
    assert {o.status for o in out.values()} == {"trained"}
    assert all(o.worker.split(":")[1] != str(os.getpid()) for o in out.values())  # in submitit's jobs
    for c in cfgs:
        assert identical(comparable(fit(c, tmp_path / "r")), comparable(fit(c, tmp_path / "alone")))
    assert executors.make_executor("slurm", cluster="debug").cluster == "debug"


def test_make_executor_names_and_env(monkeypatch):
    monkeypatch.setenv("OGM_EXECUTOR", "local")
    assert executors.make_executor(None, workers=3).workers == 3
    with pytest.raises(ValueError, match="choose one of local, gpus, slurm"):
        executors.make_executor("cloud")
    monkeypatch.setenv("OGM_SLURM_PARTITION", "gpu")
    assert executors.make_executor("slurm").partition == "gpu"


# ------------------------------------------------------------------------------------------------ progress


def test_progress_lines_in_a_log_and_a_bar_only_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert use_bar(Tty()) and not use_bar(io.StringIO())
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    assert not use_bar(Tty())
    log = io.StringIO()
    p = GridProgress(4, 1, stream=log)
    p.update("aa", "ogm_ge concat seed 0", True, 74.0, elsewhere=2)
    p.update("bb", "normal concat seed 1", False)
    first, second = log.getvalue().splitlines()
    assert first.startswith("[2/4] trained aa (ogm_ge concat seed 0) in 74 s; 2 claimed elsewhere; ETA ")
    assert second.startswith("[3/4] read bb")


# ------------------------------------------------------------------------------------------------ the CLI


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ogm_lib", "book", *args], capture_output=True, text=True, env=ENV, cwd=ROOT
    )


def test_book_list_tells_done_claimed_and_missing(tmp_path):
    runs = book_runs()
    done, claimed, dead = runs[0], runs[1], runs[2]
    (tmp_path / f"{done.key()}.json").write_bytes((ROOT / "results" / f"{done.key()}.json").read_bytes())
    live = run_claims.acquire(tmp_path, claimed.key())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run_claims.claim_path(tmp_path, dead.key()).write_text(
        json.dumps({"host": socket.gethostname(), "pid": gone.pid, "job": None, "since": time.time(), "token": "x"})
    )
    out = _cli("list", "--results-dir", str(tmp_path))
    live.release()
    lines = out.stdout.splitlines()
    assert out.returncode == 0
    assert lines[-1] == (
        f"1 of {len(runs)} runs in {tmp_path}: 1 done, 1 claimed, 1 stale claims, {len(runs) - 3} missing"
    )
    mark = {line.split()[1]: line.split()[0] for line in lines[:-1]}
    assert (mark[done.key()], mark[claimed.key()], mark[dead.key()]) == ("done", "claimed", "stale")


def test_book_retrain_takes_its_shard_and_executor(tmp_path):
    keys = {c.key() for c in book_runs()}
    n = 4096
    empty = next(i for i in range(n) if all(executors.shard_of(k, n) != i for k in keys))
    out = _cli("retrain", "--results-dir", str(tmp_path), "--shard", f"{empty}/{n}", "--executor", "local")
    assert out.returncode == 0, out.stderr
    assert f"0 runs of the book (shard {empty}/{n})" in out.stdout and "(local executor)" in out.stdout
    bad = _cli("retrain", "--results-dir", str(tmp_path), "--shard", "5/5")
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error: --shard 5/5")


def test_a_damaged_result_is_set_aside_and_trained_under_a_claim(tmp_path):
    cfg = smoke(7)
    (tmp_path / f"{cfg.key()}.json").write_text("{truncated")
    with pytest.warns(RuntimeWarning, match="damaged result file"):
        out = executors.claimed_fit(cfg, tmp_path)
    assert out.status == "trained" and (tmp_path / f"{cfg.key()}.json.damaged").exists()
    assert executors.claimed_fit(cfg, tmp_path).status == "read"


class Recording(executors.LocalExecutor):
    """The real local executor, which also keeps the keys it was asked to train."""

    def __init__(self):
        super().__init__(1)
        self.asked = []

    def map(self, configs, results_dir, report):
        self.asked += [c.key() for c in configs]
        return super().map(configs, results_dir, report)


def test_the_notebooks_runner_takes_the_executor(tmp_path, monkeypatch):
    from ogm_lib.recipe.book import train_seeds

    ex = Recording()
    runs = train_seeds({"row": smoke(method="normal")}, seeds=2, results_dir=tmp_path, headline_seeds=2, executor=ex)
    assert sorted(ex.asked) == sorted(r.key for r in runs["row"]) and len(runs["row"]) == 2
    monkeypatch.setenv("OGM_EXECUTOR", "cloud")  # without an argument, run_grid reads $OGM_EXECUTOR
    with pytest.raises(ValueError, match="executor 'cloud'"):
        run_grid([smoke(9)], tmp_path)
