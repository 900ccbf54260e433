"""One JSON file per run, named by the hash of its config, written atomically: the runs are data.

A result holds the config, the per-epoch metrics, the per-step trace (loss, rho_a, rho_v, k_a, k_v), the
epoch chosen on VALIDATION, the wall time and its provenance (`provenance()`: project commit, torch,
Python, the CPU or GPU it ran on, the date). `fit` looks for `<results_dir>/<key>.json` first, so identical
runs requested by different notebooks are trained once, and the book's committed `results/` is read back
instead of retrained.

On disk the per-step trace is compact: each series is its float32 values, little-endian, base64-encoded
(`"steps_encoding": "float32-base64"`), about a third of the size of JSON numbers. In memory, and in
result files written before this encoding, `steps` are plain lists of floats; `load` accepts both.
"""
from __future__ import annotations

import base64
import datetime
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .fileio import atomic_write_bytes
from .paths import default_results_dir, repo_root

STEPS_ENCODING = "float32-base64"


@dataclass
class RunResult:
    key: str
    config: dict
    epochs: list[dict] = field(default_factory=list)     # one dict of metrics per epoch
    steps: dict[str, list[float]] = field(default_factory=dict)   # per-step trace
    best_epoch: int = -1                                  # chosen on validation fused accuracy
    wall_time_s: float = 0.0
    provenance: dict = field(default_factory=dict)       # where and with what the run was made

    @property
    def best(self) -> dict:
        """Metrics of the epoch chosen on validation (test numbers are reported, never selected on)."""
        return self.epochs[self.best_epoch]

    @property
    def final(self) -> dict:
        return self.epochs[-1]

    def to_json(self) -> dict:
        """The file's content: the trace encoded (`encode_steps`), everything else as is."""
        d = asdict(self)
        d["steps"] = encode_steps(self.steps)
        d["steps_encoding"] = STEPS_ENCODING
        return d

    def save(self, results_dir: Path) -> Path:
        path = Path(results_dir) / f"{self.key}.json"
        atomic_write_bytes(path, json.dumps(self.to_json(), indent=1, allow_nan=True).encode())
        return path

    @classmethod
    def load(cls, path: Path) -> "RunResult":
        d = json.loads(Path(path).read_text())
        if d.pop("steps_encoding", None) == STEPS_ENCODING:
            d["steps"] = decode_steps(d["steps"])
        return cls(**d)


def encode_steps(steps: dict[str, list[float]]) -> dict[str, str]:
    """Each series as base64 of its float32 little-endian bytes."""
    return {k: base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii") for k, v in steps.items()}


def decode_steps(encoded: dict[str, str]) -> dict[str, list[float]]:
    return {k: np.frombuffer(base64.b64decode(v), dtype="<f4").astype(float).tolist() for k, v in encoded.items()}


@lru_cache(maxsize=1)
def _git_state() -> tuple[str | None, bool | None]:
    """(commit, whether ogm_lib/ differs from it) of the checkout this package runs from; (None, None)
    outside a git checkout."""
    root = repo_root()
    if root is None:
        return None, None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ogm_lib"], cwd=root, capture_output=True,
                               text=True, check=True, timeout=10).stdout.strip() != ""
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: str) -> dict:
    """Where and with what a run is made: the project commit (and whether `ogm_lib/` had uncommitted
    changes), torch and Python versions, the CPU or GPU, torch's thread count, the date (UTC)."""
    import torch
    commit, dirty = _git_state()
    gpu = torch.cuda.get_device_name(torch.device(device)) if str(device).startswith("cuda") else None
    return {"commit": commit, "code_dirty": dirty, "torch": torch.__version__,
            "python": platform.python_version(), "device": str(device), "gpu": gpu, "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
