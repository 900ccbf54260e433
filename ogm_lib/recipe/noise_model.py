"""Chapter 03's runs: the trained joint model whose gradient noise it measures, and its setting's OGM-GE runs.

`configs` lists them (the joint concatenation model of `seed`, and the headline OGM-GE row over its seeds,
`book.row_seeds`); `train` trains what is missing (read back when committed) and loads the joint model from
its checkpoint (`rerun.load_trained_model`: retrained and checked against its committed result when the
results folder has no checkpoint). The measurements themselves are the report's (`report/sgd_noise.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..method.config import RunConfig
from .book import HEADLINE_SEEDS, book_config, headline_rows, row_seeds
from .grid import run_grid


@dataclass
class NoiseModel:
    """What chapter 03 measures: the joint model (`config`, its `data`, its trained `model`) and the OGM-GE
    runs of the same setting (`ogm_ge`, one per seed), whose k^a it reports."""

    config: RunConfig
    data: object
    model: object
    ogm_ge: list


def configs(
    dataset, profile, device, regime, seed, alpha, headline_seeds=HEADLINE_SEEDS
) -> tuple[RunConfig, list[RunConfig]]:
    """(the joint concatenation model of `seed`, the headline OGM-GE row at `alpha` over its `headline_seeds`:
    the book's, or those of the earlier regime the chapter runs on, `chapters.regime_parameters`)."""
    config = book_config(dataset, profile, device, regime, fusion="concat", seed=seed)
    ogm_ge = headline_rows(dataset, profile, device, alpha, regime)["Concatenation + OGM-GE"]
    return config, [ogm_ge.replace(seed=s) for s in row_seeds(ogm_ge, headline_seeds=headline_seeds, alpha=alpha)]


def train(
    dataset, profile, device, regime, seed, alpha, workers=None, results_dir=None, headline_seeds=HEADLINE_SEEDS
) -> NoiseModel:
    """Chapter 03's runs, trained or read back, the joint model's data and its weights."""
    from ..method.data import build_datasets
    from .rerun import load_trained_model

    config, ogm_ge = configs(dataset, profile, device, regime, seed, alpha, headline_seeds)
    run_grid([config], results_dir, workers)
    data = build_datasets(config)
    model = load_trained_model(config, data.num_classes, results_dir)
    return NoiseModel(config, data, model, run_grid(ogm_ge, results_dir, workers))
