"""One JSON file per run, named by the hash of its config, written atomically: the runs are data.

A result holds the config, the per-epoch metrics, the per-step trace (loss, rho_a, rho_v, k_a, k_v), the
epoch chosen on VALIDATION, the wall time and its provenance (`provenance()`: project commit, torch,
Python, the CPU or GPU it ran on, the date). `fit` looks for `<results_dir>/<key>.json` first, so identical
runs requested by different notebooks are trained once, and the book's committed `results/` is read back
instead of retrained.

On disk the per-step trace and the stored test predictions' scores are compact (`encode_floats`): the
float32 values, little-endian, byte-shuffled (every value's first byte, then every second byte, ..., as
HDF5's shuffle filter), zlib-compressed (level 9) and base64-encoded (`"steps_encoding":
"float32-shuffle-zlib-base64"`, and `"probs_encoding"` in `predictions`). The shuffle puts the slowly
varying sign and exponent bytes together, where zlib finds them repeated: the book's 170 committed runs
took 16.0 MB in float32-base64 and take 11.1 MB re-encoded (31% less), losslessly. Files written before
it hold base64 of the raw float32 bytes (`"float32-base64"`; no `probs_encoding`), and the oldest ones
the trace as JSON numbers; `load` reads all three, and `reencode` (`python -m ogm_lib book reencode`)
rewrites a file in the current encoding. In memory `steps` are plain lists of floats and `predictions`
stays encoded (`decode_predictions`).

Files are strict JSON (no `NaN`/`Infinity` literals, which standard JSON readers refuse), on write and on
read: a non-finite number outside the encoded trace (an epoch metric, the wall time) is written explicitly,
NaN as `null` and an infinity as the string `"Infinity"` or `"-Infinity"` (`strict_json`), and read back as
that float; a file holding a `NaN` literal is damaged. `load` checks what it reads and raises
`fileio.DamagedFileError` naming the file when it is truncated, empty, not strict JSON, not a result, or
holds another run (its stored key is not its file's name, or its config does not hash to it), and when an
epoch lacks a metric the readers use (`epoch_fields`: every split's fused and per-modality accuracy, mAP and
loss, the probes at their epochs) or the chosen epoch is not the first best on validation.

A result file is data, never instructions: only its config's fields in the key are trusted (they are what
its key proves); a reader that retrains it (`rerun.config_of`) takes every other field (device, data and
TensorBoard folders, workers) from its own command line or the defaults.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import os
import platform
import re
import subprocess
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import config_key
from .fileio import DamagedFileError, atomic_write_bytes
from .paths import default_results_dir, repo_root

#: how the trace and the predictions' scores are written: float32 LE, byte-shuffled, zlib level 9, base64
STEPS_ENCODING = "float32-shuffle-zlib-base64"
#: the encoding of files written before it: base64 of the raw float32 LE bytes (still read)
RAW_ENCODING = "float32-base64"
FLOAT_ENCODINGS = (STEPS_ENCODING, RAW_ENCODING)
#: a run key, as `RunConfig.key()` makes it (and as result files are named)
KEY_PATTERN = re.compile(r"^[0-9a-f]{16}$")
#: what to do about a damaged result file, quoted by `load`'s errors
DAMAGED_RESULT_FIX = (
    "delete it (or move it away) and run again: the run is trained again and gives the same "
    "numbers; `fit` does this by itself, setting the file aside as <name>.damaged"
)


@dataclass
class RunResult:
    key: str
    config: dict
    epochs: list[dict] = field(default_factory=list)  # one dict of metrics per epoch
    steps: dict[str, list[float]] = field(default_factory=dict)  # per-step trace
    best_epoch: int = -1  # chosen on validation fused accuracy
    wall_time_s: float = 0.0
    provenance: dict = field(default_factory=dict)  # where and with what the run was made
    #: the test split's per-clip predictions at the epoch chosen on validation (`encode_predictions`):
    #: {"epoch", "labels", "probs" (n x C softmax scores, encoded), "probs_encoding", "shape"}; {} in older
    #: files, and no "probs_encoding" in those of the raw float32-base64 encoding
    predictions: dict = field(default_factory=dict)
    #: the validation split's, likewise, with `RunConfig.record_val` (the testbed criteria); {} otherwise,
    #: and then not written to the file (older files stay byte for byte what they were)
    val_predictions: dict = field(default_factory=dict)

    @property
    def best(self) -> dict:
        """Metrics of the epoch chosen on validation (test numbers are reported, never selected on)."""
        return self.epochs[self.best_epoch]

    @property
    def final(self) -> dict:
        return self.epochs[-1]

    def to_json(self) -> dict:
        """The file's content: the trace and the predictions' scores in the current encoding (`encode_steps`,
        `recode_predictions`), everything else as is."""
        d = asdict(replace(self, steps={}))  # not a deep copy of the trace: it is encoded from self
        d["steps"] = encode_steps(self.steps)
        d["steps_encoding"] = STEPS_ENCODING
        d["predictions"] = recode_predictions(d["predictions"])
        if d["val_predictions"]:
            d["val_predictions"] = recode_predictions(d["val_predictions"])
        else:
            del d["val_predictions"]
        return d

    def to_bytes(self) -> bytes:
        """The file's bytes: `to_json` as strict JSON (`strict_json`)."""
        return json.dumps(strict_json(self.to_json()), indent=1, allow_nan=False).encode()

    def save(self, results_dir: Path) -> Path:
        """Write `<results_dir>/<key>.json` (`to_bytes`), atomically."""
        path = Path(results_dir) / f"{self.key}.json"
        atomic_write_bytes(path, self.to_bytes())
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
            raise DamagedFileError(
                path, f"not UTF-8 text ({err.reason} at byte {err.start})", DAMAGED_RESULT_FIX
            ) from None
        if not text.strip():
            raise DamagedFileError(path, "empty file", DAMAGED_RESULT_FIX)
        try:
            d = json.loads(text, parse_constant=_refuse_constant)
        except _NonStandard as err:
            raise DamagedFileError(
                path,
                f'not strict JSON: it holds the literal {err} (non-finite numbers are written null or "Infinity")',
                DAMAGED_RESULT_FIX,
            ) from None
        except json.JSONDecodeError as err:
            raise DamagedFileError(
                path,
                f"not valid JSON, truncated or edited ({err.msg} at line {err.lineno} column {err.colno})",
                DAMAGED_RESULT_FIX,
            ) from None
        try:
            return cls(**check_result(d, expected_key))
        except ValueError as err:
            raise DamagedFileError(path, str(err), DAMAGED_RESULT_FIX) from None


def reencode(path: str | os.PathLike) -> tuple[int, int]:
    """Rewrite a result file in the current encoding (`STEPS_ENCODING`), losslessly: its content is
    re-encoded and read back, and must be `identical` to what the file held before it replaces it
    (atomically). (bytes before, bytes after); a file already in the current encoding is left as is. A
    damaged file raises `DamagedFileError`, a re-encoding that would change anything a ValueError, and
    the file is left as is."""
    path = Path(path)
    before = path.stat().st_size
    original = RunResult.load(path)
    if in_current_encoding(json.loads(path.read_text(encoding="utf-8"))):
        return before, before
    data = original.to_bytes()
    if not identical(RunResult(**check_result(json.loads(data), original.key)), original):
        raise ValueError(f"{path}: re-encoded, it would not read back the same values; left as is")
    atomic_write_bytes(path, data)
    return before, len(data)


def in_current_encoding(d: dict) -> bool:
    """Whether a result file's parsed JSON has its trace and its predictions' scores in `STEPS_ENCODING`."""
    predictions = d.get("predictions") or {}
    return d.get("steps_encoding") == STEPS_ENCODING and (
        not predictions or predictions.get("probs_encoding") == STEPS_ENCODING
    )


def identical(a: RunResult, b: RunResult) -> bool:
    """Whether two results hold the same values bit for bit, whatever their encodings: the trace compared
    as the bytes of its values, the predictions' scores as their float32 bytes, every other field equal
    (floats by their bits: NaN equals NaN, -0.0 differs from 0.0)."""
    return _same(_comparable(a), _comparable(b))


def _comparable(r: RunResult) -> dict:
    """`r` as a dict with the trace and the predictions' scores as bytes (the encoding left out)."""
    d = {f.name: getattr(r, f.name) for f in fields(r)}  # read only: no copy needed
    d["steps"] = {k: np.asarray(v, dtype=float).tobytes() for k, v in r.steps.items()}
    for name in ("predictions", "val_predictions"):
        p = getattr(r, name)
        if p:
            d[name] = {
                **{k: v for k, v in p.items() if k not in ("probs", "probs_encoding")},
                "probs": decode_probs(p).tobytes(),
            }
    return d


def _same(a, b) -> bool:
    """Equal, of the same types, floats bit for bit, containers item by item."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _NonStandard(ValueError):
    """A `NaN`, `Infinity` or `-Infinity` literal: Python's json reads them, strict JSON has none."""


def _refuse_constant(token: str):
    raise _NonStandard(token)


#: how `strict_json` writes the non-finite floats (NaN: null), and what reading gives back
NONFINITE = {"Infinity": math.inf, "-Infinity": -math.inf}


def _number_or_nonfinite(v):
    """A stored metric as a float: null -> NaN, "Infinity"/"-Infinity" -> inf; anything else as is."""
    if v is None:
        return math.nan
    return NONFINITE.get(v, v) if isinstance(v, str) else v


def epoch_fields(config: dict, epoch: int) -> set[str]:
    """The metrics every epoch of a run with this config holds, and that the readers (reports, tables,
    `train`'s summary) use: `epoch`, `lr`, `train_loss`; for validation and test (and train, with
    `eval_train`) the fused accuracy, mAP and loss, and each of the run's modalities' own; the linear probes
    of each modality at the probe epochs (`probe_every`, and the last epoch)."""
    mods = {"av": ("audio", "visual"), "audio": ("audio",), "visual": ("visual",)}.get(
        config.get("modalities", "av"), ("audio", "visual")
    )
    splits = ("val", "test") + (("train",) if config.get("eval_train") else ())
    need = {"epoch", "lr", "train_loss"}
    need |= {f"{s}_{m}{sfx}" for s in splits for m in ("acc", "map", "loss") for sfx in ("", *(f"_{x}" for x in mods))}
    every, last = config.get("probe_every") or 0, config.get("epochs", 0) - 1
    if every and ((epoch + 1) % every == 0 or epoch == last):
        need |= {f"probe_{x}" for x in mods}
    return need


def check_result(d, expected_key: str | None = None) -> dict:
    """The keyword arguments of a `RunResult` from a result file's parsed JSON, the trace decoded and
    `null` metrics as NaN; a ValueError says what is wrong (not an object, fields missing or of the wrong
    type, another run's key, a config that does not hash to the key, a trace that does not decode)."""
    if not isinstance(d, dict):
        raise ValueError(f"holds a JSON {type(d).__name__}, not a result object")
    d = dict(d)
    encoding = d.pop("steps_encoding", None)
    names = {
        "key",
        "config",
        "epochs",
        "steps",
        "best_epoch",
        "wall_time_s",
        "provenance",
        "predictions",
        "val_predictions",
    }
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
    if isinstance(config.get("epochs"), int) and len(epochs) != config["epochs"]:
        raise ValueError(f"holds {len(epochs)} epochs, its config trains {config['epochs']}")
    for i, e in enumerate(epochs):
        bad = [k for k, v in e.items() if not _is_number(_number_or_nonfinite(v))]
        if bad:
            raise ValueError(f"epoch {i}: {', '.join(bad)} not a number")
        missing = sorted(epoch_fields(config, i) - set(e))
        if missing:
            raise ValueError(
                f"epoch {i} lacks {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} "
                f"({len(missing)} metric(s) a run of this config records)"
            )
        if e["epoch"] != i:
            raise ValueError(f"epoch {i} is labelled epoch {e['epoch']!r}")
    d["epochs"] = [{k: _number_or_nonfinite(v) for k, v in e.items()} for e in epochs]
    best = d["best_epoch"]
    if not isinstance(best, int) or isinstance(best, bool) or not 0 <= best < len(epochs):
        raise ValueError(f"best_epoch {best!r} is not an epoch of the {len(epochs)} stored")
    accs = [e["val_acc"] for e in d["epochs"]]
    first_best = max(range(len(accs)), key=lambda i: (accs[i], -i))  # as `Trainer.run` chooses it
    if not any(math.isnan(a) for a in accs) and best != first_best:
        raise ValueError(f"best_epoch {best} is not the first best epoch on validation accuracy ({first_best})")
    steps = d["steps"]
    if not isinstance(steps, dict):
        raise ValueError("steps is not an object")
    if encoding in FLOAT_ENCODINGS:
        try:
            steps = decode_steps(steps, encoding)
        except (TypeError, ValueError, binascii.Error) as err:
            raise ValueError(f"the per-step trace does not decode ({err})") from None
    elif encoding is not None:
        raise ValueError(
            f"unknown steps_encoding {encoding!r} (this version reads {' and '.join(map(repr, FLOAT_ENCODINGS))})"
        )
    else:
        for name, series in steps.items():
            if not isinstance(series, list) or not all(v is None or _is_number(v) for v in series):
                raise ValueError(f"trace {name} is not a list of numbers")
        steps = {k: [math.nan if v is None else v for v in series] for k, series in steps.items()}
    if len({len(v) for v in steps.values()}) > 1:
        raise ValueError(
            "the per-step trace's series have different lengths: "
            + ", ".join(f"{k} {len(v)}" for k, v in steps.items())
        )
    d["steps"] = steps
    if "wall_time_s" in d:
        d["wall_time_s"] = _number_or_nonfinite(d["wall_time_s"])
        if not _is_number(d["wall_time_s"]):
            raise ValueError("wall_time_s is not a number")
    if "provenance" in d and not isinstance(d["provenance"], dict):
        raise ValueError("provenance is not an object")
    for name in ("predictions", "val_predictions"):
        if d.get(name):
            try:
                decode_predictions(d[name])
            except (KeyError, TypeError, ValueError, binascii.Error) as err:
                raise ValueError(f"{name.replace('_', ' ')} do not decode ({err})") from None
    return d


def encode_floats(values) -> str:
    """`values` as float32 little-endian bytes, byte-shuffled (all first bytes, then all second bytes, ...),
    zlib-compressed (level 9), base64: the `STEPS_ENCODING` of one series or array (flattened)."""
    raw = np.ascontiguousarray(values, dtype="<f4").reshape(-1).view(np.uint8)
    return base64.b64encode(zlib.compress(raw.reshape(-1, 4).T.tobytes(), 9)).decode("ascii")


def _inflate(data: bytes) -> bytes:
    """The content of one complete zlib stream; a ValueError if it is damaged, cut short or followed by more."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data)
    except zlib.error as err:
        raise ValueError(f"not a zlib stream ({err})") from None
    if not inflater.eof or inflater.unused_data:
        raise ValueError("zlib stream cut short or followed by other bytes")
    return out


def decode_floats(text: str, encoding: str = STEPS_ENCODING) -> np.ndarray:
    """Inverse of `encode_floats` (or, for `RAW_ENCODING`, of base64 of raw float32 bytes): the float32
    values, bit for bit, flat; a ValueError for anything that is not whole float32 values so encoded."""
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    if encoding not in FLOAT_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}")
    raw = base64.b64decode(text, validate=True)
    if encoding == STEPS_ENCODING:
        raw = _inflate(raw)
    if len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes, not whole float32 values")
    if encoding == STEPS_ENCODING:  # unshuffle: byte j of every value is in the j-th quarter
        raw = np.frombuffer(raw, dtype=np.uint8).reshape(4, -1).T.tobytes()
    return np.frombuffer(raw, dtype="<f4")


def encode_predictions(epoch: int, labels, probs) -> dict:
    """A split's per-clip predictions as stored in a result: the labels (ints) and the n x C softmax scores
    (`encode_floats`), with their shape and the epoch they come from."""
    probs = np.asarray(probs, dtype="<f4")
    return {
        "epoch": int(epoch),
        "labels": [int(y) for y in labels],
        "shape": list(probs.shape),
        "probs": encode_floats(probs),
        "probs_encoding": STEPS_ENCODING,
    }


def decode_probs(predictions: dict) -> np.ndarray:
    """The n x C float32 scores of stored predictions, in either encoding (no `probs_encoding`: the raw
    one); a ValueError if they do not decode or do not fit their shape."""
    n, c = (int(x) for x in predictions["shape"])
    probs = decode_floats(predictions["probs"], predictions.get("probs_encoding", RAW_ENCODING))
    if probs.size != n * c:
        raise ValueError(f"{probs.size} scores for shape {n} x {c}")
    return probs.reshape(n, c)


def decode_predictions(predictions: dict) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probs) of stored predictions (`encode_predictions`); a ValueError if they do not fit."""
    probs = decode_probs(predictions)
    labels = np.asarray(predictions["labels"], dtype=int)
    if labels.shape != probs.shape[:1]:
        raise ValueError(f"{labels.shape[0]} labels for {probs.shape[0]} clips")
    return labels, probs.astype(float)


def recode_predictions(predictions: dict) -> dict:
    """Stored predictions with their scores in the current encoding (as they are if already; {} stays {})."""
    if not predictions or predictions.get("probs_encoding") == STEPS_ENCODING:
        return predictions
    return {**predictions, "probs": encode_floats(decode_probs(predictions)), "probs_encoding": STEPS_ENCODING}


def strict_json(obj):
    """`obj` with every non-finite float written explicitly, NaN as None and an infinity as the string
    "Infinity" or "-Infinity" (`NONFINITE`), so that `json.dumps(allow_nan=False)` writes it; finite values
    are untouched."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
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
    """`<results_folder>/<key>.json`: where `fit` looks for a run's result before training it (a config of a
    prepared store is fingerprinted first, `data.fingerprint.fingerprinted`: its key names the store)."""
    from .data.fingerprint import fingerprinted

    return results_folder(config, results_dir) / f"{fingerprinted(config).key()}.json"


def encode_steps(steps: dict[str, list[float]]) -> dict[str, str]:
    """Each series encoded (`encode_floats`)."""
    return {k: encode_floats(v) for k, v in steps.items()}


def decode_steps(encoded: dict[str, str], encoding: str = STEPS_ENCODING) -> dict[str, list[float]]:
    """Inverse of `encode_steps` (or of the older `RAW_ENCODING`); a ValueError naming a series that does
    not decode."""
    out = {}
    for k, v in encoded.items():
        try:
            out[k] = decode_floats(v, encoding).astype(float).tolist()
        except ValueError as err:  # binascii.Error is one
            raise ValueError(f"trace {k}: {err}") from None
    return out


@lru_cache(maxsize=1)
def _git_state() -> tuple[str | None, bool | None]:
    """(commit, whether ogm_lib/ differs from it) of the checkout this package runs from; (None, None)
    outside a git checkout."""
    root = repo_root()
    if root is None:
        return None, None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--", "ogm_lib"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
            != ""
        )
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


def cpu_capability() -> str | None:
    """The instruction set torch's CPU kernels dispatch to here (`torch.backends.cpu.get_cpu_capability()`:
    "AVX2", "AVX512", ...). Two CPUs of one model name can differ in it (an "AMD EPYC" of one generation has
    AVX-512, of another only AVX2), and with it the kernels and the last bits of a run."""
    import torch

    try:
        return torch.backends.cpu.get_cpu_capability()
    except Exception:  # pragma: no cover - an old torch without the call
        return None


def provenance(device: str) -> dict:
    """Where and with what a run is made: the project commit (and whether `ogm_lib/` had uncommitted
    changes), torch and Python versions, the CPU (its model name and the instruction set torch uses on it,
    `cpu_capability`) or GPU, torch's thread count, the date (UTC)."""
    import torch

    commit, dirty = _git_state()
    gpu = torch.cuda.get_device_name(torch.device(device)) if str(device).startswith("cuda") else None
    return {
        "commit": commit,
        "code_dirty": dirty,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "gpu": gpu,
        "cpu": _cpu_name(),
        "cpu_capability": cpu_capability(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
