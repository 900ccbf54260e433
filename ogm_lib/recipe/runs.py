"""The book's whole run list: every run of every chapter at the notebooks' default parameters, each once.

`book_runs()` is what `python -m ogm_lib book retrain` trains, `book verify` draws from, and CI checks the
committed results against: chapters 01-09 (`book.CHAPTERS`, over `book.row_seeds`), the regime chapters 11
and 12 (`regimes.book_runs`), the testbed search as far as its rule has got (`testbed.book_runs`), and the
plug-in chapters 13-15 (`plugins.runs`). It sits above the modules whose runs it lists, so none of them
imports another to be listed.
"""
from __future__ import annotations

from ..method.config import RunConfig
from ..method.data.fingerprint import fingerprinted
from . import book, plugins, regimes, testbed


def book_runs(dataset: str = "avdigits", profile: str = book.PROFILE, device: str = "cpu", seeds=book.SEEDS,
              headline_seeds=book.HEADLINE_SEEDS, include_regimes: bool = True, regime: str | None = book.REGIME,
              include_plugins: bool = True) -> list[RunConfig]:
    """Every run of the book's chapters at their default parameters, each once, in chapter order; with
    `include_regimes` (and the default data at the regimes' profile), also the runs of the regime chapters
    (`regimes.book_runs`: calibration, alpha sweeps, each regime's rows); with `include_plugins` (the default
    data at the book's own regime), also the runs of the plug-in chapters 13-15 (`plugins.runs`). A prepared
    dataset's runs come fingerprinted (`data.fingerprint.fingerprinted`: their keys name the store)."""
    out: dict[str, RunConfig] = {}
    for rows_of in book.CHAPTERS.values():
        for config in rows_of(dataset, profile, device, regime=regime).values():
            for s in book.row_seeds(config, seeds, headline_seeds):
                c = fingerprinted(config.replace(seed=s))
                out.setdefault(c.key(), c)
    if include_regimes and dataset == "avdigits" and profile == regimes.PROFILE:
        for c in regimes.book_runs(device):
            out.setdefault(c.key(), c)
        for c in testbed.book_runs():
            out.setdefault(c.key(), c)
    if include_plugins and dataset == "avdigits":
        if regime == plugins.REGIME:
            for c in plugins.runs(dataset, profile, device, seeds, headline_seeds):
                out.setdefault(c.key(), c)
    return list(out.values())
