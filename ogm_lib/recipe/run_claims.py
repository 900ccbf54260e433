"""A claim per run on a shared results folder, so that concurrent jobs never train the same key.

Several jobs (a node's GPU workers, a SLURM array, two people's `book retrain`) may work on one results
folder. Before a job trains run `<key>` it creates `<results>/claims/<key>.claim` with an exclusive create
(`O_CREAT | O_EXCL`: of two jobs creating it at once exactly one succeeds, on a local disk and on NFS v3+),
holding who claims it: host, pid, job id, the time, and a random token. While the run trains, a thread of
the claiming process touches the file every `HEARTBEAT_S` seconds; when the run's result is written the
claim is removed (`Claim.release`).

A job that finds a claim leaves that run to its holder, unless the claim is **stale**:

- its holder ran on this host and that pid is gone (`os.kill(pid, 0)` fails with "no such process"): a
  killed or crashed job, found at once; or
- its file was not touched for `timeout_s` seconds (`OGM_CLAIM_TIMEOUT`, default `TIMEOUT_S`): a job on
  another host that died (its heartbeat stopped), or a pid reused on this host.

A stale claim is retaken under a short per-key mutex (`<key>.retake`, itself an exclusive create), which
re-reads the claim and removes it only if it still holds the token judged stale; the retaker then creates
its own claim exclusively, like anyone else, so two jobs retaking at once still leave one holder. The run
itself resumes from the dead job's last checkpoint (`train.fit`), and ends with the same numbers as an
uninterrupted run (`tests/test_grid.py`).

After a claim is taken, the holder looks for the run's result once more: a job that finished the run
between our first look and our claim has released its claim, and the result is read, not trained again.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: seconds without a heartbeat after which a claim is stale, whoever holds it
TIMEOUT_S = 900.0
#: how often a holder touches its claim
HEARTBEAT_S = 60.0
#: a retake mutex older than this is left over by a job killed inside the (milliseconds long) retake
RETAKE_STALE_S = 30.0


def claims_dir(results_dir) -> Path:
    return Path(results_dir) / "claims"


def claim_path(results_dir, key: str) -> Path:
    return claims_dir(results_dir) / f"{key}.claim"


def timeout_s() -> float:
    """`$OGM_CLAIM_TIMEOUT` seconds if set, else `TIMEOUT_S`."""
    return float(os.environ.get("OGM_CLAIM_TIMEOUT", TIMEOUT_S))


def _job_id() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return os.environ.get("SLURM_JOB_ID")


def _exclusive_create(path: Path, text: str) -> bool:
    """Create `path` holding `text` if no file is there (atomically); False if one is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ClaimInfo:
    """What a claim file says, and how old its last heartbeat is."""

    host: str
    pid: int
    job: str | None
    since: float
    token: str
    age_s: float

    def stale(self, timeout: float | None = None) -> str | None:
        """Why this claim is stale, or None while its holder may still be training."""
        if self.host == socket.gethostname() and not pid_alive(self.pid):
            return f"pid {self.pid} on this host is gone"
        timeout = timeout_s() if timeout is None else timeout
        if self.age_s > timeout:
            return f"no heartbeat for {self.age_s:.0f} s (> {timeout:.0f} s)"
        return None

    def describe(self) -> str:
        job = f", job {self.job}" if self.job else ""
        return f"{self.host} pid {self.pid}{job}, last heartbeat {self.age_s:.0f} s ago"


def read_claim(results_dir, key: str) -> ClaimInfo | None:
    """The claim on `key`, or None when there is none (an unreadable one, being written or damaged, reads as
    a claim of unknown holder whose age is its file's: it becomes stale by the timeout)."""
    path = claim_path(results_dir, key)
    try:
        st = path.stat()
        text = path.read_text()
    except FileNotFoundError:
        return None
    age = max(0.0, time.time() - st.st_mtime)
    try:
        d = json.loads(text)
        return ClaimInfo(str(d["host"]), int(d["pid"]), d.get("job"), float(d["since"]), str(d["token"]), age)
    except (ValueError, KeyError, TypeError):
        return ClaimInfo("?", -1, None, st.st_mtime, "", age)


class Claim:
    """A held claim: its heartbeat runs from `acquire` until `release` (also as a context manager)."""

    def __init__(self, results_dir, key: str, token: str, heartbeat_s: float = HEARTBEAT_S):
        self.path, self.key, self.token = claim_path(results_dir, key), key, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True)
        self._thread.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                os.utime(self.path)
            except OSError:  # removed by a retaker after a heartbeat gap: nothing to keep alive
                return

    def release(self) -> None:
        self._stop.set()
        try:
            if json.loads(self.path.read_text()).get("token") == self.token:
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _new_claim_text(token: str) -> str:
    return json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "job": _job_id(), "since": time.time(), "token": token}
    )


def acquire(results_dir, key: str, timeout: float | None = None, heartbeat_s: float = HEARTBEAT_S) -> Claim | None:
    """Claim run `key` for this process: a `Claim`, or None while another live job holds it. A stale claim
    is retaken (see the module doc)."""
    token = secrets.token_hex(8)
    path = claim_path(results_dir, key)
    if _exclusive_create(path, _new_claim_text(token)):
        return Claim(results_dir, key, token, heartbeat_s)
    held = read_claim(results_dir, key)
    if held is not None and held.stale(timeout) is None:
        return None
    mutex = path.with_suffix(".retake")
    if not _exclusive_create(mutex, str(os.getpid())):
        try:
            if time.time() - mutex.stat().st_mtime > RETAKE_STALE_S:
                mutex.unlink()
        except FileNotFoundError:
            pass
        return None  # another job is retaking it now; look again later
    try:
        again = read_claim(results_dir, key)
        if again is not None and held is not None and again.token == held.token and again.stale(timeout):
            path.unlink(missing_ok=True)
        if _exclusive_create(path, _new_claim_text(token)):
            return Claim(results_dir, key, token, heartbeat_s)
        return None
    finally:
        mutex.unlink(missing_ok=True)
