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


def _given(**params) -> dict:
    """The parameters that are not None (None: each chapter keeps its own default)."""
    return {k: v for k, v in params.items() if v is not None}


def _at(ch: Chapter, params: dict) -> dict:
    """The parameters a chapter has, of those given."""
    return {k: v for k, v in params.items() if k in ch.parameters}


def grids(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=None,
    headline_seeds=None,
    regime: str | None = None,
) -> dict[str, dict[str, list[RunConfig]]]:
    """chapter -> label -> its configs over seeds, for every judged chapter on rows (all but chapter 12, whose
    rows depend on its sweep's runs). `seeds`, `headline_seeds`, `regime`: None keeps each chapter's own
    (`chapters.regime_parameters`: most chapters are on the testbed, some still on the paper-like regime)."""
    params = _given(
        dataset=dataset, profile=profile, device=device, regime=regime, seeds=seeds, headline_seeds=headline_seeds
    )
    return {ch.name: ch.grid(**_at(ch, params)) for ch in judged(dataset) if ch.rows is not None}


def noise_settings(
    dataset: str = "avdigits", profile: str = book.PROFILE, device: str = "cpu", regime: str | None = None
) -> list:
    """The grid of the chapter judged on its settings (chapter 08, `Chapter.settings`) at these parameters
    (`regime` None: the chapter's own)."""
    params = _given(dataset=dataset, profile=profile, device=device, regime=regime)
    return [s for ch in judged(dataset) if ch.claims == "noise" for s in ch.settings(**_at(ch, params))]


def train(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=None,
    headline_seeds=None,
    workers: int | None = None,
    results_dir=None,
    regime: str | None = None,
) -> VerdictRuns:
    """Every judged chapter's runs at its default parameters (`seeds`, `headline_seeds`, `regime`: None for each
    chapter's own), trained or read back."""
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


def headline(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=None,
    headline_seeds=None,
    workers: int | None = None,
    results_dir=None,
    regime: str | None = None,
) -> dict[str, list]:
    """The book's headline pair (concatenation with and without OGM-GE, `book.headline_rows`) over its seeds,
    trained or read back: in `regime` (None: the book's, `book.REGIME`) at that regime's alpha (`regimes.ALPHA`; the
    real datasets ignore the regime and get the book's alpha, as the chapters' rows do), with `seeds`
    and `headline_seeds` (None: the book's)."""
    regime = book.REGIME if regime is None else regime
    alpha = regimes.ALPHA.get(regime, book.ALPHA)  # the alpha the chapters' headline rows have in that regime
    rows = book.headline_rows(dataset, profile, device, alpha, regime)
    seeds = book.SEEDS if seeds is None else seeds
    headline_seeds = book.HEADLINE_SEEDS if headline_seeds is None else headline_seeds
    return book.train_seeds(rows, seeds, workers, results_dir, headline_seeds, alpha=alpha)
