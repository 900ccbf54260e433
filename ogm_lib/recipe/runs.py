"""The book's whole run list: every run of every chapter at the notebooks' default parameters, each once.

`book_runs()` is what `python -m ogm_lib book retrain` trains, `book verify` draws from, and CI checks the
committed results against: the chapters on the book's rows (the registry's chapters 01-09, `chapters.py`, each
over the book's seed rule, `book.per_seed`), the regime chapters 11 and 12 (`regimes.book_runs`), the testbed
search as far as its rule has got (`testbed.book_runs`), and the plug-in chapters 13-15 (over their pairs'
rule, `plugins.per_seed`). `chapter_runs` lists one chapter's runs (its rerun box counts their time). It sits
above the modules whose runs it lists, so none of them imports another to be listed.
"""

from __future__ import annotations

from typing import Iterable

from ..method.config import RunConfig
from ..method.data.fingerprint import fingerprinted
from . import book, noise_model, plugins, regimes, testbed
from .chapters import CHAPTER, book_seeds, chapters_with, plugin_seeds


def _unique(configs: Iterable[RunConfig]) -> list[RunConfig]:
    out: dict[str, RunConfig] = {}
    for c in configs:
        out.setdefault(c.key(), c)
    return list(out.values())


def _given(**params) -> dict:
    """The parameters that are not None (None: each chapter keeps its own default)."""
    return {k: v for k, v in params.items() if v is not None}


def book_runs(
    dataset: str = "avdigits",
    profile: str = book.PROFILE,
    device: str = "cpu",
    seeds=None,
    headline_seeds=None,
    include_regimes: bool = True,
    regime: str | None = None,
    include_plugins: bool = True,
) -> list[RunConfig]:
    """Every run of the book's chapters at their default parameters, each once, in chapter order; with
    `include_regimes` (and the default data at the regimes' profile), also the runs of the regime chapters
    (`regimes.book_runs`: calibration, alpha sweeps, each regime's rows) and of the testbed search; with
    `include_plugins` (the default data at the plug-in tables' own regime), also the runs of chapters 13-15. A
    prepared dataset's runs come fingerprinted (`data.fingerprint.fingerprinted`: their keys name the store).
    `regime`, `seeds`, `headline_seeds`: None keeps each chapter's own (`chapters.regime_parameters`)."""
    at = _given(
        dataset=dataset, profile=profile, device=device, regime=regime, seeds=seeds, headline_seeds=headline_seeds
    )
    out = [fingerprinted(c) for ch in chapters_with(per_seed=book_seeds) for c in ch.runs(**at)]
    if include_regimes and dataset == "avdigits" and profile == regimes.PROFILE:
        out += regimes.book_runs(device) + testbed.book_runs()
    if include_plugins and dataset == "avdigits" and regime in (None, plugins.REGIME):
        out += [
            fingerprinted(c)
            for ch in chapters_with(per_seed=plugin_seeds)
            for c in ch.runs(**{k: v for k, v in at.items() if k in ch.parameters})
        ]
    return _unique(out)


def _noise_model_runs(device: str) -> list[RunConfig]:
    """Chapter 03's runs at its default parameters (`noise_model.configs`)."""
    p = CHAPTER["03_sgd_noise"].defaults(device=device)
    config, ogm_ge = noise_model.configs(
        p["dataset"], p["profile"], device, p["regime"], p["seed"], p["alpha"], p["headline_seeds"]
    )
    return [config, *ogm_ge]


#: the chapters whose runs are not a table of rows: chapter -> its runs at its default parameters, on a device
OTHER_RUNS = {
    "03_sgd_noise": _noise_model_runs,
    "10_verdicts": lambda device: book_runs(device=device),
    "11_regimes": regimes.book_runs,
    "12_when_ogm_ge_helps": regimes.explained_runs,
}


def chapter_runs(chapter: str, device: str = "cpu") -> list[RunConfig]:
    """Every RunConfig chapter `chapter` (a notebook name such as '05_table1') reads at its default parameters,
    each once: its rows over their seeds and its rule's runs (`Chapter.runs`), or `OTHER_RUNS`."""
    if chapter not in CHAPTER:
        raise ValueError(f"unknown chapter {chapter!r}")
    ch = CHAPTER[chapter]
    if ch.rows is not None:
        return _unique(ch.runs(device=device))
    return _unique(OTHER_RUNS[chapter](device))
