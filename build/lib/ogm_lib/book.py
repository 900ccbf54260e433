"""The book's shared run recipe: every notebook asks for its runs through `book_config` and `train_seeds`.

Notebooks name only what differs between their rows (fusion, method, optimiser, ...). Everything else
comes from here, so the same row requested by two chapters has the same config hash and is trained once
(the results cache, `results.py`): Table 1's concatenation rows are also Figure 1's curves, Table 2's
OGM-GE row, Table 6's "SGD+" and Figure 3's trace.

Every book run measures, besides the usual validation and test metrics, linear probes of both encoders
every `probe_every` epochs (Figure 1) and the training-split metrics on a fixed subset (the
generalisation gap of the GE chapter).
"""
from __future__ import annotations

from .config import RunConfig, make_config
from .experiments import run_grid, seeds_of

#: probes every n epochs, per profile
PROBE_EVERY = {"paper": 10, "cpu": 6, "smoke": 1}


def book_config(dataset: str = "avdigits", profile: str = "cpu", device: str = "cpu", **changes) -> RunConfig:
    """The config of one book row: the profile, the book's measurements, then the row's own changes."""
    base = dict(dataset=dataset, device=device, quiet=True, eval_train=True,
                probe_every=PROBE_EVERY.get(profile, 5))
    base.update(changes)
    return make_config(profile, **base)


def train_seeds(rows: dict[str, RunConfig], seeds: int | list[int] = 3, workers: int | None = None,
                results_dir=None) -> dict[str, list]:
    """Train every row over `seeds` (a count or a list), all in one parallel batch; label -> runs."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    configs = [c for cfg in rows.values() for c in seeds_of(cfg, seed_list)]
    results = run_grid(configs, results_dir=results_dir, workers=workers)
    n = len(seed_list)
    return {label: results[i * n:(i + 1) * n] for i, label in enumerate(rows)}
