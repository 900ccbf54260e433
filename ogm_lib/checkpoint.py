"""A run's checkpoint: one file per run (`<results>/checkpoints/<key>.pt`), written atomically after every
epoch, and checked before it is trusted.

It holds what makes a resumed run end with the numbers of an uninterrupted one: the weights, the
optimiser and scheduler, every random generator (shuffling, GE noise, the strategy's masks, torch's
global one), the strategy's own state (gradient blending's weights, OPM's last ratio), the result so far
and the wall time, with the epoch and the run's key. `read` names what makes a file unusable (unreadable,
truncated, another run's, an epoch the run does not have); the Trainer then sets it aside and starts the
run from the beginning, which gives the same numbers.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from .fileio import atomic_write_bytes

#: what every checkpoint holds (besides its run's `key`)
FIELDS = ("epoch", "model", "optimizer", "scheduler", "shuffle_gen", "noise_gen", "strategy_gen",
          "strategy", "torch_rng", "result", "elapsed")


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


def read(path: Path, device, key: str, epochs: int) -> tuple[dict | None, str | None]:
    """`(state, None)`, or `(None, what is wrong with the file)`."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except (MemoryError, PermissionError):
        raise                           # says nothing about the file's content
    except Exception as err:            # truncated zip, bad pickle, I/O error: all mean "do not trust it"
        return None, f"unreadable ({type(err).__name__}: {(str(err).splitlines() or [''])[0]})"
    trouble = problem(state, key, epochs)
    return (None, trouble) if trouble else (state, None)
