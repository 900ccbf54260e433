"""The book's chapters in one place: the registry every list of chapters reads.

Each chapter (`Chapter`) is its notebook (`notebooks/<name>.ipynb`) and holds:

- `part`: the caption of its part in the table of contents (`book/_toc.yml` is written from `PARTS`, `PAGES`
  and `CHAPTERS` by `toc.py`: `python -m ogm_lib book toc`; a test fails when the file and the registry differ);
- `title`: its short title, for the chapters whose claims the closing chapter collects (tables and verdicts
  name chapters by these, `TITLES`);
- `rows`: the function that makes its rows (a label per row and the row's `RunConfig`), as its notebook calls
  it, and `per_seed`: how its rows are expanded over seeds (the book's rule, `book.per_seed`, or the plug-in
  pairs', `plugins.per_seed`);
- `claims`: how the closing chapter judges it (`"rows"`: a function of its rows' runs, `report/chapters.CLAIMS`;
  `"noise"`: of its runs and its grid's settings; `"regimes"`: of each regime's runs; None: no claims there),
  and `judged_on`, the datasets on which it is judged there (None: every dataset);
- `real_dataset`: the paper's dataset its rerun box's GPU command names (None: it runs on the default data only);
- `parameters`: the defaults of its notebook's `parameters` cell, name -> value, read from the library (the row
  function's keyword defaults and the recipe's constants), so that a notebook run at its defaults trains or
  reads exactly the runs the book lists (`runs.book_runs`); `tests/test_notebook_parameters.py` fails when a
  notebook's cell disagrees.

`CHAPTERS` is in the table of contents' order, which is also the order in which the closing chapter judges them.
The claims' code stays in `ogm_lib/report` (which reads this registry); nothing here trains.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from ..method.config import RunConfig
from . import adam_lr, book, equal_steps, plugins, regimes

#: the parts of the table of contents, in order (each chapter names its part)
PARTS = (
    "The rule",
    "The method",
    "Reproducing the paper",
    "OGM-GE as a plug-in",
    "When OGM-GE helps",
    "All verdicts",
    "Appendix",
)
#: the book's pages that are not chapters (`book/<name>.md`), by part: they come before the part's chapters
PAGES = {
    "The rule": ("judging_claims",),
    "Appendix": ("how_to_rerun", "multi_gpu", "real_datasets", "official_code_differences"),
}
#: the landing page (`book/intro.md`)
ROOT_PAGE = "intro"

#: the plug-in chapters are judged in the closing chapter on the default data (or the synthetic test data) only,
#: where all three run; on a prepared dataset each runs in its own notebook on its own dataset
PLUGIN_DATASETS = ("avdigits", "synthetic")
#: the regime chapters' data: the regimes are knobs of the default data
REGIME_DATASETS = ("avdigits",)


def book_seeds(rows: dict[str, RunConfig], params: Mapping) -> dict[str, list[RunConfig]]:
    """The book's rule (`book.per_seed`): `headline_seeds` for the headline pair at the chapter's `alpha`."""
    return book.per_seed(rows, params["seeds"], params["headline_seeds"], params.get("alpha"))


def plugin_seeds(rows: dict[str, RunConfig], params: Mapping) -> dict[str, list[RunConfig]]:
    """The plug-in tables' rule (`plugins.per_seed`): both rows of a pair get the same seeds."""
    return plugins.per_seed(rows, params["seeds"], params.get("headline_seeds", params["seeds"]))


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book (see the module docstring)."""

    name: str
    part: str
    title: str | None = None
    rows: Callable | None = None
    per_seed: Callable[[dict, Mapping], dict] | None = None
    claims: str | None = None
    judged_on: tuple[str, ...] | None = None
    parameters: Mapping = field(default_factory=dict)
    real_dataset: str | None = "cremad"
    #: runs a chapter reads beside its rows' (a rule's or a control's: Table 6's Adam learning rate, Table 7's
    #: equal-steps control), from the chapter and the notebook's parameter changes
    rule_runs: Callable[["Chapter", dict], list] | None = None

    def defaults(self, **changes) -> dict:
        """The notebook's parameters at their defaults, with `changes` (only names the notebook has)."""
        unknown = set(changes) - set(self.parameters)
        if unknown:
            raise TypeError(f"chapter {self.name} has no parameter {sorted(unknown)}")
        return {**self.parameters, **changes}

    def call_rows(self, **changes):
        """The row function's answer at the notebook's parameters (with `changes`): what the notebook gets."""
        params = self.defaults(**changes)
        accepted = inspect.signature(self.rows).parameters
        return self.rows(**{k: v for k, v in params.items() if k in accepted})

    def table(self, **changes) -> dict[str, RunConfig]:
        """label -> the row's config (seed 0) at the notebook's parameters (with `changes`). Chapter 08's row
        function also returns its grid's settings (`book.table7_rows`): `settings` gives them."""
        out = self.call_rows(**changes)
        return out[1] if self.claims == "noise" else out

    def settings(self, **changes) -> list:
        """Chapter 08's grid (`book.NoiseSetting`s) at the notebook's parameters (with `changes`)."""
        if self.claims != "noise":
            raise ValueError(f"chapter {self.name} has no grid of settings")
        return self.call_rows(**changes)[0]

    def grid(self, **changes) -> dict[str, list[RunConfig]]:
        """label -> the row's configs over its seeds (`per_seed`) at the notebook's parameters (with `changes`):
        the runs the notebook trains or reads."""
        return self.per_seed(self.table(**changes), self.defaults(**changes))

    def runs(self, **changes) -> list[RunConfig]:
        """Every run the notebook trains or reads at its parameters (with `changes`): its rows over their seeds,
        then its rule's runs (`rule_runs`)."""
        out = [c for cs in self.grid(**changes).values() for c in cs]
        if self.rule_runs is not None:
            out += self.rule_runs(self, changes)
        return out

    def judged(self, dataset: str) -> bool:
        """Whether the closing chapter judges this chapter's claims on `dataset`."""
        return self.claims is not None and (self.judged_on is None or dataset in self.judged_on)


def _listed(value):
    return list(value) if isinstance(value, tuple) else value


def row_defaults(fn: Callable) -> dict:
    """A row function's keyword defaults (tuples as the lists a parameters cell holds), `device` left out."""
    return {
        name: _listed(p.default)
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty and name != "device"
    }


def _common(**more) -> MappingProxyType:
    """The parameters every chapter on the book's rows has: the data, the profile, the regime, the device, the
    seed counts (`book.SEEDS`, `book.HEADLINE_SEEDS`), the worker count and the results folder."""
    return MappingProxyType(
        {
            **dict(
                dataset="avdigits",
                profile=book.PROFILE,
                regime=book.REGIME,
                device="cpu",
                seeds=book.SEEDS,
                headline_seeds=book.HEADLINE_SEEDS,
                workers=None,
                results_dir=None,
            ),
            **more,
        }
    )


#: the book's regime before the testbed (issue 23), and the chapters still on it: their rows' runs are not yet
#: trained on the testbed (a chapter moves when all of them are committed: `python -m ogm_lib book retrain`
#: lists what is left). They keep that regime's alpha and its 10 headline seeds; the landing page names them.
EARLIER_REGIME = "paper-like"
EARLIER_HEADLINE_SEEDS = 10
ON_EARLIER_REGIME = ("03_sgd_noise",)


def regime_parameters(name: str) -> dict:
    """A chapter's regime, and the parameters that follow from it: its alpha (`regimes.ALPHA`, chosen on the
    regime's validation sweep) and its headline seeds; on the testbed, Table 6's Adam learning rate
    (`adam_lr.CHOSEN`, chosen on validation by its rule)."""
    if name in ON_EARLIER_REGIME:
        return dict(regime=EARLIER_REGIME, alpha=regimes.ALPHA[EARLIER_REGIME], headline_seeds=EARLIER_HEADLINE_SEEDS)
    out = dict(regime=book.REGIME, alpha=book.ALPHA, headline_seeds=book.HEADLINE_SEEDS)
    if name == "07_table6":
        out["adam_lr"] = adam_lr.CHOSEN[book.REGIME]
    return out


def _rows_chapter(
    name,
    part,
    title,
    rows,
    per_seed=book_seeds,
    claims="rows",
    judged_on=None,
    drop=(),
    real_dataset="cremad",
    rule_runs=None,
    **more,
) -> Chapter:
    params = {**_common(), **row_defaults(rows), **more}
    if per_seed is book_seeds:
        params.update({k: v for k, v in regime_parameters(name).items() if k in params})
    else:  # the plug-in tables: their own regime (the row functions' default) and its headline seeds
        params["headline_seeds"] = plugins.HEADLINE_SEEDS
    for k in drop:
        params.pop(k)
    return Chapter(
        name, part, title, rows, per_seed, claims, judged_on, MappingProxyType(params), real_dataset, rule_runs
    )


def _regime_parameters() -> MappingProxyType:
    """Chapters 11 and 12: the regimes' seeds (`regimes.REGIME_SEEDS`, `CALIBRATION_SEEDS`, `ALPHA_SEEDS`)."""
    return MappingProxyType(
        dict(
            dataset="avdigits",
            profile=regimes.PROFILE,
            device="cpu",
            seeds=regimes.REGIME_SEEDS,
            calibration_seeds=list(regimes.CALIBRATION_SEEDS),
            alpha_seeds=list(regimes.ALPHA_SEEDS),
            workers=None,
            results_dir=None,
        )
    )


_METHOD, _PAPER, _PLUGINS, _REGIMES = PARTS[1], PARTS[2], PARTS[3], PARTS[4]

#: every chapter, in the table of contents' order
CHAPTERS: tuple[Chapter, ...] = (
    _rows_chapter("01_imbalance", _METHOD, "The imbalance (Figure 1)", book.imbalance_rows),
    _rows_chapter("02_ogm", _METHOD, "OGM and alpha", book.ogm_rows),
    # chapter 03 measures the gradient noise of one trained joint model (`sgd_noise_runs.py`)
    Chapter(
        "03_sgd_noise",
        _METHOD,
        parameters=MappingProxyType(
            {
                **{k: v for k, v in _common().items() if k not in ("seeds", "headline_seeds")},
                "regime": regime_parameters("03_sgd_noise")["regime"],
                "seed": 0,
                "pool": 512,
                "batch_sizes": [8, 16, 32, 64, 128],
                "lr_factors": [0.1, 0.5, 1.0],
                "update_batch_sizes": [16, 64],
                "update_draws": 60,
                "alpha": regime_parameters("03_sgd_noise")["alpha"],
                "headline_seeds": regime_parameters("03_sgd_noise")["headline_seeds"],
                "ks": [0.03, 0.1, 0.2, 0.4, 0.6, 0.8],
            }
        ),
    ),
    _rows_chapter("04_ge", _METHOD, "GE", book.ge_rows),
    _rows_chapter("05_table1", _PAPER, "Table 1: fusions", book.table1_rows),
    _rows_chapter("06_table2", _PAPER, "Table 2: balancing methods", book.table2_rows),
    _rows_chapter(
        "07_table6",
        _PAPER,
        "Table 6: optimisers",
        book.table6_rows,
        rule_runs=lambda ch, changes: adam_lr.configs(ch.table(**changes)["Adam"]),
    ),
    _rows_chapter(
        "08_table7",
        _PAPER,
        "Table 7: noise",
        book.table7_rows,
        claims="noise",
        # the batch-size rows at equal steps (`equal_steps.py`), over the rows' seeds
        rule_runs=lambda ch, changes: equal_steps.control_runs(
            ch.settings(**changes), ch.table(**changes), ch.defaults(**changes)["seeds"]
        ),
    ),
    _rows_chapter("09_figure3", _PAPER, "Figure 3: ρᵃ", book.figure3_rows, smooth=25, fraction=0.1),
    _rows_chapter(
        "13_table3",
        _PLUGINS,
        "Table 3: video models",
        plugins.table3_rows,
        plugin_seeds,
        judged_on=PLUGIN_DATASETS,
        real_dataset="ksounds",
    ),
    _rows_chapter(
        "14_table4", _PLUGINS, "Table 4: audio encoders", plugins.table4_rows, plugin_seeds, judged_on=PLUGIN_DATASETS
    ),
    # no reference pair, so no headline seeds (`plugins.table5_rows`)
    _rows_chapter(
        "15_table5",
        _PLUGINS,
        "Table 5: event localisation",
        plugins.table5_rows,
        plugin_seeds,
        judged_on=PLUGIN_DATASETS,
        drop=("headline_seeds",),
        real_dataset="ave",
    ),
    Chapter("11_regimes", _REGIMES, parameters=_regime_parameters(), real_dataset=None),
    Chapter(
        "12_when_ogm_ge_helps",
        _REGIMES,
        "When OGM-GE helps",
        claims="regimes",
        judged_on=REGIME_DATASETS,
        parameters=_regime_parameters(),
        real_dataset=None,
    ),
    # chapter 10 judges each chapter at its own regime and seeds (None), unless its reader names them
    Chapter("10_verdicts", PARTS[5], parameters=_common(regime=None, seeds=None, headline_seeds=None)),
)
#: notebook name -> its chapter
CHAPTER: Mapping[str, Chapter] = MappingProxyType({c.name: c for c in CHAPTERS})
#: chapter -> its short title, for the chapters whose claims the closing chapter collects, in the order it judges them
TITLES: Mapping[str, str] = MappingProxyType({c.name: c.title for c in CHAPTERS if c.title})


def parameter(chapter: str, name: str):
    """The default of one notebook parameter (`Chapter.parameters`)."""
    return CHAPTER[chapter].parameters[name]


def chapters_with(kind: str | None = None, per_seed: Callable | None = None) -> list[Chapter]:
    """The chapters whose claims are judged as `kind` ("rows", "noise", "regimes") and whose rows are expanded
    by `per_seed` (`book_seeds`, `plugin_seeds`); None: any."""
    return [c for c in CHAPTERS if (kind is None or c.claims == kind) and (per_seed is None or c.per_seed is per_seed)]


__all__ = [
    "Chapter",
    "CHAPTERS",
    "CHAPTER",
    "TITLES",
    "PARTS",
    "PAGES",
    "ROOT_PAGE",
    "PLUGIN_DATASETS",
    "REGIME_DATASETS",
    "parameter",
    "chapters_with",
    "book_seeds",
    "plugin_seeds",
    "row_defaults",
    "regime_parameters",
    "EARLIER_REGIME",
    "ON_EARLIER_REGIME",
]
