"""A run's checkpoint: one file per run (`<results>/checkpoints/<key>.pt`), written atomically after every
epoch, and checked before it is trusted.

It holds what makes a resumed run end with the numbers of an uninterrupted one: the weights, the
optimiser and scheduler, every random generator (shuffling, GE noise, the strategy's masks, torch's
global one), the strategy's own state (gradient blending's weights, OPM's last ratio), the result so far
and the wall time, with the epoch and the run's key. `read` names what makes a file unusable (unreadable,
truncated, another run's, an epoch the run does not have); the Trainer then sets it aside and starts the
run from the beginning, which gives the same numbers.

A checkpoint is data, never code: every file is read with `torch.load(..., weights_only=True)` (`load`),
torch's restricted unpickler, which rebuilds tensors, numbers, strings and plain containers and refuses any
other object (a pickle whose `__reduce__` would call `os.system`, say) before it is built. Everything a
checkpoint holds is of those kinds, so the real checkpoints load as before; a refused file is "unreadable"
like a truncated one: named, set aside as `<name>.damaged`, and the run trained from the start.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from .fileio import atomic_write_bytes

#: what every checkpoint holds (besides its run's `key`)
FIELDS = (
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "shuffle_gen",
    "noise_gen",
    "strategy_gen",
    "strategy",
    "torch_rng",
    "result",
    "elapsed",
)


def save(path: Path, state: dict) -> None:
    """Write `state` to `path` atomically (a crash leaves the previous checkpoint, never half of one)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def problem(state, key: str, epochs: int) -> str | None:
    """What makes a loaded checkpoint unusable for run `key` of `epochs` epochs, or None."""
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a checkpoint"
    missing = [k for k in FIELDS if k not in state]
    if missing:
        return f"missing {', '.join(missing)}"
    if state.get("key", key) != key:
        return f"holds run {state['key']}, not run {key}"
    epoch = state["epoch"]
    if not isinstance(epoch, int) or not 0 <= epoch < epochs:
        return f"epoch {epoch!r} is not an epoch of this run (0..{epochs - 1})"
    result = state["result"]
    if not isinstance(result, dict) or len(result.get("epochs", ())) != epoch + 1:
        return f"its result does not hold the {epoch + 1} epochs it should"
    return None


def load(path, map_location="cpu"):
    """`torch.load` with the restricted unpickler (`weights_only=True`): tensors and plain data only, never
    an object whose unpickling would run code. Every `.pt` file of this project is read through it."""
    return torch.load(path, map_location=map_location, weights_only=True)


def unreadable(err: BaseException) -> str:
    """One line for a file that cannot be loaded. torch's message for a refused pickle runs over several
    lines and suggests `weights_only=False`, which is exactly what must not be done with an untrusted file:
    only its line naming the refused object is kept."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if isinstance(err, pickle.UnpicklingError) and lines and lines[0].startswith("Weights only load failed"):
        what = next((ln for ln in lines[1:] if "weights_only" not in ln and not ln.startswith("Check the")), "")
        return f"refused by the safe loader (weights_only=True: not plain tensors and data; {what.rstrip('.')})"
    return f"unreadable ({type(err).__name__}: {lines[0] if lines else ''})"


def read(path: Path, device, key: str, epochs: int) -> tuple[dict | None, str | None]:
    """`(state, None)`, or `(None, what is wrong with the file)`."""
    try:
        state = load(path, map_location=device)
    except (MemoryError, PermissionError):
        raise  # says nothing about the file's content
    except Exception as err:  # truncated zip, bad pickle, I/O error: all mean "do not trust it"
        return None, unreadable(err)
    trouble = problem(state, key, epochs)
    return (None, trouble) if trouble else (state, None)
