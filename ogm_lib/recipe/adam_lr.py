"""# Table 6's Adam learning rate, chosen on validation from plain runs

The paper's Table 6 compares SGD and Adam, each with and without OGM-GE, each optimiser at a learning rate
that suits it. An untuned Adam (the book's first Table 6 used lr 1e-3, reaching 100 % training accuracy and
43 % test accuracy on the paper-like regime) is not that comparison. The rule, written before its runs:

1. **Rows**: the Table 6 "Adam" row (concatenation, method `normal`: no OGM-GE, so the choice cannot be tuned
   toward OGM-GE's result) at each learning rate of `LR_GRID`, `LR_SEEDS` seeds each.
2. **Choice** (`choose`): the learning rate with the highest mean VALIDATION accuracy (each run at its best
   validation epoch); ties: the smaller learning rate. The test split plays no part.
3. Table 6's "Adam" and "Adam+" rows then run at the chosen rate with the book's seeds.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..method.config import RunConfig
from .grid import train_grid
from .regimes import alpha_values, highest_mean

#: Adam's learning rates tried (a factor of about 3 apart, around PyTorch's default 1e-3)
LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3)
#: the seeds of each learning rate's runs
LR_SEEDS = (0, 1)
#: the rule's choice per regime, from its committed runs (`tests/test_table6_table7_rules.py` applies the rule to
#: them and fails when this differs): Table 6's default `adam_lr` in that regime (`chapters.regime_parameters`)
CHOSEN: dict[str, float] = {"testbed": 3e-3}


def grid_rows(adam_row: RunConfig, lrs: Iterable[float] = LR_GRID) -> dict[str, RunConfig]:
    """Table 6's plain Adam row at each learning rate: `"lr=0.0003"` -> config (method `normal` enforced)."""
    if adam_row.optimizer != "adam":
        raise ValueError(f"the Adam learning-rate rule needs an Adam row, not optimizer={adam_row.optimizer!r}")
    return {f"lr={lr:g}": adam_row.replace(lr=float(lr), method="normal") for lr in lrs}


def choose(val_acc: Mapping[float, Sequence[float]]) -> tuple[float, dict[float, float]]:
    """The learning rate with the highest mean validation accuracy (ties: the smaller rate), and the table
    lr -> mean. `val_acc`: lr -> the seeds' best validation accuracies (%)."""
    return highest_mean(val_acc, "Adam learning-rate")


def val_accuracies(runs: Mapping[str, list]) -> dict[float, list[float]]:
    """`grid_rows`' runs (label -> runs) -> lr -> the seeds' best validation accuracies (%)."""
    return alpha_values({label: rs for label, rs in runs.items() if rs})  # the same "name=value" labels


def configs(adam_row: RunConfig, lrs: Iterable[float] = LR_GRID, seeds: Iterable[int] = LR_SEEDS) -> list[RunConfig]:
    """Every run of the rule, each learning rate at each seed."""
    return [c.replace(seed=s) for c in grid_rows(adam_row, lrs).values() for s in seeds]


def train(
    adam_row: RunConfig,
    lrs: Iterable[float] = LR_GRID,
    seeds: Iterable[int] = LR_SEEDS,
    workers: int | None = None,
    results_dir=None,
) -> tuple[float, dict[float, float]]:
    """Train (or read back) the rule's runs and apply it: (chosen lr, lr -> mean validation accuracy)."""
    seeds = list(seeds)
    runs = train_grid(
        {label: [c.replace(seed=s) for s in seeds] for label, c in grid_rows(adam_row, lrs).items()},
        results_dir=results_dir,
        workers=workers,
    )
    return choose(val_accuracies(runs))
