"""One JSON file per run, named by the hash of its config, written atomically: the runs are data.

A result holds the config, the per-epoch metrics, the per-step trace (loss, rho_a, rho_v, k_a, k_v), the
epoch chosen on VALIDATION, the wall time and its provenance (`provenance()`: project commit, torch,
Python, the CPU or GPU it ran on, the date). `fit` looks for `<results_dir>/<key>.json` first, so identical
runs requested by different notebooks are trained once, and the book's committed `results/` is read back
instead of retrained.

On disk the per-step trace is compact: each series is its float32 values, little-endian, base64-encoded
(`"steps_encoding": "float32-base64"`), about a third of the size of JSON numbers. In memory, and in
result files written before this encoding, `steps` are plain lists of floats; `load` accepts both.

Files are strict JSON (no `NaN`/`Infinity`, which standard JSON readers refuse): a non-finite number
outside the encoded trace (an epoch metric, say) is written as `null` and read back as NaN. `load` checks
what it reads and raises `fileio.DamagedFileError` naming the file when it is truncated, empty, not a
result, or holds another run (its stored key is not its file's name, or its config does not hash to it).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import os
import re
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import config_key
from .fileio import DamagedFileError, atomic_write_bytes
from .paths import default_results_dir, repo_root

STEPS_ENCODING = "float32-base64"
#: a run key, as `RunConfig.key()` makes it (and as result files are named)
KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")
#: what to do about a damaged result file, quoted by `load`'s errors
DAMAGED_RESULT_FIX = ("delete it (or move it away) and run again: the run is trained again and gives the same "
                      "numbers; `fit` does this by itself, setting the file aside as <name>.damaged")


@dataclass
class RunResult:
    key: str
    config: dict
    epochs: list[dict] = field(default_factory=list)     # one dict of metrics per epoch
    steps: dict[str, list[float]] = field(default_factory=dict)   # per-step trace
    best_epoch: int = -1                                  # chosen on validation fused accuracy
    wall_time_s: float = 0.0
    provenance: dict = field(default_factory=dict)       # where and with what the run was made
    #: the test split's per-clip predictions at the epoch chosen on validation (`encode_predictions`):
    #: {"epoch", "labels", "probs" (float32 base64 of n x C softmax scores), "shape"}; {} in older files
    predictions: dict = field(default_factory=dict)

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
        """Write `<results_dir>/<key>.json`, strict JSON (`strict_json`), atomically."""
        path = Path(results_dir) / f"{self.key}.json"
        atomic_write_bytes(path, json.dumps(strict_json(self.to_json()), indent=1, allow_nan=False).encode())
        return path

    @classmethod
    def load(cls, path: Path, expected_key: str | None = None) -> "RunResult":
        """Read a result file, checked (`check_result`); `expected_key`: the run it must hold (default: its
        file name, when that is a run key). A damaged file raises `DamagedFileError` naming it."""
        path = Path(path)
        if expected_key is None and KEY_PATTERN.match(path.stem):
            expected_key = path.stem
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise DamagedFileError(path, f"not UTF-8 text ({err.reason} at byte {err.start})",
                                   DAMAGED_RESULT_FIX) from None
        if not text.strip():
            raise DamagedFileError(path, "empty file", DAMAGED_RESULT_FIX)
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise DamagedFileError(path, f"not valid JSON, truncated or edited ({err.msg} at line {err.lineno} "
                                   f"column {err.colno})", DAMAGED_RESULT_FIX) from None
        try:
            return cls(**check_result(d, expected_key))
        except ValueError as err:
            raise DamagedFileError(path, str(err), DAMAGED_RESULT_FIX) from None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_result(d, expected_key: str | None = None) -> dict:
    """The keyword arguments of a `RunResult` from a result file's parsed JSON, the trace decoded and
    `null` metrics as NaN; a ValueError says what is wrong (not an object, fields missing or of the wrong
    type, another run's key, a config that does not hash to the key, a trace that does not decode)."""
    if not isinstance(d, dict):
        raise ValueError(f"holds a JSON {type(d).__name__}, not a result object")
    d = dict(d)
    encoding = d.pop("steps_encoding", None)
    names = {"key", "config", "epochs", "steps", "best_epoch", "wall_time_s", "provenance", "predictions"}
    missing = sorted({"key", "config", "epochs", "steps", "best_epoch"} - set(d))
    if missing:
        raise ValueError(f"not a complete result: missing {', '.join(missing)}")
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    key, config = d["key"], d["config"]
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValueError(f"key {key!r} is not a run key (16 hex digits)")
    if expected_key is not None and key != expected_key:
        raise ValueError(f"holds run {key}, not run {expected_key} (the run its name or caller asks for)")
    if not isinstance(config, dict):
        raise ValueError("config is not an object")
    try:
        hashed = config_key(config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config cannot be hashed ({err})") from None
    if hashed != key:
        raise ValueError(f"its config hashes to {hashed}, not to its stored key {key} (edited, or another run's)")
    epochs = d["epochs"]
    if not isinstance(epochs, list) or not epochs or not all(isinstance(e, dict) for e in epochs):
        raise ValueError("epochs is not a non-empty list of objects")
    for i, e in enumerate(epochs):
        bad = [k for k, v in e.items() if v is not None and not _is_number(v)]
        if bad:
            raise ValueError(f"epoch {i}: {', '.join(bad)} not a number")
    d["epochs"] = [{k: (math.nan if v is None else v) for k, v in e.items()} for e in epochs]
    best = d["best_epoch"]
    if not isinstance(best, int) or isinstance(best, bool) or not 0 <= best < len(epochs):
        raise ValueError(f"best_epoch {best!r} is not an epoch of the {len(epochs)} stored")
    steps = d["steps"]
    if not isinstance(steps, dict):
        raise ValueError("steps is not an object")
    if encoding == STEPS_ENCODING:
        try:
            steps = decode_steps(steps)
        except (TypeError, ValueError, binascii.Error) as err:
            raise ValueError(f"the per-step trace does not decode ({err})") from None
    elif encoding is not None:
        raise ValueError(f"unknown steps_encoding {encoding!r} (this version reads {STEPS_ENCODING!r})")
    else:
        for name, series in steps.items():
            if not isinstance(series, list) or not all(v is None or _is_number(v) for v in series):
                raise ValueError(f"trace {name} is not a list of numbers")
        steps = {k: [math.nan if v is None else v for v in series] for k, series in steps.items()}
    if len({len(v) for v in steps.values()}) > 1:
        raise ValueError("the per-step trace's series have different lengths: " +
                         ", ".join(f"{k} {len(v)}" for k, v in steps.items()))
    d["steps"] = steps
    if "wall_time_s" in d:
        if d["wall_time_s"] is None:
            d["wall_time_s"] = math.nan
        elif not _is_number(d["wall_time_s"]):
            raise ValueError("wall_time_s is not a number")
    if "provenance" in d and not isinstance(d["provenance"], dict):
        raise ValueError("provenance is not an object")
    if d.get("predictions"):
        try:
            decode_predictions(d["predictions"])
        except (KeyError, TypeError, ValueError, binascii.Error) as err:
            raise ValueError(f"predictions do not decode ({err})") from None
    return d


def encode_predictions(epoch: int, labels, probs) -> dict:
    """A split's per-clip predictions as stored in a result: the labels (ints) and the n x C softmax scores
    as base64 of float32 little-endian bytes, with their shape and the epoch they come from."""
    probs = np.asarray(probs, dtype="<f4")
    return {"epoch": int(epoch), "labels": [int(y) for y in labels], "shape": list(probs.shape),
            "probs": base64.b64encode(probs.tobytes()).decode("ascii")}


def decode_predictions(predictions: dict) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probs) of stored predictions (`encode_predictions`); a ValueError if they do not fit."""
    n, c = (int(x) for x in predictions["shape"])
    raw = base64.b64decode(predictions["probs"], validate=True)
    if len(raw) != 4 * n * c:
        raise ValueError(f"{len(raw)} bytes of scores for shape {n} x {c}")
    labels = np.asarray(predictions["labels"], dtype=int)
    if labels.shape != (n,):
        raise ValueError(f"{labels.shape[0]} labels for {n} clips")
    return labels, np.frombuffer(raw, dtype="<f4").reshape(n, c).astype(float)


def strict_json(obj):
    """`obj` with every non-finite float (NaN, inf) replaced by None, so that `json.dumps(allow_nan=False)`
    writes it; finite values are untouched."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def results_folder(config, results_dir: str | os.PathLike | None = None) -> Path:
    """The folder a run's result and checkpoint go to: `results_dir` if given, else the config's own
    `results_dir`, else the project's default (`paths.default_results_dir`)."""
    return Path(results_dir or config.results_dir or default_results_dir())


def result_path(config, results_dir: str | os.PathLike | None = None) -> Path:
    """`<results_folder>/<key>.json`: where `fit` looks for a run's result before training it."""
    return results_folder(config, results_dir) / f"{config.key()}.json"


def encode_steps(steps: dict[str, list[float]]) -> dict[str, str]:
    """Each series as base64 of its float32 little-endian bytes."""
    return {k: base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii") for k, v in steps.items()}


def decode_steps(encoded: dict[str, str]) -> dict[str, list[float]]:
    """Inverse of `encode_steps`; a ValueError for a series that is not base64 of whole float32 values."""
    out = {}
    for k, v in encoded.items():
        if not isinstance(v, str):
            raise ValueError(f"trace {k} is not a base64 string")
        raw = base64.b64decode(v, validate=True)
        if len(raw) % 4:
            raise ValueError(f"trace {k} holds {len(raw)} bytes, not whole float32 values")
        out[k] = np.frombuffer(raw, dtype="<f4").astype(float).tolist()
    return out


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
