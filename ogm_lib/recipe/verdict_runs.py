"""What the closing chapter (10) judges: every chapter's runs at its default parameters, trained or read back.

The chapters are the registry's chapters with claims (`chapters.py`) that are judged on the dataset
(`Chapter.judged`); their runs are their rows over their seeds (`Chapter.grid`), all trained in one parallel
batch (`grid.train_grid`; committed runs are read back), and chapter 12's are each regime's four rows at the
alpha its validation sweep chooses (`regimes.train_explained`). The report judges them
(`report.chapters.book_claims`) and trains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..method.config import RunConfig
from . import book, regimes
from .chapters import CHAPTERS, Chapter
from .grid import train_grid


@dataclass
class VerdictRuns:
    """Every judged chapter's runs: `runs` maps a chapter to label -> its runs (chapter 12: regime -> label ->
    its runs), in the registry's order; `settings` is chapter 08's grid (`book.NoiseSetting`s), which its
    claims also read."""

    dataset: str
    runs: dict[str, dict]
    settings: list


def judged(dataset: str) -> list[Chapter]:
    """The chapters the closing chapter judges on `dataset`, in order."""
    return [ch for ch in CHAPTERS if ch.judged(dataset)]


def _at(ch: Chapter, params: dict) -> dict:
    """The parameters a chapter has, of those given."""
    return {k: v for k, v in params.items() if k in ch.parameters}


def grids(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=book.SEEDS,
    headline_seeds=book.HEADLINE_SEEDS,
    regime: str | None = book.REGIME,
) -> dict[str, dict[str, list[RunConfig]]]:
    """chapter -> label -> its configs over seeds, for every judged chapter on rows (all but chapter 12, whose
    rows depend on its sweep's runs)."""
    params = dict(
        dataset=dataset, profile=profile, device=device, regime=regime, seeds=seeds, headline_seeds=headline_seeds
    )
    return {ch.name: ch.grid(**_at(ch, params)) for ch in judged(dataset) if ch.rows is not None}


def noise_settings(
    dataset: str = "avdigits", profile: str = book.PROFILE, device: str = "cpu", regime: str | None = book.REGIME
) -> list:
    """The grid of the chapter judged on its settings (chapter 08, `Chapter.settings`) at these parameters."""
    params = dict(dataset=dataset, profile=profile, device=device, regime=regime)
    return [s for ch in judged(dataset) if ch.claims == "noise" for s in ch.settings(**_at(ch, params))]


def train(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=None,
    headline_seeds=None,
    workers: int | None = None,
    results_dir=None,
    regime: str | None = book.REGIME,
) -> VerdictRuns:
    """Every judged chapter's runs at its default parameters (`seeds`, `headline_seeds`: None for the book's),
    trained or read back."""
    seeds = book.SEEDS if seeds is None else seeds
    headline_seeds = book.HEADLINE_SEEDS if headline_seeds is None else headline_seeds
    tables = grids(dataset, profile, device, seeds, headline_seeds, regime)
    flat = train_grid(
        {(ch, label): cs for ch, grid in tables.items() for label, cs in grid.items()},
        results_dir=results_dir,
        workers=workers,
    )
    runs: dict[str, dict] = {}
    for ch in judged(dataset):
        if ch.claims == "regimes":
            runs[ch.name] = regimes.train_explained(dataset, profile, device, workers=workers, results_dir=results_dir)
        else:
            runs[ch.name] = {label: flat[ch.name, label] for label in tables[ch.name]}
    return VerdictRuns(dataset, runs, noise_settings(dataset, profile, device, regime))
