"""The headline pair (concatenation without and with OGM-GE) always gets the same seeds, at any alpha a reader
sets: `book.per_seed` finds the pair at the table's alpha (`book.table_alpha`, or the chapter's `alpha`), where the
per-row rule alone (`book.row_seeds` at the regime's alpha) gave the OGM-GE row `seeds` and its partner
`headline_seeds`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ogm_lib.recipe import book
from ogm_lib.recipe.chapters import CHAPTER, book_seeds, chapters_with

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALPHAS = (0.8, 0.2, book.ALPHA)


def pair_labels(rows: dict, alpha: float, dataset="avdigits", regime=book.REGIME) -> list[str]:
    """The labels of the rows that are the headline pair at `alpha`."""
    head = {c.key() for c in book.headline_rows(dataset, book.PROFILE, "cpu", alpha, regime).values()}
    return [label for label, cfg in rows.items() if cfg.key() in head]


def test_the_regimes_rule_alone_splits_the_pair():
    """What the issue saw: at alpha 0.8, `row_seeds` gives the OGM-GE row 5 seeds and concatenation 10."""
    rows = book.table1_rows(alpha=0.8)
    assert book.row_seeds(rows["Concatenation+"]) == list(range(book.SEEDS))
    assert book.row_seeds(rows["Concatenation"]) == list(range(book.HEADLINE_SEEDS))
    grid = book.per_seed(rows)
    head = list(range(book.HEADLINE_SEEDS))
    assert [c.seed for c in grid["Concatenation+"]] == [c.seed for c in grid["Concatenation"]] == head
    assert [c.seed for c in grid["Summation+"]] == list(range(book.SEEDS))


@pytest.mark.parametrize("chapter", [c.name for c in chapters_with(per_seed=book_seeds) if "alpha" in c.parameters])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_every_chapter_gives_the_pair_the_same_seeds(chapter, alpha):
    ch = CHAPTER[chapter]
    rows, grid = ch.table(alpha=alpha), ch.grid(alpha=alpha)
    pair = pair_labels(rows, alpha, regime=ch.parameters["regime"])
    assert len(pair) == 2, f"{chapter}: the headline pair is not among its rows"
    seeds = {label: [c.seed for c in cs] for label, cs in grid.items()}
    # the pair, and only the pair, at the chapter's headline seeds; every other row at `seeds`
    head = list(range(ch.parameters["headline_seeds"]))
    assert [label for label, s in seeds.items() if s == head] == pair
    assert all(s == list(range(book.SEEDS)) for label, s in seeds.items() if label not in pair)


@pytest.mark.parametrize("dataset, regime", [("synthetic", book.REGIME), ("avdigits", "easy audio")])
def test_the_pair_gets_the_same_seeds_without_the_books_regime(dataset, regime):
    """On data whose headline alpha is not the rows' alpha (a real or synthetic dataset: the official 0.8; the
    easy-audio regime: its own), the pair still gets the headline seeds."""
    rows = book.table2_rows(dataset, book.PROFILE, "cpu", regime=regime)
    grid = book.per_seed(rows, 2, 3)
    assert [c.seed for c in grid["OGM-GE"]] == [c.seed for c in grid["Concatenation"]] == [0, 1, 2]
    assert [c.seed for c in grid["OGM"]] == [0, 1]


def test_chapter_02_names_its_alpha():
    """Chapter 02's sweep holds several OGM-GE rows of the headline's make: the table alone does not say which is
    the pair (`table_alpha` is None), so the notebook passes its alpha to `train_seeds`."""
    ch = CHAPTER["02_ogm"]
    assert book.table_alpha(ch.table(alpha=0.8)) is None
    for c in chapters_with(per_seed=book_seeds):
        if "alpha" in c.parameters and book.table_alpha(c.table(alpha=0.8)) != 0.8:
            nb = json.loads((NOTEBOOKS / f"{c.name}.ipynb").read_text())
            calls = [
                line
                for cell in nb["cells"]
                if cell["cell_type"] == "code"
                for line in "".join(cell["source"]).splitlines()
                if "train_seeds(rows" in line
            ]
            assert calls and all("alpha=alpha" in line for line in calls), c.name
