"""The chapter registry (`ogm_lib/recipe/chapters.py`) is the one list of chapters: the table of contents is
written from it, the run list, the rerun boxes and the closing chapter read it, and chapter titles come from it."""

from __future__ import annotations

from pathlib import Path

from ogm_lib.recipe import adam_lr, book, chapters, toc
from ogm_lib.recipe import runs as run_list
from ogm_lib.recipe.chapters import CHAPTER, CHAPTERS, PAGES, PARTS, TITLES

ROOT = Path(__file__).resolve().parents[1]


def test_the_toc_is_the_registrys():
    """`book/_toc.yml` is what `python -m ogm_lib book toc` writes from the registry."""
    assert (ROOT / "book" / "_toc.yml").read_text(encoding="utf-8") == toc.toc_text()
    assert toc.check()


def test_the_toc_check_sees_a_disagreement(tmp_path):
    moved = (
        toc.toc_text()
        .replace("      - file: notebooks/13_table3\n", "")
        .replace(
            "      - file: notebooks/10_verdicts\n",
            "      - file: notebooks/10_verdicts\n      - file: notebooks/13_table3\n",
        )
    )
    path = tmp_path / "_toc.yml"
    path.write_text(moved)
    assert not toc.check(path)
    assert toc.write(path) and toc.check(path) and not toc.write(path)


def test_the_registry_is_in_the_tocs_order_and_every_page_exists():
    order = [PARTS.index(c.part) for c in CHAPTERS]
    assert order == sorted(order), "the chapters are not grouped by part in the parts' order"
    assert len({c.name for c in CHAPTERS}) == len(CHAPTERS)
    for caption, files in toc.parts():
        assert files, f"part {caption!r} has no page"
        for f in files:
            assert (ROOT / "book" / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f
    assert set(PAGES) <= set(PARTS)


def test_titles_are_the_judged_chapters_in_order():
    assert list(TITLES) == [c.name for c in CHAPTERS if c.claims is not None]
    assert list(TITLES)[-1] == "12_when_ogm_ge_helps" and "03_sgd_noise" not in TITLES
    from ogm_lib.report.claims import chapter_name

    assert chapter_name("05_table1") == "chapter 05 (Table 1: fusions)" and chapter_name("10_verdicts") == "chapter 10"


def test_the_run_list_is_the_registrys_chapters():
    """`book_runs` without the regimes and plug-ins is the union of the chapters on the book's rows, each over
    its seeds, with their rules' runs (Table 6's Adam learning rate); with the plug-ins, the plug-in chapters' too."""

    def keys(chs):
        return {c.key() for ch in chs for c in ch.runs()}

    on_rows = chapters.chapters_with(per_seed=chapters.book_seeds)
    assert [c.name for c in on_rows] == [
        "01_imbalance",
        "02_ogm",
        "04_ge",
        "05_table1",
        "06_table2",
        "07_table6",
        "08_table7",
        "09_figure3",
    ]
    plugin = chapters.chapters_with(per_seed=chapters.plugin_seeds)
    assert {c.key() for c in run_list.book_runs(include_regimes=False, include_plugins=False)} == keys(on_rows)
    assert {c.key() for c in run_list.book_runs(include_regimes=False)} == keys(on_rows) | keys(plugin)
    assert {c.key() for c in run_list.chapter_runs("14_table4")} == keys([CHAPTER["14_table4"]])
    table6 = CHAPTER["07_table6"]
    rule = {c.key() for c in adam_lr.configs(table6.table()["Adam"])}
    assert rule <= {c.key() for c in run_list.chapter_runs("07_table6")} and not rule <= {
        c.key() for cs in table6.grid().values() for c in cs
    }


def test_a_chapters_rows_are_its_notebooks_call():
    """`Chapter.table` calls the row function with the notebook's parameters: at the defaults, its own defaults."""
    assert {k: c.key() for k, c in CHAPTER["06_table2"].table().items()} == {
        k: c.key() for k, c in book.table2_rows().items()
    }
    settings, rows = book.table7_rows(lr_factors=[0.5, 1.0])
    ch = CHAPTER["08_table7"]
    assert [s.label for s in ch.settings(lr_factors=[0.5, 1.0])] == [s.label for s in settings]
    assert list(ch.table(lr_factors=[0.5, 1.0])) == list(rows)
    try:
        ch.table(alpha=0.8)
    except TypeError as err:
        assert "alpha" in str(err)
    else:
        raise AssertionError("chapter 08 has no alpha parameter")


def test_the_rerun_boxes_read_the_registry():
    from ogm_lib.report import rerun_box

    assert "-p dataset ave" in rerun_box.commands("15_table5")["gpu"]
    assert "-p dataset cremad" in rerun_box.commands("05_table1")["gpu"]
    assert "-p dataset" not in rerun_box.commands("12_when_ogm_ge_helps")["gpu"]
    assert [c for c in CHAPTERS if c.real_dataset is None] == [CHAPTER["11_regimes"], CHAPTER["12_when_ogm_ge_helps"]]
