"""# Table 7's equal-steps control for its batch-size rows

Table 7 varies the SGD noise scale lr / b (Jastrzebski et al. 2017) by the learning rate and by the batch size
b. At a fixed number of epochs a larger batch also takes fewer optimiser steps: batch 96 takes a quarter of the
steps of batch 24, so a worse result at batch 96 may be less noise or merely less training. The control runs
each larger batch for `b / b0` times the epochs, so that it takes as many steps as the base batch b0, with the
schedule's milestones (the end of the modulation window, the learning-rate drop, the probes) at the same steps.
"""

from __future__ import annotations

from ..method.config import RunConfig

SUFFIX = ", equal steps"


def equal_steps(config: RunConfig, base_batch: int) -> RunConfig:
    """`config` (a batch larger than `base_batch`) trained for as many optimiser steps as `base_batch` takes:
    epochs, the modulation window's end, the lr step and the probe period multiplied by b / b0 (an integer)."""
    factor, rest = divmod(config.batch_size, base_batch)
    if rest or factor < 2:
        raise ValueError(f"batch {config.batch_size} is not a multiple >= 2 of the base batch {base_batch}")
    changes = dict(epochs=config.epochs * factor, probe_every=config.probe_every * factor)
    if config.modulation_end is not None:
        changes["modulation_end"] = (config.modulation_end + 1) * factor - 1  # the last modulated epoch
    if config.lr_step:
        changes["lr_step"] = config.lr_step * factor
    return config.replace(**changes)


def control_rows(settings, rows: dict[str, RunConfig]) -> dict[str, RunConfig]:
    """Table 7's batch-size rows (`book.noise_settings`' series "batch size") at equal steps:
    `"b96, 1 × lr, equal steps"` -> config. `rows`: label -> config, as `book.table7_rows` returns them."""
    base_batch = min(s.batch_size for s in settings)
    return {s.label + SUFFIX: equal_steps(rows[s.label], base_batch) for s in settings if s.series == "batch size"}


def control_runs(settings, rows: dict[str, RunConfig], seeds) -> list[RunConfig]:
    """The control's runs: each of `control_rows` over the chapter's `seeds` (a count or a list: `book.seed_list`),
    the same seeds as the rows it is compared with, paired by seed."""
    from .book import seed_list

    return [c.replace(seed=s) for c in control_rows(settings, rows).values() for s in seed_list(seeds)]
