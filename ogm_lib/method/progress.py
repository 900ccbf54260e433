"""Progress of a grid of runs, for a terminal and for a log file.

On a terminal (stderr is a TTY, and not inside a SLURM job): a tqdm bar over the runs with its ETA. In a
log (stderr redirected, a SLURM job's output, CI): no bar, which would fill the log with carriage returns,
but one line per finished run:

    [ 12/336] trained 3f0a9c2e1b7d4a55 (ogm_ge concat seed 3) in 74 s; 2 claimed elsewhere; ETA 1 h 02 min

The ETA is the remaining runs times this call's wall time per run trained so far (so it counts the
parallel workers, whatever their number); runs read back from the results folder finish at once and
count as done, not as speed.
"""

from __future__ import annotations

import os
import sys
import time


def use_bar(stream=None) -> bool:
    """A bar only on an interactive terminal outside SLURM."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) and "SLURM_JOB_ID" not in os.environ


def duration(seconds: float) -> str:
    """74 -> '74 s', 3725 -> '1 h 02 min'."""
    s = int(round(seconds))
    if s < 120:
        return f"{s} s"
    h, m = divmod(s // 60, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


class GridProgress:
    """`update(...)` once per finished run; `close()` at the end. `enabled=False` says nothing."""

    def __init__(self, total: int, initial: int = 0, enabled: bool = True, stream=None, bar: bool | None = None):
        self.total, self.done, self.trained = total, initial, 0
        self.enabled, self.stream = enabled, sys.stderr if stream is None else stream
        self.t0 = time.perf_counter()
        self.bar = None
        if enabled and (use_bar(self.stream) if bar is None else bar):
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc="runs", unit="run", smoothing=0.05, file=self.stream)

    def eta_s(self) -> float | None:
        """Seconds left at this call's pace, or None before the first trained run."""
        if not self.trained:
            return None
        return (time.perf_counter() - self.t0) / self.trained * (self.total - self.done)

    def line(self, key: str, what: str, trained: bool, wall_s: float | None, elsewhere: int = 0) -> str:
        width = len(str(self.total))
        verb = f"trained {key} ({what}) in {duration(wall_s or 0)}" if trained else f"read {key} ({what})"
        eta = self.eta_s()
        tail = (f"; {elsewhere} claimed elsewhere" if elsewhere else "") + (
            f"; ETA {duration(eta)}" if eta is not None else ""
        )
        return f"[{self.done:{width}d}/{self.total}] {verb}{tail}"

    def update(
        self, key: str, what: str = "", trained: bool = True, wall_s: float | None = None, elsewhere: int = 0
    ) -> None:
        self.done += 1
        self.trained += bool(trained)
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update()
        else:
            print(self.line(key, what, trained, wall_s, elsewhere), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
