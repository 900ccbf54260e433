"""One JSON file per run, named by the hash of its config, written atomically.

A result holds the config, the per-epoch metrics, the per-step trace (loss, rho_a, rho_v, k_a, k_v), the
epoch chosen on VALIDATION and its metrics, and the wall time. `fit` looks for `<results_dir>/<key>.json`
first, so identical runs requested by different notebooks are trained once.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .fileio import atomic_write_bytes
from .paths import default_results_dir


@dataclass
class RunResult:
    key: str
    config: dict
    epochs: list[dict] = field(default_factory=list)     # one dict of metrics per epoch
    steps: dict[str, list[float]] = field(default_factory=dict)   # per-step trace
    best_epoch: int = -1                                  # chosen on validation fused accuracy
    wall_time_s: float = 0.0

    @property
    def best(self) -> dict:
        """Metrics of the epoch chosen on validation (test numbers are reported, never selected on)."""
        return self.epochs[self.best_epoch]

    @property
    def final(self) -> dict:
        return self.epochs[-1]

    def save(self, results_dir: Path) -> Path:
        path = Path(results_dir) / f"{self.key}.json"
        atomic_write_bytes(path, json.dumps(asdict(self), indent=1).encode())
        return path

    @classmethod
    def load(cls, path: Path) -> "RunResult":
        return cls(**json.loads(Path(path).read_text()))
